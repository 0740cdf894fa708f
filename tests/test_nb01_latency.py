"""Notebook 01's course module: exercise checks against typical mistakes, panels, figures."""


import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from hwnas_lab.course import nb01_latency as nb  # noqa: E402
from hwnas_lab.latency.lut import LatencyTable  # noqa: E402
from hwnas_lab.space import SPACES, LayerSpec  # noqa: E402
from helpers import fake_table

CPU = SPACES["cpu"]


def test_noise_yardstick_by_hand():
    # 3 rounds x 1 network: 1, 2, 4 ms
    repeat, typical = nb.noise_yardstick(np.array([[1.0], [2.0], [4.0]]))
    # ordered pairs: differences +-1, +-3, +-2 -> mean square (1 + 9 + 4) / 3
    assert repeat == pytest.approx(np.sqrt(14 / 3))
    # leave-one-out means 3, 2.5, 1.5 -> errors -2, -0.5, 2.5
    assert typical == pytest.approx(np.sqrt((4 + 0.25 + 6.25) / 3))
    with pytest.raises(ValueError, match="rounds >= 3"):
        nb.noise_yardstick(np.ones((2, 4)))


def test_noise_yardstick_shows_the_sqrt2_of_independent_noise():
    rng = np.random.default_rng(0)
    rounds, sigma = 50, 0.1
    medians = 2.0 + rng.normal(0, sigma, (rounds, 400))  # true latency 2 ms everywhere
    repeat, typical = nb.noise_yardstick(medians)
    assert repeat == pytest.approx(np.sqrt(2) * sigma, rel=0.03)
    assert typical == pytest.approx(sigma * np.sqrt(1 + 1 / (rounds - 1)), rel=0.03)
    assert repeat / typical > 1.35  # a good predictor of the mean beats a second measurement


def test_latency_panel_keeps_predicted_against_measured():
    table = fake_table()
    panel = nb.LatencyPanel(table, repeats=2, history=True)
    panel.set_values(r=24)
    x, y, labels = panel.history.arrays()
    assert len(labels) == 2 and x[-1] == pytest.approx(table.predict(panel.result.arch))
    assert y[-1] == panel.result.measured_ms and panel.history.diagonal
    assert panel.history.front() == []  # predicted against measured: no front, a diagonal


def test_latency_breakdown_callback_and_panel():
    table = fake_table()
    out = nb.latency_breakdown(table, d=[2, 3, 4, 2], ks=[3, 5, 7, 3], e=[3, 4, 6, 3], r=28,
                            measure=True, repeats=2, warmup=1)
    assert list(out.parts_ms) == ["stem", "stage1", "stage2", "stage3", "stage4", "head"]
    assert out.predicted_ms == pytest.approx(table.predict(out.arch))
    assert out.measured_ms > 0 and "LUT sum error" in out.html()
    with pytest.raises(ValueError, match="one value per stage"):
        nb.latency_breakdown(table, d=[2], ks=[3] * 4, e=[3] * 4, r=32, measure=False)
    panel = nb.LatencyPanel(table, measure=False)
    panel.r.value = 24
    assert panel.result.arch.r == 24 and panel.result.measured_ms is None
    empty = nb.LatencyPanel(LatencyTable(CPU, "torch-1thread", {}), measure=False)
    assert "no entry for operator" in empty.out.value


def test_block_entry_callback_and_panel():
    table = fake_table()
    out = nb.block_entry(table, r=32, stage=2, index=0, ks=5, e=4, measure=True, repeats=2, warmup=1)
    spec = LayerSpec("mbconv", 16, 24, 16, 5, 4, 2)  # stage 2's first block at r=32
    assert out["signature"] == spec.signature and out["entry_ms"] == table.entries[spec.signature]
    assert out["measured_ms"] > 0 and out["mflops"] == pytest.approx(2 * spec.macs / 1e6)
    with pytest.raises(ValueError, match="stage must be 1..4"):
        nb.block_entry(table, r=32, stage=5, index=0, ks=5, e=4, measure=False)
    with pytest.raises(ValueError, match="Arch.r = 30"):
        nb.block_entry(table, r=30, stage=1, index=0, ks=5, e=4, measure=False)
    panel = nb.BlockPanel(table, measure=False)
    panel.stage.value = 3
    assert "cout40" in panel.result["signature"] and "table entry" in panel.out.value


def test_latency_figures_draw_and_reject_bad_input():
    meas = np.array([1.0, 2.0, 3.0])
    fig = nb.pred_vs_measured({"a": meas * 1.05, "b": meas * 0.8}, meas, noise_pct=3.0,
                                 iqr_ms=[0.1, 0.1, 0.2])
    assert len(fig.axes) == 2 and "100 % within" in fig.axes[0].get_title()
    assert "0 % within" in fig.axes[1].get_title()
    with pytest.raises(ValueError, match="2 predictions but 3"):
        nb.pred_vs_measured({"a": [1.0, 2.0]}, meas)
    with pytest.raises(ValueError, match="empty"):
        nb.pred_vs_measured({}, meas)
    assert nb.noise_floor_strip(np.ones((3, 2)), ["x", "y"]).axes
    with pytest.raises(ValueError, match=r"\(rounds, 3 networks\)"):
        nb.noise_floor_strip(np.ones((3, 2)), ["x", "y", "z"])
    fig = nb.breakdown_bars({"stem": 0.1, "stage1": 0.5, "head": 0.1}, 0.8, 0.05)
    assert len(fig.axes[0].patches) == 4  # three stacked parts + the measured bar
    with pytest.raises(ValueError, match="empty"):
        nb.breakdown_bars({})
