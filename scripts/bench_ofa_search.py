"""Benchmark of the OFA search: speed of the search, its quality, and its winners re-measured.

    python scripts/bench_ofa_search.py                  # laptop supernet, torch-1thread + onnxruntime
    python scripts/bench_ofa_search.py --no-remeasure --seeds 3

Uses the supernet notebook 06 searches (yours, else the shipped one), the targets' latency
tables (built if missing) calibrated as the preset says, and the accuracy pairs and
predictor of the preset (measured if missing: minutes; cached after). Prints, with the
machine, thread count and load average beside the figures:

  * speed: evolution of G generations x population P (OFA: 500 x 100 = 50,000
    evaluations with predictor and latency table) on arrays, median of --repeats runs,
    beside the same search written one candidate at a time, and random search;
  * quality per target and limit (a quarter, half, three quarters of the way from the
    target's fastest subnet to its largest): best feasible predicted accuracy of evolution
    against random search at equal evaluations and at 10x, over --seeds seeds;
  * the winners (seed 0) re-measured: test accuracy after BN recalibration and measured
    latency against the limit: the accuracy gap and the share that meet the limit.

Target of the issue: 500 x 100 in <= 0.5 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from hwnas_lab.data import load_cifar10
from hwnas_lab.latency import machine_info
from hwnas_lab.ofa.accuracy import collect_accuracy, file_digest, get_predictor, noise_yardstick, scores
from hwnas_lab.ofa.efficiency import Efficiency
from hwnas_lab.ofa.search import Constraints, EvolutionConfig, Objective, evolution_search, random_search
from hwnas_lab.ofa.search_loop import evolution_search_loop
from hwnas_lab.ofa.specialise import (get_budget, get_search_supernet, latency_levels, latency_model,
                                      remeasure_many, search_targets)


def load() -> str:
    return f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "n/a"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="laptop")
    ap.add_argument("--targets", default=None, help="comma-separated (default: the preset's)")
    ap.add_argument("--generations", type=int, default=500)
    ap.add_argument("--population", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5, help="timed runs of the array search (median)")
    ap.add_argument("--seeds", type=int, default=5, help="seeds of the quality comparison")
    ap.add_argument("--no-remeasure", action="store_true", help="skip measuring the winners")
    args = ap.parse_args()

    info = machine_info()
    print(f"machine: {info['cpu']}, {info['cores']} cores, torch {info['torch']} with "
          f"{torch.get_num_threads()} threads (the predictor runs on 1), load average {load()} at start")
    budget = get_budget(args.preset)
    data = load_cifar10(args.preset, progress=False)
    net, _, path, source = get_search_supernet(args.preset, data=data, train=False)
    space = net.space
    val = data.val if budget.eval_per_class is None else data.val.subset(budget.eval_per_class, 0)
    pairs = collect_accuracy(net, data.train, val, file_digest(path), budget.n_random, budget.n_extremes,
                             budget.n_test, budget.n_repeats, budget.recal_batches, seed=0, progress=False)
    predictor = get_predictor(pairs, steps=budget.predictor_steps)
    held = scores(predictor.predict(pairs.arrays)[pairs.test_index], pairs.acc[pairs.test_index])
    print(f"supernet {path} ({source}); accuracy data: {pairs}\n  predictor on held-out subnets: {held}"
          + (f"\n  repeat measurement (yardstick): {noise_yardstick(pairs)}"
             if len(pairs.repeat_acc) > 1 else "")
          + f"\n  (pairs took {pairs.meta['seconds_total']:.0f} s to measure)")
    targets = args.targets.split(",") if args.targets else search_targets(budget)
    models = {t: latency_model(space, t, budget.calib_archs, budget.latency_repeats,
                               rounds=budget.latency_rounds) for t in targets}
    effs = {m.target: Efficiency(space, m.model, m.target) for m in models.values()}
    config = EvolutionConfig(args.population, args.generations)

    # ----- speed
    first = next(iter(effs))
    half = latency_levels(effs[first], (0.5,))[0]
    objective = Objective(predictor, effs[first], Constraints(latency_ms=half))
    evolution_search(objective, EvolutionConfig(args.population, 5))  # warm-up
    start_load = load()
    runs = [evolution_search(objective, config, seed=0) for _ in range(args.repeats)]
    slow = evolution_search_loop(objective, config, seed=0)
    rand = random_search(objective, runs[0].n_evals, seed=0)
    times = [r.seconds for r in runs]
    print(f"\nspeed on {first}, {objective.constraints} ({args.generations} generations x population "
          f"{args.population} = {runs[0].n_evals:,} evaluations; load {start_load} -> {load()}):")
    print(f"  evolution, arrays           median {np.median(times):7.3f} s  (min {min(times):.3f}, max "
          f"{max(times):.3f}; {runs[0].n_drawn:,} candidates checked)")
    ratio = slow.seconds / np.median(times)
    print(f"  evolution, one at a time           {slow.seconds:7.3f} s  ({ratio:.0f}x slower)")
    print(f"  random search, equal evals         {rand.seconds:7.3f} s")

    # ----- quality
    print(f"\nquality: best feasible predicted accuracy (%), mean [min, max] over {args.seeds} seeds")
    winners = []
    for target, eff in effs.items():
        for level, limit in zip((0.25, 0.5, 0.75), latency_levels(eff)):
            obj = Objective(predictor, eff, Constraints(latency_ms=limit))
            rows = {"evolution": [], "random": [], "random 10x": []}
            for seed in range(args.seeds):
                evo = evolution_search(obj, config, seed=seed)
                rows["evolution"].append(evo.best_acc)
                rows["random"].append(random_search(obj, evo.n_evals, seed=seed).best_acc)
                rows["random 10x"].append(random_search(obj, 10 * evo.n_evals, seed=seed).best_acc)
                if seed == 0:
                    winners.append((target, limit, evo))
            cells = "  ".join(f"{k} {100 * np.mean(v):.2f} [{100 * min(v):.2f}, {100 * max(v):.2f}]"
                              for k, v in rows.items())
            print(f"  {target:20s} {int(100 * level):2d} % ({limit:6.3f} ms): {cells}")

    # ----- winners re-measured
    if not args.no_remeasure:
        print(f"\nwinners re-measured (test split, {len(data.test)} images; latency: least disturbed of "
              f"{budget.latency_rounds} interleaved rounds of {budget.latency_repeats} samples; "
              f"load {load()}):")
        items = [(evo.best, target, evo.best_acc, evo.best_metrics["latency_ms"], limit)
                 for target, limit, evo in winners]
        measured = remeasure_many(net, items, data.train, data.test,
                                  budget.recal_batches, 0, budget.latency_repeats, budget.latency_rounds,
                                  val_data=val)
        for m in measured:
            print("  " + m.row())
        gap = np.array([100 * (m.predicted_acc - m.measured_acc) for m in measured])
        near = sum(m.measured_ms <= 1.05 * m.limit_ms for m in measured)
        print(f"  accuracy predicted - measured: mean {gap.mean():+.2f} points, mean |gap| "
              f"{np.abs(gap).mean():.2f}; {sum(m.meets_limit for m in measured)} of {len(measured)} meet "
              f"their limit, {near} within +5 %; load {load()} at the end")


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"(benchmark wall time {time.perf_counter() - start:.0f} s)")
