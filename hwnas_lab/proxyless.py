"""ProxylessNAS on the course's search space: mixed operations, expected latency, binary gates.

Cai, Zhu and Han, "ProxylessNAS: Direct Neural Architecture Search on Target Task and
Hardware", ICLR 2019. An over-parameterised network holds, in every block slot of the
space, a *mixed operation*: every candidate block, each with its own weights, and
architecture parameters ``alpha`` (one logit per candidate) giving path probabilities
``p = softmax(alpha)``. Candidates of a slot (``slot_candidates``): every ``(ks, e)`` of
the space, then a zero candidate (the block is skipped: identity through its residual)
in slots a stage may leave out. The space's depths are ``d_choices``, so a stage may end
after ``min(d_choices)`` blocks: slots with index ``>= min(d_choices)`` get the zero
candidate, and every path is a valid ``Arch`` (``ProxylessSupernet.path_to_arch``).

Forward modes (``ProxylessSupernet.forward``):

    "path"  one sampled candidate per slot, no gates (the weight step)
    "all"   DARTS-style weighted sum of every candidate, weights p (every path runs)
    "one"   binary gates: one candidate runs; the gate gradient dL/dg_k = <dL/dy, o_k>
            of the others is recomputed in backward without keeping their activations
    "two"   the paper's two-path variant: two candidates sampled, one active; only the
            pair's alphas get gradients and are rescaled after the step (``rescale_pair``)

Gates are ``g = onehot + p - p.detach()``: their value is the binary gate, their
gradient reaches ``alpha`` as ``dL/dalpha_i = sum_j dL/dg_j p_j (delta_ij - p_i)``, the
paper's BinaryConnect-style estimate. Expected latency (``expected_latency_ms``) is the
LUT latency of each candidate weighted by ``p`` plus the fixed stem and head; it, the
candidates and their latencies live in :mod:`hwnas_lab.proxyless_latency`. Searching
(``warm_up``, ``search``) and the loss forms live in :mod:`hwnas_lab.proxyless_search`;
what the binary-gate gradient estimates, on a problem small enough to enumerate, in
:mod:`hwnas_lab.proxyless_estimators`; the memory of a search step in
:mod:`hwnas_lab.proxyless_memory`.
"""

from __future__ import annotations

import contextlib
from typing import Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .blocks import Head, build_layer
from .arch import Arch
from .proxyless_latency import (candidate_latency_ms, candidate_mask, candidate_specs,
                                expected_latency_ms, final_size, masked_probs, skippable,
                                slot_candidates)
from .space import LayerSpec, SearchSpace, get_space

MODES = ("path", "all", "one", "two")


def straight_through(onehot: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Binary gates: the value of ``onehot``, the gradient of ``p`` (BinaryConnect)."""
    return onehot + p - p.detach()


class _RecomputedGate(torch.autograd.Function):
    """``y = g_a * o_a`` where only candidate ``a`` ran; backward gives every gate's gradient
    ``<dL/dy, o_k>``, running the other candidates again without keeping their activations
    (the paper's memory-saving variant)."""

    @staticmethod
    def forward(ctx, out_active, gates, x, op, active):
        ctx.op, ctx.active = op, active
        ctx.save_for_backward(x, out_active, gates)
        return out_active * gates[active]

    @staticmethod
    def backward(ctx, grad):
        x, out_active, gates = ctx.saved_tensors
        grad_gates = torch.zeros_like(gates)
        with torch.no_grad():
            for k, cand in enumerate(ctx.op.candidates):
                out = out_active if k == ctx.active else cand(x)
                grad_gates[k] = (out * grad).sum()
        return grad * gates[ctx.active], grad_gates, None, None, None


class MixedOp(nn.Module):
    """One block slot: every candidate MBConv with its own weights (and a zero candidate)."""

    def __init__(self, specs: list[LayerSpec], zero: bool):
        super().__init__()
        ops = [build_layer(s) for s in specs] + ([nn.Identity()] if zero else [])
        self.candidates = nn.ModuleList(ops)

    def forward(self, x: torch.Tensor, mode: str, index: torch.Tensor | None = None,
                weights: torch.Tensor | None = None) -> torch.Tensor:
        if mode == "path":
            return self.candidates[int(index)](x)
        if mode == "all":
            return sum(w * op(x) for w, op in zip(weights, self.candidates))
        if mode == "one":
            active = int(index)
            return _RecomputedGate.apply(self.candidates[active](x), weights, x, self, active)
        # "two": index = (active, other); weights = gates of the pair
        active, other = int(index[0]), int(index[1])
        with torch.no_grad():
            out_other = self.candidates[other](x)
        return weights[0] * self.candidates[active](x) + weights[1] * out_other


class ProxylessSupernet(nn.Module):
    """The over-parameterised network of ``space`` at resolution ``r``.

    ``alpha``: ``(n_slots, n_candidates)`` architecture logits (zero at start: uniform
    paths); ``mask`` marks the candidates each slot has. ``attach_latency(table)`` reads the
    LUT once; then ``expected_latency_ms()`` is differentiable in ``alpha``.
    """

    def __init__(self, space: SearchSpace | str = "cpu", r: int | None = None, dropout: float = 0.0):
        super().__init__()
        space = get_space(space)
        depths = sorted(space.d_choices)
        if depths != list(range(depths[0], depths[-1] + 1)):
            raise ValueError(f"zero candidates search depth only over consecutive depths; space "
                             f"{space.name!r} has d_choices {list(space.d_choices)}")
        r = max(space.r_choices) if r is None else r
        if r not in space.r_choices:
            raise ValueError(f"resolution r={r} is not in space {space.name!r}; "
                             f"allowed: {list(space.r_choices)}")
        self.space, self.r = space, r
        self.candidates = slot_candidates(space)
        self.stem = build_layer(space.stem_spec(r))
        self.slots = nn.ModuleList(MixedOp(row, skippable(space, slot.index))
                                   for slot, row in zip(space.block_slots(r), candidate_specs(space, r)))
        head = space.head_spec(final_size(space, r))
        self.head = Head(head.cin, head.cout, head.classes, dropout)
        self.register_buffer("mask", candidate_mask(space), persistent=False)
        self.alpha = nn.Parameter(torch.zeros(self.mask.shape))
        self.register_buffer("lat_ms", torch.zeros(self.mask.shape, dtype=torch.float64))
        self.fixed_ms: float | None = None  # stem + head latency, set by attach_latency

    # ----- parameters and latency ---------------------------------------------------
    def weight_parameters(self) -> Iterator[nn.Parameter]:
        """Every parameter but ``alpha`` (the weights' optimiser gets these)."""
        return (p for name, p in self.named_parameters() if name != "alpha")

    def set_alpha(self, alpha: torch.Tensor) -> None:
        alpha = torch.as_tensor(alpha, dtype=self.alpha.dtype)
        if alpha.shape != self.alpha.shape:
            raise ValueError(f"alpha has shape {tuple(alpha.shape)} but this network needs "
                             f"{tuple(self.alpha.shape)} ({self.space.n_slots} slots x "
                             f"{self.alpha.shape[1]} candidates)")
        with torch.no_grad():
            self.alpha.copy_(alpha.to(self.alpha.device))

    def attach_latency(self, table, calibration=None) -> "ProxylessSupernet":
        """Read every candidate's latency from ``table`` (a ``LatencyTable`` of this space).

        ``calibration``: a fitted ``hwnas_lab.latency.predictors.CalibratedSum`` of that table
        (notebook 01: ``scale * sum + per_op_ms * operators + overhead_ms``, fit on measured
        networks). Each block candidate then costs ``scale * Lat + per_op_ms`` and the fixed
        part ``scale * (stem + head) + 2 * per_op_ms + overhead_ms``: still linear in ``p``,
        so ``E[Lat]`` is exactly the expected calibrated prediction of a sampled path.
        """
        fixed, lat = candidate_latency_ms(table, self.space, self.r)
        if calibration is not None:
            if calibration.table.space.to_dict() != self.space.to_dict():
                raise ValueError("the calibration was fitted on a table of another space")
            if not calibration.scale > 0:  # a few noisy networks can fit a falling line
                raise ValueError(f"the calibration's scale is {calibration.scale:.3g}: latency would "
                                 "fall as the table's sum grows and the search would favour "
                                 "slower networks; fit it on more networks, or attach the plain table")
            blocks = torch.zeros_like(lat, dtype=torch.bool)
            blocks[:, :len(self.candidates)] = True
            lat = calibration.scale * lat + calibration.per_op_ms * blocks
            fixed = calibration.scale * fixed + 2 * calibration.per_op_ms + calibration.overhead_ms
            fastest_ms = float(fixed) + float(lat.masked_fill(~self.mask.to(lat.device), float("inf"))
                                              .min(1).values.sum())
            if not fastest_ms > 0:  # negative per-operator or overhead terms fitted on few networks
                raise ValueError(f"the calibration predicts {fastest_ms:.3g} ms for the fastest path: "
                                 "no latency model; fit it on more networks, or attach the plain table")
        self.fixed_ms = float(fixed)
        self.lat_ms.copy_(lat)
        self.target = table.target
        return self

    def probs(self) -> torch.Tensor:
        return masked_probs(self.alpha, self.mask)

    def expected_latency_ms(self) -> torch.Tensor:
        if self.fixed_ms is None:
            raise ValueError("no latency table attached: call net.attach_latency(table) first")
        return expected_latency_ms(self.alpha, self.lat_ms, self.mask, self.fixed_ms)

    def latency_range_ms(self) -> tuple[float, float]:
        """Latency of the fastest and of the slowest path (the candidate extremes of each slot)."""
        lat = self.lat_ms.masked_fill(~self.mask, float("inf"))
        fastest = lat.min(1).values.sum()
        slowest = self.lat_ms.masked_fill(~self.mask, float("-inf")).max(1).values.sum()
        return self.fixed_ms + float(fastest), self.fixed_ms + float(slowest)

    def path_latency_ms(self, paths: torch.Tensor) -> torch.Tensor:
        """LUT latency of paths ``(n, n_slots)`` (candidate indices): one gather, no loop."""
        paths = torch.as_tensor(paths).reshape(-1, self.space.n_slots).to(self.lat_ms.device)
        lat = self.lat_ms.unsqueeze(0).expand(len(paths), -1, -1)
        return self.fixed_ms + lat.gather(2, paths.unsqueeze(-1)).squeeze(-1).sum(1)

    # ----- sampling ---------------------------------------------------------------------
    def sample_paths(self, n: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """Candidate index per slot drawn from ``p``: ``(n_slots,)``, or ``(n, n_slots)``."""
        with torch.no_grad():
            p = self.probs().float().cpu()
            draws = torch.multinomial(p, 1 if n is None else n, replacement=True, generator=generator)
        return draws[:, 0] if n is None else draws.T.contiguous()

    def sample_pairs(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """``(n_slots, 2)``: two different candidates per slot drawn from ``p``, then ordered
        (active, other) by a draw from the pair's renormalised probabilities."""
        with torch.no_grad():
            p = self.probs().float().cpu()
            pair = torch.multinomial(p, 2, replacement=False, generator=generator)
            q = F.softmax(self.alpha.detach().float().cpu().gather(1, pair), dim=1)
            swap = torch.multinomial(q, 1, generator=generator)[:, 0] == 1
        return torch.where(swap[:, None], pair.flip(1), pair)

    def pair_with(self, path: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``(n_slots, 2)``: ``path`` as the active candidates, the other of each pair drawn
        from ``p`` without it (a two-path step whose active path is fixed, e.g. to compare
        methods on the same path)."""
        with torch.no_grad():
            p = self.probs().float().cpu().scatter(1, torch.as_tensor(path)[:, None], 0.0)
            other = torch.multinomial(p, 1, generator=generator)[:, 0]
        return torch.stack([torch.as_tensor(path), other], 1)

    @torch.no_grad()
    def rescale_pair(self, pair: torch.Tensor, old_alpha: torch.Tensor) -> None:
        """After a two-path step, shift the pair's new logits so that their summed
        ``exp`` equals the old one: the probabilities of unsampled paths stay unchanged."""
        pair = torch.as_tensor(pair).to(self.alpha.device)
        old = old_alpha.to(self.alpha.device).gather(1, pair).logsumexp(1, keepdim=True)
        new = self.alpha.gather(1, pair).logsumexp(1, keepdim=True)
        self.alpha.scatter_(1, pair, self.alpha.gather(1, pair) - (new - old))

    # ----- forward ------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, mode: str = "path", paths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits; ``paths``: ``(n_slots,)`` indices ("path", "one"), ``(n_slots, 2)`` pairs
        ("two"); drawn from ``p`` when None. "all" ignores ``paths``."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose one of {list(MODES)}")
        if paths is None and mode != "all":
            paths = self.sample_pairs() if mode == "two" else self.sample_paths()
        if paths is not None:
            paths = torch.as_tensor(paths)
            want = (self.space.n_slots, 2) if mode == "two" else (self.space.n_slots,)
            if tuple(paths.shape) != want:
                raise ValueError(f"paths for mode {mode!r} must have shape {want}, got {tuple(paths.shape)}")
            if (~self.mask.cpu().gather(1, paths.reshape(self.space.n_slots, -1))).any():
                raise ValueError("paths choose a candidate a slot does not have (the zero "
                                 "candidate of a stage's first blocks)")
        gates = None
        if mode in ("all", "one"):
            p = self.probs()
            gates = p if mode == "all" else straight_through(
                F.one_hot(paths.to(p.device), p.shape[1]).to(p.dtype), p)
        elif mode == "two":
            pair = paths.to(self.alpha.device)
            q = F.softmax(self.alpha.gather(1, pair), dim=1)
            first = torch.zeros_like(q)
            first[:, 0] = 1.0  # the pair is ordered (active, other)
            gates = straight_through(first, q)
        x = self.stem(x)
        for slot, op in enumerate(self.slots):
            x = op(x, mode, None if paths is None else paths[slot],
                   None if gates is None else gates[slot])
        return self.head(x)

    # ----- architectures ------------------------------------------------------------------
    def path_to_arch(self, path: Iterable[int]) -> Arch:
        """The ``Arch`` a path (one candidate index per slot) describes: zero candidates drop
        their block, the stage's remaining blocks close up (same operators, as every
        non-first block of a stage has the same shape); the slots left unused hold their most
        probable block candidate (the encoding keeps them; they do not run)."""
        path = [int(i) for i in path]
        if len(path) != self.space.n_slots:
            raise ValueError(f"a path has one candidate per slot ({self.space.n_slots}), got {len(path)}")
        n_blocks, D = len(self.candidates), self.space.max_depth
        ks, e, d = [], [], []
        for stage in range(self.space.n_stages):
            row = path[stage * D:(stage + 1) * D]
            if any(not 0 <= i <= n_blocks or (i == n_blocks and not skippable(self.space, j))
                   for j, i in enumerate(row)):
                raise ValueError(f"path {row} of stage {stage} holds a candidate its slots lack")
            kept = [self.candidates[i] for i in row if i < n_blocks]
            spare = [self.candidates[int(self.alpha[stage * D + j, :n_blocks].argmax())]
                     for j, i in enumerate(row) if i == n_blocks]
            blocks = kept + spare
            d.append(len(kept))
            ks += [k for k, _ in blocks]
            e += [x for _, x in blocks]
        return Arch(ks, e, d, self.r).validate(self.space)

    def derive_arch(self) -> Arch:
        """The most probable candidate in each slot, as a validated ``Arch``."""
        with torch.no_grad():
            return self.path_to_arch(self.probs().argmax(1).tolist())


@torch.no_grad()
def init_from_ofa(net: ProxylessSupernet, ofa) -> ProxylessSupernet:
    """Start every candidate (and the stem and head) from the weights a trained Once-for-All
    supernet of the same space gives that block (``DynamicMBConv.to_static``), BN
    statistics included; the candidates remain separate copies from then on."""
    if ofa.space.to_dict() != net.space.to_dict():
        raise ValueError(f"the OFA supernet is for space {ofa.space.name!r}, this network for "
                         f"{net.space.name!r}")
    net.stem.load_state_dict(ofa.stem.state_dict())
    net.head.load_state_dict(ofa.head.state_dict())
    for slot, op in enumerate(net.slots):
        for (ks, e), cand in zip(net.candidates, op.candidates):
            cand.load_state_dict(ofa.blocks[slot].to_static(ks, e).state_dict())
    return net


@contextlib.contextmanager
def frozen(params: Iterable[nn.Parameter]) -> Iterator[None]:
    """Temporarily stop gradients to ``params`` (the weights, during an architecture step)."""
    params = [p for p in params if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


METHODS = {  # method -> (mode of its weight step, mode of its alpha step)
    "all": ("all", "all"),  # DARTS-style: every path runs, weighted by p, in both steps
    "one": ("path", "one"),  # ProxylessNAS: one path; gate gradients recomputed in backward
    "two": ("path", "two"),  # ProxylessNAS two-path: one path, then a sampled pair
}


def np_probs(net: ProxylessSupernet) -> np.ndarray:
    """Path probabilities as a float numpy array (absent candidates: NaN), for plots."""
    with torch.no_grad():
        p = net.probs().double().cpu().numpy()
    p[~net.mask.cpu().numpy()] = np.nan
    return p
