"""Architecture and weight-sharing diagrams: they draw what they are given (checked on the
texts and patches drawn), and reject bad input with a clear ValueError."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from hwnas_lab.course import diagrams  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def texts(fig):
    return " | ".join(t.get_text() for ax in fig.axes for t in ax.texts)


def test_mbconv_block_shows_fields_shapes_and_residual():
    fig = diagrams.mbconv_block(16, 24, 5, 4, stride=2, in_size=7)
    t = texts(fig)
    assert "16 -> 64 channels" in t and "e = 4" in t and "5x5 conv, stride 2" in t
    assert "64 x 7 x 7" in t and "64 x 4 x 4" in t  # ceil(7 / 2) = 4 after the depthwise
    assert "output  24 x 4 x 4" in t and "no residual\n(stride 2)" in t
    same = texts(diagrams.mbconv_block(24, 24, 3, 6, stride=1, in_size=8))
    assert "residual:" in same and "+" in same and "no residual" not in same
    assert "cin 16 != cout 24" in texts(diagrams.mbconv_block(16, 24, 3, 3, 1, 8))
    with pytest.raises(ValueError, match="ks must be odd"):
        diagrams.mbconv_block(16, 24, 4, 3)
    with pytest.raises(ValueError, match="e must be a positive int"):
        diagrams.mbconv_block(16, 24, 3, 0)


def test_network_stages_shows_sizes_and_running_slots():
    ks, e = [3, 5, 7, 3, 5, 7], [3, 4, 6, 6, 4, 3]
    fig = diagrams.network_stages(8, [16, 24], [1, 2], 64, ks, e, d=[2, 1], r=27)
    t = texts(fig)
    assert "stage 1: 16 ch\nstride 1, 27->27 px\nd[0] = 2" in t
    assert "stage 2: 24 ch\nstride 2, 27->14 px\nd[1] = 1" in t  # ceil(27 / 2)
    assert "slot 0\nk3 e3" in t and "slot 1\nk5 e4" in t and "slot 2\n(not run)" in t
    assert "slot 3\nk3 e6" in t and "slot 4\n(not run)" in t and "slot 5\n(not run)" in t
    assert "stem 3x3 conv\n8 ch, 27x27" in t and "head 1x1 conv\n64 ch" in t
    with pytest.raises(ValueError, match="one width, stride and depth per stage"):
        diagrams.network_stages(8, [16, 24], [1], 64, ks, e, [2, 1], 27)
    with pytest.raises(ValueError, match="one entry per block slot"):
        diagrams.network_stages(8, [16, 24], [1, 2], 64, ks[:5], e[:5], [2, 1], 27)
    with pytest.raises(ValueError, match=r"d\[1\] = 4 must be between 0 and the 3"):
        diagrams.network_stages(8, [16, 24], [1, 2], 64, ks, e, [2, 4], 27)


def test_kernel_sharing_outlines_centre_crops():
    k = np.arange(49, dtype=float).reshape(7, 7)
    fig = diagrams.kernel_sharing(k, (5, 3), transformed={3: np.ones((3, 3))})
    assert len(fig.axes) == 4  # the 7x7, crop 5, crop 3, transformed 3
    boxes = [p for p in fig.axes[0].patches if isinstance(p, Rectangle)]
    assert [(b.get_x(), b.get_width()) for b in boxes] == [(0.5, 5), (1.5, 3)]
    assert np.array_equal(fig.axes[2].images[0].get_array(), k[2:5, 2:5])
    assert "rows/cols 2..4" in fig.axes[2].get_title()
    assert np.array_equal(fig.axes[3].images[0].get_array(), np.ones((3, 3)))
    with pytest.raises(ValueError, match="square 2-d array of odd size"):
        diagrams.kernel_sharing(np.ones((6, 6)))
    with pytest.raises(ValueError, match="odd and smaller than the 7x7"):
        diagrams.kernel_sharing(k, (4,))
    with pytest.raises(ValueError, match=r"transformed\[5\] must be 5x5"):
        diagrams.kernel_sharing(k, (5,), transformed={5: np.ones((3, 3))})


def test_channel_sharing_outlines_the_first_channels():
    w = np.random.default_rng(0).normal(size=(24, 16, 1, 1))
    imp = np.sort(np.abs(w[:, :, 0, 0]).sum(1))[::-1]
    fig = diagrams.channel_sharing(w, active_out=12, active_in=8, importance=imp)
    box = fig.axes[0].patches[0]
    assert (box.get_x(), box.get_y(), box.get_width(), box.get_height()) == (-0.5, -0.5, 8, 12)
    bars = fig.axes[1].patches
    assert len(bars) == 24 and "sorted" in fig.axes[1].get_title()
    assert "unsorted" in diagrams.channel_sharing(w, 12, 8, imp[::-1]).axes[1].get_title()
    with pytest.raises(ValueError, match="active_out = 30 exceeds the weight's 24"):
        diagrams.channel_sharing(w, 30, 8)
    with pytest.raises(ValueError, match="one value per output channel"):
        diagrams.channel_sharing(w, 12, 8, importance=imp[:5])
    with pytest.raises(ValueError, match="weight must be"):
        diagrams.channel_sharing(np.ones(5), 1, 1)


def test_depth_sharing_runs_the_first_blocks():
    fig = diagrams.depth_sharing((2, 3, 4))
    t = texts(fig)
    assert t.count("block 1") == 3 and t.count("block 4") == 1 and t.count("skipped") == 3
    assert t.count("skip") - t.count("skipped") == 2  # a skip arrow for d = 2 and d = 3
    with pytest.raises(ValueError, match="depth 4 exceeds max_depth 3"):
        diagrams.depth_sharing((2, 4), max_depth=3)
    with pytest.raises(ValueError, match="d_choices is empty"):
        diagrams.depth_sharing(())
