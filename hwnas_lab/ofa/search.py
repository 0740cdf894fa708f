"""Searching a trained supernet: evolution and random search under efficiency constraints.

Once-for-All (Cai et al., ICLR 2020, Section 3.4) specialises a supernet for a device by
an evolutionary search that scores candidates with an accuracy predictor and a latency
table instead of evaluating them. Its finder keeps a population of 100 architectures; each
generation the best quarter (``parent_ratio`` 0.25) become parents, and 100 children are
made, half by mutation (each ks/e/d value redrawn with probability 0.1, the resolution with
0.5) and half by uniform crossover of two parents; a child that breaks the constraint is
discarded and drawn again; 500 generations. Random search draws feasible subnets
uniformly: the baseline, at equal numbers of evaluations.

Everything here works on a whole population at once, as integer arrays
(``arch.ArchBatch``: ``ks, e`` (n, slots), ``d`` (n, stages), ``r`` (n,)): sampling,
mutation, crossover, the efficiency models (:mod:`.efficiency`), the accuracy predictor
(:mod:`.accuracy`), the feasibility filter and parent selection are array operations, with
no Python loop per candidate. :mod:`.search_loop` holds the same search written one
candidate at a time (as OFA's finder is), for the benchmark.

An **evaluation** is one accuracy prediction; only candidates that meet the constraints
are predicted, as in OFA. An impossible constraint (below the smallest value any subnet of
the space reaches) raises :class:`InfeasibleError` naming the smallest feasible value.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..arch import ArchBatch
from ..space import Arch, SearchSpace

LIMITS = {"latency_ms": ("latency", "ms"), "flops_m": ("FLOPs", "MFLOPs"), "memory_kb": ("peak memory", "kB")}


@dataclass(frozen=True)
class Constraints:
    """Upper limits a subnet must meet; None means no limit."""

    latency_ms: float | None = None  # predicted latency on the search's target, ms
    flops_m: float | None = None  # FLOPs at batch 1, millions (2 per multiply-add)
    memory_kb: float | None = None  # peak activation memory at batch 1, kB (float32)

    def __post_init__(self) -> None:
        for name in LIMITS:
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value) or value <= 0):
                raise ValueError(f"constraint {name} must be a positive number or None, got {value!r}")

    def __str__(self) -> str:
        parts = [f"{LIMITS[k][0]} <= {v:g} {LIMITS[k][1]}" for k, v in self.items()]
        return ", ".join(parts) or "no constraint"

    def items(self) -> list[tuple[str, float]]:
        return [(k, getattr(self, k)) for k in LIMITS if getattr(self, k) is not None]


def feasible(latency_ms, mflops, memory_kb, limits: Constraints) -> np.ndarray:
    """Boolean mask: each subnet meets EVERY given limit (a value equal to its limit meets it)."""
    values = {"latency_ms": latency_ms, "flops_m": mflops, "memory_kb": memory_kb}
    n = max(np.size(v) for v in values.values() if v is not None)
    ok = np.ones(n, dtype=bool)
    for name, limit in limits.items():
        if values[name] is None:
            raise ValueError(f"a {name} limit is set but no {name} values were given")
        ok &= np.asarray(values[name]) <= limit
    return ok


class InfeasibleError(ValueError):
    """No subnet of the space can meet the constraints (the message says what can)."""


# ----- populations as arrays -------------------------------------------------------------------
def take(a: ArchBatch, idx) -> ArchBatch:
    return ArchBatch(a.ks[idx], a.e[idx], a.d[idx], a.r[idx])


def concat(parts: list[ArchBatch]) -> ArchBatch:
    return ArchBatch(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("ks", "e", "d", "r")))


def to_archs(a: ArchBatch) -> list[Arch]:
    return [Arch(k, e, d, int(r)) for k, e, d, r in zip(a.ks.tolist(), a.e.tolist(), a.d.tolist(), a.r)]


class Genes:
    """A population as ONE integer matrix, columns ``ks`` (slots) | ``e`` (slots) | ``d`` (stages) | ``r``,
    so that sampling, mutation and crossover are a few whole-matrix operations."""

    def __init__(self, space: SearchSpace):
        self.space = space
        S, T = space.n_slots, space.n_stages
        groups = [space.ks_choices] * S + [space.e_choices] * S + [space.d_choices] * T + [space.r_choices]
        width = max(len(g) for g in groups)
        self.choices = np.array([list(g) + [g[-1]] * (width - len(g)) for g in groups], dtype=np.int64)
        self.n_choices = np.array([len(g) for g in groups])  # per column
        self.cols = np.arange(len(groups))
        self.is_r = self.cols == len(groups) - 1
        self.split = (S, 2 * S, 2 * S + T)

    def arrays(self, g: np.ndarray) -> ArchBatch:
        """Views of the columns as ``ArchBatch`` (no copy)."""
        a, b, c = self.split
        return ArchBatch(g[:, :a], g[:, a:b], g[:, b:c], g[:, c])

    def of(self, a: ArchBatch) -> np.ndarray:
        return np.concatenate([a.ks, a.e, a.d, a.r[:, None]], axis=1)

    def draw(self, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        """Uniform choices for every cell of an (n, columns) matrix."""
        picks = (rng.random(shape) * self.n_choices).astype(np.int64)
        return self.choices[self.cols, picks]

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.draw((n, len(self.cols)), rng)

    def mutate(self, g: np.ndarray, prob: float, r_prob: float, rng: np.random.Generator) -> np.ndarray:
        """Redraw each ks, e, d value with probability ``prob``, r with ``r_prob`` (inactive slots too:
        a later depth mutation may reveal them)."""
        redraw = rng.random(g.shape) < np.where(self.is_r, r_prob, prob)
        return np.where(redraw, self.draw(g.shape, rng), g)

    def crossover(self, g1: np.ndarray, g2: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Each value from ``g1`` or ``g2`` with equal probability (uniform crossover)."""
        return np.where(rng.random(g1.shape) < 0.5, g1, g2)


def sample_batch(space: SearchSpace, n: int, rng: np.random.Generator) -> ArchBatch:
    """``n`` uniformly random encodings (every slot drawn, active or not, as ``SearchSpace.sample``)."""
    genes = Genes(space)
    return genes.arrays(genes.sample(n, rng))


def mutate_batch(space: SearchSpace, a: ArchBatch, prob: float, r_prob: float,
                 rng: np.random.Generator) -> ArchBatch:
    """``Genes.mutate`` of a batch of architectures."""
    genes = Genes(space)
    return genes.arrays(genes.mutate(genes.of(a), prob, r_prob, rng))


def crossover_batch(space: SearchSpace, a: ArchBatch, b: ArchBatch, rng: np.random.Generator) -> ArchBatch:
    """``Genes.crossover`` of two equally long batches (child i from parents a[i] and b[i])."""
    genes = Genes(space)
    return genes.arrays(genes.crossover(genes.of(a), genes.of(b), rng))


# ----- what is maximised, under which limits ------------------------------------------------------
class Objective:
    """Predicted accuracy to maximise, efficiency models and the constraints, for batches.

    ``predictor`` has ``predict(ArchBatch) -> accuracy``; ``efficiency`` is an
    ``efficiency.Efficiency`` (latency on one target, FLOPs, memory).
    """

    def __init__(self, predictor, efficiency, constraints: Constraints):
        pred_space = getattr(predictor, "space", efficiency.space)
        if pred_space != efficiency.space:
            raise ValueError(f"the accuracy predictor was made for space {pred_space.name!r} but the "
                             f"efficiency models for {efficiency.space.name!r}: use one supernet's space")
        self.predictor, self.efficiency, self.constraints = predictor, efficiency, constraints
        self.space = efficiency.space
        self.check_feasible()

    def metrics(self, a: ArchBatch, names=None) -> dict[str, np.ndarray]:
        """``latency_ms``, ``flops_m``, ``memory_kb`` of a batch (``names``: only those)."""
        eff = self.efficiency
        fns = {"latency_ms": eff.latency_ms, "flops_m": eff.mflops, "memory_kb": eff.memory_kb}
        if eff.latency is None:
            fns.pop("latency_ms")
        return {k: fns[k](a) for k in (fns if names is None else names)}

    def feasible(self, a: ArchBatch) -> np.ndarray:
        if not self.constraints.items():
            return np.ones(len(a), dtype=bool)
        m = self.metrics(a, [k for k, _ in self.constraints.items()])
        return feasible(m.get("latency_ms"), m.get("flops_m"), m.get("memory_kb"), self.constraints)

    def minimum(self, name: str) -> tuple[float, Arch]:
        return self.efficiency.minimum(_METRIC[name])

    def check_feasible(self) -> None:
        check_constraints(self.efficiency, self.constraints)


_METRIC = {"latency_ms": "latency_ms", "flops_m": "mflops", "memory_kb": "memory_kb"}  # Efficiency's names


def check_constraints(efficiency, constraints: Constraints) -> None:
    """Raise :class:`InfeasibleError` if a limit is below the smallest value any subnet reaches."""
    problems = []
    for name, limit in constraints.items():
        low, arch = efficiency.minimum(_METRIC[name])
        if limit < low:
            what, unit = LIMITS[name]
            where = f" on {efficiency.target}" if name == "latency_ms" else ""
            problems.append(f"{what} limit {limit:g} {unit} is below the smallest {what} of any subnet "
                            f"of space {efficiency.space.name!r}{where}: {low:.4g} {unit} ({arch}); the "
                            f"smallest feasible value is {low:.4g} {unit}")
    if problems:
        raise InfeasibleError("; ".join(problems))


def _feasible_draws(objective: "Objective", genes: Genes, makers: list, rate: float = 1.0,
                    max_rounds: int = 50) -> tuple[list[np.ndarray], int, float]:
    """For each ``(make, n)`` in ``makers``: up to ``n`` feasible rows of ``make(m)`` (m candidate rows);
    all kinds are checked in ONE call per round, oversampling by the expected feasible ``rate``.
    Returns the rows per kind, how many candidates were drawn, and the last feasible rate."""
    need = [n for _, n in makers]
    kept: list[list[np.ndarray]] = [[] for _ in makers]
    drawn = 0
    for _ in range(max_rounds):
        sizes = [int(min(max(8, 1.5 * k / rate), 100 * n + 8)) if k else 0 for k, (_, n) in zip(need, makers)]
        cand = np.concatenate([make(m) for (make, _), m in zip(makers, sizes)])
        ok = objective.feasible(genes.arrays(cand))
        drawn += len(cand)
        rate = max(ok.mean(), 0.5 / len(cand))
        start = 0
        for i, m in enumerate(sizes):
            rows = cand[start:start + m][ok[start:start + m]][:need[i]]
            kept[i].append(rows)
            need[i] -= len(rows)
            start += m
        if not any(need):
            break
    return [k[0] if len(k) == 1 else np.concatenate(k) for k in kept], drawn, rate


@dataclass
class SearchResult:
    """The outcome of one search: the best feasible subnet and the search curve."""

    method: str  # "evolution", "random", "evolution (loop)"
    best: Arch  # highest predicted accuracy among feasible candidates
    best_acc: float  # its predicted accuracy (0..1)
    best_metrics: dict  # its latency_ms / flops_m / memory_kb
    curve_evals: np.ndarray  # evaluations (accuracy predictions) so far ...
    curve_best: np.ndarray  # ... and the best predicted accuracy by then
    n_evals: int  # accuracy predictions
    n_drawn: int  # candidates whose efficiency was computed (feasible or not)
    seconds: float  # wall time of the search
    pool: dict = field(default_factory=dict)  # with keep_pool: "arrays", "acc", metrics of all evaluated

    def __str__(self) -> str:
        m = ", ".join(f"{k} {v:.3g}" for k, v in self.best_metrics.items())
        return (f"{self.method}: {100 * self.best_acc:.2f} % predicted ({m}) after {self.n_evals:,} "
                f"evaluations in {self.seconds:.3f} s: {self.best}")


def make_result(method: str, objective: Objective, genes: Genes, pop: np.ndarray, acc: np.ndarray, curve,
            drawn: int, start: float, parts) -> SearchResult:
    i = int(np.argmax(acc))
    best = genes.arrays(pop[i:i + 1])
    metrics = {k: float(v[0]) for k, v in objective.metrics(best).items()}
    evals, best_acc = (np.array(c) for c in zip(*curve))
    seconds = time.perf_counter() - start
    pool = {}
    if parts is not None:
        arrays = genes.arrays(np.concatenate([p for p, _ in parts]))
        pool = {"arrays": arrays, "acc": np.concatenate([a for _, a in parts]), **objective.metrics(arrays)}
    return SearchResult(method, to_archs(best)[0], float(acc[i]), metrics, evals, best_acc, int(evals[-1]),
                        drawn, seconds, pool)


@dataclass(frozen=True)
class EvolutionConfig:
    """OFA's evolution finder settings (its defaults)."""

    population: int = 100  # architectures per generation; also children made per generation
    generations: int = 500  # OFA's max_time_budget
    parent_ratio: float = 0.25  # fittest share kept as parents
    mutation_ratio: float = 0.5  # share of children made by mutation (the rest: crossover)
    mutate_prob: float = 0.1  # per ks/e/d value (OFA: arch_mutate_prob)
    r_mutate_prob: float = 0.5  # for the resolution (OFA: resolution_mutate_prob)

    def __post_init__(self) -> None:
        if self.population < 2 or self.generations < 0:
            raise ValueError(f"population must be >= 2 and generations >= 0, got {self.population}, "
                             f"{self.generations}")
        for name in ("parent_ratio", "mutation_ratio", "mutate_prob", "r_mutate_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")

    @property
    def n_parents(self) -> int:
        return max(1, int(round(self.parent_ratio * self.population)))

    @property
    def n_mutants(self) -> int:
        return int(round(self.mutation_ratio * self.population))


def evolution_search(objective: Objective, config: EvolutionConfig = EvolutionConfig(), seed: int = 0,
                     keep_pool: bool = False) -> SearchResult:
    """OFA's evolutionary search, one whole population at a time as arrays (module docstring)."""
    start, rng, genes = time.perf_counter(), np.random.default_rng(seed), Genes(objective.space)
    predict = lambda g: objective.predictor.predict(genes.arrays(g))  # noqa: E731
    sample = (lambda m: genes.sample(m, rng), config.population)
    (pop,), drawn, _ = _feasible_draws(objective, genes, [sample])
    if len(pop) == 0:  # random draws missed a feasible corner: start from the cheapest subnets
        low = [genes.of(ArchBatch.from_archs(objective.space, [objective.minimum(n)[1]]))
               for n, _ in objective.constraints.items()]
        pop = np.concatenate(low)[objective.feasible(genes.arrays(np.concatenate(low)))]
        if len(pop) == 0:
            raise InfeasibleError(f"no subnet meets {objective.constraints} together")
    acc = predict(pop)
    curve, evals, parts = [(len(pop), acc.max())], len(pop), [(pop, acc)]
    k, n_mut, n_cross = config.n_parents, config.n_mutants, config.population - config.n_mutants
    rate = 1.0  # share of children that meet the limits: stable from one generation to the next
    for _ in range(config.generations):
        top = np.argsort(-acc, kind="stable")[:k]
        parents, parent_acc = pop[top], acc[top]
        p = len(parents)
        (mutants, crosses), d, rate = _feasible_draws(objective, genes, [
            (lambda m: genes.mutate(parents[rng.integers(0, p, m)], config.mutate_prob, config.r_mutate_prob,
                                    rng), n_mut),
            (lambda m: genes.crossover(parents[rng.integers(0, p, m)], parents[rng.integers(0, p, m)], rng),
             n_cross)], rate)
        children = np.concatenate([mutants, crosses])
        child_acc = predict(children)
        pop, acc = np.concatenate([parents, children]), np.concatenate([parent_acc, child_acc])
        evals, drawn = evals + len(children), drawn + d
        curve.append((evals, max(curve[-1][1], child_acc.max(initial=-np.inf))))
        if keep_pool:
            parts.append((children, child_acc))
    return make_result("evolution", objective, genes, pop, acc, curve, drawn, start, parts if keep_pool else None)


def random_search(objective: Objective, n_evals: int, seed: int = 0, batch: int = 1000,
                  keep_pool: bool = False) -> SearchResult:
    """Uniformly random feasible subnets, ``n_evals`` of them predicted, in batches of ``batch``."""
    if n_evals < 1:
        raise ValueError(f"n_evals must be >= 1, got {n_evals}")
    start, rng, genes = time.perf_counter(), np.random.default_rng(seed), Genes(objective.space)
    best, best_acc, curve, evals, drawn, parts, rate = [], [], [], 0, 0, [], 1.0
    while evals < n_evals:
        (cand,), d, rate = _feasible_draws(objective, genes, [(lambda m: genes.sample(m, rng),
                                                               min(batch, n_evals - evals))], rate)
        drawn += d
        if len(cand) == 0:
            if evals == 0:
                raise InfeasibleError(f"no random subnet met {objective.constraints} in {drawn:,} draws")
            break
        acc = objective.predictor.predict(genes.arrays(cand))
        running = np.maximum.accumulate(acc)
        if curve:
            running = np.maximum(running, curve[-1][1])
        curve += list(zip(evals + 1 + np.arange(len(acc)), running))
        evals += len(acc)
        i = int(np.argmax(acc))
        best.append(cand[i:i + 1])
        best_acc.append(acc[i])
        if keep_pool:
            parts.append((cand, acc))
    return make_result("random", objective, genes, np.concatenate(best), np.array(best_acc), curve, drawn, start,
                   parts if keep_pool else None)
