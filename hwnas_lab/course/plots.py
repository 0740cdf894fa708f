"""Figures more than one notebook shows (matplotlib; each function returns its ``Figure``).

One function per figure, taking plain arrays so that a notebook owns the experiment and
this module only draws it; a notebook's own figures are in its ``course.nbNN_*`` module.
Latency figures show the measurement spread (IQR) beside every median, as measurements on
a shared CPU are noisy.
"""

from __future__ import annotations

import io
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from ..stats import quartiles_of_each


def axes(ax=None, figsize: tuple[float, float] = (5.0, 4.0)):
    """``(figure, axes)``: ``ax`` and its figure, or a new figure of ``figsize`` inches."""
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    return ax.figure, ax


def png_bytes(fig, dpi: int = 80, tight: bool = False) -> bytes:
    """``fig`` as PNG bytes (what a panel's image widget or inline ``<img>`` shows); the
    figure is closed, also when saving fails. ``tight``: crop to the drawn area."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    finally:
        plt.close(fig)
    return buffer.getvalue()


def image_grid(X, y, classes: Sequence[str], per_class: int = 8, title: str | None = None):
    """A grid of uint8 images (N, 3, H, W): one row per class, ``per_class`` columns."""
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim != 4 or X.shape[1] != 3:
        raise ValueError(f"X must be images of shape (N, 3, H, W), got {X.shape}")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} images but y has {len(y)} labels")
    n_rows = len(classes)
    fig, grid = plt.subplots(n_rows, per_class, figsize=(per_class * 0.8, n_rows * 0.8),
                             squeeze=False)
    for c, name in enumerate(classes):
        picks = np.flatnonzero(y == c)[:per_class]
        for j in range(per_class):
            ax = grid[c, j]
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
            if j < len(picks):
                ax.imshow(X[picks[j]].transpose(1, 2, 0))
        grid[c, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout(pad=0.2)
    return fig


def latency_vs_flops(mflops: Sequence[float], samples_ms: Sequence[Sequence[float]], ax=None,
                     title: str = "Latency against FLOPs", label: str | None = None,
                     highlight: Sequence[int] = ()):
    """Median latency against MFLOPs with the inter-quartile range as asymmetric error bars.

    ``samples_ms[i]`` are the timing samples of network ``i``; ``highlight`` indexes
    networks to circle (e.g. a pair that FLOPs rank the wrong way round).
    """
    mflops = np.asarray(mflops, dtype=float)
    if len(mflops) != len(samples_ms):
        raise ValueError(f"{len(mflops)} FLOP counts but {len(samples_ms)} latency measurements")
    q1, med, q3 = quartiles_of_each(samples_ms)
    fig, ax = axes(ax)
    ax.errorbar(mflops, med, yerr=[med - q1, q3 - med], fmt="o", ms=4, capsize=2, alpha=0.8,
                label=label or "median, bars: IQR")
    for i in highlight:
        ax.plot(mflops[i], med[i], "o", ms=12, mfc="none", mec="C3", mew=1.5)
    ax.set_xlabel("MFLOPs (batch 1)")
    ax.set_ylabel("latency (ms)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    return fig


def rank_plot(x: Sequence[float], y: Sequence[float], xlabel: str = "rank by MFLOPs",
              ylabel: str = "rank by latency", ax=None, title: str | None = None):
    """Rank of each item by ``x`` against its rank by ``y`` (a diagonal means same order)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {x.size} and {y.size}")
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    fig, ax = axes(ax)
    ax.plot([0, len(x) - 1], [0, len(x) - 1], "--", color="gray", lw=1, label="same order")
    ax.scatter(rx, ry, s=18)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    return fig


