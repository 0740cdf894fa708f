"""Benchmark of notebook 04's counting work: the FLOPs law and torchvision's family (prints
figures; not a test).

    python scripts/bench_scaling.py                  # 1 thread, 3 repeats
    python scripts/bench_scaling.py --threads 2 --repeats 5 --skip-family

FLOPs law: seconds for ``scaling.flops_law`` over phi = 0..4 in steps of 0.05 (81 networks)
with the hand count, and per network with ``FlopCounterMode`` on the meta device and on
real CPU tensors (``blocks.count_flops``), on EfficientNet's coefficients; all three counts
must agree. Family: seconds to count each torchvision EfficientNet-B0..B7 at its own
resolution on the meta device (no weights or activations allocated), with its GFLOPs and
peak resident memory of the process. Every figure: median and IQR over ``--repeats``.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import numpy as np
import torch

from hwnas_lab import scaling
from hwnas_lab.blocks import arch_flops, count_flops
from hwnas_lab.latency.measure import cpu_model
from hwnas_lab.space import SPACES


def quartiles(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.3f} s (n=1)"
    q = statistics.quantiles(values, n=4, method="inclusive")
    return f"median {statistics.median(values):.3f} s, IQR {q[2] - q[0]:.3f} s (n={len(values)})"


def timed(fn, repeats: int) -> tuple[list[float], object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return times, out


def bench_law(repeats: int) -> None:
    space = SPACES["cpu"]
    base = space.uniform(3, 3, 2, 24)
    phis = np.round(np.arange(0.0, 4.0 + 1e-9, 0.05), 2)
    times, law = timed(lambda: scaling.flops_law(space, base, scaling.EFFICIENTNET, phis), repeats)
    print(f"flops_law, hand count, {len(phis)} networks: {quartiles(times)}")
    for phi in (0.0, 2.0, 4.0):
        net = scaling.scale(space, base, scaling.EFFICIENTNET, phi)
        shape = (1, 3, net.arch.r, net.arch.r)
        t_meta, meta = timed(lambda: scaling.meta_flops(net.build, shape), repeats)
        t_cpu, cpu = timed(lambda: count_flops(net.build(), shape), repeats)
        assert meta == cpu == arch_flops(net.space, net.arch), (phi, meta, cpu)
        print(f"  phi {phi:.0f} ({net.mflops:.1f} MFLOPs, {len(net.space.layer_specs(net.arch))} "
              f"operators): FlopCounterMode meta {quartiles(t_meta)}; CPU tensors {quartiles(t_cpu)}")
    print(f"  counted x{law.measured[-1]:.2f} at phi 4 against the law's x{law.law[-1]:.2f}")


def bench_family(repeats: int) -> None:
    for name in scaling.TORCHVISION_FAMILY:
        times, rows = timed(lambda: scaling.efficientnet_family([name]), repeats)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        row = rows[0]
        print(f"{name}: {row['resolution']} px, {row['gflops']:.2f} GFLOPs, counted in "
              f"{quartiles(times)}; process peak RSS so far {peak_mb:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per figure")
    parser.add_argument("--skip-family", action="store_true", help="only the FLOPs law")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{cpu_model()}, torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    bench_law(args.repeats)
    if not args.skip_family:
        bench_family(args.repeats)


if __name__ == "__main__":
    main()
