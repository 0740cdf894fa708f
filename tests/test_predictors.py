"""Predictors on a latency table: calibrated sum, MLP, validation against measurement."""

import random

import numpy as np
import pytest

from hwnas_lab.lut import ArchArrays, LatencyTable, build_lut
from hwnas_lab.predictors import (CalibratedSum, MLPPredictor, SumPredictor, fit_predictors,
                                  validate_table)
from hwnas_lab.space import SPACES
from hwnas_lab.widgets import LatencyPanel, latency_breakdown

CPU = SPACES["cpu"]


def fake_table(seed=0) -> LatencyTable:
    rng = random.Random(seed)
    return LatencyTable(CPU, "torch-1thread",
                        {s.signature: rng.uniform(0.01, 1.0) for s in CPU.all_layer_specs()})


def test_calibrated_sum_recovers_overheads():
    table = fake_table()
    archs = [CPU.sample(i) for i in range(30)]
    n_ops = ArchArrays.from_archs(CPU, archs).d.sum(1) + 2
    measured = 1.3 * table.predict_batch(archs) - 0.02 * n_ops + 0.4
    cal = CalibratedSum(table).fit(archs, measured)
    assert (cal.scale, cal.per_op_ms, cal.overhead_ms) == pytest.approx((1.3, -0.02, 0.4), rel=1e-6)
    new = [CPU.sample(100 + i) for i in range(5)]
    n_new = ArchArrays.from_archs(CPU, new).d.sum(1) + 2
    assert cal.predict(new) == pytest.approx(1.3 * table.predict_batch(new) - 0.02 * n_new + 0.4)
    assert np.allclose(SumPredictor(table).fit(archs, measured).predict(new), table.predict_batch(new))


def test_mlp_starts_at_calibrated_sum_and_learns_a_correction():
    table = fake_table()
    archs = [CPU.sample(i) for i in range(80)]
    base = table.predict_batch(archs)
    # a per-network effect the sum cannot see: each kernel-7 block adds 3 % to the network
    k7 = np.array([sum(k == 7 for _, _, k, _ in a.active_blocks()) for a in archs])
    measured = base * (1 + 0.03 * k7)
    untrained = MLPPredictor(table, steps=0).fit(archs, measured)
    cal = CalibratedSum(table).fit(archs, measured)
    assert np.allclose(untrained.predict(archs), cal.predict(archs), rtol=1e-5)
    mlp = MLPPredictor(table, steps=300, weight_decay=0.0).fit(archs, measured)
    err = lambda p: np.mean(np.abs(p - measured) / measured)  # noqa: E731
    assert err(mlp.predict(archs)) < 0.5 * err(cal.predict(archs))


def test_predictors_reject_bad_input():
    table = fake_table()
    archs = [CPU.sample(i) for i in range(4)]
    with pytest.raises(ValueError, match="positive"):
        CalibratedSum(table).fit(archs, [1.0, -1.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="4 archs but 3"):
        CalibratedSum(table).fit(archs, [1.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="before fit"):
        MLPPredictor(table).predict(archs)
    assert [p.name for p in fit_predictors(table, archs, [1.0, 1.5, 2.0, 1.2])] == \
        ["LUT sum", "calibrated sum", "MLP"]


def test_validate_table_measures_and_scores(tmp_path, monkeypatch):
    monkeypatch.setenv("HWNAS_CACHE_DIR", str(tmp_path))
    table = build_lut(CPU, "torch", repeats=2, warmup=1, specs=[], progress=False)
    val = validate_table(table, n_train=3, n_test=2, repeats=2, warmup=1, noise_rounds=2,
                         noise_nets=1, progress=False)
    assert len(val.train_ms) == 3 and len(val.test_ms) == 2 and (val.test_ms > 0).all()
    assert set(val.metrics) == {"LUT sum", "calibrated sum", "MLP"} and val.best in val.metrics
    assert val.noise is not None and val.noise.medians_ms.shape == (2, 1)
    assert "noise floor" in val.report()
    with pytest.raises(ValueError, match="n_train >= 2"):
        validate_table(table, n_train=1, n_test=5)


def test_latency_breakdown_callback_and_panel():
    table = fake_table()
    out = latency_breakdown(table, d=[2, 3, 4, 2], ks=[3, 5, 7, 3], e=[3, 4, 6, 3], r=28,
                            measure=True, repeats=2, warmup=1)
    assert list(out.parts_ms) == ["stem", "stage1", "stage2", "stage3", "stage4", "head"]
    assert out.predicted_ms == pytest.approx(table.predict(out.arch))
    assert out.measured_ms > 0 and "LUT sum error" in out.html()
    with pytest.raises(ValueError, match="one value per stage"):
        latency_breakdown(table, d=[2], ks=[3] * 4, e=[3] * 4, r=32, measure=False)
    panel = LatencyPanel(table, measure=False)
    panel.r.value = 24
    assert panel.result.arch.r == 24 and panel.result.measured_ms is None
    empty = LatencyPanel(LatencyTable(CPU, "torch-1thread", {}), measure=False)
    assert "no entry for operator" in empty.out.value


def test_block_entry_callback_and_panel():
    from hwnas_lab.space import LayerSpec
    from hwnas_lab.widgets import BlockPanel, block_entry

    table = fake_table()
    out = block_entry(table, r=32, stage=2, index=0, ks=5, e=4, measure=True, repeats=2, warmup=1)
    spec = LayerSpec("mbconv", 16, 24, 16, 5, 4, 2)  # stage 2's first block at r=32
    assert out["signature"] == spec.signature and out["entry_ms"] == table.entries[spec.signature]
    assert out["measured_ms"] > 0 and out["mflops"] == pytest.approx(2 * spec.macs / 1e6)
    with pytest.raises(ValueError, match="stage must be 1..4"):
        block_entry(table, r=32, stage=5, index=0, ks=5, e=4, measure=False)
    with pytest.raises(ValueError, match="Arch.r = 30"):
        block_entry(table, r=30, stage=1, index=0, ks=5, e=4, measure=False)
    panel = BlockPanel(table, measure=False)
    panel.stage.value = 3
    assert "cout40" in panel.result["signature"] and "table entry" in panel.out.value


def test_latency_figures_draw_and_reject_bad_input():
    import matplotlib

    matplotlib.use("Agg")
    from hwnas_lab import plots

    meas = np.array([1.0, 2.0, 3.0])
    fig = plots.pred_vs_measured({"a": meas * 1.05, "b": meas * 0.8}, meas, noise_pct=3.0,
                                 iqr_ms=[0.1, 0.1, 0.2])
    assert len(fig.axes) == 2 and "100 % within" in fig.axes[0].get_title()
    assert "0 % within" in fig.axes[1].get_title()
    with pytest.raises(ValueError, match="2 predictions but 3"):
        plots.pred_vs_measured({"a": [1.0, 2.0]}, meas)
    with pytest.raises(ValueError, match="empty"):
        plots.pred_vs_measured({}, meas)
    assert plots.noise_floor_strip(np.ones((3, 2)), ["x", "y"]).axes
    with pytest.raises(ValueError, match=r"\(rounds, 3 networks\)"):
        plots.noise_floor_strip(np.ones((3, 2)), ["x", "y", "z"])
    fig = plots.breakdown_bars({"stem": 0.1, "stage1": 0.5, "head": 0.1}, 0.8, 0.05)
    assert len(fig.axes[0].patches) == 4  # three stacked parts + the measured bar
    with pytest.raises(ValueError, match="empty"):
        plots.breakdown_bars({})
