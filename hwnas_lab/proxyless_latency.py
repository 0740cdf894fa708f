"""ProxylessNAS's latency side: the candidates of every block slot, their latencies from the
lookup table, and the expected latency ``E[Lat]`` with its gradient in ``alpha``.

Cai, Zhu and Han, "ProxylessNAS", ICLR 2019, Section 3.3. Candidates of a slot
(``slot_candidates``): every ``(ks, e)`` of the space, then a zero candidate (the block is
skipped) in slots a stage may leave out (``skippable``). ``E[Lat] = fixed + sum over
slots of sum_o p_o Lat_o`` with ``p = softmax(alpha)`` over the candidates that exist
(``masked_probs``); its closed-form gradient is ``p_i (Lat_i - E_slot[Lat])``. The mixed
network that uses them is :mod:`hwnas_lab.proxyless`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .space import LayerSpec, SearchSpace


def slot_candidates(space: SearchSpace) -> list[tuple[int, int]]:
    """The ``(ks, e)`` of the block candidates, in column order (the zero candidate is last)."""
    return [(k, e) for k in space.ks_choices for e in space.e_choices]


def skippable(space: SearchSpace, index: int) -> bool:
    """Whether block ``index`` of a stage may be skipped (a zero candidate): the stage can
    stop before it, i.e. ``index >= min(d_choices)``."""
    return index >= min(space.d_choices)


def candidate_specs(space: SearchSpace, r: int) -> list[list[LayerSpec]]:
    """``[slot][candidate]``: the operator of each block candidate in each slot at resolution r."""
    return [[slot.spec(k, e) for k, e in slot_candidates(space)] for slot in space.block_slots(r)]


def candidate_mask(space: SearchSpace) -> torch.Tensor:
    """Bool ``(n_slots, n_blocks + 1)``: which candidates exist (the last column is zero)."""
    n = len(slot_candidates(space))
    mask = torch.ones(space.n_slots, n + 1, dtype=torch.bool)
    for slot in space.block_slots(min(space.r_choices)):  # the layout is the same at every r
        mask[slot.slot, n] = skippable(space, slot.index)
    return mask


def candidate_latency_ms(table, space: SearchSpace, r: int) -> tuple[float, torch.Tensor]:
    """``(fixed_ms, lat_ms)``: the stem + head latency and a ``(n_slots, n_candidates)``
    matrix of each candidate's LUT latency (zero candidates and absent ones: 0 ms).

    Raises the table's ``MissingEntryError`` (naming the operator and the command that
    measures it) if an operator is missing; ``table.ensure(needed_specs(space, r))`` fills it.
    """
    table.check_space(space)  # a table of another space: ValueError naming both
    specs = candidate_specs(space, r)
    lat = torch.zeros(space.n_slots, len(specs[0]) + 1, dtype=torch.float64)
    for slot, row in enumerate(specs):
        lat[slot, :len(row)] = torch.tensor([table.lookup(s) for s in row], dtype=torch.float64)
    fixed = table.lookup(space.stem_spec(r)) + table.lookup(space.head_spec(final_size(space, r)))
    return float(fixed), lat


def needed_specs(space: SearchSpace, r: int) -> list[LayerSpec]:
    """Every operator the mixed network at resolution ``r`` can use (for ``get_lut(specs=...)``)."""
    out = {space.stem_spec(r).signature: space.stem_spec(r),
           space.head_spec(final_size(space, r)).signature: space.head_spec(final_size(space, r))}
    for row in candidate_specs(space, r):
        out.update((s.signature, s) for s in row)
    return list(out.values())


def final_size(space: SearchSpace, r: int) -> int:
    """Spatial size (pixels) entering the head at input resolution ``r``."""
    return space.block_slots(r)[-1].out_size


def masked_probs(alpha: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Row-wise softmax of ``alpha`` over the candidates that exist (absent ones: p = 0)."""
    if alpha.shape != mask.shape:
        raise ValueError(f"alpha has shape {tuple(alpha.shape)} but the network has "
                         f"{tuple(mask.shape)} (slots x candidates); give one logit per candidate")
    return F.softmax(alpha.masked_fill(~mask, float("-inf")), dim=-1)


def expected_latency_ms(alpha: torch.Tensor, lat_ms: torch.Tensor, mask: torch.Tensor,
                        fixed_ms: float = 0.0) -> torch.Tensor:
    """``E[Lat] = fixed + sum_slots sum_o p_o Lat_o``, differentiable in ``alpha`` (one
    product-sum over the whole ``(slots, candidates)`` matrix, no loop)."""
    p = masked_probs(alpha, mask)
    return fixed_ms + (p * lat_ms.to(p.dtype)).sum()


def expected_latency_grad(alpha: torch.Tensor, lat_ms: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The closed form ``dE/dalpha_i = p_i (Lat_i - E_slot[Lat])``, slot by slot."""
    p = masked_probs(alpha, mask)
    lat = lat_ms.to(p.dtype)
    return p * (lat - (p * lat).sum(dim=-1, keepdim=True))
