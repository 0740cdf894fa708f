"""A teacher's path with nbgrader, on every solution notebook, in a temporary course folder.

One course folder, one assignment holding every ``solutions/*.ipynb`` as its source:

1. ``nbgrader generate_assignment`` makes the release copies; they have the same cells
   as the student copies the course's own generator writes to ``notebooks/``;
2. two submissions: the solution itself, and the untouched release copy;
3. ``nbgrader autograde`` runs both (smoke preset; nbgrader sets ``NBGRADER_EXECUTION``,
   under which an unsolved exercise raises instead of reporting TODO);
4. from nbgrader's gradebook: the solution gets every autograded point (only the written
   answers wait for a person), the untouched copy gets zero.

The README's "Grading with nbgrader" section gives the same commands. Execution carries
the ``notebooks`` marker: ``pytest -m "not notebooks"`` skips it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from hwnas_lab.course import generate

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
ASSIGNMENT = "hwnas"  # one assignment holding every notebook of the course
STUDENTS = {"solution": "source", "blank": "release"}  # student id -> folder copied from
TIMEOUT_S = 1800  # the whole autograde run; a hang fails instead of blocking CI
CONFIG = """\
c = get_config()  # noqa: F821 - nbgrader's config object
c.CourseDirectory.course_id = "hwnas-lab"
c.Execute.timeout = 600  # seconds per cell (nbgrader's default, 30 s, is too short for 01)
"""

pytestmark = pytest.mark.notebooks


def nbgrader(args: list[str], course: Path, env: dict[str, str]) -> str:
    run = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                         capture_output=True, text=True, timeout=TIMEOUT_S)
    log = run.stdout + run.stderr
    assert run.returncode == 0 and "ERROR" not in log, f"nbgrader {args[0]} failed:\n{log[-6000:]}"
    return log


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory, notebook_env: dict[str, str]):
    """The course folder after generate_assignment and autograde: (folder, gradebook URL)."""
    course = tmp_path_factory.mktemp("nbgrader_course")
    (course / "nbgrader_config.py").write_text(CONFIG)
    source = course / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    for src in SOLUTIONS:
        shutil.copy(src, source / src.name)
    env = {**os.environ, **notebook_env}
    # nbgrader runs `alembic` by name: the interpreter's scripts folder must be on PATH
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("NBGRADER_EXECUTION", None)
    nbgrader(["generate_assignment", ASSIGNMENT, "--create"], course, env)
    for student, folder in STUDENTS.items():
        shutil.copytree(course / folder / ASSIGNMENT, course / "submitted" / student / ASSIGNMENT)
    nbgrader(["autograde", ASSIGNMENT, "--create"], course, env)
    return course, f"sqlite:///{course / 'gradebook.db'}"


def grades(db_url: str, notebook: str, student: str) -> dict[str, tuple]:
    """grade_id -> (auto_score, max_score, needs_manual_grade) of one submitted notebook."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:
        nb = gb.find_submission_notebook(notebook, ASSIGNMENT, student)
        return {g.name: (g.auto_score, g.max_score, g.needs_manual_grade) for g in nb.grades}


def test_every_notebook_is_graded(course):
    assert SOLUTIONS
    folder, _ = course
    for src in SOLUTIONS:
        for student in STUDENTS:
            assert (folder / "autograded" / student / ASSIGNMENT / src.name).exists()


@pytest.mark.parametrize("src", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_release_copy_has_the_cells_of_the_course_student_copy(course, src):
    folder, _ = course
    release = nbformat.read(folder / "release" / ASSIGNMENT / src.name, as_version=4)
    ours = generate.read(ROOT / "notebooks" / src.name)
    assert [(c.cell_type, c.source) for c in release.cells] == \
        [(c.cell_type, c.source) for c in ours.cells]


@pytest.mark.parametrize("src", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_solution_gets_every_autograded_point(course, src):
    _, db = course
    got = grades(db, src.stem, "solution")
    checks = [c for c in generate.read(src).cells if "check" in generate.tags(c)]
    tests = {k: v for k, v in got.items() if k.startswith("check_")}
    assert len(tests) == len(checks) >= 3
    assert all(auto == top == 1 and not manual for auto, top, manual in tests.values()), tests
    # the written answers (if any) are worth a point per question, graded by a person
    cells = generate.read(src).cells
    written = [i for i, c in enumerate(cells) if "answers" in generate.tags(c)]
    assert set(got) - set(tests) == ({"answers"} if written else set())
    if written:
        auto, top, manual = got["answers"]
        assert auto is None and manual
        assert top == generate.question_count(generate.read(src), written[0]) >= 3


@pytest.mark.parametrize("src", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_untouched_release_copy_scores_zero(course, src):
    folder, db = course
    got = grades(db, src.stem, "blank")
    assert got and all(auto == 0 and not manual for auto, _, manual in got.values()), got
    # under the autograder an unsolved exercise raises (not the TODO of "Run All")
    graded = nbformat.read(folder / "autograded" / "blank" / ASSIGNMENT / src.name, as_version=4)
    errors = [o.ename for c in graded.cells if "check" in generate.tags(c)
              for o in c.outputs if o.output_type == "error"]
    assert errors and set(errors) == {"NotImplementedError"}
