"""ProxylessNAS's memory claim, measured: the activation memory of one search step.

Cai, Zhu and Han, "ProxylessNAS: Direct Neural Architecture Search on Target Task and
Hardware", ICLR 2019, Section 3.2: with binarized paths only the active candidate of each
slot runs and keeps activations, so the search needs about the memory of training one
network, where an all-paths mixed operation (DARTS) keeps every candidate's. Measured here
as the bytes autograd saves for backward (``torch.autograd.graph.saved_tensors_hooks``)
and, on a GPU, the peak allocated memory, for each method of ``METHODS``.
"""

from __future__ import annotations

import contextlib
from typing import Iterable

import torch
import torch.nn.functional as F

from .proxyless import METHODS, ProxylessSupernet, frozen

def saved_tensor_bytes(fn, exclude: Iterable[torch.Tensor] = ()) -> tuple[object, int]:
    """Run ``fn()``; return its result and the bytes of the distinct storages autograd saved
    for backward meanwhile (``torch.autograd.graph.saved_tensors_hooks``), ``exclude``
    (the parameters) left out: the activation memory a backward pass will need."""
    skip = {t.untyped_storage().data_ptr() for t in exclude}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in skip and storage.nbytes():
            seen[ptr] = max(seen.get(ptr, 0), storage.nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        result = fn()
    return result, int(sum(seen.values()))


def step_memory(net: ProxylessSupernet, X: torch.Tensor, y: torch.Tensor, method: str,
                path: torch.Tensor | None = None) -> dict[str, tuple[int, int | None]]:
    """Activation memory of one search step of ``method`` (``METHODS``) at this batch:
    ``{"weights": (saved_bytes, cuda_peak_bytes), "alpha": (...)}``, the weight step and the
    alpha step (weights frozen) each. ``saved_bytes``: storages autograd keeps for backward
    (``saved_tensor_bytes``); ``cuda_peak_bytes``: peak allocated above the start on a GPU,
    else None. The same ``path`` (drawn if None) is the active one in every method."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {list(METHODS)}")
    path = net.sample_paths() if path is None else torch.as_tensor(path)
    pair = net.pair_with(path)
    cuda = X.is_cuda
    out = {}
    for update, mode in zip(("weights", "alpha"), METHODS[method]):
        paths = None if mode == "all" else pair if mode == "two" else path
        with (frozen(net.weight_parameters()) if update == "alpha" else contextlib.nullcontext()):
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                base = torch.cuda.memory_allocated()
            logits, saved = saved_tensor_bytes(lambda: net(X, mode, paths), list(net.parameters()))
            F.cross_entropy(logits, y).backward()
            peak = torch.cuda.max_memory_allocated() - base if cuda else None
        net.zero_grad(set_to_none=True)
        out[update] = (saved, peak)
    return out
