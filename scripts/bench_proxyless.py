"""Benchmark of one ProxylessNAS search step: binarized paths against all paths.

    python scripts/bench_proxyless.py                       # cpu space, batch 64, all threads
    python scripts/bench_proxyless.py --batch 32 --threads 1 --repeats 5
    python scripts/bench_proxyless.py --space gpu --device cuda --batch 256

One search step = one weight step (SGD, training batch) + one alpha step (Adam, the
latency-aware loss) on the mixed network of the space at r = 32, for each method:

    all   DARTS-style: both steps run every candidate, weighted by p
    one   ProxylessNAS: the weight step runs one sampled path; the alpha step binary gates
          (one path runs, the other gates' gradients recomputed in backward)
    two   ProxylessNAS two-path: one path, then a sampled pair

Prints, with the machine, threads and load average: the median wall time of a step
(after one untimed step), the bytes autograd saves for backward in each half of the step
(``saved_tensors_hooks``), the CUDA peak where there is a GPU, and every ratio to "all".
The latency values come from a synthetic table (they do not change time or memory).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch

from hwnas_lab.latency import LatencyTable, machine_info
from hwnas_lab.proxyless import METHODS, ProxylessSupernet
from hwnas_lab.proxyless_latency import needed_specs
from hwnas_lab.proxyless_memory import step_memory
from hwnas_lab.proxyless_search import SearchConfig, _weight_optimizer, arch_step, weight_step
from hwnas_lab.space import get_space


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--space", default="cpu")
    ap.add_argument("--batch", type=int, default=64, help="images per weight step and per alpha step")
    ap.add_argument("--repeats", type=int, default=5, help="timed steps per method (median)")
    ap.add_argument("--threads", type=int, default=None, help="intra-op threads (default: torch's)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    space = get_space(args.space)
    info = machine_info()
    load = os.getloadavg()
    print(f"machine: {info['cpu']}, {info['cores']} cores, gpu {info['gpu']}; torch {info['torch']}; "
          f"{torch.get_num_threads()} threads; load average {load[0]:.2f} at start")
    rng = np.random.default_rng(0)
    table = LatencyTable(space, "synthetic", {s.signature: float(rng.uniform(0.2, 1.0))
                                              for s in needed_specs(space, 32)})
    torch.manual_seed(0)
    net = ProxylessSupernet(space).attach_latency(table).to(device, memory_format=torch.channels_last)
    X = torch.randn(args.batch, 3, 32, 32, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, space.num_classes, (args.batch,), device=device)
    print(f"space {space.name}: {net.alpha.shape[0]} slots x {net.alpha.shape[1]} candidates, "
          f"{sum(p.numel() for p in net.weight_parameters()) / 1e6:.2f} M weights; batch {args.batch}")
    path = net.sample_paths(generator=torch.Generator().manual_seed(0))
    rows = {}
    for method in args.methods:
        mem = step_memory(net, X, y, method, path)
        w_opt = _weight_optimizer(net, 0.01, 0.0)
        a_opt = torch.optim.Adam([net.alpha], lr=1e-3, betas=(0.0, 0.999))
        cfg = SearchConfig(target_ms=5.0, binary_mode=method)
        times = []
        for k in range(args.repeats + 1):
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            weight_step(net, w_opt, X, y, mode=METHODS[method][0])
            arch_step(net, a_opt, X, y, cfg)
            if device.type == "cuda":
                torch.cuda.synchronize()
            if k:  # the first step is a warm-up
                times.append(time.perf_counter() - start)
        rows[method] = (statistics.median(times), mem)
    base_t, base_mem = rows.get("all", next(iter(rows.values())))
    ref = "all" if "all" in rows else args.methods[0]
    print(f"\n{'method':6s} {'step s':>8s} {'x ' + ref:>7s} | {'saved MB weights':>16s} {'alpha':>8s} "
          f"{'x ' + ref:>14s} | {'CUDA peak MB':>12s}")
    for method, (t, mem) in rows.items():
        (w_b, w_p), (a_b, a_p) = mem["weights"], mem["alpha"]
        ratio = f"{w_b / base_mem['weights'][0]:.3f}/{a_b / base_mem['alpha'][0]:.3f}"
        peak = "n/a" if w_p is None else f"{w_p / 1e6:.0f}/{a_p / 1e6:.0f}"
        print(f"{method:6s} {t:8.3f} {t / base_t:7.3f} | {w_b / 1e6:16.1f} {a_b / 1e6:8.1f} {ratio:>14s} | "
              f"{peak:>12s}")
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end; ratios are method / {ref} "
          "(weights step / alpha step for memory)")


if __name__ == "__main__":
    main()
