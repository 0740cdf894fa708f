"""``python -m hwnas_lab notebooks``: generate, check, time; bad input."""

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from hwnas_lab.cli import main
from hwnas_lab.course.commands import time_notebook
from helpers import write_notebook as write

ANSWER = "def f(x):\n    ### BEGIN SOLUTION\n    secret = x * 41\n    return secret + x\n    ### END SOLUTION"


def solution(exercise_tags=("exercise",)):
    nb = new_notebook(cells=[
        new_markdown_cell("# title"),
        new_code_cell("PRESET = 'smoke'", metadata={"tags": ["parameters"]}),
        new_code_cell(ANSWER, metadata={"tags": list(exercise_tags)}),
        new_code_cell("assert f(1) == 42", metadata={"tags": ["check"]})])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def test_cli(tmp_path, capsys):
    sols, nbs = tmp_path / "solutions", tmp_path / "notebooks"
    write(sols, "00_a.ipynb", solution())
    args = ["notebooks", "--solutions", str(sols), "--notebooks", str(nbs)]
    assert main(args + ["--check"]) == 1
    assert "missing (generate): 00_a.ipynb" in capsys.readouterr().err
    assert main(args) == 0
    assert main(args + ["--check"]) == 0
    write(sols, "01_bad.ipynb", solution(exercise_tags=()))
    assert main(args) == 2  # malformed: a clear one-line error, exit 2
    assert "01_bad.ipynb" in capsys.readouterr().err
    assert main(["notebooks", "--solutions", str(tmp_path / "nowhere"), "--check"]) == 2


def test_time_rejects_bad_input(tmp_path, capsys):
    with pytest.raises(ValueError, match="unknown preset 'fast'"):
        time_notebook(tmp_path / "00_a.ipynb", "fast")
    with pytest.raises(SystemExit):
        main(["notebooks", "--time", "fast"])
    assert "invalid choice: 'fast'" in capsys.readouterr().err
    write(tmp_path / "solutions", "00_a.ipynb", solution())
    args = ["notebooks", "--solutions", str(tmp_path / "solutions"), "--time", "smoke"]
    assert main(args + ["--only", "07"]) == 2
    assert "no solution notebook starts with ['07']" in capsys.readouterr().err




def test_check_names_a_truncated_notebook(tmp_path, capsys):
    sols, nbs = tmp_path / "solutions", tmp_path / "notebooks"
    write(sols, "00_a.ipynb", solution())
    args = ["notebooks", "--solutions", str(sols), "--notebooks", str(nbs)]
    assert main(args) == 0
    (sols / "00_a.ipynb").write_text("{}")
    assert main(args + ["--check"]) == 1
    err = capsys.readouterr().err
    assert f"{sols / '00_a.ipynb'} is not a valid notebook" in err and "Traceback" not in err
