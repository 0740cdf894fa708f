"""Notebook 06's exercise checks: each runs the learner's function against the package's
reference (:mod:`hwnas_lab.ofa.search`) and names the likely mistake when they differ.

Exercises: ``mutate`` and ``crossover`` on ``Arch``, the feasibility filter
(``feasible_mask``) and one generation of evolution (``evolve_one_generation``); Cai et
al., "Once-for-All", ICLR 2020, Section 3.4. References are imported inside the checks.
"""

from __future__ import annotations

import random
from typing import Callable, Sequence

import numpy as np

from ..space import SPACES, Arch, SearchSpace
from .checks import exercise


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
