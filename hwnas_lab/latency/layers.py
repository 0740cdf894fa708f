"""Layer-level latency tables for any ``nn.Module`` (e.g. torchvision's MobileNetV2,
MnasNet-0.5, EfficientNet-B0), so a network outside the search space can be predicted as
the sum of its layers, as ProxylessNAS and Once-for-All do for their own spaces.

A network's layers are found by descending plain ``nn.Sequential`` containers; each is
keyed by its type, input shape and a hash of its ``repr`` and measured on demand with the
protocol of :mod:`hwnas_lab.latency.measure`.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch
from torch import nn
from torchvision.ops.misc import Conv2dNormActivation
from tqdm.auto import tqdm

from ..config import cache_dir, file_lock
from .lut import LatencyTableWarning
from .table_file import FORMAT, check_latency, write_json
from .measure import Target, cpu_model, get_target, machine_info, measure_latency


def _read_layer_table(path: Path, target: str) -> tuple[dict[str, float], dict]:
    """``(entries, machine)`` of a layer-table file, checked (``ValueError`` naming the key)."""
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or data.get("format") != FORMAT \
                or data.get("target") != target:
            raise ValueError(f"not a layer table of format {FORMAT!r} for target {target!r}")
        if not isinstance(data.get("entries"), dict):
            raise ValueError("'entries' is not an object {layer key: ms}")
        entries = {k: check_latency(v, f"entries[{k!r}]") for k, v in data["entries"].items()}
        machine = data.get("machine", {})
        if not isinstance(machine, dict):
            raise ValueError(f"'machine' = {machine!r:.60} is not an object")
    except (ValueError, UnicodeDecodeError) as err:  # JSONDecodeError is a ValueError
        raise ValueError(f"{path} is not a valid layer table ({err}); delete it (its layers "
                         "are measured again on demand)") from None
    return entries, machine


def _layer_modules(model: nn.Module) -> list[nn.Module]:
    """Layers of a network: descend plain ``nn.Sequential`` containers, stop at anything else."""
    out = []
    for child in model.children():
        if isinstance(child, nn.Sequential) and not isinstance(child, Conv2dNormActivation):
            out.extend(_layer_modules(child))
        else:
            out.append(child)
    return out


@dataclass
class LayerRecord:
    """One layer of a network, as a layer table keys it."""

    key: str  # readable + hash of the module's repr and input shape
    module: nn.Module
    input_shape: tuple[int, ...]


def network_layers(model: nn.Module, input_shape: Sequence[int]) -> list[LayerRecord]:
    """The layers ``model`` runs, in order, each with its input shape (one traced forward pass)."""
    layers = _layer_modules(model)
    shapes: dict[int, tuple[int, ...]] = {}
    def record(mod: nn.Module, args: tuple) -> None:  # returns None: inputs unchanged
        shapes.setdefault(id(mod), tuple(args[0].shape))

    hooks = [m.register_forward_pre_hook(record) for m in layers]
    try:
        with torch.inference_mode():
            model.eval()(torch.zeros(*input_shape))
    finally:
        for h in hooks:
            h.remove()
    records = []
    for m in layers:
        if id(m) not in shapes:  # defined but not called by forward
            continue
        shape = shapes[id(m)]
        digest = hashlib.sha1(f"{m!r}{shape}".encode()).hexdigest()[:10]
        records.append(LayerRecord(f"{type(m).__name__}-in{'x'.join(map(str, shape[1:]))}-{digest}",
                                   m, shape))
    return records


@dataclass
class LayerTable:
    """Layer-level latency table for networks outside the search space; fills itself on demand."""

    target: str  # Target.name
    repeats: int = 15  # samples per layer measurement
    warmup: int = 5  # untimed calls per layer measurement
    entries: dict[str, float] = field(default_factory=dict)  # layer key -> median ms
    path: Path | None = None  # saved here after each network, if set

    @classmethod
    def open(cls, target: Target | str = "torch", threads: int | None = None, repeats: int = 15,
             warmup: int = 5, path: str | Path | None = None) -> "LayerTable":
        """The cached layer table of ``target`` (created empty if absent)."""
        tgt = get_target(target, threads)
        path = Path(path) if path else cache_dir("lut") / f"layers-{tgt.name}.json"
        table = cls(tgt.name, repeats, warmup, path=path)
        if path.exists():
            table.entries, machine = _read_layer_table(path, tgt.name)
            if machine.get("cpu") != cpu_model():
                warnings.warn(f"layer table {path} was measured on {machine.get('cpu')!r}; delete "
                              "it to measure its layers here", LatencyTableWarning, stacklevel=2)
        return table

    def save(self) -> None:
        """Write the entries, merged with those another process saved there meanwhile."""
        with file_lock(self.path):
            if self.path.exists():
                try:
                    saved, _ = _read_layer_table(self.path, self.target)
                except ValueError:  # corrupted since it was read: this copy is the best left
                    saved = {}
                self.entries = {**saved, **self.entries}
            write_json(self.path, {"format": FORMAT, "target": self.target,
                                   "machine": machine_info(), "entries": self.entries})

    def predict(self, model: nn.Module, input_shape: Sequence[int], progress: bool = True) -> dict:
        """Sum of the layers' latencies (missing layers measured now): ``{"predicted_ms",
        "layers", "measured_now"}``."""
        records = network_layers(model, input_shape)
        todo = {r.key: r for r in records if r.key not in self.entries}
        tgt = get_target(self.target)
        for rec in tqdm(list(todo.values()), desc=f"layers {self.target}", disable=not progress,
                        leave=False):
            self.entries[rec.key] = measure_latency(rec.module, rec.input_shape, repeats=self.repeats,
                                                    warmup=self.warmup, target=tgt).median_ms
        if todo and self.path is not None:
            self.save()
        return {"predicted_ms": float(sum(self.entries[r.key] for r in records)),
                "layers": len(records), "measured_now": len(todo)}
