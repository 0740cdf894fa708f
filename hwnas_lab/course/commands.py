"""``python -m hwnas_lab notebooks``: generate, check and time the course's notebooks.

    notebooks                       regenerate notebooks/ from solutions/ (strip outputs there)
    notebooks --check               write nothing; exit 1 listing stale or malformed notebooks
    notebooks --time smoke laptop [--only 00]   seconds per notebook and preset (papermill)
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from ..config import PRESET_ENV, PRESETS, get_preset
from .generate import NOTEBOOKS_DIR, SOLUTIONS_DIR, check, generate, solution_paths


def time_notebook(path: str | Path, preset: str, kernel_name: str = "python3") -> float:
    """Wall-clock seconds to run one notebook with papermill under ``preset`` (kernel start
    included), in a temporary folder; raises papermill's error if a cell fails."""
    import papermill

    get_preset(preset)  # unknown preset: ValueError before any work
    path = Path(path)
    old = os.environ.get(PRESET_ENV)
    os.environ[PRESET_ENV] = preset  # the kernel inherits this process's environment
    try:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            papermill.execute_notebook(str(path), str(Path(tmp) / path.name),
                                       kernel_name=kernel_name, cwd=str(path.parent),
                                       progress_bar=False, log_output=False)
            return time.perf_counter() - start
    finally:
        if old is None:
            os.environ.pop(PRESET_ENV, None)
        else:
            os.environ[PRESET_ENV] = old


def cmd_notebooks(args: argparse.Namespace) -> int:
    if args.time:
        paths = solution_paths(Path(args.solutions))
        if args.only:
            paths = [p for p in paths if any(p.name.startswith(o) for o in args.only)]
            if not paths:
                raise ValueError(f"no solution notebook starts with {args.only}")
        print(f"# wall-clock seconds per notebook (papermill, kernel start included); "
              f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
        for path in paths:
            for preset in args.time:
                print(f"{path.name:32s} {preset:7s} {time_notebook(path, preset):8.1f} s", flush=True)
        return 0
    if args.check:
        report = check(args.solutions, args.notebooks)
        for line in report.lines():
            print(line, file=sys.stderr)
        if not report.ok:
            print("student notebooks are out of date or malformed; fix the solutions and run "
                  "`python -m hwnas_lab notebooks`", file=sys.stderr)
            return 1
        print(f"{len(solution_paths(Path(args.solutions)))} student notebooks up to date")
        return 0
    written = generate(args.solutions, args.notebooks, strip_solutions=not args.keep_outputs)
    for path in written:
        print(f"wrote {path}")
    print(f"{len(written)} file(s) changed")
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("notebooks", help="generate student notebooks from solutions/",
                              description="Generate notebooks/*.ipynb from solutions/*.ipynb "
                              "(answers replaced by stubs, outputs cleared).")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 listing stale or malformed notebooks")
    p.add_argument("--solutions", default=str(SOLUTIONS_DIR), help="folder of solved notebooks")
    p.add_argument("--notebooks", default=str(NOTEBOOKS_DIR), help="folder of student notebooks")
    p.add_argument("--keep-outputs", action="store_true",
                   help="do not strip outputs from the solution notebooks")
    p.add_argument("--time", nargs="+", metavar="PRESET", choices=sorted(PRESETS),
                   help="instead: run each solution under these presets and print seconds")
    p.add_argument("--only", nargs="+", metavar="PREFIX",
                   help="with --time: only notebooks whose name starts with these, e.g. 00")
    p.set_defaults(func=cmd_notebooks)
