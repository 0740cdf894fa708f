"""The architecture encoding every notebook shares: ``Arch(ks, e, d, r)``, one or a batch.

The encoding is Once-for-All's (Cai et al., ICLR 2020, "Once-for-All: Train One Network
and Specialize it for Efficient Deployment"). For a space of S stages with at most D
blocks each (D = max(d_choices)):

    ks = (k_0, ..., k_{S*D-1})   depthwise kernel size of block slot s*D + i (block i of stage s)
    e  = (e_0, ..., e_{S*D-1})   expand ratio of the same slots (hidden = e * in_chans)
    d  = (d_0, ..., d_{S-1})     stage s runs its first d_s blocks
    r  = int                     input resolution, pixels (square images)

Slots beyond a stage's depth are kept (as in OFA) but do not change the network, so
mutating a depth upward reveals them. ``Arch.active_slots`` is the one place that turns
``d`` into the slots that run; ``ArchBatch.active`` is its vectorised twin. What a slot
*is* (its channels, stride and input size) is the space's business:
``hwnas_lab.space.SearchSpace.block_slots``.

Text forms (``Arch.parse``, used by every command that takes ``--arch``): ``largest``,
``smallest``, ``random``, a JSON object ``{"ks": [...], "e": [...], "d": [...], "r": 32}``,
or the path of a ``.json`` file holding one.
"""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

import numpy as np

if TYPE_CHECKING:  # only for annotations: space.py imports this module
    from .space import SearchSpace

JSON_EXAMPLE = '{"ks": [3, ...], "e": [4, ...], "d": [2, ...], "r": 32}'


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


@dataclass(frozen=True)
class Arch:
    """One subnetwork; see the module docstring for the grammar.

    Lists (and numpy integers) are accepted and stored as tuples of ints, so an ``Arch``
    is hashable and JSON-serialisable. Construction checks the shape only;
    ``validate(space)`` checks the values against a space.
    """

    ks: tuple[int, ...]
    e: tuple[int, ...]
    d: tuple[int, ...]
    r: int

    def __post_init__(self) -> None:
        for name in ("ks", "e", "d"):
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
                raise ValueError(f"Arch.{name} must be a sequence of ints, got {value!r}")
            value = tuple(value)
            for position, v in enumerate(value):
                if not _is_int(v):
                    raise ValueError(f"Arch.{name}[{position}] = {v!r} is a {type(v).__name__}, "
                                     "not an int")
            object.__setattr__(self, name, tuple(int(v) for v in value))
        if not _is_int(self.r):
            raise ValueError(f"Arch.r = {self.r!r} is a {type(self.r).__name__}, not an int")
        object.__setattr__(self, "r", int(self.r))
        if len(self.d) == 0:
            raise ValueError("Arch.d is empty: give one depth per stage")
        if len(self.ks) != len(self.e):
            raise ValueError(f"Arch.ks has {len(self.ks)} entries but Arch.e has {len(self.e)}: "
                             "give one kernel size and one expand ratio per block slot")
        if len(self.ks) % len(self.d):
            raise ValueError(f"Arch.ks has {len(self.ks)} slots, not a multiple of the "
                             f"{len(self.d)} stages in Arch.d")

    @property
    def max_depth(self) -> int:
        """Block slots per stage (D)."""
        return len(self.ks) // len(self.d)

    def active_slots(self) -> list[int]:
        """Indices of the slots that run, in network order: ``s * D + i`` for ``i < d_s``."""
        D = self.max_depth
        return [stage * D + index for stage, depth in enumerate(self.d) for index in range(depth)]

    def active_blocks(self) -> Iterator[tuple[int, int, int, int]]:
        """``(stage, index, ks, e)`` for each block that runs, in network order."""
        D = self.max_depth
        for slot in self.active_slots():
            yield slot // D, slot % D, self.ks[slot], self.e[slot]

    def validate(self, space: "SearchSpace") -> "Arch":
        """Return self if every value is allowed by ``space``, else raise ``ValueError``
        naming the field, the position and the allowed values."""
        expected = {"ks": space.n_slots, "e": space.n_slots, "d": space.n_stages}
        for name, length in expected.items():
            got = len(getattr(self, name))
            if got != length:
                raise ValueError(
                    f"Arch.{name} has {got} entries but space {space.name!r} needs {length} "
                    f"({space.n_stages} stages x {space.max_depth} slots for ks/e, one per stage for d)")
        checks = (("ks", self.ks, space.ks_choices), ("e", self.e, space.e_choices),
                  ("d", self.d, space.d_choices), ("r", (self.r,), space.r_choices))
        for name, values, allowed in checks:
            for position, value in enumerate(values):
                if value not in allowed:
                    where = f"Arch.{name}" if name == "r" else f"Arch.{name}[{position}]"
                    raise ValueError(f"{where} = {value} is not allowed in space {space.name!r}; "
                                     f"allowed values: {list(allowed)}")
        return self

    # ----- text forms -------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"ks": list(self.ks), "e": list(self.e), "d": list(self.d), "r": self.r}

    @classmethod
    def from_dict(cls, data: object) -> "Arch":
        if not isinstance(data, dict):
            raise ValueError(f"an Arch is a JSON object with keys ks, e, d, r, got "
                             f"{type(data).__name__}; e.g. {JSON_EXAMPLE}")
        missing = {"ks", "e", "d", "r"} - set(data)
        if missing:
            raise ValueError(f"an Arch dict needs keys ks, e, d, r; missing {sorted(missing)}")
        return cls(ks=data["ks"], e=data["e"], d=data["d"], r=data["r"])

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> "Arch":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"not a JSON Arch ({err}); expected e.g. {JSON_EXAMPLE}") from err
        return cls.from_dict(data)

    @classmethod
    def parse(cls, text: str, space: "SearchSpace", seed: int = 0) -> "Arch":
        """``largest``, ``smallest``, ``random`` (drawn with ``seed``), an Arch JSON object or
        the path of a ``.json`` file holding one; validated against ``space``."""
        text = text.strip()
        if text in ("largest", "smallest"):
            return getattr(space, text)()
        if text == "random":
            return space.sample(random.Random(seed))
        if not text.startswith("{"):
            path = Path(text)
            if path.suffix != ".json":
                raise ValueError(f"--arch {text!r}: give largest, smallest, random, an Arch "
                                 f"JSON (e.g. '{JSON_EXAMPLE}') or a .json file")
            if not path.is_file():
                raise FileNotFoundError(f"--arch file {path} does not exist")
            text = path.read_text()
        return cls.from_json(text).validate(space)

    def __str__(self) -> str:
        stages = [[] for _ in self.d]
        for stage, _, ks, e in self.active_blocks():
            stages[stage].append(f"k{ks}e{e}")
        return f"r{self.r} | " + " | ".join(" ".join(blocks) for blocks in stages)


@dataclass(frozen=True)
class ArchBatch:
    """Many architectures as integer arrays: what vectorised consumers read (latency
    tables, predictors, search). ``batch[i]`` is the ``Arch`` of row ``i``."""

    ks: np.ndarray  # (n, n_slots) kernel sizes
    e: np.ndarray  # (n, n_slots) expand ratios
    d: np.ndarray  # (n, n_stages) depths
    r: np.ndarray  # (n,) resolutions

    def __post_init__(self) -> None:
        n = len(self.r)
        if self.ks.shape != self.e.shape or self.ks.ndim != 2 or self.d.ndim != 2 \
                or self.r.ndim != 1 or self.ks.shape[0] != n or self.d.shape[0] != n:
            raise ValueError(f"ArchBatch arrays must be ks, e (n, slots), d (n, stages), r (n,); "
                             f"got {self.ks.shape}, {self.e.shape}, {self.d.shape}, {self.r.shape}")

    def __len__(self) -> int:
        return len(self.r)

    def __getitem__(self, i: int) -> Arch:
        return Arch(self.ks[i].tolist(), self.e[i].tolist(), self.d[i].tolist(), int(self.r[i]))

    def to_archs(self) -> list[Arch]:
        return [self[i] for i in range(len(self))]

    @property
    def active(self) -> np.ndarray:
        """(n, n_slots) booleans: slot ``s * D + i`` runs when ``i < d_s``."""
        n, S = self.d.shape
        D = self.ks.shape[1] // S
        return (np.arange(D)[None, None, :] < self.d[:, :, None]).reshape(n, S * D)

    @classmethod
    def from_archs(cls, space: "SearchSpace", archs: "Sequence[Arch] | ArchBatch") -> "ArchBatch":
        """Stack and validate against ``space`` (vectorised; a bad arch's own error is raised)."""
        if isinstance(archs, ArchBatch):
            return archs.validate(space)
        n = len(archs)
        slots, stages = space.n_slots, space.n_stages
        for a in archs:
            if not isinstance(a, Arch):
                raise ValueError(f"expected Arch objects, got {type(a).__name__}")
            if len(a.ks) != slots or len(a.d) != stages:
                a.validate(space)  # raises the precise message

        def stack(name: str, width: int) -> np.ndarray:
            flat = itertools.chain.from_iterable(getattr(a, name) for a in archs)
            return np.fromiter(flat, dtype=np.int64, count=n * width).reshape(n, width)

        batch = cls(stack("ks", slots), stack("e", slots), stack("d", stages),
                    np.fromiter((a.r for a in archs), dtype=np.int64, count=n))
        return batch.validate(space)

    def validate(self, space: "SearchSpace") -> "ArchBatch":
        """Return self if every row is an architecture of ``space``, else the first bad
        row's ``Arch.validate`` error."""
        if self.ks.shape[1] != space.n_slots or self.d.shape[1] != space.n_stages:
            raise ValueError(f"ArchBatch has {self.ks.shape[1]} slots and {self.d.shape[1]} "
                             f"stages; space {space.name!r} needs {space.n_slots} and "
                             f"{space.n_stages}")
        ok = (np.isin(self.ks, space.ks_choices).all(1) & np.isin(self.e, space.e_choices).all(1)
              & np.isin(self.d, space.d_choices).all(1) & np.isin(self.r, space.r_choices))
        if not ok.all():
            self[int(np.argmin(ok))].validate(space)
        return self
