"""Notebook 00's course module: the exercise checks against typical mistakes, the panel."""

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from hwnas_lab.blocks import arch_flops, build_net, count_flops, count_params
from hwnas_lab.course import nb00_space as nb
from hwnas_lab.course.widgets import stage_arch
from hwnas_lab.space import SPACES, SearchSpace
from helpers import todo

CPU = SPACES["cpu"]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def running_slots(d, max_depth):
    return [s * max_depth + i for s, depth in enumerate(d) for i in range(depth)]


@pytest.mark.parametrize("wrong, hint", [
    (lambda d, D: list(range(sum(d))), r"first sum\(d\) slots"),
    (lambda d, D: [s * D + i for s, n in enumerate(d) for i in range(min(n + 1, D))], "off by one"),
    (lambda d, D: [s * n + i for s, n in enumerate(d) for i in range(n)], "not s \\* d\\[s\\]"),
    (lambda d, D: [k for k in range(len(d) * D) if k not in running_slots(d, D)], "do NOT run"),
    (lambda d, D: [k + 1 for k in running_slots(d, D)], "count from 0"),
    (lambda d, D: sorted(running_slots(d, D), reverse=True), "network order"),
    (lambda d, D: 3, "list of slot indices"),
])
def test_running_slots_checker_names_each_mistake(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_running_slots(wrong)


def test_running_slots_checker_passes_and_reports_todo(capsys):
    nb.check_running_slots(running_slots)
    nb.check_running_slots(lambda d, D: np.array(running_slots(d, D)))  # any int sequence
    nb.check_running_slots(todo)
    out = capsys.readouterr().out
    assert out.count("PASS  running_slots") == 2 and "TODO  running_slots" in out


def count_subnets(space):
    per_block = len(space.ks_choices) * len(space.e_choices)
    return sum(per_block ** d for d in space.d_choices) ** space.n_stages * len(space.r_choices)


def count_encodings(space):
    return ((len(space.ks_choices) * len(space.e_choices)) ** space.n_slots
            * len(space.d_choices) ** space.n_stages * len(space.r_choices))


def mbconv_flops(cin, cout, ks, e, stride, in_size):
    hidden, out = cin * e, (in_size - 1) // stride + 1
    return 2 * (in_size ** 2 * cin * hidden + out ** 2 * hidden * ks ** 2 + out ** 2 * hidden * cout)


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


def kendall_tau(x, y):
    n = len(x)
    s = sum(np.sign((x[i] - x[j]) * (y[i] - y[j])) for i, j in itertools.combinations(range(n), 2))
    return s / (n * (n - 1) / 2)


def _counts(x, y):
    pairs = list(itertools.combinations(range(len(x)), 2))
    c = sum((x[i] - x[j]) * (y[i] - y[j]) > 0 for i, j in pairs)
    return c, len(pairs) - c, len(pairs)


def _ranks(v):
    return np.argsort(np.argsort(v)).astype(float)


@pytest.mark.parametrize("wrong, hint", [
    (lambda x, y: _counts(x, y)[0] / _counts(x, y)[2], "only concordant"),
    (lambda x, y: 2 * kendall_tau(x, y), "counted twice"),
    (lambda x, y: (_counts(x, y)[0] - _counts(x, y)[1]) / len(x) ** 2, "number of pairs"),
    (lambda x, y: -kendall_tau(x, y), "wrong sign"),
    (lambda x, y: float(np.corrcoef(x, y)[0, 1]), "Pearson"),
    (lambda x, y: float(np.corrcoef(_ranks(x), _ranks(y))[0, 1]), "Spearman"),
    (lambda x, y: "high", "should be a number"),
])
def test_kendall_tau_checker_names_each_mistake(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_kendall_tau(wrong)


def test_kendall_tau_checker_passes_agrees_with_the_package_and_reports_todo(capsys):
    from hwnas_lab.stats import kendall_tau as package_tau  # tau-b: tau-a without ties
    nb.check_kendall_tau(kendall_tau)
    nb.check_kendall_tau(package_tau)
    nb.check_kendall_tau(todo)
    out = capsys.readouterr().out
    assert out.count("PASS  kendall_tau") == 2 and "TODO  kendall_tau" in out


def test_the_module_hands_out_no_answer():
    # the notebook imports this module before the exercises: no reference in its namespace
    for name in ("kendall_tau", "num_subnets", "running_slots", "active_slots", "arch_flops"):
        assert not hasattr(nb, name), name


def test_network_figure_labels_the_arch_fields():
    arch = CPU.sample(3)
    fig = nb.network_figure(CPU, arch)
    texts = [t.get_text() for t in fig.axes[0].texts]
    D = CPU.max_depth
    for s, depth in enumerate(arch.d):
        assert any(f"d[{s}] = {depth}" in t for t in texts)
        for i in range(D):
            slot = s * D + i
            label = f"slot {slot}\nk{arch.ks[slot]} e{arch.e[slot]}" if i < depth \
                else f"slot {slot}\n(not run)"
            assert label in texts
    with pytest.raises(ValueError, match="Arch.r = 30"):
        nb.network_figure(CPU, type(arch)(arch.ks, arch.e, arch.d, 30))


def test_panel_keeps_a_history_with_its_pareto_front():
    panel = nb.SubnetPanel(CPU, repeats=2, history=True)
    assert len(panel.history) == 1 and bytes(panel.plot.value).startswith(b"\x89PNG")
    panel.set_values(d=[2] * 4, ks=[3] * 4, e=[3] * 4, r=24)
    panel.set_values(d=[4] * 4, ks=[7] * 4, e=[6] * 4, r=32)
    assert len(panel.history) == 3
    x, y, labels = panel.history.arrays()
    assert labels[-1] == str(panel.result.arch) and x[-1] == panel.result.mflops
    assert set(panel.history.front()) <= set(labels) and panel.history.front()
    with pytest.raises(ValueError, match="one value per stage"):
        panel.set_values(d=[2, 2])
    assert nb.SubnetPanel(CPU, measure=False, history=True).history.points == {}
