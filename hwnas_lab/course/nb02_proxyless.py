"""Notebook 02 (ProxylessNAS): its figures and the trade-off panel; the exercise checks are in
``course.nb02_checks``, re-exported here so the notebook calls ``nb02.check_...``.

Cai, Zhu and Han, "ProxylessNAS: Direct Neural Architecture Search on Target Task and
Hardware", ICLR 2019. The algorithm lives in :mod:`hwnas_lab.proxyless` and
:mod:`hwnas_lab.proxyless_search`; this module only draws what the notebook shows. Figures
take plain arrays, return their ``Figure`` and raise ``ValueError`` on inconsistent input.
"""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .nb02_checks import (check_binary_gates, check_expected_latency_grad,  # noqa: F401
                          check_latency_loss)
from .plots import axes, png_bytes


# ----- figures -----------------------------------------------------------------------------
def path_prob_heatmaps(probs: np.ndarray, steps: Sequence[int], candidate_labels: Sequence[str],
                       slots_per_stage: int, title: str = "path probabilities during the search"):
    """One small heat map per slot (rows: stages): each candidate's probability (vertical)
    over the search (horizontal). ``probs``: ``(snapshots, slots, candidates)``, NaN = absent."""
    import matplotlib.pyplot as plt

    probs = np.asarray(probs, dtype=float)
    if probs.ndim != 3 or len(probs) != len(steps) or len(steps) == 0:
        raise ValueError(f"probs must be (snapshots, slots, candidates) with one snapshot per step; "
                         f"got shape {probs.shape} and {len(steps)} steps")
    T, S, C = probs.shape
    if C != len(candidate_labels) or S % slots_per_stage:
        raise ValueError(f"{C} candidates but {len(candidate_labels)} labels, or {S} slots not a "
                         f"multiple of {slots_per_stage} per stage")
    rows = S // slots_per_stage
    fig, axes = plt.subplots(rows, slots_per_stage, figsize=(2.3 * slots_per_stage, 1.5 * rows + 0.6),
                             squeeze=False, sharex=True, sharey=True)
    extent = (steps[0], steps[-1], C - 0.5, -0.5) if T > 1 else None
    for slot in range(S):
        ax = axes[slot // slots_per_stage, slot % slots_per_stage]
        im = ax.imshow(probs[:, slot, :].T, aspect="auto", vmin=0, vmax=1, cmap="viridis",
                       interpolation="nearest", extent=extent)
        ax.set_title(f"stage {slot // slots_per_stage + 1}, block {slot % slots_per_stage + 1}", fontsize=7)
        ax.tick_params(labelsize=6)
    for r in range(rows):
        axes[r, 0].set_yticks(range(C), candidate_labels, fontsize=5)
    for c in range(slots_per_stage):
        axes[-1, c].set_xlabel("weight step", fontsize=7)
    fig.colorbar(im, ax=axes, shrink=0.6, label="p")
    fig.suptitle(title, fontsize=10)
    return fig


def latency_trace(steps: Sequence[int], expected_ms: Sequence[float], target_ms: float,
                  arch_lut_ms: float | None = None, measured_ms: float | None = None,
                  ax=None, title: str = "expected latency during the search"):
    """``E[Lat]`` against the weight step, with the target and (at the end) the derived
    architecture's LUT and measured latency."""
    if len(steps) != len(expected_ms) or len(steps) == 0:
        raise ValueError(f"{len(steps)} steps but {len(expected_ms)} latencies")
    if not target_ms > 0:
        raise ValueError(f"target_ms must be positive, got {target_ms}")
    fig, ax = axes(ax, (5.5, 3.2))
    ax.plot(steps, expected_ms, marker=".", label="E[Lat] (LUT, soft)")
    ax.axhline(target_ms, color="C3", ls="--", label=f"target {target_ms:.2f} ms")
    if arch_lut_ms is not None:
        ax.plot(steps[-1], arch_lut_ms, "s", color="C2", label="derived arch, LUT")
    if measured_ms is not None:
        ax.plot(steps[-1], measured_ms, "D", color="0.3", label="derived arch, measured")
    ax.set_xlabel("weight step")
    ax.set_ylabel("latency (ms)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def estimator_comparison(exact: np.ndarray, samples: dict, relaxed: np.ndarray | None = None,
                         title: str = "gradient of E_path[L] per alpha: exact and estimated"):
    """Left: each estimator's mean over its samples (bars: +-2 standard errors) beside the
    exact gradient; right: the spread (standard deviation) of a single-sample estimate."""
    import matplotlib.pyplot as plt

    exact = np.asarray(exact, dtype=float).ravel()
    if not samples:
        raise ValueError("samples is empty: give {estimator name: (n, slots, candidates) array}")
    for name, s in samples.items():
        if np.asarray(s).reshape(len(s), -1).shape[1] != exact.size or len(s) < 2:
            raise ValueError(f"{name}: samples must be (n >= 2, ...) with {exact.size} values each")
    x = np.arange(exact.size)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 3.4), gridspec_kw={"width_ratios": [2, 1]})
    width = 0.8 / (len(samples) + 1)
    ax.bar(x - 0.4 + width / 2, exact, width, color="k", label="exact (enumerated)")
    for k, (name, s) in enumerate(samples.items(), start=1):
        s = np.asarray(s, dtype=float).reshape(len(s), -1)
        mean, se = s.mean(0), s.std(0, ddof=1) / math.sqrt(len(s))
        ax.bar(x - 0.4 + (k + 0.5) * width, mean, width, yerr=2 * se, capsize=1.5, color=f"C{k - 1}",
               label=f"{name}: mean of {len(s)}")
        ax2.bar(x - 0.4 + (k - 0.5) * 0.8 / len(samples), s.std(0, ddof=1), 0.8 / len(samples),
                color=f"C{k - 1}", label=name)
    if relaxed is not None:
        ax.plot(x, np.asarray(relaxed, dtype=float).ravel(), "x", color="C3", ms=7,
                label="DARTS relaxed (softmax gates)")
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xlabel("alpha index (slot-major)")
    ax.set_ylabel("dE/dalpha")
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=10)
    ax2.set_title("spread of one sample (std)", fontsize=10)
    ax2.set_xlabel("alpha index")
    fig.tight_layout()
    return fig


def memory_bars(labels: Sequence[str], saved_mb: Sequence[float], peak_mb: Sequence[float] | None = None,
                title: str = "activation memory of one search step"):
    """Bytes saved for backward (MB) per method, each bar labelled with its ratio to the first;
    CUDA peak memory beside it where measured."""
    saved = np.asarray(saved_mb, dtype=float)
    if len(labels) != len(saved) or len(saved) == 0 or (saved < 0).any():
        raise ValueError(f"{len(labels)} labels but {len(saved)} non-negative values")
    fig, ax = axes(figsize=(6.0, 3.0))
    y = np.arange(len(saved))
    ax.barh(y, saved, color="C0", label="saved for backward (autograd hooks)")
    if peak_mb is not None:
        ax.barh(y + 0.35, np.asarray(peak_mb, dtype=float), height=0.3, color="C1", label="CUDA peak")
    for i, v in enumerate(saved):
        ax.text(v, i, f" {v:.0f} MB ({v / saved[0]:.2f}x)" if saved[0] else f" {v:.0f} MB",
                va="center", fontsize=8)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel("MB")
    ax.set_xlim(0, saved.max() * 1.35 if saved.max() > 0 else 1)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def loss_form_curves(ratio: Sequence[float], curves: dict, ax=None,
                     title: str = "latency term as a function of E[Lat] / T"):
    """Each form's loss for a fixed CE against ``E[Lat] / T``."""
    ratio = np.asarray(ratio, dtype=float)
    if not curves or any(len(v) != len(ratio) for v in curves.values()):
        raise ValueError("curves must map a name to one value per ratio")
    fig, ax = axes(ax, (5.0, 3.2))
    for name, values in curves.items():
        ax.plot(ratio, values, label=name)
    ax.axvline(1.0, color="0.5", ls=":", lw=1)
    ax.set_xlabel("E[Lat] / T")
    ax.set_ylabel("loss (CE = 1)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return ax.figure


def tradeoff_plot(searched_ms: Sequence[float], searched_acc: Sequence[float],
                  random_ms: Sequence[float] = (), random_acc: Sequence[float] = (),
                  labels: Sequence[str] | None = None, groups: Sequence[str] | None = None,
                  highlight: int | None = None, ax=None, xlabel: str = "measured latency (ms)",
                  ylabel: str = "accuracy (%)", title: str = "searched against random architectures"):
    """Accuracy against latency: searched architectures (one line per group, e.g. per loss
    form, in order of latency) and random ones of matched predicted latency (grey);
    ``highlight`` circles one searched point."""
    s_ms, s_acc = np.asarray(searched_ms, dtype=float), np.asarray(searched_acc, dtype=float)
    r_ms, r_acc = np.asarray(random_ms, dtype=float), np.asarray(random_acc, dtype=float)
    if s_ms.shape != s_acc.shape or r_ms.shape != r_acc.shape or s_ms.size == 0:
        raise ValueError(f"latencies and accuracies must pair up: searched {s_ms.size} vs "
                         f"{s_acc.size}, random {r_ms.size} vs {r_acc.size}")
    groups = ["searched"] * s_ms.size if groups is None else list(groups)
    if len(groups) != s_ms.size or (labels is not None and len(labels) != s_ms.size):
        raise ValueError("give one group and one label per searched point")
    if highlight is not None and not 0 <= highlight < s_ms.size:
        raise ValueError(f"highlight must index the searched points (0..{s_ms.size - 1})")
    fig, ax = axes(ax, (5.8, 3.9))
    if r_ms.size:
        ax.scatter(r_ms, r_acc, color="0.6", s=14, label="random, same predicted latency")
    for k, name in enumerate(dict.fromkeys(groups)):
        idx = np.array([i for i, g in enumerate(groups) if g == name])
        idx = idx[np.argsort(s_ms[idx])]
        ax.plot(s_ms[idx], s_acc[idx], "-o", color=f"C{k}", label=name)
    for i, lab in enumerate(labels or []):
        ax.annotate(lab, (s_ms[i], s_acc[i]), fontsize=7, xytext=(4, -9), textcoords="offset points")
    if highlight is not None:
        ax.plot(s_ms[highlight], s_acc[highlight], "o", ms=14, mfc="none", mec="C3", mew=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return ax.figure


# ----- the trade-off panel -------------------------------------------------------------------
@dataclass(frozen=True)
class SweepPoint:
    """One search of the sweep, with what was measured of its derived architecture."""

    label: str  # how the search was set, e.g. "hinge T=5.2" or "add lambda=0.5"
    group: str  # the loss form (one line per group on the trade-off curve)
    target_ms: float  # the latency target T of the loss
    arch: object  # the derived Arch
    expected_ms: float  # E[Lat] (the latency model) at the end of the search
    predicted_ms: float  # the latency model's latency of the derived architecture
    measured_ms: float  # its measured latency (median)
    iqr_ms: float  # and the spread of that measurement
    acc: float  # its accuracy (0..1), as the notebook evaluated it
    random_acc: tuple = ()  # accuracies of random archs of the same predicted latency

    def html(self) -> str:
        rows = [("search", html.escape(self.label)), ("derived arch", html.escape(str(self.arch))),
                ("E[Lat] at the end", f"{self.expected_ms:.2f} ms"),
                ("predicted", f"{self.predicted_ms:.2f} ms"),
                ("measured", f"{self.measured_ms:.2f} ms (IQR {self.iqr_ms:.2f}); target "
                             f"{self.target_ms:.2f} ms ({100 * (self.measured_ms / self.target_ms - 1):+.0f} %)"),
                ("accuracy", f"{100 * self.acc:.1f} %")]
        if self.random_acc:
            rows.append(("random, same latency", f"{100 * np.mean(self.random_acc):.1f} % mean of "
                                                 f"{len(self.random_acc)} (best {100 * max(self.random_acc):.1f} %)"))
        return "<table>" + "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in rows) + "</table>"


def sweep_figure(points: Sequence[SweepPoint], random_ms: Sequence[float] = (),
                 random_acc: Sequence[float] = (), highlight: int | None = None,
                 acc_label: str = "accuracy (%)"):
    """The trade-off curves of a sweep (measured latency, accuracy) with one point circled."""
    if not points:
        raise ValueError("no sweep points")
    return tradeoff_plot([p.measured_ms for p in points], [100 * p.acc for p in points],
                         random_ms, [100 * a for a in random_acc], labels=[p.label for p in points],
                         groups=[p.group for p in points], highlight=highlight, ylabel=acc_label)


def figure_html(fig) -> str:
    """A matplotlib figure as an inline PNG ``<img>`` (closes the figure)."""
    data = base64.b64encode(png_bytes(fig, dpi=90, tight=True)).decode()
    return f"<img src='data:image/png;base64,{data}'/>"


class SweepPanel:
    """A slider over the sweep's searches (targets, coefficients): the derived architecture,
    its expected, predicted and measured latency, its accuracy and its place on the
    trade-off curve (all precomputed)."""

    def __init__(self, points: Sequence[SweepPoint], random_ms: Sequence[float] = (),
                 random_acc: Sequence[float] = (), acc_label: str = "accuracy (%)"):
        import ipywidgets as W

        if not points:
            raise ValueError("no sweep points to show")
        self.points, self.random_ms, self.random_acc = list(points), random_ms, random_acc
        self.acc_label = acc_label
        self.slider = W.SelectionSlider(options=[(p.label, i) for i, p in enumerate(points)],
                                        value=0, description="search", continuous_update=False,
                                        layout=W.Layout(width="480px"))
        self.out = W.HTML()
        self.widget = W.VBox([W.HTML("<b>What each search of the sweep derived</b>"), self.slider,
                              self.out])
        self.slider.observe(self.update, names="value")
        self.update()

    def update(self, change: dict | None = None) -> None:
        i = self.slider.value
        fig = sweep_figure(self.points, self.random_ms, self.random_acc, highlight=i,
                           acc_label=self.acc_label)
        self.out.value = (f"<div style='display:flex;gap:12px'><div>{self.points[i].html()}</div>"
                          f"<div>{figure_html(fig)}</div></div>")

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
