"""A preset's whole wall time, from one real epoch of each of its phases.

``ofa bench --estimate`` times a few CPU steps on random images. This trains for real, on
any device: the preset's config with every phase cut to ``--epochs`` epochs (the same data,
batch, subnets, teacher, resolutions and validations; only the learning-rate schedules are
shortened), in a throwaway run folder. Each phase's last epoch of training, scaled to the
phase's epochs in the preset, plus the validations and the final test at their measured
cost, is the estimate; loading the data is timed apart (once per run, and cached after).
Made for the gpu preset, which a CPU cannot time:

    python scripts/time_preset_epochs.py --preset gpu --device cuda --out /tmp/gpu-epochs

Prints one line per phase and the total, and writes them to ``estimate.json`` in ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from hwnas_lab.config import atomic_path
from hwnas_lab.data import load_cifar10
from hwnas_lab.ofa.schedule import SHRINK_PRESETS, ShrinkConfig, get_shrink_config
from hwnas_lab.ofa.shrink import train_supernet


def cut_phases(config: ShrinkConfig, epochs: int) -> ShrinkConfig:
    """``config`` with every phase ``epochs`` long (warm-up shortened to fit)."""
    return replace(config, phases=tuple(
        replace(p, epochs=epochs, warmup_epochs=min(p.warmup_epochs, epochs / 2))
        for p in config.phases))


def extrapolate(config: ShrinkConfig, history: list[dict], finish_s: float) -> dict:
    """The full ``config``'s wall time (s) from ``history``: the cut run's per-epoch log,
    each phase's last row holding ``train_s`` (training) and ``epoch_s`` (training and one
    validation). ``finish_s``: the rest of the cut run (setup, the final test, saving)."""
    last = {row["phase"]: row for row in history}
    phases, val_s = [], []
    for phase in config.phases:
        row = last[phase.name]
        val_s.append(row["epoch_s"] - row["train_s"])
        phases.append({"phase": phase.name, "epochs": phase.epochs, "epoch_s": row["train_s"],
                       "img_s": row["images_per_s"], "train_s": row["train_s"] * phase.epochs})
    validation_s = sorted(val_s)[len(val_s) // 2]  # median over the phases' validations
    train_total = sum(p["train_s"] for p in phases)
    eval_total = validation_s * config.validations() + finish_s
    return {"preset": config.preset, "phases": phases, "validation_s": validation_s,
            "validations": config.validations(), "finish_s": finish_s,
            "train_s": train_total, "eval_s": eval_total, "total_s": train_total + eval_total}


def format_extrapolation(est: dict) -> str:
    n = est.get("epochs_timed", 1)
    timed = "one measured epoch" if n == 1 else f"the last of {n} measured epochs"
    lines = [f"preset {est['preset']}, from {timed} per phase:"]
    for p in est["phases"]:
        lines.append(f"  {p['phase']:9s} {p['epochs']:4d} epochs x {p['epoch_s']:7.1f} s "
                     f"({p['img_s']:6.0f} img/s)  -> {p['train_s'] / 60:6.1f} min")
    lines.append(f"  validations {est['validations']} x {est['validation_s']:.1f} s; setup, test "
                 f"and saving {est['finish_s']:.1f} s -> {est['eval_s'] / 60:.1f} min")
    lines.append(f"  total ~ {est['total_s'] / 60:.1f} min (data loading apart)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="gpu", choices=sorted(SHRINK_PRESETS))
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    parser.add_argument("--epochs", type=int, default=1,
                        help="epochs per phase (the last is timed)")
    parser.add_argument("--out", required=True, help="a new, throwaway run folder")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        parser.error(f"--out {out} is not empty; give a new folder (the cut run is thrown away)")
    config = get_shrink_config(args.preset)
    t0 = time.perf_counter()
    data = load_cifar10(config.preset, progress=False)
    load_s = time.perf_counter() - t0
    print(f"data: {len(data.train)} / {len(data.val)} / {len(data.test)} images loaded in "
          f"{load_s:.1f} s", flush=True)
    cut = cut_phases(config, args.epochs)
    final = train_supernet(cut, out, data=data, progress=False, device=args.device)
    history = final["history"]
    # the rest of the run's wall time: building the supernet, the test at the end, saving
    finish_s = max(0.0, (time.perf_counter() - t0 - load_s) - sum(r["epoch_s"] for r in history))
    est = extrapolate(config, history, finish_s)
    est.update({"device": args.device, "epochs_timed": args.epochs, "load_s": load_s,
                "cut_test_acc": {k: final[k] for k in final if k.startswith("test_acc_")}})
    print(format_extrapolation(est))
    with atomic_path(out / "estimate.json") as tmp:
        tmp.write_text(json.dumps(est, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
