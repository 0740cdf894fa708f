"""Is the gpu preset's training bound by the GPU or by launching work on it?

Times real training steps of the gpu preset's phases (``hwnas_lab.ofa.bench.time_phase_steps``:
the phase's subnets, teacher and optimizer, on random images on the device) at several batch
sizes, with cuDNN's autotuner off and on and, for phase 1, under bfloat16 autocast; and the
cost of one tiny kernel launch. A step whose time hardly grows with the batch is bound by
launches (Python, the driver), not by the GPU's own work: a larger batch is then nearly
free per image. Prints images per second, median over ``--steps`` timed steps.

    python scripts/bench_gpu_steps.py --steps 8
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from dataclasses import replace

import torch

from hwnas_lab.ofa.bench import time_phase_steps
from hwnas_lab.ofa.schedule import get_shrink_config
from hwnas_lab.ofa.shrink_step import make_teacher
from hwnas_lab.ofa.supernet import OFASupernet


def launch_us(n: int = 2000) -> float:
    """Microseconds per launch of a one-element kernel, launched ``n`` times back to back."""
    x = torch.zeros(1, device="cuda")
    for _ in range(10):
        x.add_(1)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(n):
        x.add_(1)
    torch.cuda.synchronize()
    return 1e6 * (time.perf_counter() - t0) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=8, help="timed steps per setting")
    parser.add_argument("--batches", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--phases", nargs="+", default=["largest", "expand-2"])
    args = parser.parse_args()
    if not torch.cuda.is_available():  # `make bench` runs every bench on any machine
        print("bench_gpu_steps: skipped, no GPU here (torch.cuda.is_available() is False)")
        return
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}; one tiny kernel launch: "
          f"{launch_us():.1f} us", flush=True)
    config = get_shrink_config("gpu")
    phases = {p.name: p for p in config.phases}
    net = OFASupernet(config.space).to("cuda", memory_format=torch.channels_last).train()
    teacher = make_teacher(net, device="cuda")
    settings = [("default", False, False), ("cudnn.benchmark", True, False),
                ("bf16 autocast", True, True)]
    for name in args.phases:
        for label, benchmark, bf16 in settings:
            if bf16 and name != "largest":
                continue
            torch.backends.cudnn.benchmark = benchmark
            for batch in args.batches:
                times = time_phase_steps(net, replace(config, bf16=bf16), phases[name], batch,
                                         args.steps, random.Random(0), teacher=teacher)
                step = statistics.median(times)
                print(f"{name:9s} {label:16s} batch {batch:5d}: step {1e3 * step:7.1f} ms "
                      f"-> {batch / step:7.0f} img/s", flush=True)


if __name__ == "__main__":
    main()
