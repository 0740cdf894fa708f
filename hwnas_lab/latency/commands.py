"""``python -m hwnas_lab lut build | show | validate``: latency tables from the command line.

Tables follow the protocol of :mod:`hwnas_lab.latency.measure` and are stored by
:mod:`hwnas_lab.latency.lut` (default: the cache folder, one file per space, target and
threads; ``--table FILE`` for another place).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from ..flags import (add_preset, add_space, add_table, add_target, int_at_least, nonnegative_int,
                     positive_int, preset_and_space)
from .lut import LatencyTable, get_lut, lut_path, specs_of
from .table_file import protocol_text
from .measure import get_target, machine_info
from .predictors import validate_table


def _common(p: argparse.ArgumentParser) -> None:
    add_preset(p)
    add_space(p)
    add_target(p)
    add_table(p)


def _resolve(args: argparse.Namespace):
    preset, space = preset_and_space(args)
    target = get_target(args.target, args.threads)
    path = Path(args.table) if args.table else lut_path(space, target)
    return preset, space, target, path


def cmd_build(args: argparse.Namespace) -> int:
    preset, space, target, path = _resolve(args)
    repeats = args.repeats
    if repeats is None and not path.exists():  # a new table: the preset's; else the table's
        repeats = preset.latency_repeats
    specs = None
    if args.archs is not None:  # only the operators of N random archs (a quick demo table)
        specs = specs_of(space, [space.sample(args.seed + i) for i in range(args.archs)])
    n_all = len(specs if specs is not None else space.all_layer_specs())
    print(f"building {path} ({space.name} space, {n_all} operators, target {target.name}; "
          f"CPU {machine_info()['cpu']})")
    start = time.perf_counter()
    table = get_lut(space, target, repeats=repeats, warmup=args.warmup, specs=specs, path=path,
                    force=args.force)
    print(f"{len(table.entries)} entries in {path}, measured with "
          f"{protocol_text(table.protocol)}; this run took {time.perf_counter() - start:.1f} s")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    _, space, target, path = _resolve(args)
    explicit = args.space is not None or args.preset is not None
    table = LatencyTable.load(path, space=space if explicit else None, target=target)
    m = table.meta.get("machine", {})
    print(f"{path}\n  target {table.target}, space {table.space.name}, {len(table.entries)} of "
          f"{len(table.space.all_layer_specs())} operators; measured {m.get('date')} on {m.get('cpu')} "
          f"(torch {m.get('torch')}, onnxruntime {m.get('onnxruntime')})")
    print(f"  protocol: {protocol_text(table.protocol)} ({table.meta.get('protocol')}); "
          f"build time {table.meta.get('build_s', 0):.1f} s")
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
    preset, space, target, path = _resolve(args)
    repeats = args.repeats if args.repeats is not None else preset.latency_repeats
    if not path.exists():  # build the operators of the archs we are about to measure
        print(f"no table at {path} yet: measuring the operators it needs first")
        table = get_lut(space, target, repeats=repeats, specs=[], path=path)
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
    build.add_argument("--repeats", type=positive_int, default=None,
                       help="samples per operator (default: the table's; a new table: the "
                       "preset's). Another value than the table's re-measures every entry")
    build.add_argument("--warmup", type=nonnegative_int, default=None,
                       help="untimed calls before timing (default: the table's, else 5)")
    build.add_argument("--force", action="store_true",
                       help="re-measure every entry on this machine (a table from elsewhere, or "
                       "an unreadable file); the old file stays until the new one is complete")
    build.add_argument("--archs", type=positive_int, default=None,
                       help="only the operators of this many random archs (quick demo table)")
    build.add_argument("--seed", type=int, default=0, help="seed of those archs")
    build.set_defaults(func=cmd_build)
    show = sub.add_parser("show", help="metadata and slowest entries of a table")
    _common(show)
    show.add_argument("--top", type=positive_int, default=10, help="entries to list")
    show.set_defaults(func=cmd_show)
    val = sub.add_parser("validate", help="measure random subnetworks end to end, score the predictors")
    _common(val)
    val.add_argument("--n", type=int_at_least(4), default=None,
                     help="subnetworks (half to fit, half held out)")
    val.add_argument("--repeats", type=positive_int, default=None, help="samples per measurement")
    val.add_argument("--warmup", type=nonnegative_int, default=5, help="untimed calls before timing")
    val.add_argument("--seed", type=int, default=0, help="seed of the random subnetworks")
    val.add_argument("--noise-rounds", type=nonnegative_int, default=3,
                     help="rounds of the noise floor (0: skip)")
    val.set_defaults(func=cmd_validate)
