"""Notebook 00's course module: the exercise checks against typical mistakes, the panel."""

import pytest

from hwnas_lab.blocks import arch_flops, build_net, count_flops, count_params
from hwnas_lab.course import nb00_space as nb
from hwnas_lab.course.widgets import stage_arch
from hwnas_lab.space import SPACES, SearchSpace

CPU = SPACES["cpu"]


def count_subnets(space):
    per_block = len(space.ks_choices) * len(space.e_choices)
    return sum(per_block ** d for d in space.d_choices) ** space.n_stages * len(space.r_choices)


def count_encodings(space):
    return ((len(space.ks_choices) * len(space.e_choices)) ** space.n_slots
            * len(space.d_choices) ** space.n_stages * len(space.r_choices))


def mbconv_flops(cin, cout, ks, e, stride, in_size):
    hidden, out = cin * e, (in_size - 1) // stride + 1
    return 2 * (in_size ** 2 * cin * hidden + out ** 2 * hidden * ks ** 2 + out ** 2 * hidden * cout)


def todo(*args):
    raise NotImplementedError()


def test_count_subnets_checker(capsys):
    nb.check_count_subnets(count_subnets)
    assert "PASS  count_subnets" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="number of encodings"):
        nb.check_count_subnets(count_encodings)
    # right on the presets only (a range of depths instead of the choices) is caught
    wrong_depths = lambda s: (sum((len(s.ks_choices) * len(s.e_choices)) ** d  # noqa: E731
                                  for d in range(min(s.d_choices), max(s.d_choices) + 1))
                              ** s.n_stages * len(s.r_choices))
    with pytest.raises(AssertionError, match="space 'gappy'"):
        nb.check_count_subnets(wrong_depths)
    nb.check_count_subnets(todo)
    assert "TODO  count_subnets" in capsys.readouterr().out


def test_mbconv_flops_checker(capsys):
    nb.check_mbconv_flops(mbconv_flops)
    assert "PASS  mbconv_flops" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="2 per multiply-add"):
        nb.check_mbconv_flops(lambda *a: mbconv_flops(*a) // 2)
    floor_size = lambda cin, cout, ks, e, s, n: mbconv_flops(cin, cout, ks, e, 1, n // s) \
        + 2 * (n * n - (n // s) ** 2) * cin * cin * e  # noqa: E731 - floor(n / s) outputs
    with pytest.raises(AssertionError, match="in_size=7"):
        nb.check_mbconv_flops(floor_size)
    with pytest.raises(AssertionError, match="should be a number"):
        nb.check_mbconv_flops(lambda *a: "many")
    nb.check_mbconv_flops(todo)
    assert "TODO  mbconv_flops" in capsys.readouterr().out


def test_subnet_summary_counts_match_a_built_net():
    tiny = SearchSpace(name="tiny", stage_channels=(8, 16), stage_strides=(1, 2),
                       head_channels=32, d_choices=(1, 2), r_choices=(16, 32))
    choice = dict(d=[2, 1], ks=[5, 3], e=[6, 3], r=16)
    s = nb.subnet_summary(tiny, **choice, measure=False)
    net = build_net(tiny, stage_arch(tiny, **choice))
    assert s.mflops == pytest.approx(count_flops(net, (1, 3, 16, 16)) / 1e6)
    assert s.mflops == pytest.approx(arch_flops(tiny, s.arch) / 1e6)
    assert s.params_k == pytest.approx(count_params(net) / 1e3)
    assert s.latency_ms is None and "latency" not in s.html()
    bigger = nb.subnet_summary(tiny, **{**choice, "r": 32}, measure=False)
    assert bigger.mflops > 3 * s.mflops  # 4x the pixels, head classifier aside


def test_subnet_summary_measures_latency():
    s = nb.subnet_summary(CPU, d=[2] * 4, ks=[3] * 4, e=[3] * 4, r=24, repeats=3, warmup=1)
    assert s.latency_ms > 0 and s.iqr_ms >= 0 and s.threads == 1
    assert "ms (IQR" in s.html()


def test_panel_updates_on_slider_change():
    panel = nb.SubnetPanel(CPU, measure=False)
    first = panel.result
    assert first.arch.r == max(CPU.r_choices) and first.html() == panel.out.value
    panel.r.value = min(CPU.r_choices)
    assert panel.result.arch.r == min(CPU.r_choices)
    assert panel.result.mflops < first.mflops
    panel.d[0].value = 4
    assert panel.result.arch.d[0] == 4
    assert f"{panel.result.mflops:.2f} M" in panel.out.value
