"""OFA search (notebook 06): populations as arrays, constraints and the feasibility filter,
evolution and random search, their bad-input messages."""

import numpy as np
import pytest
import torch

from hwnas_lab.arch import ArchBatch
from hwnas_lab.ofa import OFASupernet
from hwnas_lab.ofa.accuracy import collect_accuracy
from hwnas_lab.ofa.efficiency import Efficiency, memory_table
from hwnas_lab.ofa.search import (Constraints, EvolutionConfig, Genes, InfeasibleError, Objective,
                                  check_constraints, crossover_batch, evolution_search, feasible, mutate_batch,
                                  random_search, sample_batch, to_archs)
from hwnas_lab.space import get_space
from ofa_search_helpers import SPACE, LinearPredictor, median_latency, objective, synthetic_table, tiny_data

pytestmark = pytest.mark.usefixtures("one_thread")


# ----- populations as arrays ------------------------------------------------------------------
def test_sample_mutate_crossover_give_valid_archs_and_keep_skipped_slots():
    rng = np.random.default_rng(0)
    pop = sample_batch(SPACE, 500, rng)
    for batch in (pop, mutate_batch(SPACE, pop, 1.0, 1.0, rng),
                  crossover_batch(SPACE, pop, sample_batch(SPACE, 500, rng), rng)):
        ArchBatch.from_archs(SPACE, to_archs(batch))  # raises on any invalid value
    assert set(np.unique(pop.ks)) == set(SPACE.ks_choices) and set(np.unique(pop.r)) == set(SPACE.r_choices)
    # every slot, running or skipped, is redrawn at the same rate (prob * (1 - 1/3) = 1/3 changed)
    shallow = ArchBatch.from_archs(SPACE, [SPACE.uniform(7, 6, 2, 32)] * 2000)
    child = mutate_batch(SPACE, shallow, 0.5, 0.5, rng)
    changed = child.ks != shallow.ks
    D = SPACE.max_depth
    skipped = np.arange(SPACE.n_slots) % D >= 2
    assert abs(changed[:, skipped].mean() - 1 / 3) < 0.03 and abs(changed[:, ~skipped].mean() - 1 / 3) < 0.03
    assert abs((child.d != shallow.d).mean() - 1 / 3) < 0.03
    assert abs((child.r != shallow.r).mean() - 1 / 3) < 0.05
    assert np.array_equal(mutate_batch(SPACE, shallow, 0.0, 0.0, rng).ks, shallow.ks)
    # the resolution has its own probability (OFA: 0.5 against 0.1)
    only_r = mutate_batch(SPACE, shallow, 0.0, 1.0, rng)
    assert np.array_equal(only_r.ks, shallow.ks) and (only_r.r != 32).mean() > 0.6


def test_crossover_takes_each_value_from_a_parent_at_the_same_position():
    rng = np.random.default_rng(1)
    a = ArchBatch.from_archs(SPACE, [SPACE.uniform(3, 3, 2, 24)] * 1000)
    b = ArchBatch.from_archs(SPACE, [SPACE.uniform(7, 6, 4, 32)] * 1000)
    c = crossover_batch(SPACE, a, b, rng)
    assert np.isin(c.ks, (3, 7)).all() and np.isin(c.d, (2, 4)).all() and np.isin(c.r, (24, 32)).all()
    assert abs((c.ks == 3).mean() - 0.5) < 0.02 and abs((c.r == 24).mean() - 0.5) < 0.05
    assert (c.ks == 3).all(1).mean() < 0.01  # values mixed within a child, not whole fields


def test_genes_round_trip():
    genes = Genes(SPACE)
    a = sample_batch(SPACE, 7, np.random.default_rng(0))
    back = genes.arrays(genes.of(a))
    assert all(np.array_equal(getattr(a, f), getattr(back, f)) for f in ("ks", "e", "d", "r"))


# ----- constraints and the feasibility filter ---------------------------------------------------------
def test_feasible_combines_every_given_limit_inclusively():
    lat, mfl, mem = np.array([1.0, 2.0, 3.0]), np.array([5.0, 50.0, 5.0]), np.array([10.0, 10.0, 99.0])
    assert feasible(lat, mfl, mem, Constraints(latency_ms=2.0)).tolist() == [True, True, False]
    assert feasible(lat, mfl, mem, Constraints(latency_ms=3.0, flops_m=5.0)).tolist() == [True, False, True]
    both = Constraints(memory_kb=10.0, latency_ms=9.0)
    assert feasible(lat, mfl, mem, both).tolist() == [True, True, False]
    assert feasible(lat, mfl, mem, Constraints()).all()
    with pytest.raises(ValueError, match="no memory_kb values"):
        feasible(lat, mfl, None, Constraints(memory_kb=10.0))


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), "2", True])
def test_constraints_reject_bad_numbers(bad):
    with pytest.raises(ValueError, match="positive number"):
        Constraints(latency_ms=bad)


def test_infeasible_limit_names_the_smallest_feasible_value():
    eff = Efficiency(SPACE, synthetic_table())
    low_ms = synthetic_table().predict(SPACE.smallest())
    with pytest.raises(InfeasibleError, match=f"smallest feasible value is {low_ms:.4g} ms") as err:
        objective(limit_ms=low_ms * 0.5)
    assert "latency limit" in str(err.value) and "synthetic" in str(err.value)
    low_kb = memory_table(SPACE).peak(ArchBatch.from_archs(SPACE, [SPACE.smallest()]))[0]
    with pytest.raises(InfeasibleError, match=f"peak memory limit 100 kB .* {low_kb:.4g} kB"):
        check_constraints(eff, Constraints(memory_kb=100.0))
    check_constraints(eff, Constraints(latency_ms=low_ms, memory_kb=low_kb))  # exactly the minimum: fine


def test_objective_refuses_a_predictor_of_another_space():
    with pytest.raises(ValueError, match="one supernet's space"):
        Objective(LinearPredictor(get_space("gpu")), Efficiency(SPACE, synthetic_table()), Constraints())


# ----- searches ---------------------------------------------------------------------------------------
def test_evolution_counts_evaluations_keeps_feasible_and_beats_random_search():
    obj = objective(limit_ms=median_latency())
    config = EvolutionConfig(population=40, generations=30)
    evo = evolution_search(obj, config, seed=0, keep_pool=True)
    assert evo.n_evals == 40 + 30 * 40 and evo.curve_evals[-1] == evo.n_evals
    assert np.all(np.diff(evo.curve_best) >= 0)
    assert evo.best_metrics["latency_ms"] <= obj.constraints.latency_ms
    pool = evo.pool
    assert len(pool["acc"]) == evo.n_evals and np.all(pool["latency_ms"] <= obj.constraints.latency_ms)
    assert evo.best_acc == pytest.approx(pool["acc"].max())
    best = ArchBatch.from_archs(SPACE, [evo.best])
    assert obj.predictor.predict(best)[0] == pytest.approx(evo.best_acc)
    rand = random_search(obj, evo.n_evals, seed=0)
    assert rand.n_evals == evo.n_evals and rand.best_metrics["latency_ms"] <= obj.constraints.latency_ms
    assert evo.best_acc > rand.best_acc
    assert evo.n_drawn >= evo.n_evals and rand.n_drawn > rand.n_evals  # infeasible draws were rejected


def test_search_without_limits_finds_the_predictors_optimum():
    obj = objective()
    evo = evolution_search(obj, EvolutionConfig(population=20, generations=10), seed=0)
    assert evo.n_evals == 220 and set(evo.best_metrics) == {"latency_ms", "flops_m", "memory_kb"}
    assert random_search(obj, 50, seed=0).n_evals == 50


def test_tight_limit_still_finds_the_few_feasible_subnets():
    low, _ = Efficiency(SPACE, synthetic_table()).minimum("latency_ms")
    obj = objective(limit_ms=low * 1.02)  # random draws almost never meet it
    evo = evolution_search(obj, EvolutionConfig(population=10, generations=5), seed=0)
    assert evo.best_metrics["latency_ms"] <= low * 1.02


def test_search_is_reproducible_and_config_is_checked():
    obj = objective(limit_ms=median_latency())
    c = EvolutionConfig(population=16, generations=5)
    assert evolution_search(obj, c, seed=3).best == evolution_search(obj, c, seed=3).best
    with pytest.raises(ValueError, match="parent_ratio"):
        EvolutionConfig(parent_ratio=1.5)
    with pytest.raises(ValueError, match="n_evals"):
        random_search(obj, 0)


def test_the_gpu_space_searches_too(tmp_path):
    gpu = get_space("gpu")
    obj = Objective(LinearPredictor(gpu), Efficiency(gpu, synthetic_table(gpu)),
                    Constraints(memory_kb=1500.0))
    evo = evolution_search(obj, EvolutionConfig(population=16, generations=5), seed=0)
    assert evo.best.validate(gpu) and evo.best_metrics["memory_kb"] <= 1500.0
    torch.manual_seed(0)
    data = collect_accuracy(OFASupernet(gpu).eval(), tiny_data(32), tiny_data(8, 1), "g", n_random=3,
                            n_extremes=1, n_test=2, n_repeats=0, recal_batches=1, batch_size=16,
                            progress=False, path=tmp_path / "gpu.json")
    assert len(data.archs) == 4 and data.archs[0] == gpu.smallest()
