"""Notebook 03 (MnasNet's reward): its figures and reward panel; the exercise checks are in
``course.nb03_checks``, re-exported here so the notebook calls ``nb.check_...``.

The algorithms live in ``hwnas_lab.mnas`` (reward, REINFORCE controller),
``hwnas_lab.accuracy`` (accuracy sources) and ``hwnas_lab.pareto`` (fronts); this module
draws what the notebook shows.
Figures are functions of plain arrays and return their ``Figure``.
"""

from __future__ import annotations

import html
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from . import plots
from .nb03_checks import (check_mnas_reward, check_pareto_filter,  # noqa: F401
                          check_reinforce_step, reward_array)
from ..mnas import best_index
from ..pareto import pareto_mask


# ----- figures ------------------------------------------------------------------------------
def _pair(latency_ms, acc) -> tuple[np.ndarray, np.ndarray]:
    lat, a = np.asarray(latency_ms, dtype=float).ravel(), np.asarray(acc, dtype=float).ravel()
    if lat.shape != a.shape or lat.size == 0:
        raise ValueError(f"latency_ms ({lat.size}) and acc ({a.size}) must be non-empty and of "
                         "equal length")
    return lat, a


def _contour(ax, target_ms: float, alpha: float, beta: float, lat_range, acc_range, levels: int = 12):
    L, A = np.meshgrid(np.linspace(*lat_range, 200), np.linspace(*acc_range, 120))
    R = reward_array(A, L, target_ms, alpha, beta)
    cs = ax.contourf(L, A * 100, R * 100, levels=levels, cmap="viridis")
    ax.contour(L, A * 100, R * 100, levels=cs.levels, colors="white", linewidths=0.4, alpha=0.6)
    ax.axvline(target_ms, color="C3", lw=1.5, ls="--", label=f"T = {target_ms:.3g} ms")
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("accuracy (%)")
    return cs


def reward_contours(target_ms: float, settings: dict, lat_range: Sequence[float],
                    acc_range: Sequence[float] = (0.6, 0.85), latency_ms=None, acc=None):
    """One panel per setting (name -> (alpha, beta)): the reward over latency and accuracy,
    the target dashed, and optional measured points."""
    if not settings or not target_ms > 0 or not 0 < lat_range[0] < lat_range[1]:
        raise ValueError("give >= 1 setting, a positive target and 0 < lat_range[0] < lat_range[1]")
    fig, axes = plt.subplots(1, len(settings), figsize=(4.6 * len(settings), 3.6), squeeze=False)
    for ax, (name, (alpha, beta)) in zip(axes[0], settings.items()):
        cs = _contour(ax, target_ms, alpha, beta, lat_range, acc_range)
        if latency_ms is not None:
            lat, a = _pair(latency_ms, acc)
            ax.scatter(lat, 100 * a, s=10, c="white", edgecolors="k", linewidths=0.5, label="points")
        ax.set_title(f"{name}: alpha={alpha:g}, beta={beta:g}", fontsize=10)
        ax.legend(fontsize=7, loc="lower right")
        fig.colorbar(cs, ax=ax, label="reward (%)")
    fig.tight_layout()
    return fig


def winner_map(latency_ms, acc, target_ms: float, alphas: Sequence[float], betas: Sequence[float],
               marks: dict | None = None):
    """Which point wins at each (alpha, beta): colour = the winner's latency / T."""
    lat, a = _pair(latency_ms, acc)
    grid = np.array([[best_index(reward_array(a, lat, target_ms, al, be), lat, a) for be in betas]
                     for al in alphas])
    fig, ax = plt.subplots(figsize=(5.4, 4.0))
    im = ax.imshow(lat[grid] / target_ms, origin="lower", aspect="auto", cmap="coolwarm",
                   extent=(min(betas), max(betas), min(alphas), max(alphas)))
    fig.colorbar(im, ax=ax, label="winner's latency / T")
    for name, (al, be) in (marks or {}).items():
        ax.plot(be, al, "k*", ms=12)
        ax.annotate(name, (be, al), xytext=(5, 4), textcoords="offset points", fontsize=9)
    ax.set_xlabel("beta (exponent over the target)")
    ax.set_ylabel("alpha (exponent under the target)")
    ax.set_title(f"{len(np.unique(grid))} different winners among {lat.size} points", fontsize=10)
    fig.tight_layout()
    return fig, grid


def pareto_plot(latency_ms, acc, winners: dict | None = None, targets_ms: Sequence[float] = (),
                ax=None, title: str = "measured points and their Pareto front"):
    """All points, the front (hwnas_lab.pareto) as a staircase, and the reward-best point of
    each setting (label -> index)."""
    lat, a = _pair(latency_ms, acc)
    front = np.flatnonzero(pareto_mask(lat, a))
    front = front[np.argsort(lat[front], kind="stable")]
    fig, ax = plots.axes(ax, (6.0, 4.2))
    ax.scatter(lat, 100 * a, s=14, color="0.6", label="points")
    ax.step(lat[front], 100 * a[front], where="post", color="C0", lw=1.5, label="Pareto front")
    ax.scatter(lat[front], 100 * a[front], s=22, color="C0")
    markers = "*^sDvP"
    for k, (label, i) in enumerate((winners or {}).items()):
        if not 0 <= i < lat.size:
            raise ValueError(f"winner {label!r}: index {i} is not one of the {lat.size} points")
        ax.plot(lat[i], 100 * a[i], markers[k % len(markers)], ms=12, mfc="none", mew=1.8,
                color=f"C{k + 1}", label=f"best: {label}")
    for T in targets_ms:
        ax.axvline(T, color="C3", ls="--", lw=1)
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return fig


def proxy_vs_oracle(proxy_acc, oracle_acc, tau: float, labels: Sequence[str] = ()):
    """Each architecture's proxy-trained accuracy against its supernet accuracy."""
    x, y = _pair(proxy_acc, oracle_acc)
    fig, ax = plt.subplots(figsize=(4.6, 3.8))
    ax.scatter(100 * x, 100 * y)
    for xi, yi, lab in zip(x, y, labels):
        ax.annotate(lab, (100 * xi, 100 * yi), xytext=(3, 3), textcoords="offset points", fontsize=7)
    ax.set_xlabel("proxy training: val accuracy (%)")
    ax.set_ylabel("supernet subnet: val accuracy (%)")
    ax.set_title(f"same architectures, two signals: Kendall tau {tau:.2f} (n={x.size})", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def controller_curves(runs: dict):
    """Reward per step of each run (label -> SearchLog or dict with reward_mean, reward_max, baseline)."""
    if not runs:
        raise ValueError("runs is empty: give {label: SearchLog}")
    fig, ax = plt.subplots(figsize=(7.0, 3.6))
    for k, (label, log) in enumerate(runs.items()):
        get = (lambda n: np.asarray(log[n])) if isinstance(log, dict) else (lambda n: getattr(log, n))
        mean, steps = get("reward_mean"), np.arange(1, len(get("reward_mean")) + 1)
        ax.plot(steps, 100 * mean, color=f"C{k}", lw=1.2, label=f"{label}: batch mean")
        ax.plot(steps, 100 * get("baseline"), color=f"C{k}", lw=0.8, ls=":")
    ax.set_xlabel("controller step")
    ax.set_ylabel("reward (%)")
    ax.set_title("REINFORCE: batch-mean reward (solid) and moving-average baseline (dotted)", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def choice_distributions(probs: dict, choices: dict, title: str = ""):
    """How the policy's choices moved: stacked probabilities over steps for ``r``, each
    stage's ``d``, and ``ks`` and ``e`` averaged over block slots. ``probs[name]`` is
    (steps + 1, decisions, choices), as ``SearchLog.probs``."""
    for name in ("ks", "e", "d", "r"):
        if name not in probs or np.ndim(probs[name]) != 3 or np.shape(probs[name])[2] != len(choices[name]):
            raise ValueError(f"probs[{name!r}] must be (steps + 1, decisions, {len(choices.get(name, ()))})")
    panels = [("r", probs["r"][:, 0], choices["r"])]
    panels += [(f"d, stage {s + 1}", probs["d"][:, s], choices["d"]) for s in range(probs["d"].shape[1])]
    panels += [("ks (mean over slots)", probs["ks"].mean(1), choices["ks"]),
               ("e (mean over slots)", probs["e"].mean(1), choices["e"])]
    fig, axes = plt.subplots(1, len(panels), figsize=(2.2 * len(panels), 2.6), sharey=True)
    for ax, (name, p, values) in zip(axes, panels):
        ax.stackplot(np.arange(len(p)), np.asarray(p).T, labels=[str(v) for v in values], alpha=0.85)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=6, loc="lower left")
    axes[0].set_ylabel("probability")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def evaluated_vs_space(runs: dict, space_size: float, evaluations: dict | None = None):
    """Architectures a controller sampled (and distinct ones) per step, against the space's size;
    ``evaluations`` adds flat lines, e.g. {"supernet evaluations": 80}."""
    if not space_size > 0:
        raise ValueError(f"space_size must be positive, got {space_size}")
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    for k, (label, log) in enumerate(runs.items()):
        sampled, unique = np.asarray(log.sampled), np.asarray(log.unique)
        ax.plot(np.arange(1, len(sampled) + 1), sampled, color=f"C{k}", lw=1, label=f"{label}: sampled")
        ax.plot(np.arange(1, len(unique) + 1), unique, color=f"C{k}", lw=1, ls="--")
    for k, (label, n) in enumerate((evaluations or {}).items()):
        ax.axhline(max(n, 1), color=f"C{k + 5}", lw=1, ls=":", label=f"{label}: {n:,}")
    ax.axhline(space_size, color="k", lw=1.5, label=f"size of the space: {space_size:.2g}")
    ax.set_yscale("log")
    ax.set_xlabel("controller step")
    ax.set_ylabel("architectures")
    ax.set_title("sampled (solid), distinct networks (dashed), and the space", fontsize=10)
    ax.legend(fontsize=7, loc="center right")
    fig.tight_layout()
    return fig


# ----- the reward panel ---------------------------------------------------------------------
def reward_view(latency_ms, acc, target_ms: float, alpha: float, beta: float,
                labels: Sequence[str] = (), acc_range: Sequence[float] | None = None):
    """The panel's picture as a plain function: contours of the reward for (T, alpha, beta),
    the points, their Pareto front and the reward-best point. Returns (figure, best index, html)."""
    lat, a = _pair(latency_ms, acc)
    reward = reward_array(a, lat, target_ms, alpha, beta)  # validates T, acc, latency
    best = best_index(reward, lat, a)
    fig, ax = plt.subplots(figsize=(6.2, 4.2))
    pad = (a.max() - a.min()) * 0.15 + 1e-3
    acc_range = acc_range or (max(0.0, a.min() - pad), min(1.0, a.max() + pad))
    cs = _contour(ax, target_ms, alpha, beta, (lat.min() * 0.8, lat.max() * 1.1), acc_range)
    fig.colorbar(cs, ax=ax, label="reward (%)")
    pareto_plot(lat, a, {"reward": best}, ax=ax,
                title=f"T = {target_ms:.3g} ms, alpha = {alpha:g}, beta = {beta:g}")
    name = html.escape(str(labels[best])) if len(labels) > best else f"point {best}"
    text = (f"<b>reward-best</b>: {name}<br>{lat[best]:.3f} ms ({lat[best] / target_ms:.2f} T), "
            f"accuracy {100 * a[best]:.1f} %, reward {100 * reward[best]:.2f} %")
    return fig, best, text


class RewardPanel:
    """Sliders for T, alpha and beta redrawing ``reward_view`` on fixed (latency, accuracy)
    points. ``panel.widget`` is the box to display; ``panel.best`` the current winner. The
    figure is shown as a PNG in an ``Image`` widget (no output capture, so it also works in
    a notebook run without a frontend)."""

    def __init__(self, latency_ms, acc, target_ms: float, labels: Sequence[str] = ()):
        import ipywidgets as W

        (self.latency_ms, self.acc), self.labels = _pair(latency_ms, acc), labels
        lo, hi = float(self.latency_ms.min()), float(self.latency_ms.max())
        opts = dict(continuous_update=False, layout=W.Layout(width="320px"), readout_format=".3g")
        self.T = W.FloatSlider(value=target_ms, min=lo * 0.8, max=hi * 1.1, step=(hi - lo) / 100,
                               description="T (ms)", **opts)
        self.alpha = W.FloatSlider(value=-0.07, min=-1.0, max=0.0, step=0.01, description="alpha", **opts)
        self.beta = W.FloatSlider(value=-0.07, min=-1.5, max=0.0, step=0.01, description="beta", **opts)
        self.image, self.text = W.Image(format="png"), W.HTML()
        self.widget = W.VBox([W.HBox([self.T, self.alpha, self.beta]), self.text, self.image])
        for w in (self.T, self.alpha, self.beta):
            w.observe(self.update, names="value")
        self.best: int | None = None
        self.update()

    def update(self, change: dict | None = None) -> None:
        fig, self.best, self.text.value = reward_view(self.latency_ms, self.acc, self.T.value,
                                                      self.alpha.value, self.beta.value, self.labels)
        self.image.value = plots.png_bytes(fig, dpi=80, tight=True)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
