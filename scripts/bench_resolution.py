"""How much faster the largest subnet trains at elastic resolution than at r=32 alone.

Times training steps of the supernet's largest subnet (batch 128, random data, the loop's
step and memory format) at every resolution of the space, interleaved round by round so
that a shared machine's drift in speed falls on all resolutions alike. Elastic resolution
draws each batch's resolution uniformly, so its mean step time is the mean over the
resolutions. Prints the median per resolution and the ratio r=32 / elastic per round
(median and IQR), beside the FLOPs ratio. RECIPE.md section 3 compares the two per minute.

    python scripts/bench_resolution.py --threads 2 --rounds 8 --steps 3
"""

from __future__ import annotations

import argparse
import os
import random
import time

import numpy as np
import torch
from torch import nn

from hwnas_lab.blocks import arch_flops
from hwnas_lab.config import torch_threads
from hwnas_lab.latency.measure import cpu_model
from hwnas_lab.ofa import OFASupernet
from hwnas_lab.ofa.shrink_step import SubnetBatch, shrink_step
from hwnas_lab.ofa.schedule import get_shrink_config
from hwnas_lab.space import get_space


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=8, help="interleaved rounds (default 8)")
    ap.add_argument("--steps", type=int, default=3, help="timed steps per resolution and round")
    ap.add_argument("--batch", type=int, default=128)
    args = ap.parse_args()
    if min(args.threads, args.rounds, args.steps, args.batch) < 1:
        ap.error("--threads, --rounds, --steps and --batch must be at least 1")
    space = get_space("cpu")
    phase = get_shrink_config("laptop").phases[0]  # the largest phase: one subnet, no teacher
    resolutions = space.r_choices
    archs = [space.uniform(max(space.ks_choices), max(space.e_choices), max(space.d_choices), r)
             for r in resolutions]  # the largest subnet at each resolution
    with torch_threads(args.threads):
        torch.manual_seed(0)
        net = OFASupernet(space).to(memory_format=torch.channels_last).train()
        model, criterion = SubnetBatch(net), nn.CrossEntropyLoss(label_smoothing=0.1)
        opt = torch.optim.SGD(net.parameters(), lr=1e-4, momentum=0.9)
        step_s = np.zeros((args.rounds, len(resolutions)))  # median s per step
        for rnd in range(args.rounds + 1):  # round 0 warms every resolution up, not kept
            order = list(range(len(resolutions)))
            random.Random(rnd).shuffle(order)
            for i in order:
                r, arch = resolutions[i], archs[i]
                X = torch.randn(args.batch, 3, r, r).contiguous(memory_format=torch.channels_last)
                y = torch.randint(0, space.num_classes, (args.batch,))
                times = []
                for _ in range(args.steps):
                    t0 = time.perf_counter()
                    shrink_step(model, None, opt, X, y, [arch], phase, criterion)
                    times.append(time.perf_counter() - t0)
                if rnd:
                    step_s[rnd - 1, i] = np.median(times)
    full = resolutions.index(max(resolutions))
    ratio = step_s[:, full] / step_s.mean(axis=1)  # r=32 step time / elastic mean, per round
    q1, med, q3 = np.percentile(ratio, [25, 50, 75])
    flops = [arch_flops(space, arch) for arch in archs]
    print(f"{cpu_model()}, torch {torch.__version__}, load {os.getloadavg()[0]:.1f} | largest "
          f"subnet, batch {args.batch}, {args.threads} threads, {args.rounds} rounds x "
          f"{args.steps} steps per resolution")
    for i, r in enumerate(resolutions):
        print(f"  r={r}: {np.median(step_s[:, i]) * 1e3:.0f} ms per step, "
              f"{args.batch / np.median(step_s[:, i]):.0f} img/s")
    print(f"r={max(resolutions)} / elastic step time: {med:.2f} (IQR {q1:.2f}-{q3:.2f}); "
          f"FLOPs ratio {flops[full] / np.mean(flops):.2f}")


if __name__ == "__main__":
    main()
