"""Notebook 04's exercise checks: the reference and a learner's version pass, typical wrong
answers fail with their hint, an unfinished exercise is reported as TODO."""

import math

import pytest

from hwnas_lab import scaling as S
from hwnas_lab.course import nb04_checks as nb
from helpers import todo


# ----- exercise 1: scale_dims -----------------------------------------------------------------
def scale_dims_with(depth_round=math.ceil, res_round=None, width=None, power=True, cap=None):
    """A learner's scale_dims with one rule swapped for a typical mistake."""
    def fn(depths, width_mult, resolution, alpha, beta, gamma, phi):
        d_mult = alpha ** phi if power else alpha * phi if phi else 1.0
        r_mult = gamma ** phi
        new_d = tuple(int(depth_round(round(d * d_mult, 9))) for d in depths)
        if cap:
            new_d = tuple(min(d, cap) for d in new_d)
        new_w = width(width_mult, beta, phi) if width else width_mult * beta ** phi
        new_r = (res_round(resolution * r_mult) if res_round
                 else resolution if r_mult == 1 else 2 * math.floor(resolution * r_mult / 2 + 0.5))
        return new_d, new_w, new_r
    return fn


def test_scale_dims_check_passes_the_reference_and_a_learner_version(capsys):
    nb.check_scale_dims(S.scale_dims)
    nb.check_scale_dims(scale_dims_with())
    assert capsys.readouterr().out.count("PASS  scale_dims") == 2


@pytest.mark.parametrize("wrong, hint", [
    (scale_dims_with(depth_round=math.floor), "rounded depth down"),
    (scale_dims_with(depth_round=round), "nearest int"),
    (scale_dims_with(power=False), r"alpha \*\* phi \(a power\)"),
    (scale_dims_with(cap=4), "do not cap depth"),
    (scale_dims_with(res_round=round), "odd: round"),
    (scale_dims_with(res_round=int), "odd: round"),
    (scale_dims_with(res_round=lambda x: 2 * math.floor(x / 2)), "nearest even number, not down"),
    (scale_dims_with(width=lambda w, b, p: w * b ** (2 * p)), "beta counts twice only in the FLOPs"),
    (scale_dims_with(width=lambda w, b, p: b ** p), "multiply the baseline's width_mult"),
    (scale_dims_with(width=lambda w, b, p: 8 * round(w * b ** p * 16 / 8) / 16 if p else w),
     "keep width_mult continuous|width_mult is the baseline's"),
    (lambda *a: 3, "should return \\(depths, width_mult, resolution\\)"),
])
def test_scale_dims_check_catches_typical_mistakes(wrong, hint, capsys):
    with pytest.raises(AssertionError, match=hint):
        nb.check_scale_dims(wrong)
    assert "FAIL  scale_dims" in capsys.readouterr().out


def test_scale_dims_check_reports_todo(capsys):
    nb.check_scale_dims(todo)  # reported as TODO, not raised (see test_checks.py)
    assert "TODO  scale_dims" in capsys.readouterr().out


# ----- exercise 2: solve_gamma ----------------------------------------------------------------
def test_solve_gamma_check(capsys):
    nb.check_solve_gamma(lambda a, b, c=2.0: math.sqrt(c / (a * b * b)))
    assert "PASS  solve_gamma" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="take the square root"):
        nb.check_solve_gamma(lambda a, b, c=2.0: c / (a * b * b))  # gamma counted once
    with pytest.raises(AssertionError, match="width counts twice too"):
        nb.check_solve_gamma(lambda a, b, c=2.0: math.sqrt(c / (a * b)))
    with pytest.raises(AssertionError, match="use the constraint argument"):
        nb.check_solve_gamma(lambda a, b, c=2.0: math.sqrt(2.0 / (a * b * b)))
    with pytest.raises(AssertionError, match="should be a number"):
        nb.check_solve_gamma(lambda a, b, c=2.0: None)
    nb.check_solve_gamma(todo)  # reported as TODO, not raised


# ----- exercise 3: refined_flops --------------------------------------------------------------
def refined_with(**exponents):
    """A learner's refined law with some parts' (d, w, r) exponents swapped."""
    rule = {"stem": (0, 1, 2), "pointwise": (1, 2, 2), "depthwise": (1, 1, 2), "head": (0, 2, 2),
            "classifier": (0, 1, 0), **exponents}
    return lambda parts, d, w, r: sum(parts[p] * d ** a * w ** b * r ** c for p, (a, b, c) in rule.items())


def test_refined_flops_check_passes_the_reference(capsys):
    nb.check_refined_flops(S.refined_flops)
    nb.check_refined_flops(refined_with())
    assert capsys.readouterr().out.count("PASS  refined_flops") == 2


@pytest.mark.parametrize("wrong, hint", [
    (lambda parts, d, w, r: sum(parts.values()) * d * w * w * r * r,  # the plain law for everything
     r"part 'stem' should scale as d\^0 w\^1 r\^2 \(you scaled it as d\^1 w\^2 r\^2\)"),
    (refined_with(depthwise=(1, 2, 2)), "one input channel per filter"),
    (refined_with(classifier=(0, 1, 2)), "sees one pixel"),
    (refined_with(stem=(0, 2, 2)), "reads the 3 RGB channels"),
    (refined_with(head=(1, 2, 2)), "head conv is not repeated with depth"),
    (refined_with(pointwise=(1, 1, 2)), "input and output channels"),
    (lambda parts, d, w, r: "big", "should return a number"),
])
def test_refined_flops_check_catches_typical_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_refined_flops(wrong)


def test_refined_flops_check_catches_a_wrong_sum():
    with pytest.raises(AssertionError, match="expected"):  # parts right one by one, sum off
        nb.check_refined_flops(lambda parts, d, w, r: refined_with()(parts, d, w, r)
                               + (1.0 if len([v for v in parts.values() if v]) > 1 else 0.0))
