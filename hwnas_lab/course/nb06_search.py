"""Notebook 06 (Once-for-All search): its figures and the search panel; the exercise
checks are in ``course.nb06_checks``, re-exported here so the notebook calls ``nb.check_...``.

The algorithms live in :mod:`hwnas_lab.ofa.search` (evolution, random search, the
feasibility filter), :mod:`hwnas_lab.ofa.accuracy` (the accuracy predictor) and
:mod:`hwnas_lab.ofa.efficiency` (latency, FLOPs, peak memory); this module only draws and
wraps a search in sliders. Cai et al., "Once-for-All", ICLR 2020, Section 3.4.
"""

from __future__ import annotations

import html
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .nb06_checks import check_feasibility, check_generation, check_variation  # noqa: F401
from .plots import axes


# ----- figures ------------------------------------------------------------------------------------
def accuracy_scatter(pred: Sequence[float], meas: Sequence[float], yardstick_pct: float | None = None,
                     title: str = "accuracy predictor on held-out subnets", ax=None):
    """Predicted against measured accuracy (both 0..1, drawn in %), the diagonal and a band of
    +-``yardstick_pct`` points (the noise of the measurement itself)."""
    p, m = 100 * np.asarray(pred, dtype=float), 100 * np.asarray(meas, dtype=float)
    if p.shape != m.shape or p.size == 0:
        raise ValueError(f"pred ({p.size}) and meas ({m.size}) must be non-empty and of equal length")
    fig, ax = axes(ax, figsize=(4.2, 4.0))
    lo, hi = min(p.min(), m.min()) - 0.5, max(p.max(), m.max()) + 0.5
    line = np.array([lo, hi])
    if yardstick_pct:
        ax.fill_between(line, line - yardstick_pct, line + yardstick_pct, color="C2", alpha=0.2,
                        label=f"+-{yardstick_pct:.2f} points (repeat noise)")
    ax.plot(line, line, color="gray", lw=1)
    ax.scatter(m, p, s=16, alpha=0.8)
    ax.set_xlim(lo, hi), ax.set_ylim(lo, hi)
    ax.set_xlabel("measured accuracy (%)"), ax.set_ylabel("predicted accuracy (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if yardstick_pct:
        ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def _on_grid(evals: np.ndarray, best: np.ndarray, grid: np.ndarray) -> np.ndarray:
    i = np.searchsorted(evals, grid, side="right") - 1
    return np.where(i >= 0, best[np.clip(i, 0, None)], np.nan)


def search_curves(curves: dict, title: str = "best feasible predicted accuracy", ax=None):
    """``curves``: method -> list (one per seed) of ``(evaluations, best accuracy so far)`` arrays.
    Median over seeds with the min-max band, against evaluations (log scale)."""
    if not curves or any(len(v) == 0 for v in curves.values()):
        raise ValueError("curves must map each method to a non-empty list of (evals, best) pairs")
    top = max(max(np.max(e) for e, _ in runs) for runs in curves.values())
    grid = np.unique(np.geomspace(1, top, 200).astype(int))
    fig, ax = axes(ax, figsize=(6.0, 3.6))
    for i, (name, runs) in enumerate(curves.items()):
        ys = np.array([_on_grid(np.asarray(e), 100 * np.asarray(b), grid) for e, b in runs])
        end = max(np.max(e) for e, _ in runs)
        keep = grid <= end
        with warnings.catch_warnings():  # a grid point before any seed's first feasible subnet: all NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            med, lo, hi = np.nanmedian(ys, 0), np.nanmin(ys, 0), np.nanmax(ys, 0)
        ax.plot(grid[keep], med[keep], color=f"C{i}", label=f"{name} (median of {len(runs)})")
        ax.fill_between(grid[keep], lo[keep], hi[keep], color=f"C{i}", alpha=0.2)
    ax.set_xscale("log")
    ax.set_xlabel("evaluations (accuracy predictions)"), ax.set_ylabel("best predicted accuracy (%)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def target_fronts(fronts: dict, title: str = "one supernet, one front per target"):
    """One panel per target. ``fronts[target]`` holds arrays ``pool_ms``, ``pool_acc`` (candidates),
    ``front_ms``, ``front_acc`` (the Pareto front) and optionally ``winners``: a list of dicts with
    ``predicted_ms, predicted_acc, measured_ms, measured_acc, limit_ms`` (accuracies 0..1)."""
    import matplotlib.pyplot as plt

    if not fronts:
        raise ValueError("fronts is empty: give {target: {pool_ms, pool_acc, front_ms, front_acc}}")
    fig, axes = plt.subplots(1, len(fronts), figsize=(4.6 * len(fronts), 3.8), squeeze=False)
    for ax, (target, f) in zip(axes[0], fronts.items()):
        for key in ("pool_ms", "pool_acc", "front_ms", "front_acc"):
            if key not in f:
                raise ValueError(f"fronts[{target!r}] has no {key!r}")
        if len(f["pool_ms"]) != len(f["pool_acc"]) or len(f["front_ms"]) != len(f["front_acc"]):
            raise ValueError(f"fronts[{target!r}]: latencies and accuracies differ in length")
        ax.scatter(f["pool_ms"], 100 * np.asarray(f["pool_acc"]), s=3, color="0.75", label="evaluated")
        ax.plot(f["front_ms"], 100 * np.asarray(f["front_acc"]), "-", color="C0", lw=1.5,
                label="Pareto front (predicted)")
        for j, w in enumerate(f.get("winners", [])):
            ax.plot(w["predicted_ms"], 100 * w["predicted_acc"], "o", color="C1", ms=6,
                    label="winner, predicted" if j == 0 else None)
            ax.plot(w["measured_ms"], 100 * w["measured_acc"], "s", mfc="none", mec="C3", ms=7,
                    label="winner, re-measured (test)" if j == 0 else None)
            ax.plot([w["predicted_ms"], w["measured_ms"]],
                    [100 * w["predicted_acc"], 100 * w["measured_acc"]], color="C3", lw=0.6)
            if w.get("limit_ms") is not None:
                ax.axvline(w["limit_ms"], color="C1", ls=":", lw=0.8)
        ax.set_title(target, fontsize=10)
        ax.set_xlabel("latency (ms, batch 1)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("accuracy (%)")
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


# ----- the panel: a latency target, a device, the subnet found ---------------------------------------
@dataclass
class SearchContext:
    """What the panel needs: a supernet, data, the predictor, one ``Efficiency`` per target, fronts."""

    net: object  # the trained OFASupernet
    train_data: object  # for BN recalibration
    test_data: object  # where the found subnet is re-measured
    predictor: object  # accuracy predictor (predict(ArchBatch))
    efficiencies: dict  # target name -> ofa.efficiency.Efficiency
    fronts: dict = field(default_factory=dict)  # target -> {"front_ms", "front_acc", "pool_ms", "pool_acc"}
    config: object = None  # ofa.search.EvolutionConfig of the panel's searches (None: OFA's)
    recal_batches: int = 10  # BN recalibration batches for the re-measurement
    repeats: int = 15  # latency samples for the re-measurement
    rounds: int = 3  # latency rounds for the re-measurement (the least disturbed one kept)


@dataclass(frozen=True)
class SearchReport:
    """What the panel shows for one target and one latency limit."""

    target: str
    limit_ms: float
    result: object  # ofa.search.SearchResult
    measured: object | None  # ofa.specialise.Remeasured (None: not re-measured)

    def html(self) -> str:
        r, m = self.result, self.measured
        rows = [("architecture", html.escape(str(r.best))),
                ("search", f"{r.n_evals:,} predictions in {r.seconds:.2f} s"),
                ("predicted", f"{100 * r.best_acc:.2f} % (validation), "
                              f"{r.best_metrics['latency_ms']:.3f} ms, "
                              f"{r.best_metrics['memory_kb']:.0f} kB peak memory")]
        if m is not None:
            verdict = "meets" if m.meets_limit else "misses"
            rows.append(("re-measured", f"{100 * m.measured_acc:.2f} % ({m.split}, {m.images} images), "
                                        f"{m.measured_ms:.3f} ms (IQR {m.iqr_ms:.3f}): {verdict} the "
                                        f"{self.limit_ms:.3f} ms limit"))
        cells = "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in rows)
        return f"<b>{html.escape(self.target)}</b>, latency &le; {self.limit_ms:.3f} ms<table>{cells}</table>"


def search_report(ctx: SearchContext, target: str, limit_ms: float, measure: bool = True,
                  seed: int = 0) -> SearchReport:
    """Search ``target``'s table under ``limit_ms`` and (if ``measure``) re-measure the winner: the
    panel's callback as a plain function."""
    from ..ofa.search import Constraints, EvolutionConfig, Objective, evolution_search
    from ..ofa.specialise import remeasure

    if target not in ctx.efficiencies:
        raise ValueError(f"unknown target {target!r}; this context has {sorted(ctx.efficiencies)}")
    objective = Objective(ctx.predictor, ctx.efficiencies[target], Constraints(latency_ms=float(limit_ms)))
    result = evolution_search(objective, ctx.config or EvolutionConfig(), seed=seed)
    measured = None
    if measure:
        measured = remeasure(ctx.net, result.best, ctx.train_data, ctx.test_data, target, result.best_acc,
                             result.best_metrics["latency_ms"], limit_ms, ctx.recal_batches, seed,
                             ctx.repeats, rounds=ctx.rounds)
    return SearchReport(target, float(limit_ms), result, measured)


class SearchPanel:
    """A target selector and a latency-limit slider; shows ``search_report`` and the subnet's place on
    that target's front. ``panel.widget`` is the box to display; ``panel.report`` the last result."""

    def __init__(self, ctx: SearchContext, measure: bool = True, start_fraction: float = 0.5):
        import ipywidgets as W

        self.ctx, self.measure = ctx, measure
        targets = list(ctx.efficiencies)
        self.ranges = {t: (e.minimum("latency_ms")[0], float(np.max(ctx.fronts[t]["pool_ms"]))
                           if t in ctx.fronts else 2 * e.minimum("latency_ms")[0])
                       for t, e in ctx.efficiencies.items()}
        self.target = W.ToggleButtons(options=targets, value=targets[0], description="target")
        lo, hi = self.ranges[targets[0]]
        self.limit = W.FloatSlider(value=lo + start_fraction * (hi - lo), min=lo, max=hi,
                                   step=(hi - lo) / 100, description="latency <=", readout_format=".3f",
                                   continuous_update=False,
                                   layout=W.Layout(width="420px"), style={"description_width": "80px"})
        self.out, self.plot = W.HTML(), W.Output()
        title = W.HTML("<b>Specialise the supernet</b>: pick a target and a latency limit (ms)")
        self.widget = W.VBox([title, self.target, self.limit, self.out, self.plot])
        self.target.observe(self._retarget, names="value")
        self.limit.observe(self.update, names="value")
        self.report: SearchReport | None = None
        self.update()

    def _retarget(self, change: dict | None = None) -> None:
        """New target: the slider keeps its relative position within the new target's range."""
        lo, hi = self.ranges[self.target.value]
        fraction = (self.limit.value - self.limit.min) / max(self.limit.max - self.limit.min, 1e-9)
        self._quiet = True  # moving min/max may clip the value: one search at the end, not three
        try:
            if lo > self.limit.max:
                self.limit.max, self.limit.min = hi, lo
            else:
                self.limit.min, self.limit.max = lo, hi
            self.limit.step = (hi - lo) / 100
            self.limit.value = lo + fraction * (hi - lo)
        finally:
            self._quiet = False
        self.update()

    def update(self, change: dict | None = None) -> None:
        import matplotlib.pyplot as plt

        if getattr(self, "_quiet", False):
            return
        try:
            self.report = search_report(self.ctx, self.target.value, self.limit.value, self.measure)
        except ValueError as err:  # e.g. an infeasible limit: shown in the panel
            self.out.value = f"<span style='color:#b00'>{html.escape(str(err))}</span>"
            return
        self.out.value = self.report.html()
        front = self.ctx.fronts.get(self.target.value)
        if front is None:
            return
        r, m = self.report.result, self.report.measured
        winner = {"predicted_ms": r.best_metrics["latency_ms"], "predicted_acc": r.best_acc,
                  "limit_ms": self.limit.value,
                  "measured_ms": m.measured_ms if m else r.best_metrics["latency_ms"],
                  "measured_acc": m.measured_acc if m else r.best_acc}
        self.plot.clear_output(wait=True)
        with self.plot:
            from IPython.display import display

            fig = target_fronts({self.target.value: {**front, "winners": [winner]}}, title="")
            display(fig)
            plt.close(fig)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
