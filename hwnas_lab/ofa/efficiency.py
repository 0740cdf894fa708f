"""Efficiency of subnetworks, for a whole batch at once: latency, FLOPs, peak activation memory.

Once-for-All (Cai et al., ICLR 2020, Section 3.4) searches under an efficiency
constraint predicted per architecture, never measured inside the search loop. Three
models, each a function of an ``ArchBatch`` batch (integer arrays ``ks, e, d, r``) that
needs no Python loop over architectures:

* **latency** (ms): a target's latency table, ``LatencyTable.predict_batch`` (or its
  calibrated form, ``latency.predictors.CalibratedSum``), see :mod:`hwnas_lab.latency.lut`;
* **FLOPs** (millions, 2 per multiply-add as ``blocks.count_flops``): the sum of the
  operators' ``LayerSpec.macs``;
* **peak activation memory** (kB = 1024 bytes, float32 = 4 bytes per element, batch 1):
  the largest set of activations that must be live at once while one operator runs,
  as MCUNet measures SRAM (Lin et al., "MCUNet: Tiny Deep Learning on IoT Devices",
  NeurIPS 2020). Weights are not counted. Per operator the live set is its input and its
  output, plus a block's input when its residual add still needs it:

      stem        3 r^2 + C_stem r^2                       (conv+BN+ReLU6 as one operator)
      MBConv      expand:     x + h                        x = C_in H^2, h = e C_in H^2
                  depthwise:  h + h' (+ x if residual)     h' = e C_in H'^2
                  project:    h' + y (+ x if residual)     y = C_out H'^2
      head        1x1 conv: C_in s^2 + W s^2; pool: W s^2 + W; classifier: W + classes

  The network's peak is the maximum over its operators. This is what a memory-lean
  runtime needs (batch norm folded into the convolution, each tensor freed after its last
  use); :func:`measured_peak_kb` runs such an executor on real tensors and records the
  peak of live tensor storage, and also reports what eager PyTorch holds (more: a separate
  batch-norm output, inputs kept alive by the calling frames).

Every model is a :class:`SlotTable`: one number per (resolution, block slot, kernel,
expand) of the space, filled once from ``SearchSpace.layer_specs`` (the one place the
slot layout is decoded), then gathered for a whole batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from ..arch import ArchBatch
from ..latency.lut import LatencyTable
from ..latency.predictors import CalibratedSum, SumPredictor
from ..space import Arch, LayerSpec, SearchSpace

BYTES_PER_ELEMENT = 4  # float32 activations
BYTES_PER_KB = 1024  # memory figures are in kB of 1024 bytes


@dataclass(frozen=True)
class SlotTable:
    """A per-operator quantity for every (resolution, slot, ks, e) of a space (see module doc)."""

    space: SearchSpace
    blocks: np.ndarray  # (R, n_slots, K, E): the value of each block configuration
    stem: np.ndarray  # (R,)
    head: np.ndarray  # (R,)

    @classmethod
    def build(cls, space: SearchSpace, value: Callable[[LayerSpec], float]) -> "SlotTable":
        """Fill the table with ``value(spec)`` for each operator the space can hold."""
        R, K, E = len(space.r_choices), len(space.ks_choices), len(space.e_choices)
        blocks = np.zeros((R, space.n_slots, K, E))
        stem, head = np.zeros(R), np.zeros(R)
        for ri, r in enumerate(space.r_choices):
            for ki, k in enumerate(space.ks_choices):
                for ei, e in enumerate(space.e_choices):
                    specs = space.layer_specs(space.uniform(k, e, space.max_depth, r))
                    blocks[ri, :, ki, ei] = [value(s) for s in specs[1:-1]]  # every slot active
            stem[ri], head[ri] = value(specs[0]), value(specs[-1])
        return cls(space, blocks, stem, head)

    def _positions(self, a: ArchBatch) -> tuple[np.ndarray, ...]:
        def lookup(values: np.ndarray, choices: tuple[int, ...]) -> np.ndarray:
            table = np.full(max(choices) + 1, -1, dtype=np.int64)
            table[list(choices)] = np.arange(len(choices))
            return table[values]

        s = self.space
        return lookup(a.r, s.r_choices), lookup(a.ks, s.ks_choices), lookup(a.e, s.e_choices)

    def active(self, a: ArchBatch) -> np.ndarray:
        """(n, n_slots) mask of the block slots that run."""
        D = self.space.max_depth
        return (np.arange(self.space.n_slots) % D)[None, :] < np.repeat(a.d, D, axis=1)

    def gather(self, a: ArchBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(stem (n,), blocks (n, n_slots), head (n,), active (n, n_slots))`` for a batch."""
        ri, ki, ei = self._positions(a)
        slots = np.arange(self.space.n_slots)[None, :]
        blocks = self.blocks[ri[:, None], slots, ki, ei]
        return self.stem[ri], blocks, self.head[ri], self.active(a)

    def total(self, a: ArchBatch) -> np.ndarray:
        """Sum over the operators that run (e.g. FLOPs)."""
        stem, blocks, head, active = self.gather(a)
        return stem + np.where(active, blocks, 0.0).sum(1) + head

    def peak(self, a: ArchBatch) -> np.ndarray:
        """Maximum over the operators that run (e.g. peak memory)."""
        stem, blocks, head, active = self.gather(a)
        return np.maximum(np.maximum(stem, head), np.where(active, blocks, -np.inf).max(1))

    def minimum(self, per_block: float = 0.0, reduce: str = "sum") -> tuple[float, Arch]:
        """The smallest ``total`` (reduce="sum") or ``peak`` ("max") over the WHOLE space, and an
        architecture reaching it (exact: each slot's value depends only on r, its slot, ks, e).

        ``per_block`` adds a constant per running block (a calibrated latency's per-operator term).
        """
        s, D = self.space, self.space.max_depth
        best: tuple[float, Arch] | None = None
        flat = (self.blocks + per_block).reshape(len(s.r_choices), s.n_slots, -1)
        for ri, r in enumerate(s.r_choices):
            choice = flat[ri].argmin(1)  # cheapest (ks, e) of each slot at this resolution
            cheapest = flat[ri].min(1)
            value = self.stem[ri] + self.head[ri] if reduce == "sum" else max(self.stem[ri], self.head[ri])
            depths = []
            for stage in range(s.n_stages):
                run = cheapest[stage * D:(stage + 1) * D]
                costs = [run[:d].sum() if reduce == "sum" else run[:d].max() for d in s.d_choices]
                depths.append(s.d_choices[int(np.argmin(costs))])
                value = value + min(costs) if reduce == "sum" else max(value, min(costs))
            if best is None or value < best[0]:
                K = len(s.e_choices)
                arch = Arch([s.ks_choices[c // K] for c in choice], [s.e_choices[c % K] for c in choice],
                            depths, r)
                best = (float(value), arch)
        return best


# ----- the three models -------------------------------------------------------------------------
def mflops_table(space: SearchSpace) -> SlotTable:
    """FLOPs in millions per operator (2 per multiply-add, as ``blocks.count_flops``)."""
    return SlotTable.build(space, lambda spec: 2 * spec.macs / 1e6)


def peak_elements(spec: LayerSpec) -> int:
    """Largest live activation set (elements, batch 1) while this operator runs (module doc)."""
    x = spec.cin * spec.in_size ** 2
    out_px = spec.out_size ** 2
    if spec.op == "stem":
        return x + spec.cout * out_px
    if spec.op == "head":
        pooled = spec.cout
        return max(x + spec.cout * spec.in_size ** 2, spec.cout * spec.in_size ** 2 + pooled,
                   pooled + spec.classes)
    if spec.op != "mbconv":
        raise ValueError(f"unknown operator {spec.op!r}")
    hidden = spec.cin * spec.e
    h_in, h_out, y = hidden * spec.in_size ** 2, hidden * out_px, spec.cout * out_px
    keep = x if spec.stride == 1 and spec.cin == spec.cout else 0  # the residual's input
    expand = x + h_in if spec.e != 1 else 0
    return max(expand, h_in + h_out + keep, h_out + y + keep)


def memory_table(space: SearchSpace) -> SlotTable:
    """Peak activation memory per operator, kB (float32, batch 1)."""
    return SlotTable.build(space, lambda s: peak_elements(s) * BYTES_PER_ELEMENT / BYTES_PER_KB)


# ----- measuring the peak on real tensors ---------------------------------------------------------
class LiveTensorPeak(TorchDispatchMode):
    """Records the peak total size of live tensor storage created inside the ``with`` block.

    Every output of every aten operator is tracked by a weak reference to its storage (in-place
    results share their input's storage and count once); after each operator, expired storages
    are dropped and the live total compared with the peak. Tensors made before the block
    (weights) are not counted.
    """

    def __init__(self) -> None:
        super().__init__()
        self.live: list[tuple[object, int, int]] = []  # (weak ref, data pointer, bytes)
        self.peak_bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        from torch.multiprocessing.reductions import StorageWeakRef
        from torch.utils._pytree import tree_flatten

        out = func(*args, **(kwargs or {}))
        self.live = [item for item in self.live if not item[0].expired()]
        pointers = {item[1] for item in self.live}
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                storage = t.untyped_storage()
                if storage.data_ptr() not in pointers:
                    self.live.append((StorageWeakRef(storage), storage.data_ptr(), storage.nbytes()))
                    pointers.add(storage.data_ptr())
        self.peak_bytes = max(self.peak_bytes, sum(item[2] for item in self.live))
        return out


def _lean_forward(stem, blocks, head, r: int) -> torch.Tensor:
    """Run folded layers freeing every tensor after its last use (the analytic model's runtime)."""
    import torch.nn.functional as F

    x = torch.randn(1, 3, r, r)
    x = stem(x).clamp_(0, 6)  # the network input is freed when x is rebound
    for expand, depthwise, project, residual in blocks:
        keep = x if residual else None
        h = x
        del x
        if expand is not None:
            h = expand(h).clamp_(0, 6)
        h = depthwise(h).clamp_(0, 6)
        y = project(h)
        del h
        if keep is not None:
            y += keep
            del keep
        x = y
        del y
    conv, classifier = head
    x = conv(x).clamp_(0, 6)
    x = x.mean(dim=(2, 3))
    return classifier(F.dropout(x, 0.0, False))


def _folded(space: SearchSpace, arch: Arch):
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    from ..blocks import build_net

    net = build_net(space, arch).eval()
    fold = lambda seq: fuse_conv_bn_eval(seq[0], seq[1])  # noqa: E731 - conv+BN -> one conv
    blocks = [(fold(b.expand) if isinstance(b.expand, torch.nn.Sequential) else None,
               fold(b.depthwise), fold(b.project), b.residual) for b in net.blocks]
    return net, fold(net.stem), blocks, (fold(net.head.conv), net.head.classifier)


def measured_peak_kb(space: SearchSpace, arch: Arch) -> dict:
    """Peak live activation memory (kB) measured on real tensors at batch 1, two ways.

    ``lean``: batch norm folded into each conv, ReLU6 in place, each tensor deleted after its
    last use (should equal :func:`peak_memory_kb`); ``eager``: the plain ``StaticNet`` forward,
    as PyTorch runs it. Returns ``{"lean_kb", "eager_kb"}``.
    """
    net, stem, blocks, head = _folded(space, arch)
    with torch.inference_mode():
        lean, eager = LiveTensorPeak(), LiveTensorPeak()
        with lean:
            _lean_forward(stem, blocks, head, arch.r)
        with eager:
            net(torch.randn(net.input_shape(1)))
    return {"lean_kb": lean.peak_bytes / BYTES_PER_KB, "eager_kb": eager.peak_bytes / BYTES_PER_KB}


# ----- one object for the search ---------------------------------------------------------------
class Efficiency:
    """Latency (a target's table, optionally calibrated), FLOPs and peak memory of a batch.

    ``latency`` is anything with ``predict(ArchBatch)`` / ``predict_batch(ArchBatch)`` and a
    ``space`` or ``table.space`` (a ``LatencyTable`` or a fitted ``latency.predictors.CalibratedSum``).
    """

    def __init__(self, space: SearchSpace, latency=None, target: str | None = None):
        self.space = space
        self.latency = latency
        table = getattr(latency, "table", latency)
        if table is not None:
            table.check_space(space)  # a table of another space: clear ValueError
            self.target = target or table.target
            self._lat_table = SlotTable.build(space, table.lookup)
        else:
            self.target, self._lat_table = target, None
        self.flops = mflops_table(space)
        self.memory = memory_table(space)

    def latency_ms(self, a: ArchBatch) -> np.ndarray:
        """The table's sum (or its calibrated form) from the slot table gathered once at
        construction: the same numbers as ``predict_batch`` without re-reading the table's
        entries or re-validating the batch on every call (a search calls this once per
        generation on batches it built itself). Any other model: its own ``predict``."""
        if self.latency is None:
            raise ValueError("no latency table given: Efficiency(space, latency=get_lut(space, target))")
        if type(self.latency) is LatencyTable:
            return self._lat_table.total(a)
        if type(self.latency) in (SumPredictor, CalibratedSum):
            cal = self.latency
            scale, per_op, offset = getattr(cal, "scale", 1.0), getattr(cal, "per_op_ms", 0.0), \
                getattr(cal, "overhead_ms", 0.0)
            return scale * self._lat_table.total(a) + per_op * (a.d.sum(1) + 2.0) + offset
        if hasattr(self.latency, "predict_batch"):
            return self.latency.predict_batch(a)
        return self.latency.predict(a)

    def mflops(self, a: ArchBatch) -> np.ndarray:
        return self.flops.total(a)

    def memory_kb(self, a: ArchBatch) -> np.ndarray:
        return self.memory.peak(a)

    def minimum(self, metric: str) -> tuple[float, Arch]:
        """The smallest value of ``metric`` ("latency_ms", "mflops", "memory_kb") in the space."""
        if metric == "mflops":
            return self.flops.minimum()
        if metric == "memory_kb":
            return self.memory.minimum(reduce="max")
        if metric != "latency_ms":
            raise ValueError(f"unknown metric {metric!r}; choose latency_ms, mflops or memory_kb")
        if self._lat_table is None:
            raise ValueError("no latency table given")
        scale = getattr(self.latency, "scale", 1.0)
        per_op = getattr(self.latency, "per_op_ms", 0.0)
        offset = getattr(self.latency, "overhead_ms", 0.0)
        value, arch = SlotTable(self.space, scale * self._lat_table.blocks, scale * self._lat_table.stem,
                                scale * self._lat_table.head).minimum(per_block=per_op)
        return value + 2 * per_op + offset, arch
