"""How fast the supernet trains in one process with N threads against N one-thread processes.

One process leaves part of its cores idle (batch norm, ReLU6 and the autograd engine's
bookkeeping do not keep two threads busy at batch 128 on 32-pixel images); under
``torchrun`` (``DistributedDataParallel``, gloo) each process runs its share of the step's
batch on one thread and only the gradients are exchanged. This script times the laptop
preset's steps both ways, with the same images per step (``--batch``, all processes
together, as ``ofa train`` splits it), the loop's step, memory format, teacher and resolutions
(``hwnas_lab.ofa.bench.time_phase_steps``), in alternated rounds of fresh processes so
that a shared machine's drift falls on both. Prints images per second per mode and phase
(median over rounds) and the ratio per round.

    python scripts/bench_processes.py --processes 2 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys

PHASES = ("largest", "expand")  # phase 1 (one subnet) and a shrinking phase (four + teacher)


def worker(args: argparse.Namespace) -> None:
    """Time ``--steps`` steps of each phase in this process (under torchrun: one rank)."""
    import torch
    import torch.distributed as dist
    from torch import nn

    from hwnas_lab.ofa.bench import time_phase_steps
    from hwnas_lab.ofa.schedule import get_shrink_config
    from hwnas_lab.ofa.shrink_step import SubnetBatch, make_teacher
    from hwnas_lab.ofa.supernet import OFASupernet

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        dist.init_process_group("gloo")
    torch.set_num_threads(args.threads)
    config = get_shrink_config("laptop")
    torch.manual_seed(0)
    net = OFASupernet(config.space).to(memory_format=torch.channels_last).train()
    model: nn.Module = SubnetBatch(net)
    if world > 1:
        model = nn.parallel.DistributedDataParallel(model, find_unused_parameters=True)
    teacher = make_teacher(net)
    result = {}
    for phase in (p for p in config.phases if p.name in PHASES):
        steps = args.steps if phase.name == "largest" else max(1, args.steps // 2)
        times = time_phase_steps(net, config, phase, args.batch // world, steps,
                                 random.Random(0), model, teacher)  # same draws in each rank
        result[phase.name] = args.batch * steps / sum(times)  # img/s, all processes
    if world == 1 or dist.get_rank() == 0:
        print("RESULT " + json.dumps(result))
    if world > 1:
        dist.destroy_process_group()


def launch(processes: int, threads: int, args: argparse.Namespace) -> dict[str, float]:
    """Run ``worker`` in ``processes`` processes of ``threads`` threads; its img/s per phase."""
    common = [__file__, "--worker", "--threads", str(threads), "--batch", str(args.batch),
              "--steps", str(args.steps)]
    cmd = [sys.executable, *common] if processes == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        "--nproc-per-node", str(processes), *common]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OMP_WAIT_POLICY": "PASSIVE"}
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    lines = [line for line in res.stdout.splitlines() if line.startswith("RESULT ")]
    if res.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {res.returncode}):\n{res.stderr[-2000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--processes", type=int, default=2, help="cores to use (default 2)")
    ap.add_argument("--rounds", type=int, default=3, help="alternated rounds (default 3)")
    ap.add_argument("--steps", type=int, default=12, help="timed steps of phase 1 (shrinking: half)")
    ap.add_argument("--batch", type=int, default=128, help="images per step, all processes")
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)  # worker's
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    if min(args.processes, args.rounds, args.steps, args.batch) < 1:
        ap.error("--processes, --rounds, --steps and --batch must be at least 1")
    if args.batch % args.processes:
        ap.error(f"--batch {args.batch} must split evenly over --processes {args.processes}")
    from hwnas_lab.latency.measure import cpu_model

    modes = {f"1 process x {args.processes} threads": (1, args.processes),
             f"{args.processes} processes x 1 thread": (args.processes, 1)}
    img_s: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    for rnd in range(args.rounds):
        for mode in (list(modes) if rnd % 2 == 0 else list(modes)[::-1]):
            img_s[mode].append(launch(*modes[mode], args))
    print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs; laptop preset, batch {args.batch} "
          f"per step, {args.rounds} alternated rounds, {args.steps} phase-1 steps per round")
    one, many = list(modes)
    for phase in PHASES:
        a = [r[phase] for r in img_s[one]]
        b = [r[phase] for r in img_s[many]]
        ratios = sorted(y / x for x, y in zip(a, b))
        print(f"  {phase:8s} {one}: {statistics.median(a):6.0f} img/s   {many}: "
              f"{statistics.median(b):6.0f} img/s   ratio {statistics.median(ratios):.2f} "
              f"(rounds {', '.join(f'{r:.2f}' for r in ratios)})")


if __name__ == "__main__":
    main()
