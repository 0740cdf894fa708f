"""The student-notebook generator: rules, byte-stable output, nbgrader metadata, answers."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from hwnas_lab.course import generate
from helpers import write_notebook as write

ANSWER = "def f(x):\n    ### BEGIN SOLUTION\n    secret = x * 41\n    return secret + x\n    ### END SOLUTION"


def solution(exercise_source: str = ANSWER, exercise_tags=("exercise",), check=True):
    cells = [new_markdown_cell("# title"),
             new_code_cell("PRESET = 'smoke'", metadata={"tags": ["parameters"]}),
             new_code_cell(exercise_source, metadata={"tags": list(exercise_tags)})]
    if check:
        cells.append(new_code_cell("assert f(1) == 42", metadata={"tags": ["check"]}))
    cells.append(new_code_cell("print('the rest')"))
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def test_student_notebook_replaces_answer_with_stub():
    student = generate.student_notebook(solution())
    src = student.cells[2].source
    assert "secret" not in src and "BEGIN SOLUTION" not in src
    assert src == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    assert student.cells[3].source == "assert f(1) == 42"  # check cell untouched
    exec(compile(src, "student", "exec"), ns := {})
    with pytest.raises(NotImplementedError):
        ns["f"](1)


def test_output_is_clean_and_byte_stable():
    nb = solution()
    nb.cells[4].outputs = [new_output("stream", name="stdout", text="the rest\n")]
    nb.cells[4].execution_count = 7
    nb.cells[4].metadata.update({"scrolled": True, "execution": {"x": 1}, "tags": ["t"]})
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.9"}
    nb.metadata["papermill"] = {"duration": 1.0}
    text = generate.to_text(generate.student_notebook(nb))
    # the same bytes from a copy that went through disk, and from the stripped solution
    reread = nbformat.reads(nbformat.writes(nb), as_version=4)
    assert generate.to_text(generate.student_notebook(reread)) == text
    assert generate.to_text(generate.student_notebook(generate.clean(nb))) == text
    out = nbformat.reads(text, as_version=4)
    assert out.cells[4].outputs == [] and out.cells[4].execution_count is None
    assert dict(out.cells[4].metadata) == {"tags": ["t"]}  # nbgrader metadata: only graded cells
    assert set(out.metadata) == {"kernelspec", "language_info"}
    assert out.metadata.language_info == {"name": "python"}
    assert [c.id for c in out.cells] == [c.id for c in nb.cells]


@pytest.mark.parametrize("source, tags, match", [
    ("def f(x):\n    return 42", ["exercise"], "no ### BEGIN SOLUTION"),
    (ANSWER, [], "outside a cell tagged 'exercise' or 'answers'"),
    ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", ["exercise"], "must define the function"),
    ("### BEGIN SOLUTION\nx = 1", ["exercise"], "without an END"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", ["exercise"], "nested"),
    ("x = 1\n### END SOLUTION", ["exercise"], "END SOLUTION without a BEGIN"),
])
def test_bad_markers_are_errors(source, tags, match):
    with pytest.raises(generate.NotebookError, match=match):
        generate.student_notebook(solution(source, tags))


def test_lint_lists_structure_problems():
    assert generate.lint(solution()) == []
    no_check = generate.lint(solution(check=False))
    assert any("tagged 'check'" in p for p in no_check)
    nb = solution()
    nb.cells[1].metadata = {}
    assert any("'parameters'" in p for p in generate.lint(nb))
    nb = solution()
    nb.cells[4].outputs = [new_output("stream", name="stdout", text="x\n")]
    assert any("has outputs" in p for p in generate.lint(nb))


def test_leaks_find_answers_in_a_student_notebook():
    sol = solution()
    assert generate.leaks(generate.student_notebook(sol), sol) == []
    leaked = generate.student_notebook(sol)
    leaked.cells[2].source = "def f(x):\n    secret = x * 41\n    return secret + x"
    found = generate.leaks(leaked, sol)
    assert any("secret = x * 41" in f for f in found) and len(found) == 2
    with_markers = generate.clean(sol)  # the solution itself, copied as a student notebook
    assert any("markers" in f for f in generate.leaks(with_markers, sol))


def test_generate_and_check(tmp_path):
    sols, nbs = tmp_path / "solutions", tmp_path / "notebooks"
    write(sols, "00_a.ipynb", solution())
    report = generate.check(sols, nbs)
    assert report.missing == ["00_a.ipynb"] and not report.ok
    written = generate.generate(sols, nbs)
    assert nbs / "00_a.ipynb" in written
    assert generate.check(sols, nbs).ok
    assert generate.generate(sols, nbs) == []  # nothing changes the second time
    # edit the solution: the student copy is now stale
    nb = nbformat.read(sols / "00_a.ipynb", as_version=4)
    nb.cells[4].source = "print('changed')"
    nbformat.write(nb, sols / "00_a.ipynb")
    assert generate.check(sols, nbs).stale == ["00_a.ipynb"]
    # a student copy holding the answer is reported, an orphan too
    (nbs / "00_a.ipynb").write_text(generate.to_text(generate.clean(nb)))
    (nbs / "99_orphan.ipynb").write_text(generate.to_text(generate.clean(nb)))
    report = generate.check(sols, nbs)
    assert report.orphans == ["99_orphan.ipynb"]
    assert any("00_a.ipynb: cell 2" in p for p in report.problems)


def test_generate_writes_nothing_if_one_solution_is_malformed(tmp_path):
    sols, nbs = tmp_path / "solutions", tmp_path / "notebooks"
    write(sols, "00_good.ipynb", solution())
    write(sols, "01_bad.ipynb", solution("def f(x):\n    return 42"))
    with pytest.raises(generate.NotebookError, match="01_bad.ipynb"):
        generate.generate(sols, nbs)
    assert not nbs.exists()


def test_leaks_compare_each_exercise_with_its_own_answer():
    # exercise 2 keeps `return y` outside its region; exercise 1's answer is `return y`
    sol = solution("def g(y):\n    ### BEGIN SOLUTION\n    return y\n    ### END SOLUTION")
    sol.cells.insert(4, new_code_cell("def h(y):\n    y = y + 1\n    ### BEGIN SOLUTION\n"
                                      "    y = 2 * y\n    ### END SOLUTION\n    return y",
                                      metadata={"tags": ["exercise"]}))
    sol.cells.insert(5, new_code_cell("h(1)", metadata={"tags": ["check"]}))
    assert generate.lint(sol) == []
    student = generate.student_notebook(sol)
    assert "return y" in student.cells[4].source and generate.leaks(student, sol) == []
    student.cells[2].source = "def g(y):\n    return y"
    assert generate.leaks(student, sol) == ["cell 2: answer line 'return y'"]


def test_nbgrader_metadata_from_tags():
    sol = solution()
    sol.cells.append(new_markdown_cell("## Summary\n\n1. not a question\n\n## Questions\n\n"
                                       "1. Why?\n2. How?\n   12. (no)\n3. When?"))
    sol.cells.append(new_markdown_cell("**Answers**\n### BEGIN SOLUTION\n1. because\n"
                                       "### END SOLUTION", metadata={"tags": ["answers"]}))
    sol.cells[4].metadata["nbgrader"] = {"grade": True, "grade_id": "stale"}  # rebuilt from tags
    nb = generate.clean(sol)
    meta = [c.metadata.get("nbgrader") for c in nb.cells]
    assert meta[2] == {"schema_version": 3, "task": False, "locked": False, "grade": False,
                       "solution": True, "grade_id": "f"}
    assert meta[3] == {"schema_version": 3, "task": False, "locked": True, "grade": True,
                       "solution": False, "points": 1, "grade_id": "check_f"}
    assert meta[4] is None and meta[0] is None and meta[5] is None
    # nbgrader: a markdown solution cell must be graded (manually): a point per question
    assert meta[6] == {"schema_version": 3, "task": False, "locked": False, "grade": True,
                       "solution": True, "points": 3, "grade_id": "answers"}
    from nbgrader.nbgraderformat import MetadataValidator
    MetadataValidator().validate_nb(nb)  # what nbgrader checks before generating or grading
    student = generate.student_notebook(sol)  # the same metadata in the student copy
    assert student.cells[6].metadata["nbgrader"] == meta[6]


def test_answers_cell_is_cleared_in_the_student_copy():
    sol = solution()
    sol.cells.append(new_markdown_cell("**Answers**\n### BEGIN SOLUTION\n1. the secret reason\n"
                                       "### END SOLUTION", metadata={"tags": ["answers"]}))
    assert generate.lint(sol) == []
    student = generate.student_notebook(sol)
    assert "secret reason" not in student.cells[5].source
    assert "YOUR ANSWER HERE" in student.cells[5].source
    assert generate.leaks(student, sol) == []
    student.cells[5].source = "1. the secret reason"
    assert generate.leaks(student, sol) == ["cell 5: answer line '1. the secret reason'"]
    code_answers = solution()
    code_answers.cells[4].metadata["tags"] = ["answers"]  # answers belong in markdown
    with pytest.raises(generate.NotebookError, match="'answers' cell is a markdown cell"):
        generate.student_notebook(code_answers)


def test_exercise_names_must_be_unique():
    sol = solution()
    sol.cells.insert(4, new_code_cell(ANSWER, metadata={"tags": ["exercise"]}))
    sol.cells.insert(5, new_code_cell("f(1)", metadata={"tags": ["check"]}))
    assert any("defined twice: ['f']" in p for p in generate.lint(sol))


@pytest.mark.parametrize("text", ["{}", None], ids=["empty object", "truncated"])
def test_unreadable_solution_is_named_and_the_others_still_checked(tmp_path, text):
    sols, nbs = tmp_path / "solutions", tmp_path / "notebooks"
    write(sols, "00_good.ipynb", solution())
    bad = write(sols, "01_bad.ipynb", solution())
    full = bad.read_text()
    bad.write_text(text if text is not None else full[: len(full) // 2])
    report = generate.check(sols, nbs)
    assert report.missing == ["00_good.ipynb"]  # the good one is still checked
    assert any(f"{bad} is not a valid notebook" in p and "git checkout" in p
               for p in report.problems), report.problems
    with pytest.raises(generate.NotebookError, match=f"{bad} is not a valid notebook"):
        generate.generate(sols, nbs)
    assert not nbs.exists()


def test_regenerated_notebooks_follow_the_umask(tmp_path):
    import os
    import stat

    sols, nbs = tmp_path / "solutions", tmp_path / "notebooks"
    write(sols, "00_a.ipynb", solution())
    old = os.umask(0o022)
    try:
        written = generate.generate(sols, nbs)
    finally:
        os.umask(old)
    assert written and all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in written)
