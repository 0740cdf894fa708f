"""What the binary-gate gradient estimates, on a problem small enough to enumerate every path.

ProxylessNAS (Cai, Zhu and Han, ICLR 2019, Section 3.2) updates ``alpha`` with
``dL/dalpha_i ~= sum_j dL/dg_j * p_j (delta_ij - p_i)``, where ``g`` are binary gates
(one path) and ``dL/dg_j`` is taken at the sampled path: the BinaryConnect idea
(Courbariaux et al., NeurIPS 2015), i.e. a straight-through estimate. The quantity a
search wants is the gradient of the expected loss ``E_{path~p}[L(path)]``. On a gated
network with few slots and candidates (``GatedToy``) every path can be evaluated, so:

* ``exact_gradient``        the true gradient of ``E_path[L]`` (enumeration + autograd);
* ``binary_gate_samples``   the paper's estimator, one sample at a time;
* ``reinforce_samples``     the score-function (REINFORCE, Williams 1992) estimator,
                            unbiased for any loss, with a leave-one-out baseline;
* ``relaxed_gradient``      DARTS's gradient of the softmax-weighted network (another
                            objective altogether; deterministic).

The means over many samples, set beside the exact gradient, show which estimator is
unbiased: REINFORCE's mean converges to it; the binary-gate mean converges to something
else unless ``L`` is linear in the gates.
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F

class GatedToy:
    """A tiny gated network on a fixed batch: ``n_slots`` layers, each a choice among
    ``n_cand`` maps ``tanh(W h + b)``, then a linear read-out scored by cross-entropy.
    ``losses(gates)`` takes gates ``(n, n_slots, n_cand)`` and returns ``n`` losses; one-hot
    gates give paths' losses. All ``n_cand ** n_slots`` paths can be evaluated, so
    ``E_path[L]`` and its exact gradient are known."""

    def __init__(self, n_slots: int = 3, n_cand: int = 3, width: int = 8, batch: int = 32,
                 classes: int = 4, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        f64 = dict(generator=g, dtype=torch.float64)  # float64: finite differences stay exact
        self.shape = (n_slots, n_cand)
        self.W = 1.5 * torch.randn(n_slots, n_cand, width, width, **f64) / math.sqrt(width)
        self.b = 0.5 * torch.randn(n_slots, n_cand, 1, width, **f64)
        self.X = torch.randn(batch, width, **f64)
        self.readout = torch.randn(width, classes, **f64)
        self.y = torch.randint(0, classes, (batch,), generator=g)

    def losses(self, gates: torch.Tensor) -> torch.Tensor:
        if gates.dim() != 3 or tuple(gates.shape[1:]) != self.shape:
            raise ValueError(f"gates must have shape (n, {self.shape[0]}, {self.shape[1]}), "
                             f"got {tuple(gates.shape)}")
        gates = gates.double()
        h = self.X.expand(len(gates), -1, -1)  # (n, batch, width)
        for s in range(self.shape[0]):
            outs = torch.tanh(torch.einsum("nbi,kij->nkbj", h, self.W[s]) + self.b[s])
            h = (gates[:, s, :, None, None] * outs).sum(1)
        logits = h @ self.readout  # (n, batch, classes)
        ce = F.cross_entropy(logits.flatten(0, 1), self.y.repeat(len(gates)), reduction="none")
        return ce.view(len(gates), -1).mean(1)


def _check_alpha(alpha: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    alpha = torch.as_tensor(alpha, dtype=torch.float64).detach()
    if alpha.dim() != 2 or tuple(alpha.shape) != tuple(shape):
        raise ValueError(f"alpha has shape {tuple(alpha.shape)}, the problem needs {tuple(shape)} "
                         "(slots x candidates)")
    return alpha


def _paths_losses(losses_fn, paths: torch.Tensor, C: int, chunk: int = 1024) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([losses_fn(F.one_hot(paths[i:i + chunk], C).double())
                          for i in range(0, len(paths), chunk)]).double()


def exact_gradient(losses_fn, alpha: torch.Tensor, max_paths: int = 100_000) -> tuple[float, torch.Tensor]:
    """``(E_path[L], dE/dalpha)`` by enumerating every path: ``E = sum_path P(path) L(path)``
    with ``P = prod_slots p_slot[path_slot]``; the gradient by autograd through ``P``.
    ``losses_fn(gates (n, slots, cand)) -> (n,)`` losses, e.g. ``GatedToy.losses``."""
    alpha = torch.as_tensor(alpha)
    S, C = alpha.shape
    if C ** S > max_paths:
        raise ValueError(f"{C ** S:,} paths is too many to enumerate (max_paths={max_paths:,})")
    alpha = _check_alpha(alpha, (S, C)).requires_grad_(True)
    paths = torch.tensor(list(itertools.product(range(C), repeat=S)))  # (P, S)
    losses = _paths_losses(losses_fn, paths, C)
    log_prob = F.log_softmax(alpha, dim=1).gather(1, paths.T).sum(0)  # (P,)
    expected = (log_prob.exp() * losses).sum()
    (grad,) = torch.autograd.grad(expected, alpha)
    return expected.item(), grad


def relaxed_gradient(losses_fn, alpha: torch.Tensor) -> torch.Tensor:
    """DARTS's gradient: of ``L(softmax(alpha))``, the loss of the weighted-sum network."""
    alpha = _check_alpha(alpha, torch.as_tensor(alpha).shape).requires_grad_(True)
    (grad,) = torch.autograd.grad(losses_fn(F.softmax(alpha, dim=1)[None])[0], alpha)
    return grad


def binary_gate_samples(losses_fn, alpha: torch.Tensor, n: int,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` single-sample binary-gate estimates ``(n, slots, cand)``: draw a path, take
    ``G = dL/dg`` at its one-hot gates, return ``p_i (G_i - sum_j p_j G_j)`` per slot
    (all ``n`` at once: the losses are independent, so one backward gives every ``G``)."""
    alpha = _check_alpha(alpha, torch.as_tensor(alpha).shape)
    p = F.softmax(alpha, dim=1)
    paths = torch.multinomial(p, n, replacement=True, generator=generator).T  # (n, S)
    gates = F.one_hot(paths, p.shape[1]).double().requires_grad_(True)
    (G,) = torch.autograd.grad(losses_fn(gates).sum(), gates)
    return p * (G - (p * G).sum(-1, keepdim=True))


def reinforce_samples(losses_fn, alpha: torch.Tensor, n: int, generator: torch.Generator | None = None,
                      baseline: bool = True) -> torch.Tensor:
    """``n`` REINFORCE estimates ``(L(path) - b) * d log P(path) / d alpha`` with
    ``d log P / d alpha = onehot(path) - p``; ``b`` is the mean loss of the *other* samples
    (leave-one-out, so each estimate stays unbiased), or 0 with ``baseline=False``."""
    if n < 2 and baseline:
        raise ValueError("a leave-one-out baseline needs n >= 2 samples")
    alpha = _check_alpha(alpha, torch.as_tensor(alpha).shape)
    p = F.softmax(alpha, dim=1)
    paths = torch.multinomial(p, n, replacement=True, generator=generator).T  # (n, S)
    losses = _paths_losses(losses_fn, paths, p.shape[1])
    b = (losses.sum() - losses) / (n - 1) if baseline else torch.zeros_like(losses)
    return (losses - b)[:, None, None] * (F.one_hot(paths, p.shape[1]).double() - p)
