"""Latency lookup tables (LUTs): one measured latency per operator configuration.

ProxylessNAS (Cai et al., ICLR 2019) and Once-for-All (Cai et al., ICLR 2020) predict a
network's latency as the sum of its operators' latencies, each looked up in a table
measured once on the target device. This module builds that table on the learner's own
machine for every operator the search space can produce (stem, each MBConv
configuration at each position it can occupy, head), keyed by ``LayerSpec.signature``
(e.g. ``mbconv-cin24-cout40-k5-e4-s2-in16``).

* A build shows a progress bar, saves atomically every few entries (write a temporary
  file, then ``os.replace``), so an interrupted build resumes where it stopped.
* The file is JSON with metadata: target, threads, batch, protocol, CPU model, torch
  and ONNX Runtime versions, date and the search space. Loading a table made on
  another machine or for another target warns; one made for another space is refused.
* Prediction for a batch of architectures is one array gather: signatures are mapped
  to indices once per space; an index matrix (archs x block slots) is built with numpy.
* :mod:`hwnas_lab.latency.layers` does the same for any network (torchvision models).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm.auto import tqdm

from ..arch import Arch, ArchBatch
from ..config import atomic_path, cache_dir
from ..space import LayerSpec, SearchSpace, get_space
from .measure import Target, get_target, machine_info, measure_layer

FORMAT = "hwnas-lut/1"


class MissingEntryError(LookupError):
    """A latency table has no entry for an operator (the message says how to profile it)."""

    def __str__(self) -> str:  # LookupError would quote the message
        return str(self.args[0])


class LatencyTableWarning(UserWarning):
    """A table was measured on another machine, target or software version."""


def space_key(space: SearchSpace) -> str:
    """Short hash of a space's definition, so tables of two spaces never share a file."""
    return hashlib.sha1(json.dumps(space.to_dict(), sort_keys=True).encode()).hexdigest()[:8]


def lut_path(space: SearchSpace | str, target: Target | str = "torch", threads: int | None = None) -> Path:
    """Where the table of ``space`` on ``target`` is cached, e.g. ``lut-cpu-1a2b3c4d-torch-1thread.json``."""
    space, target = get_space(space), get_target(target, threads)
    return cache_dir("lut") / f"lut-{space.name}-{space_key(space)}-{target.name}.json"


def write_json(path: Path, data: dict) -> None:
    """JSON to ``path``, atomically (``config.atomic_path``) and flushed to disk first."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(data, f, indent=1)
        f.flush()
        os.fsync(f.fileno())


def _build_command(space: SearchSpace, target: str) -> str:
    return f"python -m hwnas_lab lut build --space {space.name} --target {target}"


@dataclass
class LatencyTable:
    """Measured latency (ms) of each operator signature, with the metadata of the measurement."""

    space: SearchSpace  # the space whose operators are keyed
    target: str  # Target.name the entries were measured on
    entries: dict[str, float] = field(default_factory=dict)  # signature -> median ms
    iqr_ms: dict[str, float] = field(default_factory=dict)  # signature -> IQR ms
    meta: dict = field(default_factory=dict)  # protocol + machine_info()
    path: Path | None = None  # file the table is saved to, if any

    # ----- files ---------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"format": FORMAT, "target": self.target, "space": self.space.to_dict(),
                "meta": self.meta,
                "entries": {k: {"median_ms": v, "iqr_ms": self.iqr_ms.get(k)}
                            for k, v in self.entries.items()}}

    def save(self, path: str | Path | None = None) -> Path:
        path = Path(path or self.path or lut_path(self.space, self.target))
        write_json(path, self.to_dict())
        self.path = path
        return path

    @classmethod
    def load(cls, path: str | Path, space: SearchSpace | str | None = None,
             target: Target | str | None = None) -> "LatencyTable":
        """Read a table; ``ValueError`` if corrupt or for another ``space``; warns on another
        machine, software version or ``target``."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no latency table at {path}; build one with "
                                    "`python -m hwnas_lab lut build --table PATH`")
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError(f"format is {data.get('format') if isinstance(data, dict) else None!r}, "
                                 f"not {FORMAT!r}")
            table_space = SearchSpace.from_dict(data["space"])
            entries = {k: float(v["median_ms"]) for k, v in data["entries"].items()}
            iqr = {k: float(v["iqr_ms"]) for k, v in data["entries"].items()
                   if v.get("iqr_ms") is not None}
            table = cls(table_space, str(data["target"]), entries, iqr, dict(data["meta"]), path)
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise ValueError(f"{path} is not a valid latency table (corrupt or truncated: {err}); "
                             f"delete it and rebuild with `python -m hwnas_lab lut build`") from None
        if space is not None:
            table.check_space(get_space(space))
        table.check_machine(target)
        return table

    def check_space(self, space: SearchSpace) -> None:
        if space.to_dict() != self.space.to_dict():
            raise ValueError(f"latency table {self.path or ''} was built for space {self.space.name!r} "
                             f"({space_key(self.space)}), not for space {space.name!r} "
                             f"({space_key(space)}); build one with `{_build_command(space, self.target)}`")

    def check_machine(self, target: Target | str | None = None) -> None:
        """Warn if this table was measured elsewhere (CPU, torch version) or on another target."""
        here, there = machine_info(), self.meta.get("machine", {})
        problems = [f"{key} {there.get(key)!r} (here {here[key]!r})" for key in ("cpu", "torch")
                    if there.get(key) != here[key]]
        if target is not None and get_target(target).name != self.target:
            problems.append(f"target {self.target!r} (asked for {get_target(target).name!r})")
        if problems:
            warnings.warn(f"latency table {self.path or ''} was measured with " + ", ".join(problems)
                          + "; its predictions may not hold here. Rebuild it with "
                          + f"`{_build_command(self.space, self.target)}`", LatencyTableWarning,
                          stacklevel=3)

    # ----- prediction -----------------------------------------------------------------
    def lookup(self, spec: LayerSpec) -> float:
        try:
            return self.entries[spec.signature]
        except KeyError:
            raise MissingEntryError(self.missing_message(spec.signature)) from None

    def missing_message(self, signature: str) -> str:
        return (f"latency table for {self.target} has no entry for operator {signature}; profile it "
                f"with `{_build_command(self.space, self.target)}` (resumes, measures only "
                "missing operators) or LatencyTable.ensure(specs)")

    def predict(self, arch: Arch) -> float:
        """Predicted latency (ms) of one architecture: the sum of its operators' entries."""
        return float(sum(self.lookup(s) for s in self.space.layer_specs(arch)))

    def breakdown(self, arch: Arch) -> dict[str, float]:
        """Predicted ms per part: ``stem``, ``stage1`` .. ``stageS``, ``head``."""
        specs = self.space.layer_specs(arch)
        parts = {"stem": self.lookup(specs[0])}
        for (stage, *_), spec in zip(arch.active_blocks(), specs[1:-1]):
            key = f"stage{stage + 1}"
            parts[key] = parts.get(key, 0.0) + self.lookup(spec)
        parts["head"] = self.lookup(specs[-1])
        return parts

    def _plan(self) -> "_GatherPlan":
        key = (id(self.entries), len(self.entries))
        if getattr(self, "_plan_cache", (None,))[0] != key:
            self._plan_cache = (key, _GatherPlan(self))
        return self._plan_cache[1]

    def predict_batch(self, archs: "Sequence[Arch] | ArchBatch") -> np.ndarray:
        """Predicted latency (ms) of many architectures with one gather (no loop over ops)."""
        return self._plan().predict(ArchBatch.from_archs(self.space, archs))

    # ----- building ----------------------------------------------------------------------
    def missing(self, specs: Sequence[LayerSpec] | None = None) -> list[LayerSpec]:
        specs = self.space.all_layer_specs() if specs is None else specs
        seen: set[str] = set()
        out = []
        for s in specs:
            if s.signature not in self.entries and s.signature not in seen:
                seen.add(s.signature)
                out.append(s)
        return out

    def ensure(self, specs: Sequence[LayerSpec] | None = None, save_every: int = 20,
               progress: bool = True) -> "LatencyTable":
        """Measure every missing entry of ``specs`` (default: the whole space), saving as it goes.

        Interrupting (Ctrl-C) keeps every finished entry: the table is saved on the way out.
        """
        todo = self.missing(specs)
        proto = self.meta.get("protocol", {})
        target = get_target(self.target)
        start = time.perf_counter()
        try:
            for i, spec in enumerate(tqdm(todo, desc=f"LUT {self.target}", disable=not progress or not todo)):
                res = measure_layer(spec, target, repeats=proto.get("repeats", 15),
                                    warmup=proto.get("warmup", 5), batch=proto.get("batch", 1))
                self.entries[spec.signature], self.iqr_ms[spec.signature] = res.median_ms, res.iqr_ms
                if self.path is not None and (i + 1) % save_every == 0:
                    self.save()
        finally:
            self.meta["build_s"] = self.meta.get("build_s", 0.0) + time.perf_counter() - start
            if self.path is not None and todo:
                self.save()
        return self


def get_lut(space: SearchSpace | str = "cpu", target: Target | str = "torch",
            threads: int | None = None, repeats: int = 15, warmup: int = 5,
            specs: Sequence[LayerSpec] | None = None, path: str | Path | None = None,
            save_every: int = 20, progress: bool = True, batch: int = 1) -> LatencyTable:
    """The table of ``space`` on ``target`` at ``path``: loaded, and built, resumed or
    extended with whatever ``specs`` it lacks (default: every operator of the space).

    ``path`` defaults to :func:`lut_path` in the cache; ``specs`` restricts the work to
    some operators (e.g. those of a few archs, for a quick demo: ``specs_of``). An
    existing file is resumed: only missing entries are measured.
    """
    space, tgt = get_space(space), get_target(target, threads)
    path = Path(path) if path is not None else lut_path(space, tgt)
    if path.exists():
        table = LatencyTable.load(path, space=space, target=tgt)
        if table.target != tgt.name:
            raise ValueError(f"{path} holds a table for target {table.target!r}, not {tgt.name!r}; "
                             "choose another --table or delete the file")
    else:
        table = LatencyTable(space, tgt.name, path=path, meta={
            "protocol": {"repeats": repeats, "warmup": warmup, "batch": batch, "threads": tgt.threads,
                         "timer": "torch.utils.benchmark.Timer", "statistic": "median",
                         "mode": "eval + inference_mode, each operator measured in isolation"},
            "machine": machine_info()})
    return table.ensure(specs, save_every=save_every, progress=progress)


def specs_of(space: SearchSpace, archs: Sequence[Arch]) -> list[LayerSpec]:
    """The distinct operators of some architectures (a LUT restricted to them is quick to build)."""
    out: dict[str, LayerSpec] = {}
    for a in archs:
        for s in space.layer_specs(a):
            out.setdefault(s.signature, s)
    return list(out.values())


# ----- vectorised prediction ---------------------------------------------------------------
class _GatherPlan:
    """Indices of a table's entries for every (resolution, slot, ks, e) of its space."""

    def __init__(self, table: LatencyTable):
        space = table.space
        self.space = space
        sigs = sorted(table.entries)
        self.signatures = sigs + ["<missing>"]
        self.values = np.array([table.entries[s] for s in sigs] + [np.nan])
        index = {s: i for i, s in enumerate(sigs)}
        missing = len(sigs)
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
        idx = np.where(a.active, idx, -1)  # -1 -> a zero appended below
        values = np.append(self.values, 0.0)
        total = values[idx].sum(1) + values[self.stem_idx[ri]] + values[self.head_idx[ri]]
        if np.isnan(total).any():
            arch = a[int(np.flatnonzero(np.isnan(total))[0])]
            first = next(s for s in self.space.layer_specs(arch)
                         if s.signature not in self.table.entries)
            raise MissingEntryError(self.table.missing_message(first.signature))
        return total


