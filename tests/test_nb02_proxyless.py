"""Notebook 02's checks (right answers pass, typical wrong ones fail with their hint), figures
and the trade-off panel."""

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from hwnas_lab.course import nb02_proxyless as nb  # noqa: E402
from hwnas_lab.space import SPACES  # noqa: E402
from helpers import todo


# ----- exercise 1 --------------------------------------------------------------------------------
def grad_right(alpha, lat):
    p = torch.softmax(alpha, 1)
    return p * (lat - (p * lat).sum(1, keepdim=True))


def test_expected_latency_grad_check(capsys):
    nb.check_expected_latency_grad(grad_right)
    assert "PASS  expected_latency_grad" in capsys.readouterr().out
    nb.check_expected_latency_grad(lambda a, l: grad_right(a, l).numpy())  # numpy is fine too
    wrong = {
        "multiply by p_i": lambda a, l: l - (torch.softmax(a, 1) * l).sum(1, keepdim=True),
        "subtract the slot's expected latency": lambda a, l: torch.softmax(a, 1) * l,
        "not the whole network's": lambda a, l: torch.softmax(a, 1) * (l - (torch.softmax(a, 1) * l).sum()),
        "sign is flipped": lambda a, l: -grad_right(a, l),
        "shape": lambda a, l: grad_right(a, l).sum(1),
    }
    for hint, fn in wrong.items():
        with pytest.raises(AssertionError, match=hint):
            nb.check_expected_latency_grad(fn)
    nb.check_expected_latency_grad(todo)  # reported as TODO, not raised (see test_checks.py)
    assert "TODO  expected_latency_grad" in capsys.readouterr().out


# ----- exercise 2 --------------------------------------------------------------------------------
def gates_right(alpha, generator=None):
    idx = torch.multinomial(torch.softmax(alpha, 1), 1, generator=generator)[:, 0]
    return F.one_hot(idx, alpha.shape[1]).float()


def test_binary_gates_check(capsys):
    nb.check_binary_gates(gates_right)
    assert "PASS  sample_binary_gates" in capsys.readouterr().out
    nb.check_binary_gates(lambda a, g: gates_right(a))  # the global generator is fine too
    C = nb.GATE_ALPHA.shape[1]
    wrong = {
        "most probable candidate": lambda a, g: F.one_hot(a.argmax(1), C).float(),
        "sample uniformly": lambda a, g: F.one_hot(torch.randint(0, C, (a.shape[0],), generator=g), C).float(),
        "softmax first": lambda a, g: F.one_hot(torch.multinomial(a, 1, generator=g)[:, 0], C).float(),
        "independently": lambda a, g: F.one_hot(torch.multinomial(torch.softmax(a[0], 0), 1, generator=g)
                                                .expand(a.shape[0]), C).float(),
        "exactly one 1 per slot": lambda a, g: torch.softmax(a, 1),
        "shape": lambda a, g: gates_right(a, g)[0],
        "torch.Tensor": lambda a, g: gates_right(a, g).numpy(),
    }
    for hint, fn in wrong.items():
        with pytest.raises(AssertionError, match=hint):
            nb.check_binary_gates(fn)
    nb.check_binary_gates(todo)
    assert "TODO  sample_binary_gates" in capsys.readouterr().out


# ----- exercise 3 --------------------------------------------------------------------------------
def loss_right(ce, E, T, form, coef):
    if form == "add":
        return ce + coef * (E - T) / T
    if form == "mul":
        return ce * (E / T) ** coef
    return ce * (torch.log(E) / math.log(T)) ** coef


def test_latency_loss_check(capsys):
    nb.check_latency_loss(loss_right)
    assert "PASS  latency_loss" in capsys.readouterr().out

    def variant(**forms):
        return lambda ce, E, T, form, coef: forms[form](ce, E, T, coef) if form in forms \
            else loss_right(ce, E, T, form, coef)

    wrong = {
        "divide by T": variant(add=lambda ce, E, T, c: ce + c * (E - T)),
        "zero at the target": variant(add=lambda ce, E, T, c: ce + c * E / T),
        "not T / E": variant(mul=lambda ce, E, T, c: ce * (T / E) ** c),
        "beta is an exponent": variant(mul=lambda ce, E, T, c: ce * c * E / T),
        "takes logarithms": variant(log=lambda ce, E, T, c: ce * (E / T) ** c),
        "torch operations": lambda ce, E, T, form, coef: loss_right(ce, E, T, form, coef).item(),
    }
    for hint, fn in wrong.items():
        with pytest.raises(AssertionError, match=hint):
            nb.check_latency_loss(fn)
    # right value, wrong gradient: the latency term detached
    with pytest.raises(AssertionError, match="d/d expected_ms"):
        nb.check_latency_loss(lambda ce, E, T, form, coef: loss_right(ce, E.detach(), T, form, coef))
    nb.check_latency_loss(todo)
    assert "TODO  latency_loss" in capsys.readouterr().out


# ----- figures -------------------------------------------------------------------------------------
def test_figures_return_figures():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(10), size=(6, 16))
    probs[:, :2, 9] = np.nan
    labels = [f"k{k}e{e}" for k in (3, 5, 7) for e in (3, 4, 6)] + ["zero"]
    figs = [nb.path_prob_heatmaps(probs, list(range(10, 70, 10)), labels, 4),
            nb.latency_trace([1, 2, 3], [5.0, 4.5, 4.2], 4.0, arch_lut_ms=4.1, measured_ms=4.3),
            nb.estimator_comparison(rng.normal(size=(3, 3)), {"a": rng.normal(size=(50, 3, 3)),
                                                              "b": rng.normal(size=(50, 3, 3))},
                                    relaxed=rng.normal(size=(3, 3))),
            nb.memory_bars(["all", "one", "two"], [900.0, 100.0, 120.0], peak_mb=[1000, 150, 170]),
            nb.loss_form_curves([0.5, 1.0, 1.5], {"mul": [0.8, 1.0, 1.2]}),
            nb.tradeoff_plot([3.0, 4.0, 3.5], [60.0, 70.0, 64.0], [3.1, 4.1], [55.0, 66.0],
                             labels=["a", "b", "c"], groups=["hinge", "hinge", "add"], highlight=1)]
    for fig in figs:
        assert isinstance(fig, matplotlib.figure.Figure)
        plt.close(fig)


def test_figures_reject_bad_input():
    with pytest.raises(ValueError, match="snapshots"):
        nb.path_prob_heatmaps(np.zeros((3, 16)), [1, 2, 3], ["a"] * 10, 4)
    with pytest.raises(ValueError, match="labels"):
        nb.path_prob_heatmaps(np.zeros((2, 16, 10)), [1, 2], ["a"] * 9, 4)
    with pytest.raises(ValueError, match="latencies"):
        nb.latency_trace([1, 2], [5.0], 4.0)
    with pytest.raises(ValueError, match="positive"):
        nb.latency_trace([1], [5.0], 0.0)
    with pytest.raises(ValueError, match="empty"):
        nb.estimator_comparison(np.zeros((2, 2)), {})
    with pytest.raises(ValueError, match="values each"):
        nb.estimator_comparison(np.zeros((2, 2)), {"a": np.zeros((10, 3, 3))})
    with pytest.raises(ValueError, match="labels"):
        nb.memory_bars(["a"], [1.0, 2.0])
    with pytest.raises(ValueError, match="one value per ratio"):
        nb.loss_form_curves([1.0, 2.0], {"mul": [1.0]})
    with pytest.raises(ValueError, match="pair up"):
        nb.tradeoff_plot([1.0, 2.0], [50.0])
    with pytest.raises(ValueError, match="highlight"):
        nb.tradeoff_plot([1.0], [50.0], highlight=3)
    with pytest.raises(ValueError, match="one group"):
        nb.tradeoff_plot([1.0, 2.0], [50.0, 60.0], groups=["a"])


# ----- panel ---------------------------------------------------------------------------------------
def points():
    space = SPACES["cpu"]
    return [nb.SweepPoint("hinge T=3.0", "hinge", 3.0, space.smallest(), 3.2, 3.1, 3.4, 0.1, 0.62,
                          (0.6, 0.58)),
            nb.SweepPoint("add lambda=0.5", "add", 5.0, space.largest(), 5.1, 5.0, 5.5, 0.2, 0.70, (0.66,))]


def test_sweep_point_html_and_figure():
    p = points()
    text = p[0].html()
    assert "hinge T=3.0" in text and "62.0 %" in text and "59.0 % mean of 2" in text and "+13 %" in text
    fig = nb.sweep_figure(p, [3.1], [0.6], highlight=1)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert nb.figure_html(fig).startswith("<img src='data:image/png;base64,")
    with pytest.raises(ValueError, match="no sweep points"):
        nb.sweep_figure([])


def test_sweep_panel_follows_its_slider():
    pytest.importorskip("ipywidgets")
    panel = nb.SweepPanel(points(), [3.1, 5.2], [0.6, 0.64])
    assert "hinge T=3.0" in panel.out.value
    panel.slider.value = 1
    assert "add lambda=0.5" in panel.out.value and "data:image/png" in panel.out.value
    with pytest.raises(ValueError, match="no sweep points"):
        nb.SweepPanel([])
