"""The subnets a learner has visited with a panel, kept and drawn as one scatter.

A panel shows one subnet at a time; comparing subnets needs them side by side. A
``History`` records one point per visited subnet (the latest values if one is visited
again) and ``history_scatter`` draws them with the Pareto front (``hwnas_lab.pareto``;
MnasNet, Tan et al., CVPR 2019): the subnets no other visited one beats on both axes.
Which way is better is said per axis (``x_better`` / ``y_better``: "lower" or "higher";
e.g. latency lower, accuracy higher). ``diagonal=True`` draws y = x instead, for
predicted against measured latency.

``StagePanel(history=True)`` (``course.widgets``) keeps a ``History`` and shows the
scatter under its sliders, redrawn after every change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..pareto import pareto_front
from .plots import axes, png_bytes

BETTER = ("lower", "higher")


def _check_better(name: str, value: str | None) -> None:
    if value is not None and value not in BETTER:
        raise ValueError(f"{name} must be 'lower', 'higher' or None, got {value!r}")


def front_of(x: Sequence[float], y: Sequence[float], x_better: str | None,
             y_better: str | None) -> np.ndarray:
    """Indices of the Pareto front along x (empty unless both directions are given)."""
    _check_better("x_better", x_better)
    _check_better("y_better", y_better)
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x_better is None or y_better is None or x.size == 0:
        return np.zeros(0, dtype=int)
    cost = x if x_better == "lower" else -x
    quality = y if y_better == "higher" else -y
    idx = pareto_front(cost, quality)
    return idx[np.argsort(x[idx], kind="stable")]


def history_scatter(x: Sequence[float], y: Sequence[float], labels: Sequence[str] | None = None,
                    xlabel: str = "x", ylabel: str = "y", x_better: str | None = None,
                    y_better: str | None = None, diagonal: bool = False, ax=None,
                    title: str | None = None):
    """Every visited subnet as a point, the latest one ringed, the Pareto front joined by
    a line (when both directions are given) or the y = x diagonal (``diagonal``)."""
    x, y = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x has {x.size} values but y has {y.size}: one of each per subnet")
    if labels is not None and len(labels) != x.size:
        raise ValueError(f"{len(labels)} labels for {x.size} points")
    front = front_of(x, y, x_better, y_better)
    fig, ax = axes(ax, (5.2, 3.6))
    ax.scatter(x, y, s=22, color="#4c72b0", alpha=0.8, label=f"visited ({x.size})")
    if front.size:
        ax.plot(x[front], y[front], "-o", color="#c44e52", ms=7, mfc="none", lw=1.2,
                label=f"Pareto front ({front.size}): {x_better} {xlabel.split(' (')[0]}, "
                      f"{y_better} {ylabel.split(' (')[0]}")
    if diagonal and x.size:
        lo, hi = min(x.min(), y.min()), max(x.max(), y.max())
        ax.plot([lo, hi], [lo, hi], color="gray", lw=1, label="y = x")
    if x.size:
        ax.plot(x[-1], y[-1], "o", ms=12, mfc="none", mec="k", mew=1.2, label="latest")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if x.size:
        ax.legend(fontsize=7, loc="best")
    ax.set_title(title or f"{x.size} subnet(s) visited", fontsize=10)
    fig.tight_layout()
    return fig


@dataclass
class History:
    """Points of the visited subnets, keyed by a label (revisiting replaces the point)."""

    xlabel: str  # e.g. "MFLOPs", "predicted latency (ms)"
    ylabel: str  # e.g. "measured latency (ms)", "accuracy (%)"
    x_better: str | None = None  # "lower", "higher" or None (no front)
    y_better: str | None = None
    diagonal: bool = False  # draw y = x (predicted against measured)
    points: dict[str, tuple[float, float]] = field(default_factory=dict)  # label -> (x, y)

    def __post_init__(self) -> None:
        _check_better("x_better", self.x_better)
        _check_better("y_better", self.y_better)

    def add(self, x: float, y: float, label: str) -> None:
        """Record a subnet (the latest point last, even when it was visited before)."""
        self.points.pop(label, None)
        self.points[label] = (float(x), float(y))

    def __len__(self) -> int:
        return len(self.points)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        labels = list(self.points)
        xy = np.array([self.points[k] for k in labels], dtype=float).reshape(-1, 2)
        return xy[:, 0], xy[:, 1], labels

    def front(self) -> list[str]:
        """Labels of the visited subnets on the Pareto front, along x."""
        x, y, labels = self.arrays()
        return [labels[i] for i in front_of(x, y, self.x_better, self.y_better)]

    def figure(self, ax=None, title: str | None = None):
        x, y, labels = self.arrays()
        return history_scatter(x, y, labels, self.xlabel, self.ylabel, self.x_better,
                               self.y_better, self.diagonal, ax=ax, title=title)

    def png(self, dpi: int = 80) -> bytes:
        """The scatter as PNG bytes (what a panel's image widget shows); the figure is closed."""
        return png_bytes(self.figure(), dpi=dpi)
