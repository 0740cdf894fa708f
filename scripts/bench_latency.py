"""Benchmark of the latency tables: build time, prediction speed, fidelity against the noise floor.

    python scripts/bench_latency.py                        # laptop preset, torch-1thread + onnxruntime
    python scripts/bench_latency.py --targets torch-1thread --n 40 --predict 100000

Prints, with the machine beside every figure:
  * the time to build the CPU space's table from scratch on each target (1 thread,
    the preset's repeats), into a temporary file (the cache is left alone);
  * the time to predict N random architectures (stacking Arch objects into arrays,
    then the one-gather prediction), median of 5 runs;
  * per target, every predictor's score on held-out random subnetworks measured end to
    end, and the noise floor (the same networks measured again, interleaved).
Targets of the issue: build <= 180 s on 1 thread (laptop preset), 100,000 predictions
< 0.5 s, best predictor within +-10 % for >= 95 % of networks on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from hwnas_lab.config import get_preset
from hwnas_lab.arch import ArchBatch
from hwnas_lab.latency.lut import get_lut
from hwnas_lab.latency.measure import get_target, machine_info
from hwnas_lab.latency.predictors import validate_table
from hwnas_lab.space import get_space


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="laptop", help="repeats come from this preset")
    ap.add_argument("--space", default="cpu")
    ap.add_argument("--targets", default="torch-1thread,onnxruntime-1thread",
                    help="comma-separated target names")
    ap.add_argument("--n", type=int, default=60, help="random subnetworks to validate (half held out)")
    ap.add_argument("--predict", type=int, default=100_000, help="archs in the prediction benchmark")
    ap.add_argument("--noise-rounds", type=int, default=5)
    ap.add_argument("--noise-nets", type=int, default=6)
    args = ap.parse_args()

    preset, space = get_preset(args.preset), get_space(args.space)
    info = machine_info()
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("n/a",)
    print(f"machine: {info['cpu']}, {info['cores']} cores, load average {load[0]:.2f} at start; "
          f"torch {info['torch']}, onnxruntime {info['onnxruntime']}")
    print(f"space {space.name}: {len(space.all_layer_specs())} operators; preset {preset.name}: "
          f"{preset.latency_repeats} repeats")
    targets = [get_target(t) for t in args.targets.split(",")]
    tables = {}
    with tempfile.TemporaryDirectory() as tmp:
        for t in targets:
            start = time.perf_counter()
            tables[t.name] = get_lut(space, t, repeats=preset.latency_repeats,
                                       path=Path(tmp) / f"{t.name}.json", progress=False)
            print(f"[build] {t.name}: {len(tables[t.name].entries)} entries in "
                  f"{time.perf_counter() - start:.1f} s ({t.threads} thread(s); target <= 180 s)")

    table = tables[targets[0].name]
    rng = random.Random(0)
    archs = [space.sample(rng) for _ in range(args.predict)]
    stack_s, gather_s = [], []
    for _ in range(5):
        t0 = time.perf_counter()
        arrays = ArchBatch.from_archs(space, archs)
        t1 = time.perf_counter()
        table.predict_batch(arrays)
        stack_s.append(t1 - t0)
        gather_s.append(time.perf_counter() - t1)
    q = lambda v: (np.median(v), np.percentile(v, 75) - np.percentile(v, 25))  # noqa: E731
    (sm, si), (gm, gi) = q(stack_s), q(gather_s)
    print(f"[predict] {args.predict:,} archs: stacking {sm:.3f} s (IQR {si:.3f}) + gather {gm:.3f} s "
          f"(IQR {gi:.3f}) = {sm + gm:.3f} s, median of 5 (target < 0.5 s)")

    for t in targets:
        val = validate_table(tables[t.name], n_train=args.n // 2, n_test=args.n - args.n // 2,
                             repeats=preset.latency_repeats, noise_rounds=args.noise_rounds,
                             noise_nets=args.noise_nets, progress=False)
        print(f"[fidelity] {val.report()}")
        best, nf = val.metrics[val.best], val.noise.metrics()
        print(f"[fidelity] {t.name}: best predictor {val.best!r} within +-10 % for "
              f"{100 * best.within10:.0f} % of held-out nets (MAPE {best.mape_pct:.1f} %); noise floor "
              f"within +-10 % {100 * nf.within10:.0f} % (MAPE {nf.mape_pct:.1f} %, round-to-round "
              f"spread {val.noise.rel_spread_pct:.1f} %)")
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("n/a",)
    print(f"load average at the end: {load[0]:.2f} (figures on a shared machine are noisy)")


if __name__ == "__main__":
    main()
