"""The per-candidate baseline of the OFA search: the same search as the array version."""

import pytest

from hwnas_lab.ofa.search import EvolutionConfig, evolution_search, random_search
from hwnas_lab.ofa.search_loop import evolution_search_loop
from ofa_search_helpers import median_latency, objective

pytestmark = pytest.mark.usefixtures("one_thread")


def test_loop_version_is_the_same_search():
    obj = objective(limit_ms=median_latency(), memory_kb=300.0)
    config = EvolutionConfig(population=20, generations=15)
    fast, slow = evolution_search(obj, config, seed=1), evolution_search_loop(obj, config, seed=1)
    assert slow.n_evals == fast.n_evals
    for r in (fast, slow):
        assert r.best_metrics["latency_ms"] <= obj.constraints.latency_ms
        assert r.best_metrics["memory_kb"] <= 300
    start = random_search(obj, 20, seed=1).best_acc
    assert fast.best_acc > start and slow.best_acc > start
