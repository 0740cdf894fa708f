"""Notebook 04's checks (right answers pass, typical wrong ones fail with their hint),
figures (they draw what they are given, bad input raises) and the scaling panel."""

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from hwnas_lab import scaling as S  # noqa: E402
from hwnas_lab.course import nb04_scaling as nb  # noqa: E402
from hwnas_lab.latency.lut import LatencyTable  # noqa: E402
from hwnas_lab.space import SPACES  # noqa: E402
from helpers import todo

CPU = SPACES["cpu"]
BASE = CPU.uniform(3, 3, 2, 24)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


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


# ----- figures ----------------------------------------------------------------------------
def test_flops_law_plot_draws_each_panel_and_rejects_bad_input():
    phi = np.linspace(0, 3, 7)
    panels = {"depth": {"law": 2 ** phi, "refined": 1.8 ** phi, "measured": 1.7 ** phi},
              "width": {"law": 2 ** phi, "measured": 1.6 ** phi}}
    fig = nb.flops_law_plot(phi, panels)
    assert [ax.get_title() for ax in fig.axes] == ["depth", "width"]
    assert np.allclose(fig.axes[1].lines[-1].get_ydata(), 1.6 ** phi)
    with pytest.raises(ValueError, match="lacks"):
        nb.flops_law_plot(phi, {"depth": {"law": 2 ** phi}})
    with pytest.raises(ValueError, match="of 7 values"):
        nb.flops_law_plot(phi, {"depth": {"law": 2 ** phi, "measured": phi[:3]}})
    with pytest.raises(ValueError, match="empty"):
        nb.flops_law_plot(phi, {})


def test_grid_plot():
    fig = nb.grid_plot([2.0, 2.3, 1.9], [0.5, 0.52, 0.49], [np.nan, 0.01, 0.02], ["a", "b", "c"],
                       reference=1)
    ax = fig.axes[0]
    assert len(ax.texts) == 3 and ax.get_ylabel() == "val accuracy (%)"
    with pytest.raises(ValueError, match="2 labels for 3"):
        nb.grid_plot([2.0, 2.3, 1.9], [0.5, 0.52, 0.49], [np.nan] * 3, ["a", "b"])
    with pytest.raises(ValueError, match="acc_mean"):
        nb.grid_plot([2.0, 2.3], [0.5], [np.nan, np.nan], ["a", "b"])


def test_methods_plot_one_line_per_method():
    results = {"compound": {"mflops": [4, 9, 17], "latency_ms": [1, 2, 3], "acc": [0.5, 0.55, 0.6]},
               "depth": {"mflops": [4, 9, 16], "latency_ms": [1, 2.5, 4], "acc": [0.5, 0.52, 0.53],
                         "acc_std": [0.01, np.nan, 0.02]}}
    fig = nb.methods_plot(results)
    assert len(fig.axes) == 2
    assert fig.axes[0].get_legend_handles_labels()[1] == ["compound", "depth"]
    with pytest.raises(ValueError, match="empty"):
        nb.methods_plot({})
    with pytest.raises(ValueError, match="depth/latency_ms"):
        nb.methods_plot({"depth": {"mflops": [1, 2], "latency_ms": [1], "acc": [0.1, 0.2]}})


def test_family_plot():
    phi = np.arange(3)
    fig = nb.family_plot(phi, [1, 1.8, 2.8], [1, 1.7, 2.9], ["efficientnet_b0", "b1", "b2"])
    assert np.allclose(fig.axes[0].lines[0].get_ydata(), [1, 2, 4])
    with pytest.raises(ValueError, match="2 names for 3"):
        nb.family_plot(phi, [1, 1.8, 2.8], [1, 1.7, 2.9], ["a", "b"])


# ----- the panel --------------------------------------------------------------------------
def test_scaling_summary_numbers(one_thread):
    entries = {s.signature: 0.25 for s in CPU.layer_specs(BASE)}
    table = LatencyTable(CPU, "torch-1thread", entries)
    measured = {}
    s = nb.scaling_summary(CPU, BASE, 1.2, 1.1, 1.15, 1.0, table, measured, repeats=1)
    net = S.scale(CPU, BASE, S.EFFICIENTNET, 1.0)
    assert s.net.arch == net.arch and s.params_k == pytest.approx(net.params / 1e3)
    assert s.base_latency_ms == pytest.approx(0.25 * len(entries))
    assert s.measured_now == len(measured) > 0  # the scaled operators are not in the table
    again = nb.scaling_summary(CPU, BASE, 1.2, 1.1, 1.15, 1.0, table, measured, repeats=1)
    assert again.measured_now == 0 and again.latency_ms == s.latency_ms
    text = s.html()
    assert "[2, 2, 2, 2] &rarr; [3, 3, 3, 3]" in text and "the law says x1.92" in text
    plain = nb.scaling_summary(CPU, BASE, 1.2, 1.1, 1.15, 0.0)
    assert plain.latency_ms is None and "predicted latency" not in plain.html()


def test_scaling_panel_updates_and_solves_gamma():
    panel = nb.ScalingPanel(CPU, BASE)
    assert panel.summary.net.arch.d == (3, 3, 3, 3)
    panel.phi.value = 2.0
    assert panel.summary.net.phi == 2.0
    panel.solve.value = True
    assert panel.gamma.disabled
    assert panel.gamma.value == pytest.approx(S.solve_gamma(1.2, 1.1), abs=1e-4)
    assert panel.summary.net.coefficients.product == pytest.approx(2.0, rel=1e-3)
    panel.alpha.value = 1.5
    assert panel.gamma.value == pytest.approx(S.solve_gamma(1.5, 1.1), abs=1e-4)
    panel.alpha.value = 2.0  # 2 * 1.1^2 > 2: no gamma >= 1 meets it; the panel says so
    assert "already exceeds 2" in panel.out.value


def test_check_module_holds_no_reference_answer():
    """The references are imported inside the checks, so the module's namespace gives none away."""
    for name in ("scale_dims", "solve_gamma", "refined_flops"):
        assert not hasattr(nb, name), f"nb04_scaling exposes the reference {name}"
