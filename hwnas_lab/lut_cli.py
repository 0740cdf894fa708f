"""``python -m hwnas_lab lut build | show | validate``: latency tables from the command line.

Tables follow the protocol of :mod:`hwnas_lab.latency` and are stored by
:mod:`hwnas_lab.lut` (default: the cache folder, one file per space, target and threads).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from .config import get_preset
from .latency import get_target, machine_info
from .lut import LatencyTable, build_lut, lut_path, specs_of
from .space import get_space


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", default=None, help="search space (default: the preset's)")
    p.add_argument("--target", default="torch",
                   help="torch, torch-1thread, torch-allthreads, onnxruntime, cuda (default torch)")
    p.add_argument("--threads", type=int, default=None, help="intra-op threads (default: target's, else 1)")
    p.add_argument("--preset", default=None, help="smoke, laptop or gpu (default $HWNAS_PRESET or laptop)")
    p.add_argument("--out", "--path", dest="path", default=None,
                   help="table file (default: the cache, named by space, target and threads)")


def _resolve(args: argparse.Namespace):
    preset = get_preset(args.preset)
    space = get_space(args.space or preset.space)
    target = get_target(args.target, args.threads)
    path = Path(args.path) if args.path else lut_path(space, target)
    return preset, space, target, path


def cmd_build(args: argparse.Namespace) -> int:
    preset, space, target, path = _resolve(args)
    repeats = args.repeats if args.repeats is not None else preset.latency_repeats
    specs = None
    if args.archs is not None:  # only the operators of N random archs (a quick demo table)
        if args.archs < 1:
            raise ValueError(f"--archs must be >= 1, got {args.archs}")
        specs = specs_of(space, [space.sample(args.seed + i) for i in range(args.archs)])
    n_all = len(specs if specs is not None else space.all_layer_specs())
    print(f"building {path} ({space.name} space, {n_all} operators, target {target.name}, "
          f"{repeats} repeats; CPU {machine_info()['cpu']})")
    start = time.perf_counter()
    table = build_lut(space, target, repeats=repeats, warmup=args.warmup, specs=specs, path=path)
    print(f"{len(table.entries)} entries in {path}; this run took {time.perf_counter() - start:.1f} s")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    _, space, target, path = _resolve(args)
    table = LatencyTable.load(path)
    m = table.meta.get("machine", {})
    print(f"{path}\n  target {table.target}, space {table.space.name}, {len(table.entries)} of "
          f"{len(table.space.all_layer_specs())} operators; measured {m.get('date')} on {m.get('cpu')} "
          f"(torch {m.get('torch')}, onnxruntime {m.get('onnxruntime')})")
    print(f"  protocol: {table.meta.get('protocol')}; build time {table.meta.get('build_s', 0):.1f} s")
    if table.entries:
        keys = sorted(table.entries, key=table.entries.get, reverse=True)
        rel = [table.iqr_ms.get(k, np.nan) / table.entries[k] for k in keys]
        print(f"  median IQR/median over entries: {100 * np.nanmedian(rel):.1f} %")
        print(f"  the {min(args.top, len(keys))} slowest operators:")
        for k in keys[:args.top]:
            print(f"    {k:45s} {table.entries[k]:8.4f} ms  (IQR {table.iqr_ms.get(k, float('nan')):.4f})")
        full = set(s.signature for s in table.space.all_layer_specs()) <= set(table.entries)
        if full:
            print(f"  largest arch: {table.predict(table.space.largest()):.3f} ms predicted, "
                  f"smallest: {table.predict(table.space.smallest()):.3f} ms")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from .predictors import validate_table

    preset, space, target, path = _resolve(args)
    repeats = args.repeats if args.repeats is not None else preset.latency_repeats
    if not path.exists():  # build the operators of the archs we are about to measure
        print(f"no table at {path} yet: measuring the operators it needs first")
        table = build_lut(space, target, repeats=repeats, specs=[], path=path)
    else:
        table = LatencyTable.load(path, space=space, target=target)
    n = args.n if args.n is not None else max(8, 2 * preset.n_archs)
    val = validate_table(table, n_train=n // 2, n_test=n - n // 2, repeats=repeats,
                         warmup=args.warmup, seed=args.seed, noise_rounds=args.noise_rounds)
    print(f"machine: {machine_info()['cpu']}, {target.threads} thread(s)")
    print(val.report())
    print(f"best predictor: {val.best}")
    return 0


def add_commands(subparsers) -> None:
    lut = subparsers.add_parser("lut", help="latency lookup tables: build, show, validate")
    sub = lut.add_subparsers(dest="lut_command", required=True, metavar="ACTION")
    build = sub.add_parser("build", help="measure every operator of the space (resumes a partial table)")
    _common(build)
    build.add_argument("--repeats", type=int, default=None, help="samples per operator (default: preset's)")
    build.add_argument("--warmup", type=int, default=5, help="untimed calls before timing")
    build.add_argument("--archs", type=int, default=None,
                       help="only the operators of this many random archs (quick demo table)")
    build.add_argument("--seed", type=int, default=0, help="seed of those archs")
    build.set_defaults(func=cmd_build)
    show = sub.add_parser("show", help="metadata and slowest entries of a table")
    _common(show)
    show.add_argument("--top", type=int, default=10, help="entries to list")
    show.set_defaults(func=cmd_show)
    val = sub.add_parser("validate", help="measure random subnetworks end to end, score the predictors")
    _common(val)
    val.add_argument("--n", type=int, default=None, help="subnetworks (half to fit, half held out)")
    val.add_argument("--repeats", type=int, default=None, help="samples per measurement")
    val.add_argument("--warmup", type=int, default=5, help="untimed calls before timing")
    val.add_argument("--seed", type=int, default=0, help="seed of the random subnetworks")
    val.add_argument("--noise-rounds", type=int, default=3, help="rounds of the noise floor (0: skip)")
    val.set_defaults(func=cmd_validate)
