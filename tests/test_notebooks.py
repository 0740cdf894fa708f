"""Every notebook in solutions/ (found automatically), checked four ways.

1. The committed student copy in notebooks/ equals a freshly generated one, holds no
   answer and no outputs; the solution follows the authoring rules (hwnas_lab.generate).
2. The solution runs clean with papermill under the smoke preset.
3. The solution passes nbval in lax mode (run as a pytest subprocess on that one file).
4. The student copy runs to its end with errors only in ``exercise``/``check`` cells, and
   those are NotImplementedError; every ``check`` cell raises one.

Execution tests carry the ``notebooks`` marker: ``pytest -m "not notebooks"`` skips them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from hwnas_lab import generate

ROOT = Path(__file__).resolve().parents[1]
KERNEL = "python3"  # kernel spec of the running interpreter (the venv's; see Makefile setup)
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
NOTEBOOKS = ROOT / "notebooks"
IDS = [p.stem for p in SOLUTIONS]
CELL_TIMEOUT_S = 600  # per cell; smoke notebooks take seconds, this only stops a hang

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
@pytest.mark.notebooks
@by_notebook
def test_solution_runs_with_papermill(src, in_notebook_env, tmp_path):
    import papermill

    papermill.execute_notebook(str(src), str(tmp_path / src.name), kernel_name=KERNEL,
                               cwd=str(src.parent), progress_bar=False,
                               execution_timeout=CELL_TIMEOUT_S)


@pytest.mark.notebooks
@by_notebook
def test_solution_passes_nbval_lax(src, in_notebook_env, tmp_path):
    cmd = [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
           f"--nbval-cell-timeout={CELL_TIMEOUT_S}", "-p", "no:cacheprovider", "-o", "addopts=",
           "-q", "--rootdir", str(tmp_path), str(src)]
    run = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, f"nbval --nbval-lax failed on {src.name}:\n{run.stdout[-6000:]}" \
                                f"\n{run.stderr[-2000:]}"


@pytest.mark.notebooks
@by_notebook
def test_student_notebook_fails_only_in_exercises(src, in_notebook_env):
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOKS / src.name, as_version=4)
    NotebookClient(nb, kernel_name=KERNEL, allow_errors=True, timeout=CELL_TIMEOUT_S,
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    wrong = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        names = [f"{o.ename}: {o.evalue}" for o in errors]
        tags = generate.tags(cell)
        if cell.execution_count is None and cell.source.strip():
            wrong.append(f"cell {i} did not run")
        elif "check" in tags:
            if [o.ename for o in errors] != ["NotImplementedError"]:
                wrong.append(f"check cell {i} should raise NotImplementedError, got {names}")
        elif "exercise" in tags:
            if any(o.ename != "NotImplementedError" for o in errors):
                wrong.append(f"exercise cell {i} raised {names}")
        elif errors:
            wrong.append(f"cell {i} (tags {tags}) raised {names}:\n{cell.source[:300]}")
    assert not wrong, f"{src.name} (student copy):\n  " + "\n  ".join(wrong)
