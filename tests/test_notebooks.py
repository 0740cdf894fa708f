"""Every notebook in solutions/ (found automatically), checked four ways.

1. The committed student copy in notebooks/ equals a freshly generated one, holds no
   answer and no outputs; the solution follows the authoring rules (course.generate).
2. The solution runs clean with papermill under the smoke preset.
3. nbval (lax mode) re-executes papermill's output and compares the outputs of the cells
   tagged ``nbval-check-output`` (deterministic ones: exercise verdicts, counts) with the
   outputs papermill stored: a regression check of the notebook against itself.
4. The student copy runs to its end without any error: every ``check`` cell reports TODO
   (an unsolved exercise does not stop "Run All"), and the last cell prints the score.

Execution tests carry the ``notebooks`` marker: ``pytest -m "not notebooks"`` skips them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from hwnas_lab.course import generate

ROOT = Path(__file__).resolve().parents[1]
KERNEL = "python3"  # kernel spec of the running interpreter (the venv's; see Makefile setup)
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
NOTEBOOKS = ROOT / "notebooks"
IDS = [p.stem for p in SOLUTIONS]
CELL_TIMEOUT_S = 600  # per cell; smoke notebooks take seconds, this only stops a hang
NBVAL_TAG = "nbval-check-output"  # cells whose outputs nbval compares

by_notebook = pytest.mark.parametrize("src", SOLUTIONS, ids=IDS)


def test_there_are_notebooks():
    assert SOLUTIONS, f"no solution notebooks found in {ROOT / 'solutions'}"


def test_no_orphan_student_notebooks():
    report = generate.check(ROOT / "solutions", NOTEBOOKS)
    assert not report.orphans, (f"student notebooks without a solution: {report.orphans}; "
                                "delete them or add the solution")


# ----- 1. generated copies ---------------------------------------------------------------
@by_notebook
def test_solution_follows_authoring_rules(src):
    problems = generate.lint(generate.read(src))
    assert not problems, f"{src.name}:\n  " + "\n  ".join(problems)


@by_notebook
def test_student_notebook_is_freshly_generated(src):
    dst = NOTEBOOKS / src.name
    assert dst.exists(), f"{dst} missing: run `python -m hwnas_lab notebooks`"
    fresh = generate.to_text(generate.student_notebook(generate.read(src)))
    assert dst.read_text(encoding="utf-8") == fresh, \
        f"{dst.name} is stale: run `python -m hwnas_lab notebooks` and commit notebooks/"


@by_notebook
def test_student_notebook_has_no_answers_and_no_outputs(src):
    student = generate.read(NOTEBOOKS / src.name)
    assert not generate.leaks(student, generate.read(src))
    exercises = 0
    for i, cell in enumerate(student.cells):
        if cell.cell_type != "code":
            continue
        assert not cell.outputs and cell.execution_count is None, f"cell {i} has outputs"
        if "exercise" in generate.tags(cell):
            exercises += 1
            assert "raise NotImplementedError()" in cell.source, f"cell {i} has no stub"
    n_solution = sum("exercise" in generate.tags(c) for c in generate.read(src).cells)
    assert exercises == n_solution


# ----- 2.-4. execution -------------------------------------------------------------------
def test_solutions_tag_outputs_for_nbval():
    for src in SOLUTIONS:
        tagged = [c for c in generate.read(src).cells if NBVAL_TAG in generate.tags(c)]
        assert tagged, f"{src.name}: tag at least one deterministic cell {NBVAL_TAG!r}"


def _executed(src, tmp_path_factory) -> "Path":
    """papermill's executed copy of ``src`` (made once per session, outputs stored)."""
    import papermill

    out = tmp_path_factory.getbasetemp() / "executed" / src.name
    if not out.exists():
        out.parent.mkdir(exist_ok=True)
        papermill.execute_notebook(str(src), str(out), kernel_name=KERNEL, cwd=str(src.parent),
                                   progress_bar=False, execution_timeout=CELL_TIMEOUT_S)
    return out


@pytest.mark.notebooks
@by_notebook
def test_solution_runs_with_papermill(src, in_notebook_env, tmp_path_factory):
    nb = nbformat.read(_executed(src, tmp_path_factory), as_version=4)
    checks = [c for c in nb.cells if "check" in generate.tags(c)]
    for cell in checks:  # every exercise of the solution passes its own check
        text = "".join(o.get("text", "") for o in cell.outputs)
        assert "PASS" in text, f"{src.name}: check cell printed {text!r}"
    score = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert f"Score: {len(checks)} / {len(checks)}" in score, score


@pytest.mark.notebooks
@by_notebook
def test_solution_passes_nbval_lax(src, in_notebook_env, tmp_path, tmp_path_factory):
    executed = _executed(src, tmp_path_factory)
    cmd = [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
           f"--nbval-cell-timeout={CELL_TIMEOUT_S}", "-p", "no:cacheprovider", "-o", "addopts=",
           "-q", "--rootdir", str(tmp_path), str(executed)]
    run = subprocess.run(cmd, cwd=src.parent, capture_output=True, text=True)
    assert run.returncode == 0, f"nbval --nbval-lax failed on {src.name}:\n{run.stdout[-6000:]}" \
                                f"\n{run.stderr[-2000:]}"


@pytest.mark.notebooks
@by_notebook
def test_student_notebook_runs_to_the_end_reporting_todo(src, in_notebook_env):
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOKS / src.name, as_version=4)
    NotebookClient(nb, kernel_name=KERNEL, allow_errors=True, timeout=CELL_TIMEOUT_S,
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    wrong = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errors = [f"{o.ename}: {o.evalue}" for o in cell.outputs if o.output_type == "error"]
        text = "".join(o.get("text", "") for o in cell.outputs)
        if cell.execution_count is None and cell.source.strip():
            wrong.append(f"cell {i} did not run")
        elif errors:
            wrong.append(f"cell {i} (tags {generate.tags(cell)}) raised {errors}:\n"
                         f"{cell.source[:300]}")
        elif "check" in generate.tags(cell) and "TODO" not in text:
            wrong.append(f"check cell {i} should report TODO, printed {text!r}")
    n_checks = sum("check" in generate.tags(c) for c in nb.cells)
    score = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    if f"Score: 0 / {n_checks}" not in score:
        wrong.append(f"the last cell should print the score 0 / {n_checks}, printed {score!r}")
    assert not wrong, f"{src.name} (student copy):\n  " + "\n  ".join(wrong)
