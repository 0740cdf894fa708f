"""Student notebooks generated from solved ones (write once, generate the exercise copy).

The solved notebooks in ``solutions/`` are the source. Each exercise is a code cell
tagged ``exercise`` whose answer sits between ``### BEGIN SOLUTION`` and
``### END SOLUTION``; the next code cell, tagged ``check``, calls a
``hwnas_lab.checks`` checker. The student copy in ``notebooks/`` is made by nbgrader's
``ClearSolutions`` preprocessor (Hamrick et al., "nbgrader: A Tool for Creating and
Grading Assignments in the Jupyter Notebook", JOSE 2019) used on its own, which swaps
each answer for ``raise NotImplementedError()``; then outputs, execution counts and
metadata noise are dropped so that the file is byte-stable: regenerating an unchanged
source gives the same bytes, and a test can compare the committed copy with a fresh one.

Rules enforced here (``lint`` lists every break, ``student_notebook`` refuses to
generate from a notebook that breaks a marker rule):

    * every ``exercise`` cell holds at least one BEGIN/END SOLUTION region;
    * markers appear only in ``exercise`` cells, paired, not nested;
    * the next code cell after an ``exercise`` cell is tagged ``check``;
    * the first code cell is tagged ``parameters`` (papermill);
    * committed solutions carry no outputs (``python -m hwnas_lab notebooks`` strips them).

CLI: ``python -m hwnas_lab notebooks`` regenerates ``notebooks/`` (and strips outputs
from ``solutions/``); ``python -m hwnas_lab notebooks --check`` writes nothing and exits
non-zero listing stale, missing, orphaned or malformed notebooks;
``python -m hwnas_lab notebooks --time smoke laptop [--only 00]`` prints how long each
solution takes to run under each preset (for the README table and notebook intros).
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from .config import atomic_path

BEGIN = "BEGIN SOLUTION"  # nbgrader's delimiters, matched anywhere in a line (as it does);
END = "END SOLUTION"  # write them as "### BEGIN SOLUTION" / "### END SOLUTION"
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
KEEP_CELL_METADATA = ("tags",)  # everything else (execution, papermill, scrolled...) is noise
NB_VERSION = (4, 5)  # nbformat version written (4.5: cells carry ids)

REPO_ROOT = Path(__file__).resolve().parent.parent  # the checkout holding solutions/ and notebooks/
SOLUTIONS_DIR = REPO_ROOT / "solutions"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"


class NotebookError(ValueError):
    """A solution notebook breaks the authoring rules (see the module docstring)."""


def tags(cell: NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def read(path: str | Path) -> NotebookNode:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no notebook at {path}")
    return nbformat.read(path, as_version=4)


def to_text(nb: NotebookNode) -> str:
    """The canonical serialisation (sorted keys, one-space indent, final newline)."""
    return nbformat.writes(nb, version=4) + "\n"


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8, ``\\n`` line ends)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="\n")


# ----- the rules ---------------------------------------------------------------------
def _regions(source: str) -> tuple[int, str | None]:
    """Number of solution regions in ``source``, or an error message if markers are bad."""
    count, inside = 0, False
    for line in source.split("\n"):
        if BEGIN in line:
            if inside:
                return count, f"nested {BEGIN}"
            inside, count = True, count + 1
        elif END in line:
            if not inside:
                return count, f"{END} without a BEGIN"
            inside = False
    return count, (f"{BEGIN} without an END" if inside else None)


def marker_errors(nb: NotebookNode) -> list[str]:
    """Breaks of the marker rules (these make generation impossible)."""
    problems = []
    for i, cell in enumerate(nb.cells):
        n, bad = _regions(cell.source)
        where = f"cell {i} ({cell.cell_type}, tags {tags(cell)})"
        if bad:
            problems.append(f"{where}: {bad}")
        if "exercise" in tags(cell):
            if cell.cell_type != "code":
                problems.append(f"{where}: an exercise cell must be a code cell")
            elif n == 0:
                problems.append(f"{where}: tagged 'exercise' but has no ### {BEGIN} / ### {END} "
                                "region; wrap the answer in the markers")
        elif n:
            problems.append(f"{where}: solution markers outside a cell tagged 'exercise'; "
                            "tag the cell 'exercise' or remove the markers")
    return problems


def lint(nb: NotebookNode) -> list[str]:
    """Every break of the authoring rules of a solution notebook (empty list: fine)."""
    problems = marker_errors(nb)
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    if not code or "parameters" not in tags(code[0][1]):
        problems.append("the first code cell must be tagged 'parameters' (papermill), e.g. "
                        "PRESET = os.environ.get('HWNAS_PRESET', 'laptop')")
    for k, (i, cell) in enumerate(code):
        if "exercise" in tags(cell):
            if k + 1 == len(code) or "check" not in tags(code[k + 1][1]):
                problems.append(f"cell {i}: the code cell after an 'exercise' cell must be "
                                "tagged 'check' and call a hwnas_lab.checks checker")
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
            problems.append(f"cell {i}: committed solution has outputs; run "
                            "`python -m hwnas_lab notebooks` to strip them")
    return problems


def solution_lines(cell: NotebookNode) -> set[str]:
    """Lines that only the answer holds: inside a region, not elsewhere in the cell, not comments."""
    inside, outside, in_region = set(), set(), False
    for line in cell.source.split("\n"):
        text = line.strip()
        if BEGIN in line:
            in_region = True
        elif END in line:
            in_region = False
        elif text and not text.startswith("#"):
            (inside if in_region else outside).add(text)
    return inside - outside - {l.strip() for l in CODE_STUB.split("\n")}


def leaks(student: NotebookNode, solution: NotebookNode) -> list[str]:
    """Signs that ``student`` still holds an answer of ``solution`` (empty list: clean)."""
    found = []
    # the k-th exercise cell of the student copy against the k-th of the solution
    answers = iter([solution_lines(c) for c in solution.cells if "exercise" in tags(c)])
    for i, cell in enumerate(student.cells):
        if BEGIN in cell.source or END in cell.source:
            found.append(f"cell {i}: solution markers left in the student notebook")
        if cell.cell_type == "code" and "exercise" in tags(cell):
            lines = {l.strip() for l in cell.source.split("\n")} & next(answers, set())
            found += [f"cell {i}: answer line {l!r}" for l in sorted(lines)]
    return found


# ----- cleaning and generating ----------------------------------------------------------
def clean(nb: NotebookNode) -> NotebookNode:
    """A copy of ``nb`` without outputs, execution counts or metadata noise; stable cell ids."""
    nb = copy.deepcopy(nb)
    nb.nbformat, nb.nbformat_minor = NB_VERSION
    kernelspec = nb.metadata.get("kernelspec") or {
        "display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.metadata = nbformat.from_dict({"kernelspec": dict(kernelspec),
                                      "language_info": {"name": "python"}})
    seen: set[str] = set()
    for i, cell in enumerate(nb.cells):
        cell.metadata = nbformat.from_dict(
            {k: v for k, v in cell.get("metadata", {}).items() if k in KEEP_CELL_METADATA})
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if "attachments" in cell and not cell.attachments:
            del cell["attachments"]
        cell_id = cell.get("id")
        if not cell_id or cell_id in seen:  # deterministic id from the position
            cell_id = f"cell-{i:03d}"
        cell.id = cell_id
        seen.add(cell_id)
    nbformat.validate(nb)
    return nb


def student_notebook(solution: NotebookNode) -> NotebookNode:
    """The student copy of a solved notebook: answers replaced by a stub, outputs cleared."""
    from nbgrader.preprocessors import ClearSolutions

    problems = marker_errors(solution)
    if problems:
        raise NotebookError("cannot generate a student notebook:\n  " + "\n  ".join(problems))
    nb = clean(solution)
    # enforce_metadata=False: we mark exercises with a tag, not nbgrader's database metadata.
    clearer = ClearSolutions(enforce_metadata=False, code_stub={"python": CODE_STUB})
    nb, _ = clearer.preprocess(nb, {})
    left = leaks(nb, solution)
    if left:  # would mean ClearSolutions missed a region; never write such a file
        raise NotebookError("the generated student notebook still holds solutions:\n  "
                            + "\n  ".join(left))
    return clean(nb)


def student_path(solution_path: Path, notebooks_dir: Path) -> Path:
    return notebooks_dir / solution_path.name


@dataclass
class Report:
    """What ``check`` found; empty lists mean everything is up to date."""

    stale: list[str] = field(default_factory=list)  # student notebooks that differ from fresh ones
    missing: list[str] = field(default_factory=list)  # solutions without a student notebook
    orphans: list[str] = field(default_factory=list)  # student notebooks without a solution
    problems: list[str] = field(default_factory=list)  # lint / leak findings, "name: what"

    @property
    def ok(self) -> bool:
        return not (self.stale or self.missing or self.orphans or self.problems)

    def lines(self) -> list[str]:
        out = [f"stale (regenerate): {n}" for n in self.stale]
        out += [f"missing (generate): {n}" for n in self.missing]
        out += [f"orphan (no solution): {n}" for n in self.orphans]
        return out + self.problems


def _solutions(solutions_dir: Path) -> list[Path]:
    if not solutions_dir.is_dir():
        raise FileNotFoundError(f"no solutions folder at {solutions_dir}; run from the "
                                "repository checkout or pass --solutions")
    return sorted(solutions_dir.glob("*.ipynb"))


def check(solutions_dir: str | Path = SOLUTIONS_DIR,
          notebooks_dir: str | Path = NOTEBOOKS_DIR) -> Report:
    """Compare committed student notebooks with freshly generated ones; write nothing."""
    solutions_dir, notebooks_dir = Path(solutions_dir), Path(notebooks_dir)
    report = Report()
    sources = _solutions(solutions_dir)
    for src in sources:
        solution = read(src)
        report.problems += [f"{src.name}: {p}" for p in lint(solution)]
        dst = student_path(src, notebooks_dir)
        if not dst.exists():
            report.missing.append(dst.name)
            continue
        report.problems += [f"{dst.name}: {p}" for p in leaks(read(dst), solution)]
        try:
            fresh = to_text(student_notebook(solution))
        except NotebookError:
            continue  # already listed by lint
        if dst.read_text(encoding="utf-8") != fresh:
            report.stale.append(dst.name)
    names = {s.name for s in sources}
    if notebooks_dir.is_dir():
        report.orphans = sorted(p.name for p in notebooks_dir.glob("*.ipynb") if p.name not in names)
    return report


def generate(solutions_dir: str | Path = SOLUTIONS_DIR, notebooks_dir: str | Path = NOTEBOOKS_DIR,
             strip_solutions: bool = True) -> list[Path]:
    """(Re)write every student notebook; strip outputs from solutions. Returns files written.

    All notebooks are generated in memory first, so a malformed one writes nothing.
    """
    solutions_dir, notebooks_dir = Path(solutions_dir), Path(notebooks_dir)
    plan: dict[Path, str] = {}
    errors = []
    for src in _solutions(solutions_dir):
        solution = read(src)
        try:
            plan[student_path(src, notebooks_dir)] = to_text(student_notebook(solution))
        except NotebookError as err:
            errors.append(f"{src.name}: {err}")
        if strip_solutions:
            plan[src] = to_text(clean(solution))
    if errors:
        raise NotebookError("\n".join(errors))
    written = []
    for path, text in plan.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            write_atomic(path, text)
            written.append(path)
    return written


# ----- timing --------------------------------------------------------------------------
def time_notebook(path: str | Path, preset: str, kernel_name: str = "python3") -> float:
    """Wall-clock seconds to run one notebook with papermill under ``preset`` (kernel start
    included), in a temporary folder; raises papermill's error if a cell fails."""
    import time

    import papermill

    from .config import PRESET_ENV, get_preset

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


# ----- CLI -----------------------------------------------------------------------------
def cmd_notebooks(args: argparse.Namespace) -> int:
    if args.time:
        import platform

        paths = _solutions(Path(args.solutions))
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
        print(f"{len(_solutions(Path(args.solutions)))} student notebooks up to date")
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
    p.add_argument("--time", nargs="+", metavar="PRESET",
                   help="instead: run each solution under these presets and print seconds")
    p.add_argument("--only", nargs="+", metavar="PREFIX",
                   help="with --time: only notebooks whose name starts with these, e.g. 00")
    p.set_defaults(func=cmd_notebooks)
