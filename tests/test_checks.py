"""The exercise framework: PASS / FAIL / TODO, graded runs, the score."""

import pytest

from hwnas_lab.course import checks


@pytest.fixture(autouse=True)
def fresh_score():
    checks.reset_score()
    yield
    checks.reset_score()


def run(title, outcome):
    with checks.exercise(title):
        if outcome == "todo":
            raise NotImplementedError()
        if outcome == "fail":
            raise AssertionError("expected 3, got 4 (likely mistake: ...)")


def test_verdicts_and_score(capsys, monkeypatch):
    monkeypatch.delenv(checks.NBGRADER_ENV, raising=False)
    run("a", "pass")
    run("b", "todo")  # reported, not raised: Run All goes on
    with pytest.raises(AssertionError, match="likely mistake"):
        run("c", "fail")
    out = capsys.readouterr().out
    assert "PASS  a" in out and "TODO  b: not implemented yet" in out
    assert "FAIL  c: expected 3, got 4" in out
    assert checks.score() == (1, 3)
    assert "Score: 1 / 3 exercises passed" in capsys.readouterr().out
    run("b", "pass")  # solving it later updates the verdict
    assert checks.score() == (2, 3)


def test_unsolved_exercise_raises_when_graded(monkeypatch):
    monkeypatch.setenv(checks.NBGRADER_ENV, "autograde")
    with pytest.raises(NotImplementedError):
        run("a", "todo")
    assert checks.score() == (0, 1)


def test_expectations():
    checks.expect_close("x", 1.0 + 1e-9, 1.0)
    with pytest.raises(AssertionError, match="x: expected 1, got 1.1"):
        checks.expect_close("x", 1.1, 1.0)
    with pytest.raises(AssertionError, match="should be a number, got 'a'"):
        checks.expect_close("x", "a", 1.0)
    with pytest.raises(AssertionError, match="y: expected 2, got 3"):
        checks.expect_equal("y", 3, 2)
    with pytest.raises(AssertionError, match="should return a torch.Tensor, got list"):
        checks.expect_tensor("f", [1])
