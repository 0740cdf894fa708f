"""Notebook 02's figures and the trade-off panel (the exercise checks: test_nb02_checks.py)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from hwnas_lab.course import nb02_proxyless as nb  # noqa: E402
from hwnas_lab.space import SPACES  # noqa: E402


# ----- figures -------------------------------------------------------------------------------------
def test_figures_return_figures():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(10), size=(6, 16))
    probs[:, :2, 9] = np.nan
    labels = [f"k{k}e{e}" for k in (3, 5, 7) for e in (3, 4, 6)] + ["zero"]
    figs = [nb.path_prob_heatmaps(probs, list(range(10, 70, 10)), labels, 4),
            nb.latency_trace([1, 2, 3], [5.0, 4.5, 4.2], 4.0, arch_lut_ms=4.1, measured_ms=4.3),
            nb.estimator_comparison(rng.normal(size=(3, 3)), {"a": rng.normal(size=(50, 3, 3)),
                                                              "b": rng.normal(size=(50, 3, 3))},
                                    relaxed=rng.normal(size=(3, 3))),
            nb.memory_bars(["all", "one", "two"], [900.0, 100.0, 120.0], peak_mb=[1000, 150, 170]),
            nb.loss_form_curves([0.5, 1.0, 1.5], {"mul": [0.8, 1.0, 1.2]}),
            nb.tradeoff_plot([3.0, 4.0, 3.5], [60.0, 70.0, 64.0], [3.1, 4.1], [55.0, 66.0],
                             labels=["a", "b", "c"], groups=["hinge", "hinge", "add"], highlight=1)]
    for fig in figs:
        assert isinstance(fig, matplotlib.figure.Figure)
        plt.close(fig)


def test_figures_reject_bad_input():
    with pytest.raises(ValueError, match="snapshots"):
        nb.path_prob_heatmaps(np.zeros((3, 16)), [1, 2, 3], ["a"] * 10, 4)
    with pytest.raises(ValueError, match="labels"):
        nb.path_prob_heatmaps(np.zeros((2, 16, 10)), [1, 2], ["a"] * 9, 4)
    with pytest.raises(ValueError, match="latencies"):
        nb.latency_trace([1, 2], [5.0], 4.0)
    with pytest.raises(ValueError, match="positive"):
        nb.latency_trace([1], [5.0], 0.0)
    with pytest.raises(ValueError, match="empty"):
        nb.estimator_comparison(np.zeros((2, 2)), {})
    with pytest.raises(ValueError, match="values each"):
        nb.estimator_comparison(np.zeros((2, 2)), {"a": np.zeros((10, 3, 3))})
    with pytest.raises(ValueError, match="labels"):
        nb.memory_bars(["a"], [1.0, 2.0])
    with pytest.raises(ValueError, match="one value per ratio"):
        nb.loss_form_curves([1.0, 2.0], {"mul": [1.0]})
    with pytest.raises(ValueError, match="pair up"):
        nb.tradeoff_plot([1.0, 2.0], [50.0])
    with pytest.raises(ValueError, match="highlight"):
        nb.tradeoff_plot([1.0], [50.0], highlight=3)
    with pytest.raises(ValueError, match="one group"):
        nb.tradeoff_plot([1.0, 2.0], [50.0, 60.0], groups=["a"])


# ----- panel ---------------------------------------------------------------------------------------
def points():
    space = SPACES["cpu"]
    return [nb.SweepPoint("hinge T=3.0", "hinge", 3.0, space.smallest(), 3.2, 3.1, 3.4, 0.1, 0.62,
                          (0.6, 0.58)),
            nb.SweepPoint("add lambda=0.5", "add", 5.0, space.largest(), 5.1, 5.0, 5.5, 0.2, 0.70, (0.66,))]


def test_sweep_point_html_and_figure():
    p = points()
    text = p[0].html()
    assert "hinge T=3.0" in text and "62.0 %" in text and "59.0 % mean of 2" in text and "+13 %" in text
    fig = nb.sweep_figure(p, [3.1], [0.6], highlight=1)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert nb.figure_html(fig).startswith("<img src='data:image/png;base64,")
    with pytest.raises(ValueError, match="no sweep points"):
        nb.sweep_figure([])


def test_sweep_panel_follows_its_slider():
    pytest.importorskip("ipywidgets")
    panel = nb.SweepPanel(points(), [3.1, 5.2], [0.6, 0.64])
    assert "hinge T=3.0" in panel.out.value
    panel.slider.value = 1
    assert "add lambda=0.5" in panel.out.value and "data:image/png" in panel.out.value
    with pytest.raises(ValueError, match="no sweep points"):
        nb.SweepPanel([])
