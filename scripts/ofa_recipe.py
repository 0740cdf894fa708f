"""Short, named experiments on the OFA training recipe (issue 9); one JSON line per run.

    python scripts/ofa_recipe.py list
    python scripts/ofa_recipe.py run L-base L-full-res     # appends to --results
    python scripts/ofa_recipe.py table L-base L-full-res   # markdown table of finished runs
    python scripts/ofa_recipe.py profile                   # where a training step spends time
    python scripts/ofa_recipe.py run X-scratch             # subnets trained alone, same epochs

Each experiment is a ``ShrinkConfig`` of a reduced budget, a training subset (``per_class``
images of each class of the 45,000-image training split; validation is always the
laptop preset's 5,000 held-out images, test the full 10,000) and, for the shrinking
experiments, a starting point: the final weights of another experiment, whose phases are
skipped. Runs go to ``$HWNAS_CACHE_DIR/recipe/<name>/`` and resume there when interrupted;
a finished run is not rerun (delete its folder).

The results line holds the config, the per-epoch log, validation and test accuracy of the
largest and smallest subnets (after BN recalibration; with the weight EMA on, of the raw
weights too), the wall and process CPU time and the load average before and after
(``os.getloadavg``), so that a run on a busy machine can be told apart. Time one at a time:

    OMP_WAIT_POLICY=PASSIVE python scripts/ofa_recipe.py run NAME
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from hwnas_lab.config import cache_dir
from hwnas_lab.ofa.checkpoint import (FINAL, LAST, checkpoint, load_checkpoint, save_checkpoint,
                                      supernet_from_checkpoint)
from hwnas_lab.ofa.recipe_runs import RECIPE_RUNS, load_runs
from hwnas_lab.ofa.schedule import Phase, ShrinkConfig, progressive_phases
from hwnas_lab.ofa.shrink import train_supernet
from hwnas_lab.space import get_space

SPACE = get_space("cpu")


@dataclass(frozen=True)
class Experiment:
    description: str  # the question it answers
    config: ShrinkConfig
    per_class: int | None = None  # training images per class (None: all 4,500)
    init: str | None = None  # start from this experiment's final weights ...
    init_phases: int = 0  # ... skipping this many phases of ``config`` (those it trained)


PROXY = 1500  # training images per class of the proxies (15,000 of the 45,000)


def largest_phase(epochs: int = 4, lr: float = 0.1, r: tuple[int, ...] | None = None,
                  warmup: float = 0.05, **config) -> ShrinkConfig:
    """Phase 1 alone (the largest network, no teacher) as the laptop preset trains it, with
    a weight EMA recorded beside the raw weights. ``warmup``: share of the phase's epochs
    spent warming up (laptop preset: 1 of 20 = 0.05). 4 epochs of 15,000 images: about 10
    minutes at the ~100 img/s that 2 cores of a Zen 3 EPYC train the largest subnet at."""
    phase = Phase("largest", epochs, lr, SPACE.ks_choices[-1:], SPACE.e_choices[-1:],
                  SPACE.d_choices[-1:], kd=0.0, warmup_epochs=warmup * epochs, r=r)
    return ShrinkConfig(**{"preset": "laptop", "phases": (phase,), "batch_size": 128,
                           "threads": 2, "ema_decay": 0.995, "eval_every": 4, **config})


FULL = (32,)
LARGEST = {
    "L-base": ("the laptop preset's phase 1: elastic r {24, 28, 32}, lr 0.1, batch 128, "
               "wd 5e-4, label smoothing 0.1", largest_phase()),
    "L-full-res": ("phase 1 at r=32 only", largest_phase(r=FULL)),
    "L-full-res-s1": ("L-full-res with seed 1 (seed noise)", largest_phase(r=FULL, seed=1)),
    "L-lr0.2": ("r=32, peak lr 0.2", largest_phase(r=FULL, lr=0.2)),
    "L-lr0.05": ("r=32, peak lr 0.05", largest_phase(r=FULL, lr=0.05)),
    "L-onecycle": ("r=32, lr 0.2 after a 30 % warm-up (one-cycle shape)",
                   largest_phase(r=FULL, lr=0.2, warmup=0.3)),
    "L-bs256": ("r=32, batch 256, lr 0.2", largest_phase(r=FULL, lr=0.2, batch_size=256)),
    "L-wd1e-4": ("r=32, weight decay 1e-4", largest_phase(r=FULL, weight_decay=1e-4)),
    "L-ls0": ("r=32, no label smoothing", largest_phase(r=FULL, label_smoothing=0.0)),
}

SHRINK_FROM = "L-full-res"  # the largest-phase proxy the shrinking proxies start from


def shrinking(epochs=(1, 1, 1, 1, 1), lrs=(0.03, 0.02, 0.03, 0.02, 0.03),
              n_subnets=(1, 2, 2, 2, 2), always: tuple[str, ...] = (), kd: float = 1.0,
              reorder: bool = True, phases: tuple[Phase, ...] | None = None,
              **config) -> ShrinkConfig:
    """The five shrinking phases after ``SHRINK_FROM``'s largest phase (which the run starts
    from): the laptop preset's phases at one epoch each (it has 5, 2, 4, 2, 5), its learning
    rates and subnets per step. ``always`` goes to the depth and expand phases; ``phases``
    replaces the five (an ablation of the schedule itself)."""
    first = LARGEST[SHRINK_FROM][1]
    if phases is None:
        phases = progressive_phases(SPACE, (first.phases[0].epochs, *epochs),
                                    (first.phases[0].lr, *lrs), (1, *n_subnets))[1:]
        phases = tuple(replace(p, kd=kd, reorder=p.reorder and reorder,
                               always=always if p.name.startswith(("depth", "expand")) else ())
                       for p in phases)
    return replace(first, phases=(first.phases[0], *phases), ema_decay=0.0, eval_every=100,
                   **config)


SHRINKING = {
    "S-base": ("shrinking as the laptop preset does it, one epoch per phase", shrinking()),
    "S-base-s1": ("S-base with seed 1 (noise of the sampled subnets and the data order)",
                  shrinking(seed=1)),
    "S-sandwich": ("S-base + the phase's smallest subnet in every depth/expand step",
                   shrinking(always=("smallest",))),
    "S-low-lr": ("S-base with 1/3 of the learning rates",
                 shrinking(lrs=(0.01, 0.007, 0.01, 0.007, 0.01))),
    "S-lr0.1": ("S-base with peak lr 0.1 in every shrinking phase (the largest phase's; "
                "S-base: 0.02-0.03)", shrinking(lrs=(0.1, 0.1, 0.1, 0.1, 0.1))),
    "S-sandwich-lr0.1": ("S-sandwich and S-lr0.1 together (do the two kept changes add up?)",
                         shrinking(lrs=(0.1, 0.1, 0.1, 0.1, 0.1), always=("smallest",))),
    "S-n1": ("S-base with one subnet per step in every phase (5 subnet-epochs against 9)",
             shrinking(n_subnets=(1, 1, 1, 1, 1))),
    "S-kd0": ("S-base without distillation", shrinking(kd=0.0)),
    "S-no-reorder": ("S-base without sorting channels by importance before expand-1",
                     shrinking(reorder=False)),
    "S-no-PS": ("no progressive shrinking: 5 epochs sampling the whole space, 2 subnets per "
                "step (S-base: 9 subnet-epochs, this 10), distilled, channels sorted first",
                shrinking(phases=(Phase("all", 5, 0.03, n_subnets=2, reorder=True),))),
}

# Architectures trained alone, each for as many epochs as a shrinking proxy's supernet had in
# all (L-full-res's 4 + 5), with phase 1's recipe, beside the same subnets of those supernets
# (BN recalibrated, no fine-tuning): OFA's central claim at the proxies' budget.
SCRATCH = {
    "X-scratch": ("the largest, the smallest and two random subnets, each trained alone for 9 "
                  "epochs with phase 1's recipe, against the same subnets of S-base and "
                  "S-sandwich", 9, ("S-base", "S-sandwich")),
}

EXPERIMENTS: dict[str, Experiment] = {
    **{n: Experiment(d, c, PROXY) for n, (d, c) in LARGEST.items()},
    **{n: Experiment(d, c, PROXY, init=SHRINK_FROM, init_phases=1) for n, (d, c) in SHRINKING.items()},
}


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=Path(__file__).resolve().parent).stdout.strip()
    except OSError:
        return "unknown"


def _seed_checkpoint(exp: Experiment, out: Path) -> None:
    """Write ``out/last.pt`` so that ``train_supernet(resume=True)`` starts at phase
    ``exp.init_phases`` from the final weights of experiment ``exp.init``."""
    src = cache_dir("recipe") / exp.init / FINAL
    if not src.exists():
        raise FileNotFoundError(f"experiment {exp.init!r} has not finished ({src} missing): "
                                f"run `python scripts/ofa_recipe.py run {exp.init}` first")
    net = supernet_from_checkpoint(load_checkpoint(src), where=f"checkpoint {src}")
    out.mkdir(parents=True, exist_ok=True)
    state = {"phase": exp.init_phases, "epoch": 0, "history": [], "elapsed_s": 0.0, "done": False}
    save_checkpoint(checkpoint(net, exp.config, state), out / LAST)


def _proxy_data(per_class: int | None):
    """The laptop preset's splits, the training split cut to ``per_class`` images per class."""
    from hwnas_lab.data import load_cifar10

    data = load_cifar10("laptop", progress=False)
    if per_class is not None:
        data = dataclasses.replace(data, train=data.train.subset(per_class, seed=0))
    return data


def _provenance(load_before: tuple, t0: float, cpu0) -> dict:
    """Wall and CPU time since ``t0``/``cpu0``, load, versions, machine, commit and date."""
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.perf_counter() - t0
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, "cpu_per_wall": cpu / wall,
            "load_before": load_before, "load_after": os.getloadavg(),
            "torch": torch.__version__, "machine": f"{platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} cores", "commit": _git_commit(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def run_scratch(name: str, results: Path, progress: bool = True) -> dict:
    """Train each architecture of ``SCRATCH[name]`` alone (one finished network per JSON file
    in the run folder, so an interruption loses at most the one in training), measure the
    same subnets of the supernets named there, append the results line and return it."""
    import random

    from hwnas_lab.blocks import arch_flops, build_net
    from hwnas_lab.ofa.shrink import evaluate_subnet
    from hwnas_lab.latency.table_file import write_json
    from hwnas_lab.train import TrainConfig, evaluate, seed_everything, train

    description, epochs, supernets = SCRATCH[name]
    source = LARGEST[SHRINK_FROM][1]  # phase 1's recipe, as the supernets' largest phase had it
    first = source.phases[0]
    cfg = TrainConfig(epochs=epochs, batch_size=source.batch_size, lr=first.lr,
                      warmup_epochs=first.warmup_epochs / first.epochs * epochs,
                      weight_decay=source.weight_decay, label_smoothing=source.label_smoothing,
                      seed=source.seed)
    nets = {}
    for s in supernets:
        path = cache_dir("recipe") / s / FINAL
        if not path.exists():
            raise FileNotFoundError(f"experiment {s!r} has not finished ({path} missing): run "
                                    f"`python scripts/ofa_recipe.py run {s}` first")
        nets[s] = supernet_from_checkpoint(load_checkpoint(path), where=f"checkpoint {path}")
    torch.set_num_threads(source.threads)
    data = _proxy_data(PROXY)
    rng = random.Random(0)
    archs = [("largest", SPACE.largest()), ("smallest", SPACE.smallest()),
             ("random-1", SPACE.sample(rng)), ("random-2", SPACE.sample(rng))]
    out = cache_dir("recipe") / name
    load_before, t0 = os.getloadavg(), time.perf_counter()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    rows = []
    for kind, arch in archs:
        done = out / f"{kind}.json"
        if done.exists():
            rows.append(json.loads(done.read_text()))
            continue
        seed_everything(cfg.seed)
        alone = build_net(SPACE, arch)
        start = time.perf_counter()
        history = train(alone, data.train, None, replace(cfg, resolution=arch.r), progress=progress)
        row = {"kind": kind, "arch": arch.to_dict(), "arch_str": str(arch),
               "mflops": arch_flops(SPACE, arch) / 1e6, "train_s": time.perf_counter() - start,
               "train_loss": history.train_loss,
               "test_acc_alone": evaluate(alone, data.test, resolution=arch.r)[1],
               "test_acc_supernet": {s: evaluate_subnet(n, arch, data.train, data.test,
                                                        source.recal_batches, seed=0)
                                     for s, n in nets.items()}}
        write_json(done, row)
        rows.append(row)
        print(f"{kind:9s} alone {100 * row['test_acc_alone']:.1f} %, "
              + ", ".join(f"{s} {100 * a:.1f} %" for s, a in row["test_acc_supernet"].items())
              + f" ({row['train_s'] / 60:.1f} min)")
    record = {"name": name, "description": description, "per_class": PROXY,
              "n_train": len(data.train), "epochs": epochs, "supernets": list(supernets),
              "train_config": dataclasses.asdict(cfg), "archs": rows,
              **_provenance(load_before, t0, cpu0)}
    results.parent.mkdir(parents=True, exist_ok=True)
    with open(results, "a") as f:
        f.write(json.dumps(record) + "\n")
    return record


def run(name: str, results: Path, progress: bool = True) -> dict:
    """Train experiment ``name`` (resuming its folder), append its results line, return it."""
    if name in SCRATCH:
        return run_scratch(name, results, progress)
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; `python scripts/ofa_recipe.py list` "
                         "shows them")
    exp = EXPERIMENTS[name]
    out = cache_dir("recipe") / name
    if (out / FINAL).exists():
        raise ValueError(f"{out} already holds a finished run; delete it to rerun {name}")
    data = _proxy_data(exp.per_class)
    resume = (out / LAST).exists()
    if exp.init is not None and not resume:
        _seed_checkpoint(exp, out)
        resume = True
    load_before, t0 = os.getloadavg(), time.perf_counter()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    final = train_supernet(exp.config, out, resume=resume, data=data, progress=progress,
                           device="cpu")
    spent = _provenance(load_before, t0, cpu0)
    last = final["history"][-1]
    row = {"name": name, "description": exp.description, "per_class": exp.per_class,
           "n_train": len(data.train), "init": exp.init,
           **{k: v for k, v in final.items() if k.startswith("test_acc")},
           **{k: v for k, v in last.items() if k.startswith("val_acc")},
           "train_s": sum(r["train_s"] for r in final["history"]), **spent,
           "config": exp.config.to_dict(), "history": final["history"]}
    wall, cpu = spent["wall_s"], spent["cpu_s"]
    results.parent.mkdir(parents=True, exist_ok=True)
    with open(results, "a") as f:
        f.write(json.dumps(row) + "\n")
    print(f"{name}: val largest {row['val_acc_largest']:.4f} smallest "
          f"{row['val_acc_smallest']:.4f}; test largest {row['test_acc_largest']:.4f} smallest "
          f"{row['test_acc_smallest']:.4f}; {wall / 60:.1f} min wall, cpu/wall {cpu / wall:.2f}, "
          f"load {load_before[0]:.2f} -> {row['load_after'][0]:.2f}")
    return row


def table(names: list[str], results: Path) -> str:
    """A markdown table of finished runs (the latest line of each name in ``results``)."""
    rows = load_runs(results)
    missing = [n for n in names if n not in rows]
    if missing:
        raise ValueError(f"no results yet for {missing} in {results}; run them first")
    pct = lambda v: "" if v is None else f"{100 * v:.1f}"  # noqa: E731
    out = ["| experiment | what changes | val largest % | val smallest % | test largest % | "
           "test smallest % | raw weights, val largest % | wall min | load before-after |",
           "|---|---|---|---|---|---|---|---|---|"]
    for n in names:
        r = rows[n]
        out.append(f"| {n} | {r['description']} | {pct(r['val_acc_largest'])} | "
                   f"{pct(r['val_acc_smallest'])} | {pct(r['test_acc_largest'])} | "
                   f"{pct(r['test_acc_smallest'])} | {pct(r.get('val_acc_largest_raw'))} | "
                   f"{r['wall_s'] / 60:.1f} | {r['load_before'][0]:.1f}-{r['load_after'][0]:.1f} |")
    return "\n".join(out)


def profile(threads: int, batch: int, repeats: int) -> None:
    """Where a training step of the largest subnet spends its time: the top operators of
    torch.profiler over ``repeats`` steps (the static network: plain convolutions), then
    depthwise convolutions alone at the widest expand ratio of each stage's map size: forward
    vs backward, channels_last vs NCHW, and forward + backward as the batched matmul of
    ``hwnas_lab.ofa.small_map_conv``."""
    import torch.nn.functional as F
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    from hwnas_lab.ofa import OFASupernet
    from hwnas_lab.ofa.small_map_conv import matmul_depthwise
    from hwnas_lab.stats import quartiles

    torch.set_num_threads(threads)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}, {threads} threads, batch {batch}, load {os.getloadavg()[0]:.2f}")
    torch.manual_seed(0)
    net = OFASupernet(SPACE).extract(SPACE.largest()).train().to(memory_format=torch.channels_last)
    X = torch.randn(batch, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(X), y).backward()
        opt.step()

    step()
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(repeats):
            step()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=8))

    def timed(fn) -> float:  # median ms of `repeats` calls after one warm-up
        fn()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(1e3 * (time.perf_counter() - t0))
        return quartiles(times)[1]

    e = max(SPACE.e_choices)
    for k in SPACE.ks_choices:
        for c, size in sorted({(slot.cin * e, slot.in_size)
                               for slot in SPACE.block_slots(32) if slot.index == 1}):
            for fmt in (torch.channels_last, torch.contiguous_format):
                x = torch.randn(batch, c, size, size).contiguous(memory_format=fmt)
                w = torch.randn(c, 1, k, k, requires_grad=True)
                xg = x.clone().requires_grad_()
                fwd = timed(lambda: F.conv2d(x, w, padding=k // 2, groups=c))
                both = timed(lambda: F.conv2d(xg, w, padding=k // 2, groups=c).sum().backward())
                name = "channels_last" if fmt is torch.channels_last else "NCHW"
                line = (f"depthwise {k}x{k}, {c:3d} channels, {size:2d} px, {name:13s}: forward "
                        f"{fwd:6.1f} ms, backward {both - fwd:6.1f} ms ({(both - fwd) / fwd:.1f}x)")
                if fmt is torch.channels_last:  # the batched-matmul form, forward + backward
                    mm = timed(lambda: matmul_depthwise(xg, w).sum().backward())
                    used = "used in training" if k > size else "not used"
                    line += f"; as a matmul {mm:6.1f} ms against {both:6.1f} ({used})"
                print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the experiments and what each asks")
    r = sub.add_parser("run", help="run experiments in turn; append one JSON line each")
    r.add_argument("names", nargs="+")
    r.add_argument("--results", type=Path, default=RECIPE_RUNS)
    r.add_argument("--no-progress", action="store_true")
    tb = sub.add_parser("table", help="markdown table of finished runs")
    tb.add_argument("names", nargs="+")
    tb.add_argument("--results", type=Path, default=RECIPE_RUNS)
    pr = sub.add_parser("profile", help="where a training step of the largest subnet spends time")
    pr.add_argument("--threads", type=int, default=2)
    pr.add_argument("--batch", type=int, default=128)
    pr.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if args.command == "list":
        for name, exp in EXPERIMENTS.items():
            data = "all" if exp.per_class is None else f"{exp.per_class}/class"
            epochs = sum(p.epochs for p in exp.config.phases[exp.init_phases:])
            start = f", from {exp.init}" if exp.init else ""
            print(f"{name:14s} {epochs:3d} epochs, {data}{start}: {exp.description}")
        for name, (description, epochs, _) in SCRATCH.items():
            print(f"{name:14s} {epochs:3d} epochs, {PROXY}/class: {description}")
    elif args.command == "table":
        print(table(args.names, args.results))
    elif args.command == "profile":
        profile(args.threads, args.batch, args.repeats)
    else:
        for name in args.names:
            run(name, args.results, progress=not args.no_progress)
    return 0


if __name__ == "__main__":
    sys.exit(main())
