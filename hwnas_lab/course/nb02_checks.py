"""Notebook 02's exercise checks: each runs the learner's function against the package's
reference (:mod:`hwnas_lab.proxyless`, :mod:`hwnas_lab.proxyless_search`) and names the
likely mistake when they differ.

Exercises: the gradient of the expected latency (``expected_latency_grad``), binarized
paths (``sample_binary_gates``) and the latency loss in its three forms (``latency_loss``);
Cai, Zhu and Han, "ProxylessNAS", ICLR 2019.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .checks import exercise, expect_close

# ----- exercise 1: the gradient of the expected latency ----------------------------------


def _autograd_grad(alpha: torch.Tensor, lat: torch.Tensor) -> torch.Tensor:
    a = alpha.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad((F.softmax(a, dim=1) * lat).sum(), a)
    return grad


def _central_diff_grad(alpha: torch.Tensor, lat: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    grad = torch.zeros_like(alpha)
    for idx in np.ndindex(*alpha.shape):
        up, down = alpha.clone(), alpha.clone()
        up[idx] += eps
        down[idx] -= eps
        grad[idx] = ((F.softmax(up, 1) * lat).sum() - (F.softmax(down, 1) * lat).sum()) / (2 * eps)
    return grad


def _grad_problems() -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(2)
    f64 = dict(dtype=torch.float64)
    return [("one slot, 4 candidates", torch.tensor([[0.3, -1.2, 0.8, 0.0]], **f64),
             torch.tensor([[1.0, 2.5, 0.7, 1.6]], **f64)),
            ("3 slots x 5 candidates", torch.randn(3, 5, generator=g, **f64),
             0.2 + 0.8 * torch.rand(3, 5, generator=g, **f64)),
            ("16 slots x 10 candidates (like the cpu space)", 0.5 * torch.randn(16, 10, generator=g, **f64),
             0.3 + 0.5 * torch.rand(16, 10, generator=g, **f64))]


def _as_float64(what: str, got, shape) -> torch.Tensor:
    try:
        got = torch.as_tensor(np.asarray(got.detach() if isinstance(got, torch.Tensor) else got,
                                         dtype=np.float64))
    except (TypeError, ValueError):
        raise AssertionError(f"{what} should return an array of numbers, got {type(got).__name__}") from None
    if tuple(got.shape) != tuple(shape):
        raise AssertionError(f"{what} should return one number per alpha, shape {tuple(shape)}; "
                             f"got shape {tuple(got.shape)}")
    return got


def check_expected_latency_grad(expected_latency_grad) -> None:
    """Exercise 1: ``expected_latency_grad(alpha, lat_ms)`` returns dE/dalpha for
    ``E = sum_slots sum_i softmax(alpha_slot)_i * lat_ms[slot, i]``, checked against autograd
    and central finite differences."""
    with exercise("expected_latency_grad"):
        worst = 0.0
        for name, alpha, lat in _grad_problems():
            got = _as_float64("expected_latency_grad", expected_latency_grad(alpha.clone(), lat.clone()),
                              alpha.shape)
            auto, fd = _autograd_grad(alpha, lat), _central_diff_grad(alpha, lat)
            if not torch.allclose(auto, fd, atol=1e-7):  # the references agree with each other
                raise RuntimeError("autograd and finite differences disagree: report this bug")
            if torch.allclose(got, auto, rtol=1e-6, atol=1e-9):
                worst = max(worst, float((got - fd).abs().max()))
                continue
            p = F.softmax(alpha, 1)
            slot_E = (p * lat).sum(1, keepdim=True)
            hints = [(-auto, "the sign is flipped: a higher alpha_i raises E when Lat_i > E"),
                     (lat - slot_E, "multiply by p_i: alpha_i moves p_i in proportion to p_i itself"),
                     (p * lat, "softmax couples the candidates (raising alpha_i lowers every other "
                               "p_j): subtract the slot's expected latency, p_i (Lat_i - E_slot)"),
                     (p * (lat - (p * lat).sum()), "E in the formula is the slot's own expected "
                               "latency sum_o p_o Lat_o, not the whole network's")]
            hint = next((h for wrong, h in hints if torch.allclose(got, wrong, rtol=1e-6, atol=1e-9)),
                        "compare with p_i (Lat_i - sum_o p_o Lat_o), slot by slot")
            err = float((got - auto).abs().max())
            raise AssertionError(f"{name}: max |yours - autograd| = {err:.3g}; {hint}")
        print(f"  matched autograd and central finite differences on {len(_grad_problems())} problems "
              f"(max |yours - finite differences| {worst:.1e})")


# ----- exercise 2: sampling binary gates ---------------------------------------------------
GATE_ALPHA = torch.tensor([[0.5, 1.0, 2.0, 3.0], [3.0, 0.5, 1.0, 2.0], [1.5, 2.5, 0.5, 1.0]])
GATE_DRAWS = 2000  # calls of the learner's function in the statistical check


def _gate_indices(what: str, gates, shape) -> torch.Tensor:
    if not isinstance(gates, torch.Tensor):
        raise AssertionError(f"{what} should return a torch.Tensor, got {type(gates).__name__}")
    if tuple(gates.shape) != tuple(shape):
        raise AssertionError(f"{what} should return gates of shape {tuple(shape)} (slots x "
                             f"candidates), got {tuple(gates.shape)}")
    g = gates.detach().double()
    if not bool(((g == 0) | (g == 1)).all()) or not bool((g.sum(1) == 1).all()):
        raise AssertionError("gates must be binary: exactly one 1 per slot (the sampled path), "
                             f"zeros elsewhere; got rows {g[:2].tolist()} ...")
    return g.argmax(1)


def check_binary_gates(sample_binary_gates) -> None:
    """Exercise 2: ``sample_binary_gates(alpha, generator)`` returns one-hot gates, one path per
    slot drawn from ``softmax(alpha)``, each slot independently; checked by its frequencies."""
    with exercise("sample_binary_gates"):
        torch.manual_seed(0)
        gen = torch.Generator().manual_seed(0)
        alpha = GATE_ALPHA.clone()
        draws = torch.stack([_gate_indices("sample_binary_gates", sample_binary_gates(alpha.clone(), gen),
                                           alpha.shape) for _ in range(GATE_DRAWS)])  # (n, slots)
        n, (S, C) = len(draws), alpha.shape
        if bool((draws == draws[0]).all()):
            if torch.equal(draws[0], alpha.argmax(1)):
                raise AssertionError("you always pick the most probable candidate: that is the derived "
                                     "architecture, not a sample; draw the path from softmax(alpha)")
            raise AssertionError(f"all {n} calls gave the same gates: draw a new path on every call")
        if bool((draws == draws[:, :1]).all()):
            raise AssertionError("every slot got the same candidate index in every call: draw each "
                                 "slot's path independently from its own probabilities")
        freq = F.one_hot(draws, C).double().mean(0)
        p = F.softmax(alpha.double(), 1)

        def close(q: torch.Tensor) -> bool:
            return bool(((freq - q).abs() <= 5 * (q * (1 - q) / n).sqrt() + 2e-3).all())

        if not close(p):
            if close(torch.full_like(p, 1 / C)):
                hint = "you sample uniformly; sample from p = softmax(alpha)"
            elif close(alpha.double() / alpha.double().sum(1, keepdim=True)):
                hint = "you sample in proportion to alpha itself; turn logits into p with softmax first"
            else:
                hint = "the frequencies should match softmax(alpha), slot by slot"
            raise AssertionError(f"frequencies over {n} draws {freq.numpy().round(3).tolist()} differ "
                                 f"from softmax(alpha) {p.numpy().round(3).tolist()}: {hint}")
        print(f"  {n} draws: frequencies match softmax(alpha) within 5 standard errors in all "
              f"{S * C} cells; slots drawn independently")


# ----- exercise 3: the latency loss --------------------------------------------------------
LOSS_CASES = (("add", 0.2), ("mul", 0.6), ("log", 0.3))  # (form, lambda or beta)


def check_latency_loss(latency_loss) -> None:
    """Exercise 3: ``latency_loss(ce, expected_ms, target_ms, form, coef)`` for the three forms,
    values and gradients (in ``ce`` and ``expected_ms``) against the package's."""
    from ..proxyless_search import latency_loss as reference

    with exercise("latency_loss"):
        T, ce0 = 5.0, 1.7
        for form, coef in LOSS_CASES:
            for E0 in (0.7 * T, 1.3 * T):
                ce = torch.tensor(ce0, dtype=torch.float64, requires_grad=True)
                E = torch.tensor(E0, dtype=torch.float64, requires_grad=True)
                got = latency_loss(ce, E, T, form, coef)
                call = f"latency_loss(ce={ce0}, E={E0:.2f} ms, T={T} ms, {form!r}, {coef})"
                if not isinstance(got, torch.Tensor) or not got.requires_grad:
                    raise AssertionError(f"{call} should return a tensor computed from ce and "
                                         "expected_ms with torch operations, so gradients reach alpha")
                expected = float(reference(torch.tensor(ce0), torch.tensor(E0), T, form, coef))
                wrong = {"add": [(ce0 + coef * (E0 - T), "divide by T, so lambda has no unit"),
                                 (ce0 + coef * E0 / T, "use (E - T) / T: the term is zero at the target"),
                                 (ce0 + coef * E0, "use lambda * (E - T) / T")],
                         "mul": [(ce0 * (T / E0) ** coef, "the ratio is E / T, not T / E"),
                                 (ce0 * coef * E0 / T, "beta is an exponent: (E / T) ** beta")],
                         "log": [(ce0 * (E0 / T) ** coef, "the log form takes logarithms: "
                                  "(log E / log T) ** beta"),
                                 (ce0 * coef * math.log(E0) / math.log(T), "beta is an exponent")]}[form]
                try:
                    expect_close(call, got.item(), expected, rel=1e-6)
                except AssertionError as err:
                    hint = next((h for v, h in wrong if abs(got.item() - v) < 1e-6 * max(1, abs(v))), "")
                    raise AssertionError(f"{err}" + (f" ({hint})" if hint else "")) from None
                g_ce, g_E = torch.autograd.grad(got, (ce, E), allow_unused=True)
                ref_ce, ref_E = torch.tensor(ce0, requires_grad=True), torch.tensor(E0, requires_grad=True)
                r_ce, r_E = torch.autograd.grad(reference(ref_ce, ref_E, T, form, coef), (ref_ce, ref_E))
                for name, a, b in (("d/d expected_ms", g_E, r_E), ("d/d ce", g_ce, r_ce)):
                    expect_close(f"{name} of {call}", 0.0 if a is None else a.item(), b.item(), rel=1e-5)
        print(f"  values and gradients matched for {len(LOSS_CASES)} forms, below and above the target")
