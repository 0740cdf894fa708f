"""The figures the notebooks show (matplotlib; each function returns its ``Figure``).

One function per figure, taking plain arrays so that a notebook owns the experiment and
this module only draws it. Latency figures show the measurement spread (IQR) beside
every median, as measurements on a shared CPU are noisy.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def _axes(ax=None, figsize: tuple[float, float] = (5.0, 4.0)):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    return ax.figure, ax


def image_grid(X, y, classes: Sequence[str], per_class: int = 8, title: str | None = None):
    """A grid of uint8 images (N, 3, H, W): one row per class, ``per_class`` columns."""
    import matplotlib.pyplot as plt

    X, y = np.asarray(X), np.asarray(y)
    if X.ndim != 4 or X.shape[1] != 3:
        raise ValueError(f"X must be images of shape (N, 3, H, W), got {X.shape}")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} images but y has {len(y)} labels")
    n_rows = len(classes)
    fig, axes = plt.subplots(n_rows, per_class, figsize=(per_class * 0.8, n_rows * 0.8),
                             squeeze=False)
    for c, name in enumerate(classes):
        picks = np.flatnonzero(y == c)[:per_class]
        for j in range(per_class):
            ax = axes[c, j]
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
            if j < len(picks):
                ax.imshow(X[picks[j]].transpose(1, 2, 0))
        axes[c, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout(pad=0.2)
    return fig


def quartiles(samples_ms: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per measurement: (25th percentile, median, 75th percentile) of its samples."""
    q = np.array([np.percentile(s, [25, 50, 75]) for s in samples_ms])
    return q[:, 0], q[:, 1], q[:, 2]


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
    q1, med, q3 = quartiles(samples_ms)
    fig, ax = _axes(ax)
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
    fig, ax = _axes(ax)
    ax.plot([0, len(x) - 1], [0, len(x) - 1], "--", color="gray", lw=1, label="same order")
    ax.scatter(rx, ry, s=18)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    return fig


# ----- notebook 01: latency tables and predictors -----------------------------------------
def pred_vs_measured(predictions_ms: dict, measured_ms: Sequence[float], noise_pct: float | None = None,
                     iqr_ms: Sequence[float] | None = None, title: str = ""):
    """One panel per predictor: predicted against measured latency, the diagonal, the
    +-10 % band (dashed) and, shaded, +-``noise_pct`` % (the measurement's own noise floor)."""
    import matplotlib.pyplot as plt

    meas = np.asarray(measured_ms, dtype=float)
    if not predictions_ms:
        raise ValueError("predictions_ms is empty: give {predictor name: predicted ms}")
    for name, p in predictions_ms.items():
        if len(p) != len(meas):
            raise ValueError(f"{name}: {len(p)} predictions but {len(meas)} measurements")
    n = len(predictions_ms)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.5), squeeze=False)
    lo = min(meas.min(), min(np.min(p) for p in predictions_ms.values())) * 0.9
    hi = max(meas.max(), max(np.max(p) for p in predictions_ms.values())) * 1.1
    line = np.array([lo, hi])
    for ax, (name, pred) in zip(axes[0], predictions_ms.items()):
        if noise_pct is not None:
            ax.fill_between(line, line * (1 - noise_pct / 100), line * (1 + noise_pct / 100),
                            color="C2", alpha=0.2, label=f"noise floor +-{noise_pct:.1f} %")
        ax.plot(line, line, color="gray", lw=1)
        ax.plot(line, line * 1.1, "--", color="gray", lw=0.8, label="+-10 %")
        ax.plot(line, line * 0.9, "--", color="gray", lw=0.8)
        xerr = None if iqr_ms is None else np.asarray(iqr_ms) / 2
        ax.errorbar(meas, pred, xerr=xerr, fmt="o", ms=3, alpha=0.7, elinewidth=0.8)
        rel = np.abs(np.asarray(pred) - meas) / meas
        ax.set_title(f"{name}\n{100 * np.mean(rel <= 0.1 + 1e-12):.0f} % within +-10 %", fontsize=9)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_xlabel("measured (ms)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("predicted (ms)")
    axes[0][0].legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def noise_floor_strip(medians_ms: np.ndarray, names: Sequence[str], ax=None, title: str = ""):
    """Each network's repeated medians (rounds) relative to their median, in percent."""
    med = np.asarray(medians_ms, dtype=float)
    if med.ndim != 2 or med.shape[1] != len(names):
        raise ValueError(f"medians_ms must be (rounds, {len(names)} networks), got {med.shape}")
    dev = 100 * (med / np.median(med, axis=0) - 1)
    fig, ax = _axes(ax, (5.0, 3.0))
    for j in range(med.shape[1]):
        ax.plot(np.full(med.shape[0], j), dev[:, j], "o", alpha=0.7)
    ax.axhspan(-10, 10, color="gray", alpha=0.1, label="+-10 %")
    ax.axhline(0, color="gray", lw=1)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=30, fontsize=8)
    ax.set_ylabel("round / median - 1 (%)")
    ax.set_title(title or "Repeatability of a measurement (noise floor)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def breakdown_bars(parts_ms: dict, measured_ms: float | None = None, iqr_ms: float | None = None,
                   ax=None, title: str = "Predicted latency by stage"):
    """A stacked bar of the predicted latency per part, beside the measured one (IQR bar)."""
    if not parts_ms:
        raise ValueError("parts_ms is empty")
    fig, ax = _axes(ax, (6.0, 2.2))
    left = 0.0
    for i, (name, ms) in enumerate(parts_ms.items()):
        ax.barh(1, ms, left=left, color=f"C{i}", label=name)
        left += ms
    if measured_ms is not None:
        ax.barh(0, measured_ms, color="gray", xerr=None if iqr_ms is None else iqr_ms / 2,
                capsize=3)
    ax.set_yticks([0, 1])
    ax.set_yticklabels(["measured", "predicted"])
    ax.set_xlabel("latency (ms)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, ncol=min(len(parts_ms), 6), loc="lower right")
    fig.tight_layout()
    return fig


# ----- notebook 05: Once-for-All -----------------------------------------------------------
def elastic_kernels(kernels: dict, title: str = "one depthwise filter at each kernel size"):
    """Heat maps of one filter at each kernel size, e.g. ``{7: 7x7, 5: 5x5, 3: 3x3}`` arrays,
    drawn on the largest kernel's grid so that the centre crops line up."""
    import matplotlib.pyplot as plt

    sizes = sorted(kernels, reverse=True)
    big = sizes[0]
    vmax = max(float(np.abs(np.asarray(k)).max()) for k in kernels.values())
    fig, axes = plt.subplots(1, len(sizes), figsize=(2.6 * len(sizes), 2.8))
    for ax, ks in zip(np.atleast_1d(axes), sizes):
        canvas = np.full((big, big), np.nan)
        start = (big - ks) // 2
        canvas[start:start + ks, start:start + ks] = np.asarray(kernels[ks])
        im = ax.imshow(canvas, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        ax.set_title(f"{ks}x{ks}", fontsize=10)
        ax.set_xticks([]), ax.set_yticks([])
    fig.colorbar(im, ax=list(np.atleast_1d(axes)), shrink=0.8)
    fig.suptitle(title, fontsize=10)
    return fig


def shrink_schedule(phases, ax=None, title: str = "progressive shrinking: what each phase samples"):
    """The schedule as a picture: one row per elastic dimension, one column block per phase
    (width = epochs), each cell listing the choices sampled; resolution elastic throughout."""
    fig, ax = _axes(ax, figsize=(9.0, 3.0))
    rows = [("ks", "kernel size"), ("d", "depth"), ("e", "expand ratio")]
    colours = {"ks": "#4c72b0", "d": "#55a868", "e": "#c44e52"}
    x = 0.0
    full = {name: set() for name, _ in rows}
    for phase in phases:
        for name, _ in rows:
            full[name] |= set(getattr(phase, name) or ())
    for index, phase in enumerate(phases):
        for i, (name, _) in enumerate(rows):
            chosen = getattr(phase, name) or tuple(sorted(full[name]))
            elastic = len(chosen) > 1
            ax.barh(i, phase.epochs, left=x, color=colours[name], alpha=0.85 if elastic else 0.2,
                    edgecolor="white")
            ax.text(x + phase.epochs / 2, i, ",".join(map(str, chosen)), ha="center",
                    va="center", fontsize=7)
        level = len(rows) - 0.45 + 0.55 * (index % 2)  # stagger labels of short phases
        ax.text(x + phase.epochs / 2, level, f"{phase.name}\n{phase.epochs} ep, "
                f"{phase.n_subnets}/step", ha="center", va="bottom", fontsize=7)
        x += phase.epochs
    ax.set_yticks(range(len(rows)), [label for _, label in rows])
    ax.set_xlabel("epoch")
    ax.set_xlim(0, x)
    ax.set_ylim(-0.6, len(rows) + 1.2)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def shrink_log(history: Sequence[dict], ax=None, title: str = "validation accuracy during training"):
    """Accuracy of the largest and smallest subnets after every epoch, phases shaded."""
    fig, ax = _axes(ax, figsize=(8.0, 3.4))
    xs = np.arange(1, len(history) + 1)
    for key, label in (("val_acc_largest", "largest"), ("val_acc_smallest", "smallest")):
        ax.plot(xs, [100 * row[key] for row in history], marker="o", ms=3, label=label)
    start = 0
    for i, row in enumerate(history):
        if i + 1 == len(history) or history[i + 1]["phase"] != row["phase"]:
            if row["phase_index"] % 2:
                ax.axvspan(start + 0.5, i + 1.5, color="0.92")
            ax.text((start + i + 2) / 2, 1, row["phase"], ha="center", fontsize=7,
                    transform=ax.get_xaxis_transform(), va="top")
            start = i + 1
    ax.set_xlabel("epoch (all phases)")
    ax.set_ylabel("val accuracy (%)")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def accuracy_vs_mflops(mflops: Sequence[float], acc_before: Sequence[float],
                       acc_after: Sequence[float], labels: Sequence[str] | None = None, ax=None,
                       title: str = "subnets of the supernet, no retraining"):
    """Accuracy (%) against MFLOPs, before and after batch-norm recalibration."""
    fig, ax = _axes(ax, figsize=(5.5, 4.0))
    m = np.asarray(mflops)
    ax.scatter(m, 100 * np.asarray(acc_before), marker="x", color="0.5", label="supernet BN stats")
    ax.scatter(m, 100 * np.asarray(acc_after), marker="o", color="#4c72b0", label="recalibrated")
    for x, b, a in zip(m, acc_before, acc_after):
        ax.plot([x, x], [100 * b, 100 * a], color="0.8", lw=0.8, zorder=0)
    for x, a, lab in zip(m, acc_after, labels or []):
        if lab:
            ax.annotate(lab, (x, 100 * a), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("MFLOPs (batch 1)")
    ax.set_ylabel("accuracy (%)")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
