"""Notebook 06's exercise checks: each passes the right answer and fails typical wrong answers
with their hint, and reports an unfinished exercise as TODO."""

import numpy as np
import pytest

from hwnas_lab.course import nb06_checks as nb
from hwnas_lab.ofa.search import Constraints, feasible
from hwnas_lab.space import Arch, get_space
from helpers import todo

SPACE = get_space("cpu")

pytestmark = pytest.mark.usefixtures("one_thread")


# ----- exercise 1: mutate and crossover ------------------------------------------------------------
def mutate_ok(space, arch, prob, rng):
    return space.mutate(arch, prob, rng)


def crossover_ok(space, a, b, rng):
    return space.crossover(a, b, rng)


def mutate_forcing_change(space, arch, prob, rng):
    """Also fine: a redrawn value always differs from the old one."""
    def redraw(values, choices):
        return [rng.choice([c for c in choices if c != v]) if rng.random() < prob else v for v in values]

    r = rng.choice([c for c in space.r_choices if c != arch.r]) if rng.random() < prob else arch.r
    return Arch(redraw(arch.ks, space.ks_choices), redraw(arch.e, space.e_choices),
                redraw(arch.d, space.d_choices), r)


def mutate_ignoring_prob(space, arch, prob, rng):
    return space.sample(rng) if prob > 0 else arch


def mutate_running_only(space, arch, prob, rng):
    child = space.mutate(arch, prob, rng)
    D = arch.max_depth
    keep = [i % D >= arch.d[i // D] for i in range(len(arch.ks))]  # skipped slots left as they were
    return Arch([o if k else c for o, c, k in zip(arch.ks, child.ks, keep)],
                [o if k else c for o, c, k in zip(arch.e, child.e, keep)], child.d, child.r)


def mutate_dropping_skipped(space, arch, prob, rng):
    child = space.mutate(arch, prob, rng)
    blocks = list(child.active_blocks())
    return Arch([k for *_, k, _ in blocks], [e for *_, e in blocks], child.d, child.r)


def mutate_without_r(space, arch, prob, rng):
    child = space.mutate(arch, prob, rng)
    return Arch(child.ks, child.e, child.d, arch.r)


def crossover_copying_a(space, a, b, rng):
    return a


def crossover_whole_fields(space, a, b, rng):
    pick = lambda x, y: x if rng.random() < 0.5 else y  # noqa: E731
    return Arch(pick(a.ks, b.ks), pick(a.e, b.e), pick(a.d, b.d), pick(a.r, b.r))


def crossover_defaults_skipped(space, a, b, rng):
    child = space.crossover(a, b, rng)
    D = child.max_depth
    run = [i % D < child.d[i // D] for i in range(len(child.ks))]
    return Arch([k if r else space.ks_choices[0] for k, r in zip(child.ks, run)],
                [e if r else space.e_choices[0] for e, r in zip(child.e, run)], child.d, child.r)


def crossover_new_values(space, a, b, rng):
    return space.sample(rng)


def test_variation_check_accepts_right_answers():
    nb.check_variation(mutate_ok, crossover_ok)
    nb.check_variation(mutate_forcing_change, crossover_ok)


@pytest.mark.parametrize("mutate, crossover, hint", [
    (mutate_ignoring_prob, crossover_ok, "prob=0|redraw every value"),
    (mutate_running_only, crossover_ok, "beyond a stage's depth never changed"),
    (mutate_dropping_skipped, crossover_ok, "Keep every slot"),
    (mutate_without_r, crossover_ok, "resolution never changed"),
    (mutate_ok, crossover_copying_a, "from parent a|in neither parent|from one parent"),
    (mutate_ok, crossover_whole_fields, "whole fields"),
    (mutate_ok, crossover_defaults_skipped, "in neither parent"),
    (mutate_ok, crossover_new_values, "in neither parent"),
])
def test_variation_check_names_the_mistake(mutate, crossover, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_variation(mutate, crossover)


def test_checks_report_todo(capsys, monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    for check, args in ((nb.check_variation, (todo, todo)), (nb.check_feasibility, (todo,)),
                        (nb.check_generation, (todo,))):
        check(*args)  # reported as TODO, not raised (see test_checks.py)
        assert capsys.readouterr().out.startswith("TODO")
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(NotImplementedError):  # the autograder scores it zero
        nb.check_feasibility(todo)


# ----- exercise 2: the feasibility filter ------------------------------------------------------------
def feasible_strict(lat, mfl, mem, limits):
    ok = np.ones(len(lat), dtype=bool)
    for name, value in {"latency_ms": lat, "flops_m": mfl, "memory_kb": mem}.items():
        if getattr(limits, name) is not None:
            ok &= value < getattr(limits, name)
    return ok


def feasible_any(lat, mfl, mem, limits):
    ok = np.zeros(len(lat), dtype=bool)
    for name, value in {"latency_ms": lat, "flops_m": mfl, "memory_kb": mem}.items():
        if getattr(limits, name) is not None:
            ok |= value <= getattr(limits, name)
    return ok if limits.items() else np.ones(len(lat), dtype=bool)


def feasible_none_as_zero(lat, mfl, mem, limits):
    return ((lat <= (limits.latency_ms or 0)) & (mfl <= (limits.flops_m or 0))
            & (mem <= (limits.memory_kb or 0)))


def feasible_no_memory(lat, mfl, mem, limits):
    return feasible(lat, mfl, mem, Constraints(limits.latency_ms, limits.flops_m, None))


def feasible_crashing_on_none(lat, mfl, mem, limits):
    return (lat <= limits.latency_ms) & (mfl <= limits.flops_m) & (mem <= limits.memory_kb)


def test_feasibility_check_accepts_the_reference():
    nb.check_feasibility(feasible)


@pytest.mark.parametrize("fn, hint", [
    (feasible_strict, "AT its limit"),
    (feasible_any, "at once"),
    (feasible_none_as_zero, "None means no limit"),
    (feasible_crashing_on_none, "None means no limit"),
    (feasible_no_memory, "check each limit"),
    (lambda lat, mfl, mem, limits: feasible(lat, mfl, mem, limits).astype(float), "boolean array"),
])
def test_feasibility_check_names_the_mistake(fn, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_feasibility(fn)


# ----- exercise 3: one generation ---------------------------------------------------------------------
def generation_ok(population, fitness, space, feasible, rng, parent_ratio=0.25, mutation_ratio=0.5,
                  mutate_prob=0.1, order=-1, use_parents=True, filter_children=True, n_children=None):
    n = len(population)
    k = max(1, int(round(parent_ratio * n)))
    ranked = np.argsort(order * np.asarray(fitness), kind="stable")
    parents = [population[i] for i in ranked[:k]]
    pool = parents if use_parents else population
    n_mut = int(round(mutation_ratio * n))
    children = []
    while len(children) < (n if n_children is None else n_children):
        if len(children) < n_mut:
            child = space.mutate(rng.choice(pool), mutate_prob, rng)
        else:
            child = space.crossover(rng.choice(pool), rng.choice(pool), rng)
        if not filter_children or feasible([child])[0]:
            children.append(child)
    return parents, children


def test_generation_check_accepts_the_reference():
    nb.check_generation(generation_ok)


@pytest.mark.parametrize("kwargs, hint", [
    ({"order": 1}, "LEAST fit"),
    ({"use_parents": False}, "mutate the PARENTS"),
    ({"filter_children": False}, "break the constraint"),
    ({"n_children": 30}, "as many children as the population"),
])
def test_generation_check_names_the_mistake(kwargs, hint):
    def wrong(*args):
        return generation_ok(*args, **kwargs)

    with pytest.raises(AssertionError, match=hint):
        nb.check_generation(wrong)


def test_generation_check_catches_all_mutation():
    def all_mutants(population, fitness, space, feasible, rng, parent_ratio, mutation_ratio, mutate_prob):
        return generation_ok(population, fitness, space, feasible, rng, parent_ratio, 1.0, mutate_prob)

    with pytest.raises(AssertionError, match="rest by crossover"):
        nb.check_generation(all_mutants)
