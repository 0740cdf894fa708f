"""Student notebooks generated from solved ones (write once, generate the exercise copy).

The solved notebooks in ``solutions/`` are the source. Each exercise is a code cell
tagged ``exercise`` that defines a function whose answer sits between
``### BEGIN SOLUTION`` and ``### END SOLUTION``; the next code cell, tagged ``check``,
calls that notebook's checker (``hwnas_lab.course.nbNN_*``). The answers to the closing
questions sit in a markdown cell tagged ``answers``, inside the same markers. The
student copy in ``notebooks/`` is made by nbgrader's
``ClearSolutions`` preprocessor (Hamrick et al., "nbgrader: A Tool for Creating and
Grading Assignments in the Jupyter Notebook", JOSE 2019) used on its own, which swaps
each answer for ``raise NotImplementedError()`` (and the written answers for "YOUR ANSWER
HERE"); then outputs, execution counts and metadata noise are dropped so that the file
is byte-stable: regenerating an unchanged source gives the same bytes, and a test can
compare the committed copy with a fresh one.

nbgrader's own metadata is derived from the tags (``grading_metadata``), so a solution
is also a valid nbgrader source notebook: exercise cells are solution cells, check cells
autograded test cells worth one point each (locked; ``grade_id`` from the exercise's
function name, so ids are stable), the answers cell a manually graded answer worth one
point per numbered question under the notebook's "## Questions" heading (nbgrader
requires a markdown solution cell to be graded). A teacher can run
``nbgrader generate_assignment`` and ``nbgrader autograde`` on ``solutions/`` as they are
(README, "Grading with nbgrader"; tested in ``tests/test_nbgrader.py``): the release
copy nbgrader makes has the same cells as the student copy made here.

Rules enforced here (``lint`` lists every break, ``student_notebook`` refuses to
generate from a notebook that breaks a marker rule):

    * every ``exercise`` cell holds at least one BEGIN/END SOLUTION region and defines a
      function (``def name(...)``, its name unique in the notebook);
    * markers appear only in ``exercise`` and ``answers`` cells, paired, not nested;
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

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from ..config import atomic_path

BEGIN = "BEGIN SOLUTION"  # nbgrader's delimiters, matched anywhere in a line (as it does);
END = "END SOLUTION"  # write them as "### BEGIN SOLUTION" / "### END SOLUTION"
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
KEEP_CELL_METADATA = ("tags",)  # everything else (execution, papermill, nbgrader...) is rebuilt
TEXT_STUB = "YOUR ANSWER HERE"  # what a student copy shows in place of the written answers
SOLUTION_TAGS = ("exercise", "answers")  # cells that may hold solution regions
NBGRADER_SCHEMA = 3  # nbgrader's cell-metadata schema version
NB_VERSION = (4, 5)  # nbformat version written (4.5: cells carry ids)

REPO_ROOT = Path(__file__).resolve().parents[2]  # the checkout holding solutions/ and notebooks/
SOLUTIONS_DIR = REPO_ROOT / "solutions"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"


class NotebookError(ValueError):
    """A solution notebook breaks the authoring rules (see the module docstring)."""


def tags(cell: NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def read(path: str | Path) -> NotebookNode:
    """The notebook at ``path``; a ``NotebookError`` naming it if it is not a valid notebook."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no notebook at {path}")
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception as err:  # truncated JSON, "{}", a schema error deep in nbformat
        text = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise NotebookError(f"{path} is not a valid notebook ({text}); restore it (e.g. `git "
                            f"checkout -- {path}`) or re-save it from Jupyter") from None
    return nb


def to_text(nb: NotebookNode) -> str:
    """The canonical serialisation (sorted keys, one-space indent, final newline)."""
    return nbformat.writes(nb, version=4) + "\n"


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
            elif exercise_name(cell) is None:
                problems.append(f"{where}: an exercise cell must define the function the learner "
                                "writes (def name(...):)")
        elif "answers" in tags(cell):
            if cell.cell_type != "markdown" or n == 0:
                problems.append(f"{where}: an 'answers' cell is a markdown cell with the answers "
                                f"between ### {BEGIN} and ### {END}")
        elif n:
            problems.append(f"{where}: solution markers outside a cell tagged 'exercise' or "
                            "'answers'; tag the cell or remove the markers")
    names = [exercise_name(c) for c in nb.cells if "exercise" in tags(c)]
    repeated = sorted({n for n in names if n and names.count(n) > 1})
    if repeated:
        problems.append(f"exercise functions defined twice: {repeated}; each exercise needs its "
                        "own function name (it becomes the nbgrader grade id)")
    return problems


def exercise_name(cell: NotebookNode) -> str | None:
    """The name of the first function an exercise cell defines (its nbgrader grade id)."""
    match = re.search(r"^def (\w+)\(", cell.source, flags=re.MULTILINE)
    return match.group(1) if match else None


QUESTIONS_HEADING = "## Questions"  # the closing questions; each numbered "1. ..." is a point
_NUMBERED = re.compile(r"^\d+\.\s", flags=re.MULTILINE)  # top-level items only


def question_count(nb: NotebookNode, index: int) -> int:
    """Numbered questions under the last "## Questions" heading before cell ``index`` (>= 1)."""
    for cell in reversed(nb.cells[:index]):
        if cell.cell_type == "markdown" and QUESTIONS_HEADING in cell.source:
            after = cell.source.split(QUESTIONS_HEADING, 1)[1]
            return max(1, len(_NUMBERED.findall(after)))
    return 1


def grading_metadata(nb: NotebookNode) -> None:
    """Set nbgrader's cell metadata from the tags, in place (see the module docstring)."""
    last_exercise = None
    for index, cell in enumerate(nb.cells):
        cell.metadata.pop("nbgrader", None)
        kind = tags(cell)
        meta = {"schema_version": NBGRADER_SCHEMA, "task": False, "locked": False}
        if "exercise" in kind:
            last_exercise = exercise_name(cell)
            meta.update(grade=False, solution=True, grade_id=last_exercise)
        elif "check" in kind and last_exercise:
            meta.update(grade=True, solution=False, locked=True, points=1,
                        grade_id=f"check_{last_exercise}")
        elif "answers" in kind:  # a manually graded written answer
            meta.update(grade=True, solution=True, points=question_count(nb, index),
                        grade_id="answers")
        else:
            continue
        cell.metadata["nbgrader"] = meta


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
                                "tagged 'check' and call the notebook's checker")
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
    return inside - outside - {l.strip() for l in CODE_STUB.split("\n")} - {TEXT_STUB}


def leaks(student: NotebookNode, solution: NotebookNode) -> list[str]:
    """Signs that ``student`` still holds an answer of ``solution`` (empty list: clean)."""
    found = []
    # the k-th exercise cell of the student copy against the k-th of the solution
    def holds_answers(cell: NotebookNode) -> bool:
        return any(t in tags(cell) for t in SOLUTION_TAGS)

    answers = iter([solution_lines(c) for c in solution.cells if holds_answers(c)])
    for i, cell in enumerate(student.cells):
        if BEGIN in cell.source or END in cell.source:
            found.append(f"cell {i}: solution markers left in the student notebook")
        if holds_answers(cell):
            lines = {l.strip() for l in cell.source.split("\n")} & next(answers, set())
            found += [f"cell {i}: answer line {l!r}" for l in sorted(lines)]
    return found


# ----- cleaning and generating ----------------------------------------------------------
def clean(nb: NotebookNode) -> NotebookNode:
    """A copy of ``nb`` without outputs, execution counts or metadata noise, with nbgrader
    metadata from the tags and stable cell ids."""
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
    grading_metadata(nb)
    nbformat.validate(nb)
    return nb


def student_notebook(solution: NotebookNode) -> NotebookNode:
    """The student copy of a solved notebook: answers replaced by a stub, outputs cleared."""
    from nbgrader.preprocessors import ClearSolutions

    problems = marker_errors(solution)
    if problems:
        raise NotebookError("cannot generate a student notebook:\n  " + "\n  ".join(problems))
    nb = clean(solution)
    clearer = ClearSolutions(code_stub={"python": CODE_STUB}, text_stub=TEXT_STUB)
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


def solution_paths(solutions_dir: Path) -> list[Path]:
    if not solutions_dir.is_dir():
        raise FileNotFoundError(f"no solutions folder at {solutions_dir}; run from the "
                                "repository checkout or pass --solutions")
    return sorted(solutions_dir.glob("*.ipynb"))


def check(solutions_dir: str | Path = SOLUTIONS_DIR,
          notebooks_dir: str | Path = NOTEBOOKS_DIR) -> Report:
    """Compare committed student notebooks with freshly generated ones; write nothing."""
    solutions_dir, notebooks_dir = Path(solutions_dir), Path(notebooks_dir)
    report = Report()
    sources = solution_paths(solutions_dir)
    for src in sources:
        dst = student_path(src, notebooks_dir)
        try:
            solution = read(src)
            report.problems += [f"{src.name}: {p}" for p in lint(solution)]
            if not dst.exists():
                report.missing.append(dst.name)
                continue
            report.problems += [f"{dst.name}: {p}" for p in leaks(read(dst), solution)]
        except NotebookError as err:  # unreadable: say which, check the others
            report.problems.append(str(err))
            continue
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
    for src in solution_paths(solutions_dir):
        try:
            solution = read(src)
            plan[student_path(src, notebooks_dir)] = to_text(student_notebook(solution))
        except NotebookError as err:
            errors.append(f"{src.name}: {err}")
            continue
        if strip_solutions:
            plan[src] = to_text(clean(solution))
    if errors:
        raise NotebookError("\n".join(errors))
    written = []
    for path, text in plan.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            with atomic_path(path) as tmp:
                tmp.write_text(text, encoding="utf-8", newline="\n")
            written.append(path)
    return written
