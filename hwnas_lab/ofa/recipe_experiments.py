"""The recipe experiments of issue 9: short, named training runs of the supernet, and the
subnets trained alone beside them; one JSON record per finished run.

Each experiment is a ``ShrinkConfig`` of a reduced budget, a training subset (``per_class``
images of each class of the 45,000-image training split; validation is always the
laptop preset's 5,000 held-out images, test the full 10,000) and, for the shrinking
experiments, a starting point: the final weights of another experiment, whose phases are
skipped. A run trains in ``<root>/<name>/`` (default ``$HWNAS_CACHE_DIR/recipe``) and
resumes there when interrupted; a finished run is not rerun (delete its folder).

The record holds the config, the per-epoch log, validation and test accuracy of the
largest and smallest subnets (after BN recalibration; with the weight EMA on, of the raw
weights too), the device, the wall and process CPU time and the load average before and
after (``os.getloadavg``), so that a run on a busy machine can be told apart.
``scripts/ofa_recipe.py`` is the command line over this module; notebook 05 reruns the
runs it shows with ``run_missing`` in the gpu preset. ``recipe_runs`` reads the records.
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from hwnas_lab.config import cache_dir, torch_threads
from hwnas_lab.latency.measure import cpu_model
from hwnas_lab.ofa.checkpoint import (FINAL, LAST, checkpoint, load_checkpoint, save_checkpoint,
                                      supernet_from_checkpoint)
from hwnas_lab.ofa.recipe_runs import load_runs
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
    "L-6ep": ("r=32, 6 epochs (the start of S-split-6-3)", largest_phase(epochs=6, r=FULL)),
    "L-8ep": ("r=32, 8 epochs (with L-full-res and L-6ep: accuracy against the phase's length)",
              largest_phase(epochs=8, r=FULL)),
    "L-base-8ep": ("L-base at 8 epochs (does r=32's lead over elastic resolution hold at "
                   "twice the budget?)", largest_phase(epochs=8)),
    "L-8ep-lr0.2": ("L-8ep at peak lr 0.2 (does L-lr0.2's lead hold at twice the budget?)",
                    largest_phase(epochs=8, r=FULL, lr=0.2)),
    "L-base-8ep-lr0.2": ("L-base-8ep at peak lr 0.2 (the start of S-elastic-8-3-sandwich-lr0.2)",
                         largest_phase(epochs=8, lr=0.2)),
    "L-base-10ep-lr0.2": ("L-base-8ep-lr0.2 at 10 epochs: about L-8ep-lr0.2's compute (a step at "
                          "r=32 costs 1.26 elastic ones)", largest_phase(epochs=10, lr=0.2)),
}

SHRINK_FROM = "L-full-res"  # the largest-phase proxy the shrinking proxies start from


def shrinking(epochs=(1, 1, 1, 1, 1), lrs=(0.03, 0.02, 0.03, 0.02, 0.03),
              n_subnets=(1, 2, 2, 2, 2), always: tuple[str, ...] = (), kd: float = 1.0,
              reorder: bool = True, phases: tuple[Phase, ...] | None = None,
              start: str = SHRINK_FROM, **config) -> ShrinkConfig:
    """The five shrinking phases after ``start``'s largest phase (which the run starts
    from): the laptop preset's phases at one epoch each (it has 5, 2, 4, 2, 5), its learning
    rates and subnets per step. ``always`` goes to the depth and expand phases; ``phases``
    replaces the five (an ablation of the schedule itself)."""
    first = LARGEST[start][1]
    if phases is None:
        phases = progressive_phases(SPACE, (first.phases[0].epochs, *epochs),
                                    (first.phases[0].lr, *lrs), (1, *n_subnets))[1:]
        phases = tuple(replace(p, kd=kd, reorder=p.reorder and reorder,
                               always=always if p.name.startswith(("depth", "expand")) else ())
                       for p in phases)
    return replace(first, phases=(first.phases[0], *phases), ema_decay=0.0, eval_every=100,
                   **config)


SANDWICH = ("smallest",)  # trained in every depth/expand step besides the random subnets


def three_phases(always: tuple[str, ...] = ()) -> tuple[Phase, ...]:
    """S-base's shrinking with each dimension opened in one step: kernel, then every depth,
    then every width (channels sorted first), one epoch each; ``always`` as in ``shrinking``."""
    kernel, _, depth, _, expand = shrinking(always=always).phases[1:]
    return kernel, depth, replace(expand, reorder=True)


def split_after(start: str, always: tuple[str, ...] = ()) -> tuple[ShrinkConfig, str]:
    """``three_phases(always)`` after the largest-phase experiment ``start``: the config and
    the experiment it starts from, as a SHRINKING entry takes them."""
    return shrinking(phases=three_phases(always), start=start), start


# name -> (the question, config[, the largest-phase experiment it starts from: SHRINK_FROM])
SHRINKING = {
    "S-base": ("shrinking as the laptop preset does it, one epoch per phase", shrinking()),
    "S-base-s1": ("S-base with seed 1 (noise of the sampled subnets and the data order)",
                  shrinking(seed=1)),
    "S-sandwich": ("S-base + the phase's smallest subnet in every depth/expand step",
                   shrinking(always=SANDWICH)),
    "S-low-lr": ("S-base with 1/3 of the learning rates",
                 shrinking(lrs=(0.01, 0.007, 0.01, 0.007, 0.01))),
    "S-lr0.1": ("S-base with peak lr 0.1 in every shrinking phase (the largest phase's; "
                "S-base: 0.02-0.03)", shrinking(lrs=(0.1, 0.1, 0.1, 0.1, 0.1))),
    "S-sandwich-lr0.1": ("S-sandwich and S-lr0.1 together (do the two kept changes add up?)",
                         shrinking(lrs=(0.1, 0.1, 0.1, 0.1, 0.1), always=SANDWICH)),
    "S-n1": ("S-base with one subnet per step in every phase (5 subnet-epochs against 9)",
             shrinking(n_subnets=(1, 1, 1, 1, 1))),
    "S-kd0": ("S-base without distillation", shrinking(kd=0.0)),
    "S-no-reorder": ("S-base without sorting channels by importance before expand-1",
                     shrinking(reorder=False)),
    "S-no-PS": ("no progressive shrinking: 5 epochs sampling the whole space, 2 subnets per "
                "step (S-base: 9 subnet-epochs, this 10), distilled, channels sorted first",
                shrinking(phases=(Phase("all", 5, 0.03, n_subnets=2, reorder=True),))),
    "S-split-6-3": ("the 9 epochs split 6 + 3 (S-base: 4 + 5): L-6ep, then one epoch each of "
                    "kernel, every depth, every width (5 subnet-epochs against S-base's 9)",
                    *split_after("L-6ep")),
    "S-split-6-3-sandwich": ("S-split-6-3 + the phase's smallest subnet in every depth/width "
                             "step (do the split and the sandwich rule add up?)",
                             *split_after("L-6ep", SANDWICH)),
    "S-split-8-3-sandwich": ("S-split-6-3-sandwich after L-8ep (11 epochs in all): what two more "
                             "largest-phase epochs give each subnet",
                             *split_after("L-8ep", SANDWICH)),
    "S-elastic-8-3-sandwich": ("S-split-8-3-sandwich after L-base-8ep (elastic resolution in the "
                               "largest phase, the faster per minute): about S-split-6-3-"
                               "sandwich's training time",
                               *split_after("L-base-8ep", SANDWICH)),
    "S-split-8-3-sandwich-lr0.2": ("S-split-8-3-sandwich after L-8ep-lr0.2: every change kept "
                                   "so far, together",
                                   *split_after("L-8ep-lr0.2", SANDWICH)),
    "S-elastic-8-3-sandwich-lr0.2": ("S-split-8-3-sandwich-lr0.2 with elastic resolution in the "
                                     "largest phase (the better per minute)",
                                     *split_after("L-base-8ep-lr0.2", SANDWICH)),
    "S-elastic-10-3-sandwich-lr0.2": ("S-elastic-8-3-sandwich-lr0.2 with the compute elastic "
                                      "resolution saves spent on two more epochs of phase 1: "
                                      "against S-split-8-3-sandwich-lr0.2 at about equal compute",
                                      *split_after("L-base-10ep-lr0.2", SANDWICH)),
    "S-elastic-8-3-sandwich2-lr0.2": ("S-elastic-8-3-sandwich-lr0.2 with the largest subnet "
                                      "also trained in every depth/width step (does it keep "
                                      "the largest's accuracy through shrinking?)",
                                      *split_after("L-base-8ep-lr0.2", ("largest", "smallest"))),
    "S-elastic-8-all-sandwich-lr0.2": ("S-elastic-8-3-sandwich-lr0.2 without progressive "
                                       "shrinking: 3 epochs sampling the whole space, 2 random "
                                       "subnets and the smallest per step, channels sorted first",
                                       shrinking(phases=(Phase("all", 3, 0.03, n_subnets=2,
                                                               reorder=True, always=SANDWICH),),
                                                 start="L-base-8ep-lr0.2"), "L-base-8ep-lr0.2"),
}

# Architectures trained alone, each for as many epochs as a shrinking proxy's supernet had in
# all (L-full-res's 4 + 5), with phase 1's recipe, beside the same subnets of those supernets
# (BN recalibrated, no fine-tuning): OFA's central claim at the proxies' budget.
SCRATCH = {
    "X-scratch": ("the largest, the smallest and two random subnets, each trained alone for 9 "
                  "epochs with phase 1's recipe, against the same subnets of S-base and "
                  "S-sandwich", 9, ("S-base", "S-sandwich")),
}


def full_budget(epochs: int) -> ShrinkConfig:
    """Every kept change on all 45,000 training images: ``epochs`` of phase 1 (elastic
    resolution, peak lr 0.2), then ``three_phases(SANDWICH)``; validation every 4
    epochs, no weight EMA (it gained nothing at the end of a cosine schedule)."""
    first = largest_phase(epochs=epochs, lr=0.2, ema_decay=0.0, eval_every=4)
    return replace(first, phases=(first.phases[0], *three_phases(SANDWICH)))


# runs on the full training split, sized for the laptop preset's 90 minutes on 2 cores
FULL_DATA = {
    "F-elastic-12-3-sandwich-lr0.2": ("S-elastic-8-3-sandwich-lr0.2 on all 45,000 images with "
                                      "12 epochs of phase 1: the best recipe of the proxies "
                                      "within 90 minutes of this machine", full_budget(12)),
}

EXPERIMENTS: dict[str, Experiment] = {
    **{n: Experiment(d, c, PROXY) for n, (d, c) in LARGEST.items()},
    **{n: Experiment(d, c, PROXY, init=start[0] if start else SHRINK_FROM, init_phases=1)
       for n, (d, c, *start) in SHRINKING.items()},
    **{n: Experiment(d, c) for n, (d, c) in FULL_DATA.items()},
}


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=Path(__file__).resolve().parent).stdout.strip()
    except OSError:
        return "unknown"


def _device(device: str | None) -> torch.device:
    """``device``, or the GPU when there is one (as ``train_supernet`` picks)."""
    picked = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if picked.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asks for a GPU, but torch.cuda.is_available() is "
                         "False on this machine; use device 'cpu'")
    return picked


def _finished_supernet(name: str, root: Path):
    """The final weights of experiment ``name`` under ``root``; a clear error if not there."""
    path = root / name / FINAL
    if not path.exists():
        raise FileNotFoundError(f"experiment {name!r} has not finished ({path} missing): run "
                                f"`python scripts/ofa_recipe.py run {name}` first")
    return supernet_from_checkpoint(load_checkpoint(path), where=f"checkpoint {path}")


def _seed_checkpoint(exp: Experiment, out: Path, root: Path) -> None:
    """Write ``out/last.pt`` so that ``train_supernet(resume=True)`` starts at phase
    ``exp.init_phases`` from the final weights of experiment ``exp.init``."""
    net = _finished_supernet(exp.init, root)
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


def _start() -> tuple:
    """The load average, wall clock and this process's CPU usage now, for ``_provenance``."""
    return os.getloadavg(), time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)


def _provenance(start: tuple, device: torch.device) -> dict:
    """Wall and CPU time since ``start`` (``_start``), load before and after, versions,
    machine, commit and date."""
    load_before, t0, cpu0 = start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.perf_counter() - t0
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    machine = f"{cpu_model()}, {os.cpu_count()} cores"
    if device.type == "cuda":
        machine += f", {torch.cuda.get_device_name(device)}"
    return {"wall_s": wall, "cpu_s": cpu, "cpu_per_wall": cpu / wall,
            "load_before": load_before, "load_after": os.getloadavg(),
            "torch": torch.__version__, "machine": machine, "device": device.type,
            "commit": _git_commit(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def _append(results: Path, record: dict) -> None:
    """Add ``record`` as one JSON line to ``results`` (``recipe_runs.load_runs`` reads it)."""
    results.parent.mkdir(parents=True, exist_ok=True)
    with open(results, "a") as f:
        f.write(json.dumps(record) + "\n")


def run_scratch(name: str, results: Path, progress: bool = True, device: str | None = "cpu",
                root: Path | None = None) -> dict:
    """Train each architecture of ``SCRATCH[name]`` alone (one finished network per JSON file
    in the run folder, so an interruption loses at most the one in training), measure the
    same subnets of the supernets named there, append the results line and return it."""
    import random

    from hwnas_lab.blocks import arch_flops, build_net
    from hwnas_lab.latency.table_file import write_json
    from hwnas_lab.ofa.shrink import evaluate_subnet
    from hwnas_lab.train import TrainConfig, evaluate, seed_everything, train

    root, device = Path(root or cache_dir("recipe")), _device(device)
    description, epochs, supernets = SCRATCH[name]
    source = LARGEST[SHRINK_FROM][1]  # phase 1's recipe, as the supernets' largest phase had it
    first = source.phases[0]
    cfg = TrainConfig(epochs=epochs, batch_size=source.batch_size, lr=first.lr,
                      warmup_epochs=first.warmup_epochs / first.epochs * epochs,
                      weight_decay=source.weight_decay, label_smoothing=source.label_smoothing,
                      seed=source.seed)
    nets = {s: _finished_supernet(s, root) for s in supernets}
    data = _proxy_data(PROXY)
    rng = random.Random(0)
    archs = [("largest", SPACE.largest()), ("smallest", SPACE.smallest()),
             ("random-1", SPACE.sample(rng)), ("random-2", SPACE.sample(rng))]
    out = root / name
    run_start = _start()
    rows = []
    with torch_threads(source.threads):
        for kind, arch in archs:
            done = out / f"{kind}.json"
            if done.exists():
                rows.append(json.loads(done.read_text()))
                continue
            seed_everything(cfg.seed)
            alone = build_net(SPACE, arch)
            start = time.perf_counter()
            history = train(alone, data.train, None, replace(cfg, resolution=arch.r),
                            progress=progress, device=device)
            train_s = time.perf_counter() - start
            row = {"kind": kind, "arch": arch.to_dict(), "arch_str": str(arch),
                   "mflops": arch_flops(SPACE, arch) / 1e6, "train_s": train_s,
                   "train_loss": history.train_loss,
                   "test_acc_alone": evaluate(alone, data.test, resolution=arch.r,
                                              device=device)[1],
                   "test_acc_supernet": {s: evaluate_subnet(n, arch, data.train, data.test,
                                                            source.recal_batches, seed=0,
                                                            device=device)
                                         for s, n in nets.items()}}
            write_json(done, row)
            rows.append(row)
            print(f"{kind:9s} alone {100 * row['test_acc_alone']:.1f} %, "
                  + ", ".join(f"{s} {100 * a:.1f} %" for s, a in row["test_acc_supernet"].items())
                  + f" ({row['train_s'] / 60:.1f} min)")
    record = {"name": name, "description": description, "per_class": PROXY,
              "n_train": len(data.train), "epochs": epochs, "supernets": list(supernets),
              "train_config": dataclasses.asdict(cfg), "archs": rows,
              **_provenance(run_start, device)}
    _append(results, record)
    return record


def run(name: str, results: Path, progress: bool = True, device: str | None = "cpu",
        root: Path | None = None) -> dict:
    """Train experiment ``name`` in ``root/name`` (resuming it), append its record to
    ``results`` and return it. ``device`` None: the GPU when there is one."""
    if name in SCRATCH:
        return run_scratch(name, results, progress, device, root)
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; `python scripts/ofa_recipe.py list` "
                         "shows them")
    root, device = Path(root or cache_dir("recipe")), _device(device)
    exp = EXPERIMENTS[name]
    out = root / name
    if (out / FINAL).exists():
        raise ValueError(f"{out} already holds a finished run; delete it to rerun {name}")
    data = _proxy_data(exp.per_class)
    resume = (out / LAST).exists()
    if exp.init is not None and not resume:
        _seed_checkpoint(exp, out, root)
        resume = True
    run_start = _start()
    final = train_supernet(exp.config, out, resume=resume, data=data, progress=progress,
                           device=str(device))
    spent = _provenance(run_start, device)
    last = final["history"][-1]
    row = {"name": name, "description": exp.description, "per_class": exp.per_class,
           "n_train": len(data.train), "init": exp.init,
           **{k: v for k, v in final.items() if k.startswith("test_acc")},
           **{k: v for k, v in last.items() if k.startswith("val_acc")},
           "train_s": sum(r["train_s"] for r in final["history"]), **spent,
           "config": exp.config.to_dict(), "history": final["history"]}
    _append(results, row)
    wall, cpu = spent["wall_s"], spent["cpu_s"]
    print(f"{name}: val largest {row['val_acc_largest']:.4f} smallest "
          f"{row['val_acc_smallest']:.4f}; test largest {row['test_acc_largest']:.4f} smallest "
          f"{row['test_acc_smallest']:.4f}; {wall / 60:.1f} min wall, cpu/wall {cpu / wall:.2f}, "
          f"load {row['load_before'][0]:.2f} -> {row['load_after'][0]:.2f}")
    return row


def with_dependencies(names) -> list[str]:
    """``names`` in an order that runs each experiment after the ones it starts from (a
    shrinking run after its largest phase, subnets alone after their supernets)."""
    order: list[str] = []

    def add(name: str) -> None:
        if name in order:
            return
        if name in SCRATCH:
            needs = SCRATCH[name][2]
        elif name in EXPERIMENTS:
            needs = (EXPERIMENTS[name].init,) if EXPERIMENTS[name].init else ()
        else:
            raise ValueError(f"unknown experiment {name!r}; `python scripts/ofa_recipe.py list` "
                             "shows them")
        for need in needs:
            add(need)
        order.append(name)

    for name in names:
        add(name)
    return order


def run_missing(names, results: Path, progress: bool = True, device: str | None = None,
                root: Path | None = None) -> dict[str, dict]:
    """Run those of ``names`` (and of the experiments they start from) that ``results`` holds
    no record of, in dependency order; return every record of ``results``. Rerunning after
    an interruption skips the finished runs and resumes the one in progress."""
    results = Path(results)
    done = load_runs(results) if results.exists() else {}
    for name in with_dependencies(names):
        if name not in done:
            done[name] = run(name, results, progress, device, root)
    return load_runs(results)
