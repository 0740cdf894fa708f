"""Command line: ``python -m hwnas_lab <command>``, one argparse tree.

Each command group lives beside what it drives and adds its sub-parsers with
``add_commands(subparsers)``; shared flags (``--preset``, ``--space``, ``--target``,
``--out``, ``--table``) come from :mod:`hwnas_lab.flags`. ``--help`` lists every command.
"""

from __future__ import annotations

import argparse
import sys

import torch

from . import __version__
from .config import PRESETS, cache_dir, get_preset
from .course import commands as notebook_commands
from .data import data_status
from .latency import commands as lut_commands
from .ofa import commands as ofa_commands
from .space import SPACES

COMMAND_GROUPS = (notebook_commands, lut_commands, ofa_commands)


def cmd_info(args: argparse.Namespace) -> int:
    print(f"hwnas_lab {__version__}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} intra-op threads, CUDA available: {torch.cuda.is_available()}")
    print(f"cache folder: {cache_dir()}")
    print(f"preset now: {get_preset().name} (argument, else $HWNAS_PRESET, else laptop)")
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


def _command_list(sub: argparse._SubParsersAction, prefix: str = "") -> list[str]:
    """``name  help`` for every leaf command under ``sub`` (nested groups flattened)."""
    helps = {action.dest: action.help for action in sub._choices_actions}
    lines = []
    for name, parser in sub.choices.items():
        nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if nested:
            lines += _command_list(nested[0], f"{prefix}{name} ")
        else:
            lines.append(f"  {prefix + name:22s} {helps.get(name) or ''}")
    return lines


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m hwnas_lab",
                                     description="hwnas-lab: hardware-aware NAS course tools",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    info = sub.add_parser("info", help="search spaces, presets, data and torch status")
    info.set_defaults(func=cmd_info)
    for group in COMMAND_GROUPS:
        group.add_commands(sub)
    parser.epilog = "every command:\n" + "\n".join(_command_list(sub))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as err:  # bad input: one clear line, no traceback
        print(f"error: {err}", file=sys.stderr)
        return 2
