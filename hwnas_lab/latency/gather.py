"""Latency prediction for a batch of architectures as one array gather (``LatencyTable``'s
``predict_batch``): every (resolution, block slot, kernel, expand ratio) of the space is
mapped once to the index of its entry in the table; an index matrix (archs x block slots)
then picks every operator's latency at once, inactive slots adding 0 ms."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..arch import ArchBatch
from .table_file import check_latency

if TYPE_CHECKING:
    from .lut import LatencyTable


class GatherPlan:
    """Indices of a table's entries for every (resolution, slot, ks, e) of its space."""

    def __init__(self, table: LatencyTable):
        space = table.space
        self.space = space
        sigs = sorted(table.entries)
        self.signatures = sigs
        index = {s: i for i, s in enumerate(sigs)}
        self.missing = missing = len(sigs)  # the index of an absent entry
        R, K, E = len(space.r_choices), len(space.ks_choices), len(space.e_choices)
        self.block_idx = np.full((R, space.n_slots, K, E), missing, dtype=np.int64)
        self.stem_idx = np.full(R, missing, dtype=np.int64)
        self.head_idx = np.full(R, missing, dtype=np.int64)
        for ri, r in enumerate(space.r_choices):
            slots = space.block_slots(r)
            self.stem_idx[ri] = index.get(space.stem_spec(r).signature, missing)
            self.head_idx[ri] = index.get(space.head_spec(slots[-1].out_size).signature, missing)
            for slot in slots:
                for ki, k in enumerate(space.ks_choices):
                    for ei, ex in enumerate(space.e_choices):
                        sig = slot.spec(k, ex).signature
                        self.block_idx[ri, slot.slot, ki, ei] = index.get(sig, missing)
        # value -> position lookups for the choices (small dense tables)
        self._pos = {name: self._pos_table(choices) for name, choices in
                     (("ks", space.ks_choices), ("e", space.e_choices), ("r", space.r_choices))}
        self.table = table

    @staticmethod
    def _pos_table(choices: Sequence[int]) -> np.ndarray:
        t = np.full(max(choices) + 1, -1, dtype=np.int64)
        t[list(choices)] = np.arange(len(choices))
        return t

    def predict(self, a: ArchBatch) -> np.ndarray:
        ri, ki, ei = self._pos["r"][a.r], self._pos["ks"][a.ks], self._pos["e"][a.e]
        slots = np.arange(self.space.n_slots)
        idx = self.block_idx[ri[:, None], slots[None, :], ki, ei]  # (n, n_slots): the one gather
        stem, head = self.stem_idx[ri], self.head_idx[ri]
        absent = ((idx == self.missing) & a.active).any(1) | (stem == self.missing) \
            | (head == self.missing)
        if absent.any():
            arch = a[int(np.flatnonzero(absent)[0])]
            for spec in self.space.layer_specs(arch):  # the first operator the table lacks
                self.table.lookup(spec)
        values = np.fromiter((self.table.entries[s] for s in self.signatures), dtype=np.float64,
                             count=len(self.signatures))
        bad = ~((values > 0) & np.isfinite(values))
        if bad.any():  # set after loading (loaded files are checked): name the entry
            sig = self.signatures[int(np.flatnonzero(bad)[0])]
            check_latency(self.table.entries[sig], f"{self.table._name()} entries[{sig!r}]")
        values = np.append(values, [0.0, 0.0])  # [missing] never used; [-1]: inactive slots
        idx = np.where(a.active, idx, -1)
        return values[idx].sum(1) + values[stem] + values[head]
