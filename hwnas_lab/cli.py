"""Command line: ``python -m hwnas_lab <command>``.

Each concept module that has commands exposes ``add_commands(subparsers)``, which adds
its sub-parsers and sets ``func`` on them; ``COMMAND_MODULES`` lists those modules.
"""

from __future__ import annotations

import argparse
import importlib
import sys

import torch

from . import __version__
from .config import PRESETS, cache_dir
from .space import SPACES

COMMAND_MODULES: list[str] = ["hwnas_lab.generate", "hwnas_lab.lut_cli", "hwnas_lab.ofa.cli"]  # e.g. "hwnas_lab.latency"; each has add_commands(subparsers)


def cmd_info(args: argparse.Namespace) -> int:
    from .data import data_status

    print(f"hwnas_lab {__version__}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} intra-op threads, CUDA available: {torch.cuda.is_available()}")
    print(f"cache folder: {cache_dir()}")
    print("search spaces:")
    for space in SPACES.values():
        print(f"  {space.describe()}")
    print("presets:")
    for p in PRESETS.values():
        space = SPACES[p.space]
        print(f"  {p.name:7s} space {p.space} ({space.num_subnets():.3g} subnets), "
              f"train/class {p.train_per_class or 'all'}, val/class {p.val_per_class}, "
              f"epochs {p.epochs}, archs {p.n_archs}, latency repeats {p.latency_repeats}")
    print(f"data: {data_status()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m hwnas_lab",
                                     description="hwnas-lab: hardware-aware NAS course tools")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    info = sub.add_parser("info", help="search spaces, presets, data and torch status")
    info.set_defaults(func=cmd_info)
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as err:  # bad input: one clear line, no traceback
        print(f"error: {err}", file=sys.stderr)
        return 2
