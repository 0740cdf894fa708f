"""The history of visited subnets: points, Pareto front, scatter."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from hwnas_lab.course.history import History, front_of, history_scatter  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_front_in_each_direction():
    lat = [1.0, 2.0, 3.0, 2.5]
    acc = [70.0, 80.0, 79.0, 85.0]
    # latency lower, accuracy higher: 1 ms/70 %, 2 ms/80 %, 2.5 ms/85 % (3 ms/79 % dominated)
    assert front_of(lat, acc, "lower", "higher").tolist() == [0, 1, 3]
    # flops higher, latency lower (most FLOPs for the latency): the x axis is the gain
    assert front_of([5.0, 9.0, 7.0], [1.0, 2.0, 2.5], "higher", "lower").tolist() == [0, 1]
    assert front_of(lat, acc, None, "higher").size == 0
    with pytest.raises(ValueError, match="'lower', 'higher' or None"):
        front_of(lat, acc, "less", "higher")


def test_history_replaces_a_revisited_subnet_and_keeps_it_latest():
    h = History("latency (ms)", "accuracy (%)", x_better="lower", y_better="higher")
    h.add(1.0, 70.0, "a")
    h.add(2.0, 80.0, "b")
    h.add(3.0, 79.0, "c")
    h.add(1.1, 71.0, "a")  # visited again: measured again
    x, y, labels = h.arrays()
    assert labels == ["b", "c", "a"] and x.tolist() == [2.0, 3.0, 1.1] and len(h) == 3
    assert h.front() == ["a", "b"]
    assert h.png().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="y_better"):
        History("x", "y", y_better="up")


def test_scatter_draws_points_front_and_latest():
    fig = history_scatter([1.0, 2.0, 3.0], [70.0, 80.0, 75.0], xlabel="latency (ms)",
                          ylabel="accuracy (%)", x_better="lower", y_better="higher")
    ax = fig.axes[0]
    assert len(ax.collections[0].get_offsets()) == 3
    front, latest = ax.lines[0], ax.lines[-1]
    assert front.get_xdata().tolist() == [1.0, 2.0] and front.get_ydata().tolist() == [70.0, 80.0]
    assert latest.get_xdata().tolist() == [3.0]
    assert "Pareto front (2)" in ax.get_legend().get_texts()[1].get_text()
    diag = history_scatter([1.0, 2.0], [1.1, 1.9], diagonal=True).axes[0]
    assert np.allclose(diag.lines[0].get_xdata(), [1.0, 2.0])  # y = x from min to max
    assert history_scatter([], []).axes[0].get_title() == "0 subnet(s) visited"
    with pytest.raises(ValueError, match="x has 2 values but y has 1"):
        history_scatter([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="1 labels for 2 points"):
        history_scatter([1.0, 2.0], [1.0, 2.0], labels=["a"])
