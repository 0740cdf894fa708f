"""Exercise checkers: each runs the learner's function against the package's reference
and prints a verdict a learner can act on.

A check prints ``PASS`` and returns on success; on a wrong answer it raises
``AssertionError`` saying what was expected and what came back; an exercise still to
do (``NotImplementedError``) is reported as such and re-raised, so the cell shows it.
"""

from __future__ import annotations

import contextlib
from typing import Iterator


@contextlib.contextmanager
def exercise(title: str) -> Iterator[None]:
    """Wrap a check: report not-yet-implemented and wrong answers in plain words."""
    try:
        yield
    except NotImplementedError:
        print(f"TODO  {title}: not implemented yet. Replace `raise NotImplementedError` "
              "with your code and run the cell again.")
        raise
    except AssertionError as err:
        print(f"FAIL  {title}: {err}")
        raise
    print(f"PASS  {title}")


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
