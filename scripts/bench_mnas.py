"""Benchmark of notebook 03's hot paths (prints figures; not a test).

    python scripts/bench_mnas.py                      # 1,000,000 points, batches 16/64/256
    python scripts/bench_mnas.py --points 200000 --repeats 9 --no-oracle

* MnasNet reward (soft and hard) over N random (accuracy, latency) points, input checks
  included; aim: under 1 s for 1,000,000 points on 2 cores.
* Pareto front (``hwnas_lab.pareto.pareto_mask``) over the same points.
* One controller step (``hwnas_lab.mnas``): sample a batch from the policy, LUT latency
  (``predict_batch``), accuracy from the shipped supernet's oracle when every architecture
  is already in its cache (a hit: a dictionary lookup), reward, REINFORCE gradient and the
  Adam update; reported per architecture. The table has synthetic entries for every
  operator of the space (a lookup's time does not depend on the values).
* With data and without ``--no-oracle``: a real oracle evaluation (a miss: extract the
  subnet, recalibrate BN, evaluate), seconds per architecture, at notebook 03's laptop
  settings (100 validation images per class, 3 recalibration batches of 256).

Every figure is the median and IQR over ``--repeats`` runs (a shared CPU is noisy).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

import numpy as np
import torch

from hwnas_lab import mnas
from hwnas_lab.accuracy import SupernetAccuracy
from hwnas_lab.data import TensorData
from hwnas_lab.latency.lut import LatencyTable
from hwnas_lab.latency.measure import cpu_model
from hwnas_lab.ofa.checkpoint import find_supernet, load_supernet
from hwnas_lab.pareto import pareto_mask
from hwnas_lab.space import get_space


def timed(fn, repeats: int) -> tuple[float, float]:
    """Median and IQR of ``repeats`` wall times of ``fn()`` in seconds (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    q = statistics.quantiles(times, n=4, method="inclusive") if len(times) > 1 else [times[0]] * 3
    return statistics.median(times), q[2] - q[0]


def fmt(median_s: float, iqr_s: float, per: int = 1, unit: str = "ms") -> str:
    scale = {"ms": 1e3, "us": 1e6, "s": 1.0}[unit] / per
    return f"{median_s * scale:9.3f} {unit} (IQR {iqr_s * scale:.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000, help="points for reward and front")
    parser.add_argument("--batches", type=int, nargs="+", default=[16, 64, 256],
                        help="architectures per controller step")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per figure")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (controller)")
    parser.add_argument("--oracle-threads", type=int, default=os.cpu_count(),
                        help="torch intra-op threads for the oracle evaluations (notebook: all cores)")
    parser.add_argument("--no-oracle", action="store_true", help="skip the real oracle evaluations")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# {cpu_model()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
          f"torch {torch.__version__} with {torch.get_num_threads()} thread(s), numpy {np.__version__}")

    rng = np.random.default_rng(0)
    acc, lat = rng.uniform(0.5, 0.9, args.points), rng.lognormal(1.5, 0.4, args.points)
    T = float(np.median(lat))
    print(f"\n{args.points:,} points (accuracy, latency):")
    for setting in ("soft", "hard"):
        print(f"  reward {setting:5s}         {fmt(*timed(lambda: mnas.mnas_reward(acc, lat, T, setting), args.repeats))}")
    print(f"  reward_best soft      {fmt(*timed(lambda: mnas.reward_best(acc, lat, T), args.repeats))}")
    print(f"  pareto_mask           {fmt(*timed(lambda: pareto_mask(lat, acc), args.repeats))}"
          f"  ({int(pareto_mask(lat, acc).sum())} points on the front)")

    space = get_space("cpu")
    r = random.Random(0)
    table = LatencyTable(space, "synthetic", {s.signature: r.uniform(0.01, 1.0) for s in space.all_layer_specs()})
    path, source = find_supernet("laptop")
    net = load_supernet(path)
    tiny = TensorData(torch.zeros(8, 3, 32, 32, dtype=torch.uint8), torch.arange(8) % 10)
    oracle = SupernetAccuracy(net, tiny, tiny, recal_batches=1, cache=False)  # filled below: hits
    print(f"\ncontroller step on space {space.name!r} ({space.n_slots} slots; LUT: synthetic "
          f"entries; oracle: {source} supernet, every architecture a cache hit):")
    for batch in args.batches:
        policy, opt = mnas.CategoricalPolicy(space), mnas.Adam(0.05)
        arrays, _ = policy.sample(batch, np.random.default_rng(batch))
        for key in mnas.arch_keys(space, arrays):  # what earlier evaluations would have left
            oracle.acc[key] = 0.75
        objective = mnas.MnasObjective(oracle, table.predict_batch, 5.0, "soft")

        start_logits = {n: v.copy() for n, v in policy.logits.items()}

        def step() -> None:  # from the same logits and seed every time: the same (cached) batch
            policy.logits = {n: v.copy() for n, v in start_logits.items()}
            arrays, index = policy.sample(batch, np.random.default_rng(batch))
            reward, _, _ = objective(arrays)
            opt.ascend(policy.logits, policy.gradient(index, reward - reward.mean(), arrays))

        hits = oracle.hits
        med, iqr = timed(step, args.repeats)
        assert oracle.evaluations == 0 and oracle.hits > hits
        print(f"  batch {batch:4d}: {fmt(med, iqr, unit='ms')} per step, {fmt(med, iqr, batch, 'us')} "
              "per architecture")

    if args.no_oracle:
        return
    try:
        from hwnas_lab.data import load_cifar10

        data = load_cifar10("laptop", progress=False)
    except (FileNotFoundError, ValueError) as err:
        print(f"\noracle miss: skipped, no CIFAR-10 ({str(err)[:100]}...)")
        return
    torch.set_num_threads(args.oracle_threads)
    real = SupernetAccuracy(net, data.train, data.val.subset(100), recal_batches=3, batch_size=256,
                            cache=False)
    archs = [space.smallest(), space.largest()] + [space.sample(i) for i in range(args.repeats)]
    real([space.sample(1000)])  # warm-up: first-call kernel setup
    for arch in archs:
        real([arch])
    seconds = list(real.seconds.values())[1:]
    print(f"\noracle miss (extract + BN recalibration on 3 x 256 images + 1,000 val images), "
          f"{torch.get_num_threads()} thread(s): median {statistics.median(seconds):.2f} s per "
          f"architecture over {len(seconds)} (smallest {seconds[0]:.2f} s, largest {seconds[1]:.2f} s)")


if __name__ == "__main__":
    main()
