"""Widgets: the callbacks are plain functions; panels wire sliders to them."""

import pytest

from hwnas_lab.blocks import arch_flops, build_net, count_flops, count_params
from hwnas_lab.space import SPACES, SearchSpace
from hwnas_lab.widgets import SubnetPanel, stage_arch, subnet_summary

CPU = SPACES["cpu"]


def test_stage_arch_applies_choice_to_every_slot_of_a_stage():
    arch = stage_arch(CPU, d=[2, 3, 4, 2], ks=[3, 5, 7, 3], e=[6, 4, 3, 6], r=28)
    D = CPU.max_depth
    for stage, (k, x) in enumerate(zip([3, 5, 7, 3], [6, 4, 3, 6])):
        assert arch.ks[stage * D:(stage + 1) * D] == (k,) * D
        assert arch.e[stage * D:(stage + 1) * D] == (x,) * D
    assert arch.d == (2, 3, 4, 2) and arch.r == 28
    blocks = list(arch.active_blocks())
    assert len(blocks) == 11 and blocks[2] == (1, 0, 5, 4)


def test_stage_arch_rejects_bad_input():
    with pytest.raises(ValueError, match="one value per stage"):
        stage_arch(CPU, d=[2, 3], ks=[3] * 4, e=[3] * 4, r=32)
    with pytest.raises(ValueError, match=r"Arch.ks\[0\] = 4"):
        stage_arch(CPU, d=[2] * 4, ks=[4] * 4, e=[3] * 4, r=32)
    with pytest.raises(ValueError, match="Arch.r = 30"):
        stage_arch(CPU, d=[2] * 4, ks=[3] * 4, e=[3] * 4, r=30)


def test_subnet_summary_counts_match_a_built_net():
    tiny = SearchSpace(name="tiny", stage_channels=(8, 16), stage_strides=(1, 2),
                       head_channels=32, d_choices=(1, 2), r_choices=(16, 32))
    choice = dict(d=[2, 1], ks=[5, 3], e=[6, 3], r=16)
    s = subnet_summary(tiny, **choice, measure=False)
    net = build_net(tiny, stage_arch(tiny, **choice))
    assert s.mflops == pytest.approx(count_flops(net, (1, 3, 16, 16)) / 1e6)
    assert s.mflops == pytest.approx(arch_flops(tiny, s.arch) / 1e6)
    assert s.params_k == pytest.approx(count_params(net) / 1e3)
    assert s.latency_ms is None and "latency" not in s.html()
    bigger = subnet_summary(tiny, **{**choice, "r": 32}, measure=False)
    assert bigger.mflops > 3 * s.mflops  # 4x the pixels, head classifier aside


def test_subnet_summary_measures_latency():
    s = subnet_summary(CPU, d=[2] * 4, ks=[3] * 4, e=[3] * 4, r=24, repeats=3, warmup=1)
    assert s.latency_ms > 0 and s.iqr_ms >= 0 and s.threads == 1
    assert "ms (IQR" in s.html()


def test_panel_updates_on_slider_change():
    panel = SubnetPanel(CPU, measure=False)
    first = panel.summary
    assert first.arch.r == max(CPU.r_choices) and first.html() == panel.out.value
    panel.r.value = min(CPU.r_choices)
    assert panel.summary.arch.r == min(CPU.r_choices)
    assert panel.summary.mflops < first.mflops
    panel.d[0].value = 4
    assert panel.summary.arch.d[0] == 4
    assert f"{panel.summary.mflops:.2f} M" in panel.out.value
