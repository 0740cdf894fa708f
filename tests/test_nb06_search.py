"""Notebook 06's course module: figures, the search panel and its plain callback (the exercise
checks: test_nb06_checks.py)."""

import matplotlib

matplotlib.use("Agg")


import numpy as np
import pytest
import torch

from hwnas_lab.course import nb06_search as nb
from hwnas_lab.latency.lut import LatencyTable
from hwnas_lab.ofa import OFASupernet
from hwnas_lab.ofa.efficiency import Efficiency
from hwnas_lab.ofa.search import EvolutionConfig
from hwnas_lab.space import get_space

SPACE = get_space("cpu")

pytestmark = pytest.mark.usefixtures("one_thread")


# ----- figures ------------------------------------------------------------------------------------
def test_figures_and_their_bad_input():
    fig = nb.accuracy_scatter([0.7, 0.75, 0.8], [0.71, 0.74, 0.79], yardstick_pct=0.3)
    assert fig.axes
    with pytest.raises(ValueError):
        nb.accuracy_scatter([0.7], [0.7, 0.8])
    curves = {"evolution": [(np.array([10, 20, 30]), np.array([0.7, 0.72, 0.73]))] * 2,
              "random": [(np.arange(1, 31), np.linspace(0.6, 0.71, 30))]}
    assert nb.search_curves(curves).axes
    with pytest.raises(ValueError):
        nb.search_curves({"evolution": []})
    front = {"pool_ms": [1, 2, 3], "pool_acc": [0.7, 0.72, 0.71], "front_ms": [1, 2],
             "front_acc": [0.7, 0.72],
             "winners": [{"predicted_ms": 2, "predicted_acc": 0.72, "measured_ms": 2.1, "measured_acc": 0.71,
                          "limit_ms": 2.2}]}
    assert len(nb.target_fronts({"a": front, "b": front}).axes) == 2
    with pytest.raises(ValueError, match="front_acc"):
        nb.target_fronts({"a": {"pool_ms": [1], "pool_acc": [1], "front_ms": [1]}})
    with pytest.raises(ValueError, match="differ in length"):
        nb.target_fronts({"a": {**front, "pool_acc": [0.7]}})


# ----- the panel ------------------------------------------------------------------------------------
def tiny_data(n, seed=0):
    from hwnas_lab.data import TensorData

    g = torch.Generator().manual_seed(seed)
    return TensorData(torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8),
                      torch.randint(0, 10, (n,), generator=g))


def context():
    class Predictor:
        space = SPACE

        def predict(self, a):
            return 0.6 + 0.01 * a.d.sum(1) + 0.001 * a.e.sum(1)

    tables = {name: LatencyTable(SPACE, name, {s.signature: scale * (0.01 + s.macs / 2e6)
                                               for s in SPACE.all_layer_specs()})
              for name, scale in (("torch-1thread", 1.0), ("torch-2threads", 0.6))}
    eff = {t: Efficiency(SPACE, table) for t, table in tables.items()}
    fronts = {t: {"pool_ms": [e.minimum("latency_ms")[0], 20.0], "pool_acc": [0.6, 0.7],
                  "front_ms": [e.minimum("latency_ms")[0], 20.0], "front_acc": [0.6, 0.7]}
              for t, e in eff.items()}
    torch.manual_seed(0)
    return nb.SearchContext(OFASupernet(SPACE).eval(), tiny_data(32), tiny_data(16, 1), Predictor(), eff,
                            fronts, EvolutionConfig(20, 5), recal_batches=1, repeats=2)


def test_search_report_and_panel():
    ctx = context()
    report = nb.search_report(ctx, "torch-1thread", 5.0, measure=True)
    assert report.result.best_metrics["latency_ms"] <= 5.0
    assert report.measured.measured_ms > 0 and 0 <= report.measured.measured_acc <= 1
    assert "re-measured" in report.html() and "torch-1thread" in report.html()
    assert "re-measured" not in nb.search_report(ctx, "torch-1thread", 5.0, measure=False).html()
    with pytest.raises(ValueError, match="unknown target"):
        nb.search_report(ctx, "cuda", 5.0)
    panel = nb.SearchPanel(ctx, measure=False)
    first = panel.report.result.best_metrics["latency_ms"]
    assert first <= panel.limit.value
    panel.target.value = "torch-2threads"  # the slider moves into the new target's range
    lo, hi = panel.ranges["torch-2threads"]
    assert panel.limit.min == pytest.approx(lo) and panel.limit.max == pytest.approx(hi)
    assert panel.report.target == "torch-2threads"
    assert panel.report.result.best_metrics["latency_ms"] <= panel.limit.value
    panel.limit.value = panel.limit.min
    assert panel.report.limit_ms == pytest.approx(lo)
