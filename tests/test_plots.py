"""Figures: each draws what it is given (checked on the artists), and rejects bad input."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from hwnas_lab.course import plots  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_image_grid_one_row_per_class():
    X = np.random.default_rng(0).integers(0, 256, (12, 3, 8, 8), dtype=np.uint8)
    y = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 0, 1, 2])
    fig = plots.image_grid(X, y, ["a", "b", "c"], per_class=3)
    axes = np.array(fig.axes).reshape(3, 3)
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ["a", "b", "c"]
    shown = axes[1, 2].images[0].get_array()  # third image of class 1 is X[5], HWC
    assert np.array_equal(np.asarray(shown), X[5].transpose(1, 2, 0))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        plots.image_grid(X[:, :1], y, ["a", "b", "c"])
    with pytest.raises(ValueError, match="12 images but y has 3"):
        plots.image_grid(X, y[:3], ["a", "b", "c"])


def test_latency_vs_flops_draws_medians_and_iqr_bars():
    samples = [[1.0, 2.0, 3.0, 4.0, 10.0], [5.0, 5.0, 6.0, 7.0]]
    fig = plots.latency_vs_flops([10.0, 20.0], samples, highlight=[1])
    ax = fig.axes[0]
    line = ax.containers[0].lines[0]  # the errorbar markers
    assert np.allclose(line.get_ydata(), [3.0, 5.5])
    segments = ax.containers[0].lines[2][0].get_segments()
    assert np.allclose([s[:, 1] for s in segments], [[2.0, 4.0], [5.0, 6.25]])
    with pytest.raises(ValueError, match="2 FLOP counts but 1"):
        plots.latency_vs_flops([1.0, 2.0], samples[:1])


def test_rank_plot_plots_ranks():
    fig = plots.rank_plot([3.0, 1.0, 2.0], [0.1, 0.3, 0.2])
    offsets = fig.axes[0].collections[0].get_offsets()
    assert np.array_equal(np.asarray(offsets), [[2, 0], [0, 2], [1, 1]])
    with pytest.raises(ValueError, match="same length"):
        plots.rank_plot([1.0, 2.0], [1.0])
