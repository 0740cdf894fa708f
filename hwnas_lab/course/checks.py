"""The exercise framework: how a check runs the learner's function and reports a verdict.

Each notebook's checks live in its own module (``course.nb00_space``, ``nb01_latency``
...); each wraps its work in ``with exercise("name"):`` and, on a wrong answer, raises
``AssertionError`` whose message names the likely mistake. ``exercise`` prints one of

    PASS  name                 the answer matches the reference
    FAIL  name: why            a wrong answer: the error propagates, the cell fails loudly
    TODO  name: ...            not written yet (NotImplementedError): reported, not raised,
                               so "Run All" goes on with the package's reference
                               implementation and the learner sees the whole notebook

Under nbgrader's autograder (which sets ``NBGRADER_EXECUTION``) an unsolved exercise is
raised like a wrong one, so it scores zero. ``score()`` (a notebook's last cell) prints
the learner's exercises passed out of those checked.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

import torch

NBGRADER_ENV = "NBGRADER_EXECUTION"  # set by nbgrader while it validates or autogrades
_results: dict[str, str] = {}  # exercise title -> "PASS" | "FAIL" | "TODO", this kernel


@contextlib.contextmanager
def exercise(title: str) -> Iterator[None]:
    """Run a check: record and print PASS, FAIL (re-raised) or TODO (raised only when graded)."""
    try:
        yield
    except NotImplementedError:
        _results[title] = "TODO"
        print(f"TODO  {title}: not implemented yet. Replace `raise NotImplementedError()` "
              "with your code and run the cell again; the rest of the notebook uses the "
              "package's reference implementation meanwhile.")
        if os.environ.get(NBGRADER_ENV):
            raise
        return
    except AssertionError as err:
        _results[title] = "FAIL"
        print(f"FAIL  {title}: {err}")
        raise
    _results[title] = "PASS"
    print(f"PASS  {title}")


def score() -> tuple[int, int]:
    """Print and return ``(passed, checked)`` over the exercises checked in this kernel."""
    passed = sum(v == "PASS" for v in _results.values())
    print(f"Score: {passed} / {len(_results)} exercises passed")
    for title, verdict in _results.items():
        print(f"  {verdict:4s}  {title}")
    return passed, len(_results)


def reset_score() -> None:
    """Forget the verdicts recorded so far (a fresh start without restarting the kernel)."""
    _results.clear()


def expect_close(what: str, got: float, expected: float, rel: float = 1e-6, abs_: float = 0.0) -> None:
    """Raise AssertionError unless ``got`` is within ``rel`` (relative) or ``abs_`` of ``expected``."""
    try:
        got = float(got)
    except (TypeError, ValueError):
        raise AssertionError(f"{what} should be a number, got {got!r}") from None
    if abs(got - expected) > max(abs_, rel * abs(expected)):
        raise AssertionError(f"{what}: expected {expected:.6g}, got {got:.6g}")


def expect_equal(what: str, got: object, expected: object) -> None:
    if got != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {got!r}")


def expect_tensor(what: str, got: object):
    """``got`` if it is a ``torch.Tensor``, else an AssertionError saying what came back."""
    if not isinstance(got, torch.Tensor):
        raise AssertionError(f"{what} should return a torch.Tensor, got {type(got).__name__}")
    return got
