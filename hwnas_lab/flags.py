"""Command-line flags shared by every command, so that each means the same everywhere.

    --preset   a run preset of ``hwnas_lab.config.PRESETS`` (default: $HWNAS_PRESET, else laptop)
    --space    a search space of ``hwnas_lab.space.SPACES`` (default: the preset's)
    --target   where latency is measured: torch, torch-1thread, torch-allthreads,
               onnxruntime (ort), cuda, or a name such as onnxruntime-2threads
    --threads  intra-op threads (default: the target's, else 1)
    --out      a FOLDER that a command writes its results into
    --table    a latency-table FILE (default: the cache folder, named by space and target)

Numbers are checked by argparse types, so ``--repeats 0`` fails before any work starts.
"""

from __future__ import annotations

import argparse

from .config import PRESETS, get_preset
from .latency.measure import TARGET_ALIASES
from .space import SPACES, get_space


def int_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {value}")
        return value
    parse.__name__ = f"int >= {minimum}"
    return parse


positive_int = int_at_least(1)  # argparse type: 1, 2, ...
nonnegative_int = int_at_least(0)  # argparse type: 0, 1, ...


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def add_preset(parser: argparse.ArgumentParser, required: bool = False) -> None:
    parser.add_argument("--preset", required=required, choices=sorted(PRESETS),
                        help="run preset" + ("" if required else
                                             " (default: $HWNAS_PRESET, else laptop)"))


def add_space(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--space", choices=sorted(SPACES), default=None,
                        help="search space (default: the preset's)")


def add_target(parser: argparse.ArgumentParser, default: str = "torch") -> None:
    parser.add_argument("--target", default=default,
                        help=f"latency target: {', '.join(TARGET_ALIASES)} or e.g. "
                        f"onnxruntime-2threads (default {default})")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="intra-op threads (default: the target's, else 1)")


def add_out(parser: argparse.ArgumentParser, what: str, required: bool = True) -> None:
    parser.add_argument("--out", required=required, metavar="DIR", help=f"folder for {what}")


def add_table(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--table", default=None, metavar="FILE",
                        help="latency-table file (default: the cache folder, named by space "
                        "and target)")


def preset_and_space(args: argparse.Namespace):
    """The ``Preset`` and ``SearchSpace`` that ``--preset`` and ``--space`` select."""
    preset = get_preset(args.preset)
    return preset, get_space(args.space or preset.space)
