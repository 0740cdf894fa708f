"""Notebook 06 (Once-for-All search): its exercise checks, figures and the search panel.

The algorithms live in :mod:`hwnas_lab.ofa.search` (evolution, random search, the
feasibility filter), :mod:`hwnas_lab.ofa.accuracy` (the accuracy predictor) and
:mod:`hwnas_lab.ofa.efficiency` (latency, FLOPs, peak memory); this module only checks
the learner's versions against them, draws, and wraps a search in sliders. Cai et al.,
"Once-for-All", ICLR 2020, Section 3.4.
"""

from __future__ import annotations

import html
import random
import warnings
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ..space import SPACES, Arch, SearchSpace
from .checks import exercise
from .plots import axes


# ----- exercise 1: mutation and crossover on Arch -------------------------------------------------
_KEEP_SLOTS = ("Keep every slot of ks and e (running or not) and draw values from the space's choices")


def _call(what: str, fn: Callable, *args):
    """Call the learner's function; a ValueError (e.g. from building an Arch) becomes a hint."""
    try:
        return fn(*args)
    except ValueError as err:
        raise AssertionError(f"{what} raised ValueError: {err}. {_KEEP_SLOTS}") from None


def _valid(what: str, child, space: SearchSpace) -> Arch:
    if not isinstance(child, Arch):
        raise AssertionError(f"{what} should return an Arch, got {type(child).__name__}")
    try:
        return child.validate(space)
    except ValueError as err:
        raise AssertionError(f"{what} returned an invalid architecture: {err}. {_KEEP_SLOTS}") from None


def _change_rates(parent: Arch, children: Sequence[Arch]) -> dict[str, float]:
    """Share of values that differ from the parent: ks/e in running and in skipped slots, d, r."""
    D = parent.max_depth
    running = np.array([i % D < parent.d[i // D] for i in range(len(parent.ks))])
    ks = np.array([c.ks for c in children]) != np.array(parent.ks)
    e = np.array([c.e for c in children]) != np.array(parent.e)
    both = np.concatenate([ks, e], axis=1)
    run2 = np.concatenate([running, running])
    return {"running slots": both[:, run2].mean(), "skipped slots": both[:, ~run2].mean(),
            "d": (np.array([c.d for c in children]) != np.array(parent.d)).mean(),
            "r": np.mean([c.r != parent.r for c in children])}


def check_variation(mutate: Callable, crossover: Callable) -> None:
    """Exercise 1: ``mutate(space, arch, prob, rng)`` and ``crossover(space, a, b, rng)`` on ``Arch``."""
    space = SPACES["cpu"]
    with exercise("mutate and crossover"):
        rng = random.Random(0)
        parents = [space.smallest(), space.largest()] + [space.sample(rng) for _ in range(12)]
        for i, p in enumerate(parents):
            for prob in (0.1, 0.5, 1.0):
                child = _call("mutate", mutate, space, p, prob, random.Random(i))
                _valid(f"mutate(prob={prob})", child, space)
            if _call("mutate", mutate, space, p, 0.0, random.Random(i)) != p:
                raise AssertionError("with prob=0 the child must equal its parent: redraw a value only "
                                     "when rng.random() < prob")
        # a shallow parent: half of its slots are skipped, and they must mutate like the others
        parent = Arch(space.smallest().ks, space.largest().e, space.smallest().d, space.smallest().r)
        children = [_valid("mutate", _call("mutate", mutate, space, parent, 0.5, random.Random(1000 + i)),
                           space) for i in range(300)]
        for what, rate in _change_rates(parent, children).items():
            if rate > 0.6:
                raise AssertionError(f"{100 * rate:.0f} % of {what} values changed at prob=0.5: you redraw "
                                     "every value; redraw each one only with probability prob")
            if rate < 0.22:
                hint = {"skipped slots": "slots beyond a stage's depth never changed: mutate them too "
                                         "(a later depth mutation makes them run)",
                        "d": "the depths never changed: d is mutated like ks and e",
                        "r": "the resolution never changed: r is part of the encoding too"}.get(what, "")
                raise AssertionError(f"only {100 * rate:.0f} % of {what} values changed at prob=0.5 "
                                     f"(expected about 33 %): {hint}")
        a, b = space.uniform(3, 3, 2, 24), space.uniform(7, 6, 4, 32)  # differ in every value
        kids = [_valid("crossover", _call("crossover", crossover, space, a, b, random.Random(i)), space)
                for i in range(300)]
        for x, y in ((parents[2], parents[3]), (parents[4], parents[1])):
            for i in range(20):
                c = _valid("crossover", _call("crossover", crossover, space, x, y, random.Random(i)), space)
                for name in ("ks", "e", "d"):
                    values = zip(getattr(c, name), getattr(x, name), getattr(y, name))
                    for pos, (v, u, w) in enumerate(values):
                        if v not in (u, w):
                            raise AssertionError(f"child.{name}[{pos}] = {v} is in neither parent ({u}, {w}):"
                                                 " each value comes from one parent, at the same position")
                if c.r not in (x.r, y.r):
                    raise AssertionError(f"child.r = {c.r} is in neither parent ({x.r}, {y.r})")
        if _call("crossover", crossover, space, parents[5], parents[5], random.Random(0)) != parents[5]:
            raise AssertionError("crossing a parent with itself must give the same architecture")
        from_a = np.array([[v == 3 for v in k.ks] for k in kids])
        D = a.max_depth
        skipped = np.array([i % D >= a.d[i // D] for i in range(len(a.ks))])
        if from_a.mean() > 0.9 or from_a.mean() < 0.1:
            raise AssertionError(f"{100 * from_a.mean():.0f} % of the child's ks values came from parent a: "
                                 "take each value from a or b at random (probability 1/2 each)")
        if np.mean(from_a.all(1) | (~from_a).all(1)) > 0.2:
            raise AssertionError("a child takes all of its ks from one parent: pick each VALUE "
                                 "independently, not whole fields")
        if not 0.3 < from_a[:, skipped].mean() < 0.7:
            raise AssertionError("slots beyond a's depth were not crossed over like the others: the child's "
                                 "depth may come from b, which runs them")
        print(f"  valid children for {len(parents)} parents; change rates at prob=0.5 "
              + ", ".join(f"{k} {100 * v:.0f} %" for k, v in _change_rates(parent, children).items())
              + f"; crossover takes {100 * from_a.mean():.0f} % of values from each parent")


# ----- exercise 2: the feasibility filter ---------------------------------------------------------
def check_feasibility(feasible_mask: Callable) -> None:
    """Exercise 2: ``feasible_mask(latency_ms, mflops, memory_kb, limits) -> bool array``."""
    from ..ofa.search import Constraints, feasible

    lat = np.array([1.0, 2.0, 2.5, 3.0, 0.9, 2.0])
    mfl = np.array([10.0, 20.0, 5.0, 40.0, 30.0, 15.0])
    mem = np.array([100.0, 300.0, 200.0, 150.0, 400.0, 150.0])
    cases = [(Constraints(latency_ms=2.0), "latency only, two subnets exactly at the limit"),
             (Constraints(latency_ms=2.5, memory_kb=200.0), "latency and memory"),
             (Constraints(latency_ms=3.0, flops_m=20.0, memory_kb=300.0), "all three"),
             (Constraints(memory_kb=150.0), "memory only"),
             (Constraints(), "no limit at all")]
    with exercise("feasible_mask"):
        for limits, what in cases:
            try:
                got = np.asarray(feasible_mask(lat.copy(), mfl.copy(), mem.copy(), limits))
            except TypeError as err:
                raise AssertionError(f"{what} ({limits}): {err}. A limit of None means no limit: "
                                     "skip it") from None
            want = feasible(lat, mfl, mem, limits)
            if got.shape != want.shape or got.dtype != bool:
                raise AssertionError(f"return a boolean array with one entry per subnet ({len(lat)}), got "
                                     f"{got.dtype} of shape {got.shape}")
            if np.array_equal(got, want):
                continue
            values = {"latency_ms": lat, "flops_m": mfl, "memory_kb": mem}
            strict = np.ones(len(lat), dtype=bool)
            either = np.zeros(len(lat), dtype=bool)
            none_zero = np.ones(len(lat), dtype=bool)
            for name, limit in limits.items():
                strict &= values[name] < limit
                either |= values[name] <= limit
            for name, v in values.items():
                none_zero &= v <= (getattr(limits, name) or 0.0)
            hint = ("a subnet exactly AT its limit meets it: use <=" if np.array_equal(got, strict)
                    else "a limit of None means no limit: skip it, do not compare with 0"
                    if np.array_equal(got, none_zero)
                    else "every given limit must hold at once: combine them with & (and)"
                    if len(limits.items()) > 1 and np.array_equal(got, either)
                    else "a limit of None means no limit: every subnet passes it" if not limits.items()
                    else "check each limit that is set (latency_ms, flops_m, memory_kb)")
            raise AssertionError(f"{what} ({limits}): expected {want.tolist()}, got {got.tolist()}: {hint}")
        print(f"  matched the reference on {len(cases)} combinations of limits")


# ----- exercise 3: one generation of evolution ----------------------------------------------------
def _generation_setup(n: int = 40, seed: int = 0):
    from ..blocks import arch_flops

    space = SPACES["cpu"]
    rng = random.Random(seed)
    limit = 14.0  # MFLOPs: about half of the random subnets meet it

    def feasible(archs: Sequence[Arch]) -> np.ndarray:
        return np.array([arch_flops(space, a) / 1e6 <= limit for a in archs])

    pop = []
    while len(pop) < n:
        a = space.sample(rng)
        if feasible([a])[0]:
            pop.append(a)
    # fitness grows with FLOPs, so the parents sit near the limit and careless children break it
    fitness = np.array([0.5 + arch_flops(space, a) / 1e9 + 1e-6 * rng.random() for a in pop])
    return space, pop, fitness, feasible


def check_generation(evolve_one_generation: Callable) -> None:
    """Exercise 3: ``evolve_one_generation(population, fitness, space, feasible, rng, parent_ratio,
    mutation_ratio, mutate_prob) -> (parents, children)``."""
    space, pop, fitness, feasible = _generation_setup()
    n, k = len(pop), int(round(0.25 * len(pop)))
    order = np.argsort(-fitness, kind="stable")
    best, worst = {pop[i] for i in order[:k]}, {pop[i] for i in order[-k:]}
    with exercise("evolve_one_generation"):
        out = evolve_one_generation(list(pop), fitness.copy(), space, feasible, random.Random(0), 0.25, 0.5,
                                    0.1)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise AssertionError("return a tuple (parents, children) of two lists of Arch")
        parents, children = list(out[0]), list(out[1])
        if len(parents) != k:
            raise AssertionError(f"{len(parents)} parents for a population of {n} at parent_ratio 0.25: keep "
                                 f"round(parent_ratio * N) = {k}")
        if set(parents) == worst:
            raise AssertionError("your parents are the LEAST fit: sort by fitness in decreasing order")
        if set(parents) != best:
            raise AssertionError(f"the parents must be the {k} fittest members of the population")
        if len(children) != n:
            raise AssertionError(f"{len(children)} children: make as many children as the population has "
                                 f"members ({n}; OFA: 100 per generation), mutants and crossovers together")
        for c in children:
            _valid("a child", c, space)
        if not feasible(children).all():
            raise AssertionError(f"{int((~feasible(children)).sum())} children break the constraint: discard "
                                 "such a child and draw another")
        # mutate_prob 0: a mutant is a copy of its parent; only the parents may be copied
        copies = evolve_one_generation(list(pop), fitness.copy(), space, feasible, random.Random(1), 0.25,
                                       1.0, 0.0)[1]
        strangers = [c for c in copies if c not in best]
        if strangers:
            raise AssertionError(f"with mutate_prob=0 and only mutation, {len(strangers)} children are not "
                                 "copies of a parent: mutate the PARENTS, not any member of the population")
        mixed = evolve_one_generation(list(pop), fitness.copy(), space, feasible, random.Random(2), 0.25, 0.5,
                                      0.0)[1]
        n_copies = sum(c in best for c in mixed)
        if not n // 2 <= n_copies <= n // 2 + n // 4:
            raise AssertionError(f"{n_copies} of {n} children are copies of a parent at mutate_prob=0 and "
                                 f"mutation_ratio=0.5: make round(mutation_ratio * N) = {n // 2} by mutation "
                                 "and the rest by crossover of two random parents")
        print(f"  {k} fittest parents kept; {n} feasible children, half mutants, half crossovers")


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
