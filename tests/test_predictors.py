"""Predictors on a latency table: calibrated sum, MLP, validation against measurement."""

import random

import numpy as np
import pytest

from hwnas_lab.arch import ArchBatch
from hwnas_lab.latency.lut import LatencyTable, get_lut
from hwnas_lab.latency.predictors import (CalibratedSum, MLPPredictor, SumPredictor,
                                          fit_predictors, validate_table)
from hwnas_lab.space import SPACES

CPU = SPACES["cpu"]


def fake_table(seed=0) -> LatencyTable:
    rng = random.Random(seed)
    return LatencyTable(CPU, "torch-1thread",
                        {s.signature: rng.uniform(0.01, 1.0) for s in CPU.all_layer_specs()})


def test_calibrated_sum_recovers_overheads():
    table = fake_table()
    archs = [CPU.sample(i) for i in range(30)]
    n_ops = ArchBatch.from_archs(CPU, archs).d.sum(1) + 2
    measured = 1.3 * table.predict_batch(archs) - 0.02 * n_ops + 0.4
    cal = CalibratedSum(table).fit(archs, measured)
    assert (cal.scale, cal.per_op_ms, cal.overhead_ms) == pytest.approx((1.3, -0.02, 0.4), rel=1e-6)
    new = [CPU.sample(100 + i) for i in range(5)]
    n_new = ArchBatch.from_archs(CPU, new).d.sum(1) + 2
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
    batch = ArchBatch.from_archs(CPU, archs)  # every predictor reads the batch form too
    np.testing.assert_allclose(mlp.predict(batch), mlp.predict(archs), rtol=1e-6)
    np.testing.assert_allclose(cal.predict(batch), cal.predict(archs), rtol=1e-12)


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
    table = get_lut(CPU, "torch", repeats=2, warmup=1, specs=[], progress=False)
    val = validate_table(table, n_train=3, n_test=2, repeats=2, warmup=1, noise_rounds=2,
                         noise_nets=1, progress=False)
    assert len(val.train_ms) == 3 and len(val.test_ms) == 2 and (val.test_ms > 0).all()
    assert set(val.metrics) == {"LUT sum", "calibrated sum", "MLP"} and val.best in val.metrics
    assert val.noise is not None and val.noise.medians_ms.shape == (2, 1)
    assert "noise floor" in val.report()
    with pytest.raises(ValueError, match="n_train >= 2"):
        validate_table(table, n_train=1, n_test=5)
