"""Notebook 02's exercise checks: right answers pass, typical wrong ones fail with their hint,
an unfinished exercise is reported as TODO."""

import math

import pytest
import torch
import torch.nn.functional as F

from hwnas_lab.course import nb02_checks as nb
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
