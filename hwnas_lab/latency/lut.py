"""Latency lookup tables (LUTs): one measured latency per operator configuration.

ProxylessNAS (Cai et al., ICLR 2019) and Once-for-All (Cai et al., ICLR 2020) predict a
network's latency as the sum of its operators' latencies, each looked up in a table
measured once on the target device. This module builds that table on the learner's own
machine for every operator the search space can produce (stem, each MBConv
configuration at each position it can occupy, head), keyed by ``LayerSpec.signature``
(e.g. ``mbconv-cin24-cout40-k5-e4-s2-in16``).

* A build shows a progress bar and saves every few entries, so an interrupted build
  resumes where it stopped. Files (:mod:`.table_file`) are JSON with the protocol,
  machine and space; reading checks every field, saving merges with what another build
  of the same file measured meanwhile, so no finished entry is ever lost. Loading a table
  made on another machine or for another target warns (with the command that
  re-measures it: ``lut build --force``); one made for another space is refused.
* A table has one protocol (repeats, warm-up, batch). Asking for another, or ``force``,
  re-measures every entry beside the file and replaces it when complete (``get_lut``).
* Prediction for a batch of architectures is one array gather (:mod:`.gather`).
* :mod:`hwnas_lab.latency.layers` does the same for any network (torchvision models).
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from ..arch import Arch, ArchBatch
from ..config import cache_dir, check_int, file_lock
from ..space import SPACES, LayerSpec, SearchSpace, get_space
from .gather import GatherPlan
from .measure import Target, get_target, machine_info, measure_layer
from .table_file import (BUILD, DEFAULT_PROTOCOL, FORMAT, PROTOCOL_MINIMUM, TableFile,
                         check_latency, check_protocol, protocol_text, read_table, same_table,
                         save_merged, write_json)

__all__ = ["FORMAT", "LatencyTable", "LatencyTableWarning", "MissingEntryError", "get_lut",
           "lut_path", "space_key", "specs_of", "write_json"]


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


def build_command(space: SearchSpace, target: str, path: Path | None = None,
                  force: bool = False) -> str:
    """The ``lut build`` command that (re)builds this table, or the ``get_lut`` call for a
    space that is not a preset (``--space`` names presets only)."""
    if SPACES.get(space.name) != space:
        return (f"get_lut(space, {target!r}" + (f", path={str(path)!r}" if path else "")
                + (", force=True" if force else "") + ") (a custom space has no --space name)")
    return (f"{BUILD} --space {space.name} --target {target}"
            + (f" --table {path}" if path else "") + (" --force" if force else ""))


@dataclass
class LatencyTable(TableFile):
    """Measured latency (ms) of each operator signature, with the metadata of the measurement.

    ``entries`` maps signature -> median ms, ``iqr_ms`` signature -> IQR ms, ``meta`` holds
    the protocol and ``machine_info()``; ``path`` is the file it is saved to, if any.
    """

    path: Path | None = None  # file the table is saved to, if any

    def __post_init__(self) -> None:
        for signature, ms in self.entries.items():
            check_latency(ms, f"LatencyTable.entries[{signature!r}]")

    def _name(self) -> str:
        return f"latency table {self.path}" if self.path else "latency table"

    @property
    def protocol(self) -> dict[str, int]:
        """``repeats``, ``warmup`` and ``batch`` of every entry (defaults where unrecorded)."""
        return check_protocol(self.meta.get("protocol", {}), "meta.protocol")

    # ----- files ---------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"format": FORMAT, "target": self.target, "space": self.space.to_dict(),
                "meta": self.meta,
                "entries": {k: {"median_ms": v, "iqr_ms": self.iqr_ms.get(k)}
                            for k, v in self.entries.items()}}

    def save(self, path: str | Path | None = None) -> Path:
        """Write the table, merged with the entries another build saved there meanwhile."""
        path = Path(path or self.path or lut_path(self.space, self.target))
        save_merged(self, path, self.to_dict)
        self.path = path
        return path

    @classmethod
    def load(cls, path: str | Path, space: SearchSpace | str | None = None,
             target: Target | str | None = None, warn: bool = True) -> "LatencyTable":
        """Read a table; ``ValueError`` naming the file and key if it is corrupt, hand-edited
        into nonsense or for another ``space``; warns (``warn``) if it was measured on
        another machine, software version or ``target``."""
        path = Path(path)
        found = read_table(path)
        table = cls(found.space, found.target, found.entries, found.iqr_ms, found.meta, path)
        if space is not None:
            table.check_space(get_space(space))
        if warn:
            table.check_machine(target)
        return table

    def check_space(self, space: SearchSpace) -> None:
        if space.to_dict() != self.space.to_dict():
            raise ValueError(f"latency table {self.path or ''} was built for space {self.space.name!r} "
                             f"({space_key(self.space)}), not for space {space.name!r} "
                             f"({space_key(space)}); build one with `{build_command(space, self.target)}`")

    def check_machine(self, target: Target | str | None = None) -> None:
        """Warn if this table was measured elsewhere (CPU, torch version) or on another target."""
        here, there = machine_info(), self.meta.get("machine", {})
        problems = [f"{key} {there.get(key)!r} (here {here[key]!r})" for key in ("cpu", "torch")
                    if there.get(key) != here[key]]
        if target is not None and get_target(target).name != self.target:
            problems.append(f"target {self.target!r} (asked for {get_target(target).name!r})")
        if problems:
            warnings.warn(f"latency table {self.path or ''} was measured with " + ", ".join(problems)
                          + "; its predictions may not hold here. Re-measure every entry here with "
                          + f"`{build_command(self.space, self.target, self.path, force=True)}`",
                          LatencyTableWarning, stacklevel=3)

    # ----- prediction -----------------------------------------------------------------
    def lookup(self, spec: LayerSpec) -> float:
        try:
            ms = self.entries[spec.signature]
        except KeyError:
            raise MissingEntryError(self.missing_message(spec.signature)) from None
        return check_latency(ms, f"{self._name()} entries[{spec.signature!r}]")

    def missing_message(self, signature: str) -> str:
        return (f"latency table for {self.target} has no entry for operator {signature}; profile it "
                f"with `{build_command(self.space, self.target, self.path)}` (resumes, measures "
                "only missing operators) or LatencyTable.ensure(specs)")

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

    def _plan(self) -> GatherPlan:
        key = (id(self.entries), hash(frozenset(self.entries)))  # same dict, same signatures
        if getattr(self, "_plan_cache", (None,))[0] != key:
            self._plan_cache = (key, GatherPlan(self))
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
        A save takes in what another build of the same file measured meanwhile, and such
        entries are not measured again here.
        """
        check_int("save_every", save_every)
        todo = self.missing(specs)
        proto = self.protocol
        target = get_target(self.target)
        start = time.perf_counter()
        try:
            done = 0
            for spec in tqdm(todo, desc=f"LUT {self.target}", disable=not progress or not todo):
                if spec.signature in self.entries:  # measured by another build, merged on save
                    continue
                res = measure_layer(spec, target, repeats=proto["repeats"],
                                    warmup=proto["warmup"], batch=proto["batch"])
                self.entries[spec.signature] = res.median_ms
                self.iqr_ms[spec.signature] = res.iqr_ms
                done += 1
                if self.path is not None and done % save_every == 0:
                    self.save()
        finally:
            self.meta["build_s"] = self.meta.get("build_s", 0.0) + time.perf_counter() - start
            if self.path is not None and todo:
                self.save()
        return self


def new_table(space: SearchSpace, target: Target, protocol: dict,
              path: Path | None) -> LatencyTable:
    """An empty table of ``space`` on ``target`` that records ``protocol`` and this machine."""
    return LatencyTable(space, target.name, path=path, meta={
        "protocol": {**protocol, "threads": target.threads, "timer": "torch.utils.benchmark.Timer",
                     "statistic": "median",
                     "mode": "eval + inference_mode, each operator measured in isolation"},
        "machine": machine_info()})


def get_lut(space: SearchSpace | str = "cpu", target: Target | str = "torch",
            threads: int | None = None, repeats: int | None = None, warmup: int | None = None,
            specs: Sequence[LayerSpec] | None = None, path: str | Path | None = None,
            save_every: int = 20, progress: bool = True, batch: int | None = None,
            force: bool = False, at_least: bool = False,
            log: Callable[[str], None] = print) -> LatencyTable:
    """The table of ``space`` on ``target`` at ``path``: loaded, and built, resumed or
    extended with whatever ``specs`` it lacks (default: every operator of the space).

    ``path`` defaults to :func:`lut_path` in the cache; ``specs`` restricts the work to
    some operators (e.g. those of a few archs, for a quick demo: ``specs_of``). An
    existing file is resumed: only missing entries are measured.

    The protocol (``repeats``, ``warmup``, ``batch``; None: the table's, or 15 / 5 / 1 for a
    new one) is recorded in the file. Asking an existing table for another protocol, or
    ``force=True`` (a table from another machine, a corrupt file), re-measures every entry
    it holds plus ``specs``: the new table is built in ``PATH.remeasure`` (resumable the
    same way) and replaces ``path`` only when complete, so no finished entry is lost.
    ``at_least=True`` makes ``repeats`` and ``warmup`` minimums: a table measured with at least
    as many keeps its protocol, so that a quick preset never replaces a more careful table.
    """
    asked = {"repeats": repeats, "warmup": warmup, "batch": batch}
    for key, value in asked.items():  # before any file is read or written
        if value is not None:
            check_int(key, value, PROTOCOL_MINIMUM[key])
    check_int("save_every", save_every)
    space, tgt = get_space(space), get_target(target, threads)
    path = Path(path) if path is not None else lut_path(space, tgt)
    old, why = None, None
    if path.exists():
        try:
            old = LatencyTable.load(path, warn=False)  # warned below if kept
        except ValueError:
            if not force:
                raise
            why = f"asked to re-measure (--force), and {path} is unreadable: rebuilding it"
        if old is not None:  # another space's or target's table is never replaced
            old.check_space(space)
        if old is not None and old.target != tgt.name:
            raise ValueError(f"{path} holds a table for target {old.target!r}, not {tgt.name!r}; "
                             "choose another --table or delete the file")
    base = old.protocol if old is not None else DEFAULT_PROTOCOL
    if at_least and old is not None:
        asked.update({key: None for key in ("repeats", "warmup")
                      if asked[key] is not None and old.protocol[key] >= asked[key]})
    protocol = {key: base[key] if value is None else value for key, value in asked.items()}
    if old is not None and protocol != old.protocol:
        why = (f"{path} was measured with {protocol_text(old.protocol)}; you asked for "
               f"{protocol_text(protocol)}, so every entry is re-measured")
    elif old is not None and force:
        why = f"asked to re-measure (--force): every entry of {path} is measured again here"
    if why is None:
        if old is not None:
            old.check_machine(tgt)
        table = old if old is not None else new_table(space, tgt, protocol, path)
        return table.ensure(specs, save_every=save_every, progress=progress)
    return _remeasure(old, space, tgt, protocol, path, specs, why, save_every, progress, log)


def _remeasure(old: LatencyTable | None, space: SearchSpace, target: Target, protocol: dict,
               path: Path, specs: Sequence[LayerSpec] | None, why: str, save_every: int,
               progress: bool, log: Callable[[str], None]) -> LatencyTable:
    """Build the table again beside ``path`` and move it there when complete (see get_lut)."""
    staging = path.with_name(path.name + ".remeasure")
    table = None
    if staging.exists():
        try:
            table = LatencyTable.load(staging, space=space, warn=False)
        except ValueError:
            pass
        if table is not None and (table.target != target.name or table.protocol != protocol):
            log(f"replacing the unfinished re-measurement {staging} ({len(table.entries)} entries, "
                f"{protocol_text(table.protocol)}): this one asks for {protocol_text(protocol)}")
            staging.unlink()
            table = None
    table = table or new_table(space, target, protocol, staging)
    wanted = {s.signature: s for s in (space.all_layer_specs() if specs is None else specs)}
    if old is not None:  # everything the old table holds, as far as the space has it
        every = {s.signature: s for s in space.all_layer_specs()}
        wanted.update({sig: every[sig] for sig in old.entries if sig in every})
    log(f"{why}: {len(wanted)} operators with {protocol_text(protocol)} into {staging} "
        f"({len(table.entries)} done already); {path} stays as it is until this is complete")
    table.ensure(list(wanted.values()), save_every=save_every, progress=progress)
    with file_lock(path):  # keep what another re-measurement with this protocol put there
        try:
            on_disk = read_table(path)
        except (ValueError, FileNotFoundError):
            on_disk = None
        if on_disk is not None and same_table(on_disk, table):
            for sig, ms in on_disk.entries.items():
                table.entries.setdefault(sig, ms)
        write_json(path, table.to_dict())
        staging.unlink(missing_ok=True)
    table.path = path
    log(f"re-measured: {path} now holds {len(table.entries)} entries, {protocol_text(protocol)}")
    return table


def specs_of(space: SearchSpace, archs: Sequence[Arch]) -> list[LayerSpec]:
    """The distinct operators of some architectures (a LUT restricted to them is quick to build)."""
    out: dict[str, LayerSpec] = {}
    for a in archs:
        for s in space.layer_specs(a):
            out.setdefault(s.signature, s)
    return list(out.values())
