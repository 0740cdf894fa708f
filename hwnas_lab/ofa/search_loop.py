"""The straightforward baseline of :mod:`.search`, and the benchmark that sets them side by side.

Once-for-All's finder (Cai et al., ICLR 2020, Section 3.4; its public
``EvolutionFinder``) handles one candidate at a time: variation on one architecture,
table lookups, FLOPs and the constraint per candidate, redrawn until feasible, the
accuracy predictor once per generation. :func:`evolution_search_loop` is that search,
written on ``Arch`` objects with the same settings and the same models as
:func:`.search.evolution_search`, so the two differ only in being per-candidate or
whole-population; :func:`benchmark` times both, and random search, in one run.
"""

from __future__ import annotations

import random
import time

import numpy as np

from ..arch import ArchBatch
from ..space import Arch
from .search import (EvolutionConfig, Genes, InfeasibleError, Objective, SearchResult, make_result,
                     evolution_search, random_search)


def evolution_search_loop(objective: Objective, config: EvolutionConfig = EvolutionConfig(),
                          seed: int = 0) -> SearchResult:
    """The same evolution written the straightforward way: one ``Arch`` at a time (variation, latency
    table, FLOPs and memory per candidate, drawn again until feasible), the accuracy predictor called
    once per generation on the children, as OFA's finder does. For the speed comparison."""
    from ..blocks import arch_flops
    from .efficiency import BYTES_PER_ELEMENT, BYTES_PER_KB, peak_elements

    start, rng = time.perf_counter(), random.Random(seed)
    space, limits = objective.space, objective.constraints
    lat = objective.efficiency.latency
    drawn = 0

    def ok(arch: Arch) -> bool:
        nonlocal drawn
        drawn += 1
        for name, limit in limits.items():
            if name == "latency_ms":
                value = lat.predict(arch) if hasattr(lat, "predict_batch") else lat.predict([arch])[0]
            elif name == "flops_m":
                value = arch_flops(space, arch) / 1e6
            else:
                peak = max(peak_elements(s) for s in space.layer_specs(arch))
                value = peak * BYTES_PER_ELEMENT / BYTES_PER_KB
            if value > limit:
                return False
        return True

    def draw(make) -> Arch:
        for _ in range(10_000):
            arch = make()
            if ok(arch):
                return arch
        raise InfeasibleError(f"no feasible candidate in 10,000 draws under {limits}")

    predict = lambda archs: objective.predictor.predict(ArchBatch.from_archs(space, archs))  # noqa: E731
    pop = [draw(lambda: space.sample(rng)) for _ in range(config.population)]
    acc = list(predict(pop))
    curve, evals = [(len(pop), max(acc))], len(pop)
    for _ in range(config.generations):
        order = sorted(range(len(pop)), key=lambda i: -acc[i])[:config.n_parents]
        parents, parent_acc = [pop[i] for i in order], [acc[i] for i in order]

        def mutant() -> Arch:
            child = space.mutate(rng.choice(parents), config.mutate_prob, rng)
            r = rng.choice(space.r_choices) if rng.random() < config.r_mutate_prob else child.r
            return Arch(child.ks, child.e, child.d, r)

        children = [draw(mutant) for _ in range(config.n_mutants)]
        children += [draw(lambda: space.crossover(rng.choice(parents), rng.choice(parents), rng))
                     for _ in range(config.population - config.n_mutants)]
        child_acc = list(predict(children))
        pop, acc = parents + children, parent_acc + child_acc
        evals += len(children)
        curve.append((evals, max(curve[-1][1], max(child_acc))))
    genes = Genes(space)
    pop_genes = genes.of(ArchBatch.from_archs(space, pop))
    return make_result("evolution (loop)", objective, genes, pop_genes, np.array(acc), curve, drawn, start, None)


def benchmark(objective: Objective, config: EvolutionConfig = EvolutionConfig(), seed: int = 0,
              repeats: int = 3, loop: bool = True) -> dict:
    """Wall times of the same search: vectorised (median of ``repeats`` after a warm-up), the
    per-candidate loop (once), random search at equal evaluations; best predicted accuracies."""
    import torch

    evolution_search(objective, EvolutionConfig(config.population, 5), seed=seed)  # warm-up
    runs = [evolution_search(objective, config, seed=seed) for _ in range(repeats)]
    out = {"threads": torch.get_num_threads(), "evaluations": runs[0].n_evals,
           "evolution_s": float(np.median([r.seconds for r in runs])), "evolution_acc": runs[0].best_acc}
    rand = random_search(objective, runs[0].n_evals, seed=seed)
    out.update(random_s=rand.seconds, random_acc=rand.best_acc)
    if loop:
        slow = evolution_search_loop(objective, config, seed=seed)
        out.update(evolution_loop_s=slow.seconds, evolution_loop_acc=slow.best_acc,
                   loop_speedup=slow.seconds / out["evolution_s"])
    return out
