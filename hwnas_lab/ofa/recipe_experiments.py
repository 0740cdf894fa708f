"""Running issue 9's recipe experiments (``recipe_catalog``: short, named training runs of
the supernet, and the subnets trained alone beside them); one JSON record per finished run.

Validation is always the laptop preset's 5,000 held-out images, test the full 10,000;
training uses the experiment's share of the 45,000-image training split. A run trains in
``<root>/<name>/`` (default ``$HWNAS_CACHE_DIR/recipe``) and resumes there when
interrupted; a finished run is not rerun (delete its folder).

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
import random
import resource
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import torch

from hwnas_lab.config import cache_dir, check_int, torch_threads
from hwnas_lab.latency.measure import cpu_model
from hwnas_lab.ofa.checkpoint import (FINAL, LAST, SHIPPED_DIR, checkpoint, load_checkpoint,
                                      load_supernet, save_checkpoint, supernet_from_checkpoint)
from hwnas_lab.ofa.recipe_catalog import EXPERIMENTS, SHIPPED_SUPERNET, SPACE, Experiment
from hwnas_lab.ofa.recipe_runs import load_runs
from hwnas_lab.ofa.recipe_scratch import SCRATCH
from hwnas_lab.ofa.shrink import train_supernet


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
    ``exp.init_phases`` from the final weights of experiment ``exp.init`` (or the shipped
    supernet), with that run's teacher when it had one (the shipped file keeps none)."""
    net = _supernet(exp.init, root)
    teacher, last = None, root / exp.init / LAST
    if exp.init != SHIPPED_SUPERNET and last.exists():
        teacher = load_checkpoint(last).get("teacher")
    out.mkdir(parents=True, exist_ok=True)
    state = {"phase": exp.init_phases, "epoch": 0, "history": [], "elapsed_s": 0.0, "done": False}
    save_checkpoint(checkpoint(net, exp.config, state, teacher=teacher), out / LAST)


def _proxy_data(per_class: int | None):
    """The laptop preset's splits, the training split cut to ``per_class`` images per class."""
    from hwnas_lab.data import load_cifar10

    data = load_cifar10("laptop", progress=False)
    if per_class is not None:
        data = dataclasses.replace(data, train=data.train.subset(per_class, seed=0))
    return data


def _start() -> tuple:
    """The load average, wall clock, this process's CPU usage and the checked-out commit
    now (the code that runs: later commits during a long run do not change it), for
    ``_provenance``."""
    return (os.getloadavg(), time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF),
            _git_commit())


def _provenance(start: tuple, device: torch.device) -> dict:
    """Wall and CPU time since ``start`` (``_start``), load before and after, versions,
    machine, the commit at the start and the date at the end."""
    load_before, t0, cpu0, commit = start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.perf_counter() - t0
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, "cpu_per_wall": cpu / wall,
            "load_before": load_before, "load_after": os.getloadavg(),
            "torch": torch.__version__, "machine": _machine(device), "device": device.type,
            "commit": commit, "date": _now()}


def _machine(device: torch.device) -> str:
    machine = f"{cpu_model()}, {os.cpu_count()} cores"
    if device.type == "cuda":
        machine += f", {torch.cuda.get_device_name(device)}"
    return machine


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def _append(results: Path, record: dict) -> None:
    """Add ``record`` as one JSON line to ``results`` (``recipe_runs.load_runs`` reads it)."""
    results.parent.mkdir(parents=True, exist_ok=True)
    with open(results, "a") as f:
        f.write(json.dumps(record) + "\n")


def _supernet(name: str, root: Path):
    """A ``Scratch.supernets`` entry: the shipped supernet, or a finished experiment's."""
    if name == SHIPPED_SUPERNET:
        return load_supernet(SHIPPED_DIR / name)
    return _finished_supernet(name, root)


def scratch_archs() -> dict:
    """The architectures every ``SCRATCH`` baseline trains alone: the largest, the smallest
    and two drawn with ``random.Random(0)``."""
    rng = random.Random(0)
    return {"largest": SPACE.largest(), "smallest": SPACE.smallest(),
            "random-1": SPACE.sample(rng), "random-2": SPACE.sample(rng)}


def _test_accuracies(nets: dict, arch, data, recal_batches: int, device) -> dict[str, float]:
    """Test accuracy of ``arch`` in each supernet of ``nets`` (name -> supernet), BN
    recalibrated on ``recal_batches`` training batches drawn with seed 0."""
    from hwnas_lab.ofa.shrink import evaluate_subnet

    return {name: evaluate_subnet(net, arch, data.train, data.test, recal_batches, seed=0,
                                  device=device) for name, net in nets.items()}


def compare_subnets(names: list[str], draws: int = 8, seed: int = 2026,
                    root: Path | None = None, device: str | None = "cpu") -> list[dict]:
    """The same subnets measured in several supernets (finished experiments or
    ``SHIPPED_SUPERNET``): test accuracy on all 10,000 images after BN recalibration (10
    batches, seed 0) of ``scratch_archs`` and ``draws`` more drawn with
    ``random.Random(seed)``. What a change of recipe costs the subnets between the largest
    and the smallest, which the targets do not see. One dict per subnet: kind, arch, then
    one accuracy per name."""
    check_int("draws", draws, minimum=0)
    root, device = Path(root or cache_dir("recipe")), _device(device)
    nets = {n: _supernet(n, root).to(device) for n in names}
    data = _proxy_data(None)
    rng = random.Random(seed)
    archs = {**scratch_archs(), **{f"draw-{i + 1}": SPACE.sample(rng) for i in range(draws)}}
    rows = []
    with torch_threads(2):
        for kind, arch in archs.items():
            rows.append({"kind": kind, "arch": str(arch),
                         **_test_accuracies(nets, arch, data, 10, device)})
    return rows


def run_scratch(name: str, results: Path, progress: bool = True, device: str | None = "cpu",
                root: Path | None = None) -> dict:
    """Train each architecture of ``SCRATCH[name]`` alone, the cheapest first (one finished
    network per JSON file in the run folder, with its own machine, date and load, so a run
    can be finished in a later session from the files; the network in training keeps a
    checkpoint of its last epoch and the machine of each session that trained it, so an
    interruption loses at most one epoch), measure the same subnets of its supernets, append
    the results line and return it."""
    from hwnas_lab.blocks import arch_flops, build_net
    from hwnas_lab.latency.table_file import write_json
    from hwnas_lab.train import TrainConfig, evaluate, seed_everything, train

    root, device = Path(root or cache_dir("recipe")), _device(device)
    spec = SCRATCH[name]
    recipe, first = spec.recipe, spec.recipe.phases[0]
    cfg = TrainConfig(epochs=spec.epochs, batch_size=recipe.batch_size, lr=first.lr,
                      warmup_epochs=first.warmup_epochs / first.epochs * spec.epochs,
                      weight_decay=recipe.weight_decay, label_smoothing=recipe.label_smoothing,
                      crop_padding=recipe.crop_padding, seed=recipe.seed)
    nets = {s: _supernet(s, root) for s in spec.supernets}
    data = _proxy_data(spec.per_class)
    archs = scratch_archs()
    out = root / name
    run_start = _start()
    rows = {}
    with torch_threads(recipe.threads):
        for kind, arch in sorted(archs.items(), key=lambda ka: arch_flops(SPACE, ka[1])):
            done = out / f"{kind}.json"
            if done.exists():
                rows[kind] = json.loads(done.read_text())
                continue
            seed_everything(cfg.seed)
            alone = build_net(SPACE, arch)
            net_start = _start()
            checkpoint, sessions = out / f"{kind}.partial.pt", out / f"{kind}.sessions.json"
            trained_in = json.loads(sessions.read_text()) if sessions.exists() else []
            trained_in.append({"machine": _machine(device), "commit": net_start[3],
                               "started": _now()})
            write_json(sessions, trained_in)
            history = train(alone, data.train, None, replace(cfg, resolution=arch.r),
                            progress=progress, device=device, checkpoint=checkpoint)
            row = {"kind": kind, "arch": arch.to_dict(), "arch_str": str(arch),
                   "mflops": arch_flops(SPACE, arch) / 1e6,
                   "train_s": sum(history.seconds),  # over every session, when resumed
                   "train_loss": history.train_loss, "epoch_s": history.seconds,
                   "resumed_at": history.resumed_at, "sessions": trained_in,
                   "test_acc_alone": evaluate(alone, data.test, resolution=arch.r,
                                              device=device)[1],
                   "test_acc_supernet": _test_accuracies(nets, arch, data,
                                                         recipe.recal_batches, device),
                   **_provenance(net_start, device)}  # wall_s: training and the test evaluations
            write_json(done, row)
            checkpoint.unlink(missing_ok=True)
            sessions.unlink()
            rows[kind] = row
            print(f"{kind:9s} alone {100 * row['test_acc_alone']:.1f} %, "
                  + ", ".join(f"{s} {100 * a:.1f} %" for s, a in row["test_acc_supernet"].items())
                  + f" ({row['train_s'] / 60:.1f} min)")
    record = {"name": name, "description": spec.description, "per_class": spec.per_class,
              "n_train": len(data.train), "epochs": spec.epochs, "supernets": list(spec.supernets),
              "train_config": dataclasses.asdict(cfg), "archs": [rows[k] for k in archs],
              **_provenance(run_start, device)}
    _append(results, record)
    return record


def remeasure_supernets(name: str, results: Path, device: str | None = "cpu",
                        root: Path | None = None) -> dict:
    """The networks of the finished baseline ``name`` (its latest record in ``results``)
    against the same subnets of its supernets as they are now, e.g. a reshipped
    ``laptop.pt``: only the supernets' side is measured again (test split, BN recalibrated
    as ``run_scratch`` does), the networks alone are not retrained. Appends the record with
    the new ``test_acc_supernet`` of each architecture, the earlier ones kept as
    ``test_acc_supernet_before``, the catalog's description now and ``supernets_measured``
    (when, where, how long); returns it."""
    if name not in SCRATCH:
        raise ValueError(f"{name!r} is not a baseline of networks trained alone; those are "
                         f"{sorted(SCRATCH)}")
    record = load_runs(results).get(name) if Path(results).exists() else None
    if record is None:
        raise ValueError(f"no record of {name} in {results}: train its networks first with "
                         f"`python scripts/ofa_recipe.py run {name}`")
    root, device = Path(root or cache_dir("recipe")), _device(device)
    spec, archs = SCRATCH[name], scratch_archs()
    nets = {s: _supernet(s, root).to(device) for s in spec.supernets}
    data = _proxy_data(None)  # the test split, and training images to recalibrate BN
    start = _start()
    rows = []
    with torch_threads(spec.recipe.threads):
        for row in record["archs"]:
            arch = archs[row["kind"]]
            if str(arch) != row["arch_str"]:
                raise ValueError(f"{name}'s {row['kind']} was {row['arch_str']}, the catalog "
                                 f"draws {arch} now: the record is from another space or seed")
            rows.append({**row, "test_acc_supernet_before": row["test_acc_supernet"],
                         "test_acc_supernet": _test_accuracies(
                             nets, arch, data, spec.recipe.recal_batches, device)})
    remeasured = {**record, "description": spec.description, "supernets": list(spec.supernets),
                  "archs": rows, "supernets_measured": _provenance(start, device)}
    _append(Path(results), remeasured)
    for row in rows:
        print(f"{row['kind']:9s} alone {100 * row['test_acc_alone']:.1f} %, "
              + ", ".join(f"{s} {100 * row['test_acc_supernet_before'][s]:.1f} -> "
                          f"{100 * a:.1f} %" for s, a in row["test_acc_supernet"].items()))
    return remeasured


def train_whole(name: str, out: Path, resume: bool = False, progress: bool = True,
                device: str | None = "cpu") -> dict:
    """Train experiment ``name`` from random weights on all 45,000 images in the folder
    ``out``, as ``ofa train`` trains a preset (under ``torchrun`` in several processes), and
    return the final checkpoint; no record is appended (the runs RECIPE.md times whole)."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; `python scripts/ofa_recipe.py list` "
                         "shows them")
    exp = EXPERIMENTS[name]
    if exp.init is not None or exp.per_class is not None:
        start = f"starts from {exp.init}'s weights" if exp.init else \
            f"trains on {exp.per_class} images per class"
        raise ValueError(f"{name} {start}; only an experiment trained whole from random "
                         f"weights on all images can run this way: `python "
                         f"scripts/ofa_recipe.py run {name}`")
    return train_supernet(exp.config, out, resume=resume, progress=progress, device=device)


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
            needs = tuple(s for s in SCRATCH[name].supernets if s != SHIPPED_SUPERNET)
        elif name in EXPERIMENTS:
            init = EXPERIMENTS[name].init
            needs = (init,) if init and init != SHIPPED_SUPERNET else ()
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
