"""Specialisation helpers of the OFA search: budgets, cost table, calibration, re-measurement."""

import numpy as np
import pytest
import torch

from hwnas_lab.ofa import OFASupernet
from hwnas_lab.ofa.specialise import cost_table, find_search_supernet, get_budget, training_costs
from ofa_search_helpers import SPACE, synthetic_table, tiny_data

pytestmark = pytest.mark.usefixtures("one_thread")


# ----- specialisation helpers --------------------------------------------------------------------------
def test_cost_table_and_training_costs():
    rows = cost_table(1000.0, 300.0, 100.0, 10.0, ns=(1, 10))
    assert rows == [(1, 1110.0, 300.0), (10, 1200.0, 3000.0)]
    with pytest.raises(ValueError, match="per_target_s"):
        cost_table(1.0, 1.0, 1.0, float("nan"))
    ckpt = {"elapsed_s": 50.0, "history": [{"phase_index": 0, "epoch_s": 10.0},
                                          {"phase_index": 0, "epoch_s": 12.0},
                                          {"phase_index": 1, "epoch_s": 9.0}]}
    assert training_costs(ckpt) == {"supernet_s": 50.0, "single_s": 22.0, "single_epochs": 2}
    with pytest.raises(ValueError, match="no training log"):
        training_costs({"history": []})


def test_budgets_and_a_missing_gpu_supernet(tmp_path, monkeypatch):
    assert get_budget("laptop").n_random > get_budget("smoke").n_random
    with pytest.raises(ValueError, match="unknown preset"):
        get_budget("huge")
    monkeypatch.setenv("HWNAS_CACHE_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="ofa train --preset gpu"):
        find_search_supernet("gpu")
    path, source = find_search_supernet("smoke")  # smoke searches the (shipped) laptop supernet
    assert source == "shipped" and path.name == "laptop.pt"


def test_robust_calibration_ignores_an_outlier():
    from hwnas_lab.ofa.specialise import robust_calibration
    from hwnas_lab.latency.predictors import CalibratedSum

    table = synthetic_table()
    archs = [SPACE.sample(i) for i in range(12)]
    ms = 1.5 * table.predict_batch(archs) + 0.3
    ms[3] *= 3  # one measurement hit by another job
    cal = robust_calibration(CalibratedSum(table), archs, ms)
    assert cal.scale == pytest.approx(1.5) and cal.overhead_ms == pytest.approx(0.3)
    assert cal.predict(archs)[0] == pytest.approx(ms[0])


@pytest.mark.parametrize("disturb", ["decreasing", "below zero"])
def test_robust_calibration_never_predicts_a_negative_latency(disturb):
    """Measurements on a busy machine (CI beside a training run once gave a -33 ms limit):
    a slope <= 0, or a line through the rest far below the fastest subnet's measurement."""
    from hwnas_lab.latency.predictors import CalibratedSum
    from hwnas_lab.ofa.efficiency import Efficiency
    from hwnas_lab.ofa.specialise import latency_levels, robust_calibration

    table = synthetic_table()
    archs = [SPACE.smallest(), SPACE.largest()] + [SPACE.sample(i) for i in range(4)]
    x = table.predict_batch(archs)
    if disturb == "decreasing":
        ms = np.maximum(10.0 - x, 0.05)
    else:  # the others on a steep line that crosses zero just below the fastest's sum
        ms = 5.0 * (x - 0.98 * x.min()) + 0.01
        ms[0] = x[0]  # the smallest subnet (the fastest) measured as its table sum
    cal = robust_calibration(CalibratedSum(table), archs, ms)
    assert cal.scale == pytest.approx(float(np.median(ms / x))) and cal.overhead_ms == 0.0
    levels = latency_levels(Efficiency(SPACE, latency=cal))
    assert min(levels) > 0 and np.all(cal.predict([SPACE.sample(i) for i in range(50)]) > 0)


def test_robust_calibration_stays_positive_below_the_subnets_it_was_fitted_on():
    """A steep line with a negative intercept through subnets that are all slower than the
    space's fastest (a noisy table on a busy machine: notebook 06 once got a -10 ms limit):
    checked at the space's smallest table sum, the line gives way to the rescaled sum."""
    from hwnas_lab.latency.predictors import CalibratedSum
    from hwnas_lab.ofa.efficiency import Efficiency
    from hwnas_lab.ofa.specialise import latency_levels, robust_calibration

    table = synthetic_table()
    archs = [SPACE.sample(i) for i in range(6)]
    x = table.predict_batch(archs)
    min_sum = Efficiency(SPACE, table).minimum("latency_ms")[0]
    ms = 5.0 * (x - 0.9 * x.min())  # the fastest measured at half its sum: the old guard passes
    assert 5.0 * (min_sum - 0.9 * x.min()) < 0  # the line is negative at the space's fastest
    cal = robust_calibration(CalibratedSum(table), archs, ms)
    assert cal.scale == pytest.approx(float(np.median(ms / x))) and cal.overhead_ms == 0.0
    guarded = Efficiency(SPACE, latency=cal)
    assert guarded.minimum("latency_ms")[0] > 0 and min(latency_levels(guarded, (0.1,))) > 0


def test_remeasure_many_groups_targets_and_keeps_the_least_disturbed_round():
    from hwnas_lab.ofa.specialise import measure_least_disturbed, remeasure_many

    torch.manual_seed(0)
    net = OFASupernet(SPACE).eval()
    archs = [SPACE.smallest(), SPACE.sample(1)]
    ms, iqr = measure_least_disturbed(SPACE, archs, "torch-1thread", rounds=2, repeats=3)
    assert ms.shape == (2,) and np.all(ms > 0) and np.all(iqr >= 0)
    items = [(archs[0], "torch-1thread", 0.7, 1.0, 2.0), (archs[1], "torch", 0.72, 3.0, None)]
    out = remeasure_many(net, items, tiny_data(32), tiny_data(8, 1), recal_batches=1, repeats=3, rounds=2,
                         val_data=tiny_data(8, 2))
    assert [m.target for m in out] == ["torch-1thread", "torch-1thread"] and out[1].limit_ms is None
    assert all(0 <= m.measured_acc <= 1 and 0 <= m.val_acc <= 1 and m.measured_ms > 0 for m in out)
    assert out[1].meets_limit and out[0].predicted_ms == 1.0 and out[0].images == 8
