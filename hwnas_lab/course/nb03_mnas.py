"""Notebook 03 (MnasNet's reward): its exercise checks, figures and reward panel.

The algorithms live in ``hwnas_lab.mnas`` (reward, REINFORCE controller),
``hwnas_lab.accuracy`` (accuracy sources) and ``hwnas_lab.pareto`` (fronts); this module
only checks a learner's versions against them and draws what the notebook shows.
Figures are functions of plain arrays and return their ``Figure``.
"""

from __future__ import annotations

import html
import warnings
from typing import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np

from .checks import exercise, expect_close
from . import plots
from ..mnas import RewardWarning, mnas_reward, reinforce_step, softmax
from ..pareto import pareto_mask


def _reference_reward(acc, lat, T, alpha, beta):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RewardWarning)
        return np.asarray(mnas_reward(acc, lat, T, (alpha, beta)), dtype=np.float64)


def _close(got, expected, rel: float = 1e-9) -> bool:
    try:
        got = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return got.shape == np.shape(expected) and bool(np.allclose(got, expected, rtol=rel, atol=1e-12))


# ----- exercise 1: the reward ---------------------------------------------------------------
REWARD_CASES = (  # (what, acc, latency_ms, target_ms, alpha, beta)
    ("exactly at the target (soft)", 0.8, 10.0, 10.0, -0.07, -0.07),
    ("twice the target (soft)", 0.8, 20.0, 10.0, -0.07, -0.07),
    ("half the target (soft)", 0.8, 5.0, 10.0, -0.07, -0.07),
    ("under the target (hard)", 0.8, 5.0, 10.0, 0.0, -1.0),
    ("twice the target (hard)", 0.8, 20.0, 10.0, 0.0, -1.0),
    ("under the target (alpha=-0.2, beta=-0.5)", 0.6, 4.0, 8.0, -0.2, -0.5),
    ("over the target (alpha=-0.2, beta=-0.5)", 0.6, 16.0, 8.0, -0.2, -0.5),
    ("arrays on both sides and at T", np.array([0.5, 0.7, 0.9, 0.6, 0.8, 0.75]),
     np.array([2.0, 8.0, 8.0, 7.99, 12.0, 40.0]), 8.0, -0.2, -0.5),
)


def check_mnas_reward(mnas_reward_fn: Callable) -> None:
    """Exercise: ``mnas_reward(acc, latency_ms, target_ms, alpha, beta)`` elementwise."""
    with exercise("mnas_reward"):
        for what, acc, lat, T, alpha, beta in REWARD_CASES:
            call = f"mnas_reward(acc={acc}, latency_ms={lat}, target_ms={T}, alpha={alpha}, beta={beta})"
            try:
                got = mnas_reward_fn(acc, lat, T, alpha, beta)
            except ValueError as err:
                if "truth value" in str(err):
                    raise AssertionError(f"{what}: `if` on an array is ambiguous; choose the exponent "
                                         "per element with np.where(latency_ms <= target_ms, alpha, "
                                         "beta)") from None
                raise
            expected = _reference_reward(acc, lat, T, alpha, beta)
            if _close(got, expected):
                continue
            if np.ndim(acc) and np.shape(got) != expected.shape:
                raise AssertionError(f"{what}: expected one reward per point, shape {expected.shape}, "
                                     f"got shape {np.shape(got)}")
            hint = ""
            if _close(got, _reference_reward(acc, lat, T, beta, alpha)):
                hint = (" - alpha and beta are swapped: alpha is the exponent when LAT <= T (at or "
                        "under the target), beta when LAT > T")
            elif _close(got, acc * (T / np.asarray(lat)) ** np.where(np.asarray(lat) <= T, alpha, beta)):
                hint = " - the ratio is LAT / T, not T / LAT (negative exponents then penalise slow nets)"
            raise AssertionError(f"{what}: {call} should be {np.round(expected, 6).tolist()}, got "
                                 f"{np.round(np.asarray(got, dtype=float), 6).tolist()}{hint}")
        print(f"  matched the paper's formula on {len(REWARD_CASES)} cases, incl. LAT = T and "
              "both sides of it")


# ----- exercise 2: the Pareto filter --------------------------------------------------------
def _pareto_cases() -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(3)
    hand_lat = np.array([1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 0.5, 3.0])
    hand_acc = np.array([0.5, 0.7, 0.6, 0.7, 0.9, 0.9, 0.5, 0.9])  # ties and a duplicate
    grid_lat = rng.integers(1, 12, 60).astype(float)  # coarse: many ties and duplicates
    grid_acc = rng.integers(50, 60, 60) / 100
    return [("8 hand-made points", hand_lat, hand_acc), ("60 points on a coarse grid", grid_lat, grid_acc),
            ("300 random points", rng.uniform(1, 20, 300), rng.uniform(0.6, 0.8, 300))]


def _dominator(lat: np.ndarray, acc: np.ndarray, i: int) -> int:
    better = (lat <= lat[i]) & (acc >= acc[i]) & ((lat < lat[i]) | (acc > acc[i]))
    return int(np.flatnonzero(better)[0])


def check_pareto_filter(pareto_filter: Callable) -> None:
    """Exercise: ``pareto_filter(latency_ms, acc)`` -> boolean mask of the non-dominated points."""
    with exercise("pareto_filter"):
        for what, lat, acc in _pareto_cases():
            got = np.asarray(pareto_filter(lat.copy(), acc.copy()))
            expected = pareto_mask(lat, acc)
            if got.dtype != bool or got.shape != expected.shape:
                kind = "indices" if np.issubdtype(got.dtype, np.integer) else f"{got.dtype} {got.shape}"
                raise AssertionError(f"{what}: return a boolean mask of length {len(lat)} (True = on "
                                     f"the front), got {kind}")
            if np.array_equal(got, expected):
                continue
            if np.array_equal(got, pareto_mask(-lat, acc)) or np.array_equal(got, pareto_mask(lat, -acc)):
                raise AssertionError(f"{what}: wrong direction - LOWER latency and HIGHER accuracy "
                                     "are better")
            kept = np.flatnonzero(got & ~expected)
            if kept.size:
                i = int(kept[0])
                j = _dominator(lat, acc, i)
                tie = " (a tie on one axis still dominates when the other is strictly better)" \
                    if lat[j] == lat[i] or acc[j] == acc[i] else ""
                raise AssertionError(f"{what}: point {i} ({lat[i]:g} ms, {acc[i]:g}) is dominated by "
                                     f"point {j} ({lat[j]:g} ms, {acc[j]:g}) but you kept it{tie}")
            i = int(np.flatnonzero(expected & ~got)[0])
            twins = np.flatnonzero((lat == lat[i]) & (acc == acc[i]))
            hint = (f" - it has an exact duplicate (points {twins.tolist()}); duplicates do not "
                    "dominate each other: dominating needs one STRICT improvement") if len(twins) > 1 else \
                " - no other point is at least as fast AND at least as accurate with one strictly better"
            raise AssertionError(f"{what}: point {i} ({lat[i]:g} ms, {acc[i]:g}) is on the front but "
                                 f"you dropped it{hint}")
        print("  matched hwnas_lab.pareto.pareto_mask on hand-made, tied and random points")


# ----- exercise 3: the REINFORCE update -----------------------------------------------------
def check_reinforce_step(reinforce_step_fn: Callable) -> None:
    """Exercise: ``reinforce_step(logits, actions, rewards, baseline, lr)`` -> new logits of one
    categorical decision; then the learner's update must learn a toy bandit."""
    with exercise("reinforce_step"):
        rng = np.random.default_rng(0)
        for K, N in ((3, 1), (3, 8), (4, 32)):
            logits = rng.normal(size=K)
            actions, rewards = rng.integers(0, K, N), rng.uniform(0.5, 1.0, N)
            baseline, lr = 0.6, 0.1  # mean advantage is not zero: a missing baseline shows
            before = logits.copy()
            got = reinforce_step_fn(logits, actions, rewards, baseline, lr)
            if not np.array_equal(logits, before):
                raise AssertionError("reinforce_step changed the logits passed in; return a new array "
                                     "(logits + lr * gradient) instead")
            expected = reinforce_step(before, actions, rewards, baseline, lr)
            if _close(got, expected):
                continue
            onehot = (actions[:, None] == np.arange(K)).astype(float)
            grad = expected - before
            wrong = {
                "wrong sign: REINFORCE ascends the reward, logits + lr * gradient": before - grad,
                "no baseline: use the advantage rewards - baseline": reinforce_step(before, actions, rewards, 0.0, lr),
                "d log softmax(logits)[a] / d logits = onehot(a) - softmax(logits): the - p term is missing":
                    before + lr * ((rewards - baseline)[:, None] * onehot).mean(0),
                "average over the batch (mean), not the sum": before + N * grad,
                "return the updated logits, not the gradient": grad / lr,
            }
            hint = next((h for h, w in wrong.items() if _close(got, w)), None)
            raise AssertionError(f"K={K} choices, N={N} samples: expected logits "
                                 f"{np.round(expected, 5).tolist()}, got {np.round(np.asarray(got, dtype=float), 5).tolist()}"
                                 + (f" - {hint}" if hint else ""))
        logits, b = np.zeros(3), None  # a toy bandit: choice 2 pays 1.0, the others 0.7
        for _ in range(60):
            actions = rng.choice(3, size=8, p=softmax(logits))
            rewards = np.where(actions == 2, 1.0, 0.7)
            b = rewards.mean() if b is None else b
            logits = np.asarray(reinforce_step_fn(logits, actions, rewards, b, 2.0), dtype=float)
            b = 0.9 * b + 0.1 * rewards.mean()
        expect_close("probability of the best arm after 60 steps on a toy bandit (at least 0.9)",
                     min(softmax(logits)[2], 0.9), 0.9, abs_=1e-9)
        print(f"  matched the reference on 3 batches; on a toy bandit your update put "
              f"{softmax(logits)[2]:.3f} on the best choice after 60 steps")


# ----- figures ------------------------------------------------------------------------------
def _pair(latency_ms, acc) -> tuple[np.ndarray, np.ndarray]:
    lat, a = np.asarray(latency_ms, dtype=float).ravel(), np.asarray(acc, dtype=float).ravel()
    if lat.shape != a.shape or lat.size == 0:
        raise ValueError(f"latency_ms ({lat.size}) and acc ({a.size}) must be non-empty and of "
                         "equal length")
    return lat, a


def _contour(ax, target_ms: float, alpha: float, beta: float, lat_range, acc_range, levels: int = 12):
    L, A = np.meshgrid(np.linspace(*lat_range, 200), np.linspace(*acc_range, 120))
    R = _reference_reward(A, L, target_ms, alpha, beta)
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
    grid = np.array([[int(np.argmax(_reference_reward(a, lat, target_ms, al, be))) for be in betas]
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
    reward = _reference_reward(a, lat, target_ms, alpha, beta)  # validates T, acc, latency
    best = int(np.argmax(reward))
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
