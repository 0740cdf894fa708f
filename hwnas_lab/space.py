"""The one search space of the course: its shape, its slot layout, its operators.

A MobileNetV2/V3-style CIFAR network (Sandler et al., 2018; Howard et al., 2019):
a 3x3 stem convolution, then ``len(stage_channels)`` stages of inverted-residual
(MBConv) blocks, then a 1x1 head convolution, global average pooling and a linear
classifier. The elastic dimensions are those of Once-for-All (Cai et al., ICLR 2020):
kernel size ``ks`` and expand ratio ``e`` per block slot, depth ``d`` per stage and the
input resolution ``r``; the encoding ``Arch(ks, e, d, r)`` is in :mod:`hwnas_lab.arch`.

The slot layout, decoded here once (``SearchSpace.block_slots``): slot ``s * D + i`` is
block ``i`` of stage ``s``; only a stage's first block has the stage's stride and changes
the channel count (``cin`` chains from the previous block, starting at the stem's width);
the others have stride 1 and a residual connection; the input size shrinks at strides
(same padding: ``out = ceil(in / stride)``). Since inactive slots have stride 1, a slot's
input size depends on ``r`` only. The static builder, the latency tables, the supernet
and the widgets all read this layout.
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass
from functools import cache
from typing import Iterable, Sequence

import numpy as np

from .arch import Arch, ArchBatch
from .config import check_int

Rng = random.Random | int | None


def make_rng(rng: Rng) -> random.Random:
    """A ``random.Random`` from a seed, an existing generator, or None (fresh entropy)."""
    return rng if isinstance(rng, random.Random) else random.Random(rng)


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a channel count to the nearest multiple of ``divisor``, never below 90% of it."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


@dataclass(frozen=True)
class LayerSpec:
    """One operator of a subnetwork, as the builder makes it and the latency table keys it."""

    op: str  # "stem", "mbconv" or "head"
    cin: int  # input channels
    cout: int  # output channels (head: channels of its 1x1 conv)
    in_size: int  # input height = width, pixels
    ks: int = 1  # kernel size (stem: 3; mbconv: depthwise kernel; head: 1)
    e: int = 0  # expand ratio (mbconv only)
    stride: int = 1  # stride of the operator
    classes: int = 0  # outputs of the classifier (head only)

    @property
    def out_size(self) -> int:
        return (self.in_size - 1) // self.stride + 1

    @property
    def signature(self) -> str:
        """A readable key, e.g. ``mbconv-cin24-cout40-k5-e4-s2-in16``."""
        if self.op == "mbconv":
            return (f"mbconv-cin{self.cin}-cout{self.cout}-k{self.ks}-e{self.e}"
                    f"-s{self.stride}-in{self.in_size}")
        if self.op == "head":
            return f"head-cin{self.cin}-cout{self.cout}-cls{self.classes}-in{self.in_size}"
        return f"{self.op}-cin{self.cin}-cout{self.cout}-k{self.ks}-s{self.stride}-in{self.in_size}"

    @property
    def macs(self) -> int:
        """Multiply-adds of convolutions and the classifier (BN, activations, adds excluded)."""
        out_px = self.out_size ** 2
        if self.op == "stem":
            return out_px * self.cin * self.cout * self.ks ** 2
        if self.op == "mbconv":
            hidden = self.cin * self.e
            expand = self.in_size ** 2 * self.cin * hidden if self.e != 1 else 0
            return expand + out_px * hidden * self.ks ** 2 + out_px * hidden * self.cout
        if self.op == "head":  # 1x1 conv, global pool, linear
            return self.in_size ** 2 * self.cin * self.cout + self.cout * self.classes
        raise ValueError(f"unknown operator {self.op!r}")


@dataclass(frozen=True)
class BlockSlot:
    """Where one block slot sits in the network (see the module docstring)."""

    stage: int  # stage index, from 0
    index: int  # position within the stage, from 0
    slot: int  # stage * max_depth + index: the position in Arch.ks / Arch.e
    cin: int  # input channels
    cout: int  # output channels (the stage's width)
    stride: int  # the stage's stride on its first block, else 1
    in_size: int  # input height = width in pixels, for the resolution asked for

    @property
    def out_size(self) -> int:
        return (self.in_size - 1) // self.stride + 1

    def spec(self, ks: int, e: int) -> LayerSpec:
        """The operator this slot runs with kernel size ``ks`` and expand ratio ``e``."""
        return LayerSpec("mbconv", self.cin, self.cout, self.in_size, ks, e, self.stride)


@dataclass(frozen=True)
class SearchSpace:
    """A space of MBConv networks; two named presets: ``cpu`` (small) and ``gpu`` (larger).

    Channel counts are scaled by ``width_mult`` and rounded to multiples of 8.
    """

    name: str = "cpu"  # preset name, recorded in tables and checkpoints
    stem_channels: int = 16  # output channels of the 3x3 stride-1 stem conv
    stage_channels: tuple[int, ...] = (16, 24, 40, 64)  # output channels of each stage
    stage_strides: tuple[int, ...] = (2, 2, 2, 1)  # stride of each stage's first block
    head_channels: int = 256  # channels of the 1x1 conv before pooling
    num_classes: int = 10  # CIFAR-10
    width_mult: float = 1.0  # multiplies every channel count above
    ks_choices: tuple[int, ...] = (3, 5, 7)  # depthwise kernel sizes
    e_choices: tuple[int, ...] = (3, 4, 6)  # expand ratios
    d_choices: tuple[int, ...] = (2, 3, 4)  # blocks per stage
    r_choices: tuple[int, ...] = (24, 28, 32)  # input resolutions, pixels

    def __post_init__(self) -> None:
        """Check every field (a ``ValueError`` names it) and store ints as plain ``int``s."""
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"SearchSpace.name must be a non-empty string, got {self.name!r}")
        for name in ("stem_channels", "head_channels", "num_classes"):
            object.__setattr__(self, name, check_int(f"SearchSpace.{name}", getattr(self, name)))
        for name in ("stage_channels", "stage_strides", "ks_choices", "e_choices",
                     "d_choices", "r_choices"):
            value = getattr(self, name)
            if isinstance(value, (str, bytes, dict)) or not isinstance(value, Iterable):
                raise ValueError(f"SearchSpace.{name} must be a sequence of ints, got {value!r}")
            value = tuple(check_int(f"SearchSpace.{name}[{i}]", v) for i, v in enumerate(value))
            if not value:
                raise ValueError(f"SearchSpace.{name} is empty; give at least one value")
            object.__setattr__(self, name, value)
        mult = self.width_mult
        if isinstance(mult, (bool, np.bool_)) or not isinstance(mult, (int, float, np.number)) \
                or not 0 < mult < math.inf:
            raise ValueError(f"SearchSpace.width_mult must be a number > 0, got {mult!r}")
        object.__setattr__(self, "width_mult", float(mult))
        if len(self.stage_channels) != len(self.stage_strides):
            raise ValueError(f"stage_channels has {len(self.stage_channels)} stages but "
                             f"stage_strides has {len(self.stage_strides)}")
        for name in ("ks_choices", "e_choices", "d_choices", "r_choices"):
            values = getattr(self, name)
            if list(values) != sorted(set(values)):
                raise ValueError(f"SearchSpace.{name} must be distinct positive ints in "
                                 f"increasing order, got {values}")
        if any(k % 2 == 0 for k in self.ks_choices):
            raise ValueError(f"ks_choices must be odd (same padding), got {self.ks_choices}")

    # ----- shape ------------------------------------------------------------------
    @property
    def n_stages(self) -> int:
        return len(self.stage_channels)

    @property
    def max_depth(self) -> int:
        return max(self.d_choices)

    @property
    def n_slots(self) -> int:
        """Length of ``Arch.ks`` and ``Arch.e``."""
        return self.n_stages * self.max_depth

    def channels(self, base: int) -> int:
        return make_divisible(base * self.width_mult)

    @property
    def stem_width(self) -> int:
        return self.channels(self.stem_channels)

    @property
    def stage_widths(self) -> tuple[int, ...]:
        return tuple(self.channels(c) for c in self.stage_channels)

    @property
    def head_width(self) -> int:
        return self.channels(self.head_channels)

    def num_subnets(self) -> int:
        """Distinct networks: each stage picks a depth and (ks, e) for its active blocks."""
        per_block = len(self.ks_choices) * len(self.e_choices)
        per_stage = sum(per_block ** depth for depth in self.d_choices)
        return per_stage ** self.n_stages * len(self.r_choices)

    def stem_spec(self, r: int) -> LayerSpec:
        return LayerSpec("stem", 3, self.stem_width, r, ks=3)

    def head_spec(self, in_size: int) -> LayerSpec:
        return LayerSpec("head", self.stage_widths[-1], self.head_width, in_size,
                         classes=self.num_classes)

    def block_slots(self, r: int) -> tuple[BlockSlot, ...]:
        """Every block slot of the space (active or not) at input resolution ``r``."""
        return _block_slots(self, r)

    def layer_specs(self, arch: Arch) -> list[LayerSpec]:
        """The operators of ``arch`` in order: stem, active MBConv blocks, head."""
        arch.validate(self)
        slots = self.block_slots(arch.r)
        blocks = [slots[i].spec(arch.ks[i], arch.e[i]) for i in arch.active_slots()]
        return [self.stem_spec(arch.r), *blocks, self.head_spec(slots[-1].out_size)]

    def all_layer_specs(self) -> list[LayerSpec]:
        """Every operator configuration any subnetwork of this space can contain."""
        specs: dict[str, LayerSpec] = {}
        for r in self.r_choices:
            slots = self.block_slots(r)
            found = [self.stem_spec(r)]
            found += [slot.spec(ks, e) for slot in slots
                      for ks in self.ks_choices for e in self.e_choices]
            found.append(self.head_spec(slots[-1].out_size))
            for spec in found:
                specs.setdefault(spec.signature, spec)
        return list(specs.values())

    # ----- named archs and random ones ------------------------------------------------
    def uniform(self, ks: int, e: int, d: int, r: int) -> Arch:
        """The architecture with the same choice everywhere."""
        return Arch((ks,) * self.n_slots, (e,) * self.n_slots, (d,) * self.n_stages, r).validate(self)

    def largest(self) -> Arch:
        return self.uniform(max(self.ks_choices), max(self.e_choices), max(self.d_choices),
                            max(self.r_choices))

    def smallest(self) -> Arch:
        return self.uniform(min(self.ks_choices), min(self.e_choices), min(self.d_choices),
                            min(self.r_choices))

    def sample(self, rng: Rng = None, *, ks: Iterable[int] | None = None,
               e: Iterable[int] | None = None, d: Iterable[int] | None = None,
               r: Iterable[int] | None = None) -> Arch:
        """A uniformly random encoding (every slot, active or not, drawn independently).

        ``ks``, ``e``, ``d``, ``r`` restrict the draw to a subset of the space's choices
        (progressive shrinking samples from its phase's subset); None means all of them.
        """
        rng = make_rng(rng)
        ks, e, d, r = (self._subset(name, subset, allowed) for name, subset, allowed in
                       (("ks", ks, self.ks_choices), ("e", e, self.e_choices),
                        ("d", d, self.d_choices), ("r", r, self.r_choices)))
        arch = Arch(ks=[rng.choice(ks) for _ in range(self.n_slots)],
                    e=[rng.choice(e) for _ in range(self.n_slots)],
                    d=[rng.choice(d) for _ in range(self.n_stages)], r=rng.choice(r))
        return arch.validate(self)

    def _subset(self, name: str, subset: Iterable[int] | None,
                allowed: tuple[int, ...]) -> tuple[int, ...]:
        if subset is None:
            return allowed
        values = tuple(subset) if isinstance(subset, Iterable) else (subset,)
        outside = [v for v in values if v not in allowed]
        if not values or outside:
            why = f"{outside[0]!r} is not allowed in space {self.name!r}; " if outside else ""
            raise ValueError(f"sample({name}={subset!r}): {why}give a non-empty subset of the "
                             f"space's {name}_choices {list(allowed)}, or None for all of them")
        return values

    def mutate(self, arch: Arch, prob: float = 0.1, rng: Rng = None) -> Arch:
        """Redraw each value of ``arch`` with probability ``prob`` (OFA's mutation)."""
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"mutation prob must be in [0, 1], got {prob}")
        arch.validate(self)
        rng = make_rng(rng)

        def redraw(values: Sequence[int], choices: Sequence[int]) -> list[int]:
            return [rng.choice(choices) if rng.random() < prob else v for v in values]

        r = rng.choice(self.r_choices) if rng.random() < prob else arch.r
        return Arch(redraw(arch.ks, self.ks_choices), redraw(arch.e, self.e_choices),
                    redraw(arch.d, self.d_choices), r)

    def crossover(self, a: Arch, b: Arch, rng: Rng = None) -> Arch:
        """Each value taken from ``a`` or ``b`` with equal probability."""
        a.validate(self)
        b.validate(self)
        rng = make_rng(rng)

        def pick(x: Sequence[int], y: Sequence[int]) -> list[int]:
            return [u if rng.random() < 0.5 else v for u, v in zip(x, y)]

        return Arch(pick(a.ks, b.ks), pick(a.e, b.e), pick(a.d, b.d), rng.choice((a.r, b.r)))

    # ----- features for predictors --------------------------------------------------
    @property
    def feature_names(self) -> list[str]:
        """Names of the columns of ``encode``: one-hots of ks and e per slot, d per stage, r."""
        names = []
        for slot in range(self.n_slots):
            names += [f"ks[{slot}]={k}" for k in self.ks_choices]
        for slot in range(self.n_slots):
            names += [f"e[{slot}]={e}" for e in self.e_choices]
        for stage in range(self.n_stages):
            names += [f"d[{stage}]={d}" for d in self.d_choices]
        names += [f"r={r}" for r in self.r_choices]
        return names

    def encode(self, arch: Arch) -> np.ndarray:
        """One architecture as a float32 feature vector (see ``encode_batch``)."""
        return self.encode_batch([arch])[0]

    def encode_batch(self, archs: "Sequence[Arch] | ArchBatch") -> np.ndarray:
        """Archs as rows of one-hot features (inactive slots all zero), shape (N, features).

        This is OFA's accuracy-predictor encoding: a slot that does not run has no
        kernel or expand one-hot set, so two encodings of the same network are equal.
        """
        batch = ArchBatch.from_archs(self, archs)
        n, active = len(batch), batch.active[..., None]

        def one_hot(values: np.ndarray, choices: Sequence[int]) -> np.ndarray:
            return (values[..., None] == np.asarray(choices)).astype(np.float32)

        parts = [(one_hot(batch.ks, self.ks_choices) * active).reshape(n, -1),
                 (one_hot(batch.e, self.e_choices) * active).reshape(n, -1),
                 one_hot(batch.d, self.d_choices).reshape(n, -1),
                 one_hot(batch.r, self.r_choices)]
        return np.concatenate(parts, axis=1)

    # ----- serialisation ------------------------------------------------------------
    def to_dict(self) -> dict:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: dict) -> "SearchSpace":
        """The space ``to_dict`` wrote: every field must be there (none is filled in)."""
        known = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(data, dict):
            raise ValueError(f"a SearchSpace is an object with fields {sorted(known)}, got "
                             f"{type(data).__name__} {data!r:.60}")
        unknown, missing = set(data) - known, known - set(data)
        if unknown:
            raise ValueError(f"unknown SearchSpace fields {sorted(unknown)}; known: {sorted(known)}")
        if missing:
            raise ValueError(f"SearchSpace fields {sorted(missing)} are missing (a saved space "
                             "lists every field)")
        return cls(**data)

    def describe(self) -> str:
        """A short human summary with the computed subnetwork count."""
        count = self.num_subnets()
        return (f"space {self.name!r}: stem {self.stem_width}, stages {list(self.stage_widths)} "
                f"(strides {list(self.stage_strides)}), head {self.head_width}; "
                f"ks {list(self.ks_choices)}, e {list(self.e_choices)}, d {list(self.d_choices)}, "
                f"r {list(self.r_choices)}; {count:,} subnetworks (~10^{math.log10(count):.1f})")


@cache
def _block_slots(space: SearchSpace, r: int) -> tuple[BlockSlot, ...]:
    slots, cin, size = [], space.stem_width, r
    for stage, cout in enumerate(space.stage_widths):
        for index in range(space.max_depth):
            stride = space.stage_strides[stage] if index == 0 else 1
            slots.append(BlockSlot(stage, index, len(slots), cin, cout, stride, size))
            cin, size = cout, slots[-1].out_size
    return tuple(slots)


SPACES: dict[str, SearchSpace] = {
    # 4 stages at 16/8/4/4 px (r=32); small enough to train a supernet on a laptop CPU.
    "cpu": SearchSpace(),
    # 5 stages, wider, OFA-MobileNetV3-like depth; for a GPU.
    "gpu": SearchSpace(name="gpu", stem_channels=24, stage_channels=(24, 40, 80, 112, 160),
                       stage_strides=(1, 2, 2, 1, 2), head_channels=640),
}


def get_space(name: str | SearchSpace) -> SearchSpace:
    """A space preset by name (``cpu`` or ``gpu``); a ``SearchSpace`` is returned as is."""
    if isinstance(name, SearchSpace):
        return name
    try:
        return SPACES[name]
    except KeyError:
        raise ValueError(f"unknown search space {name!r}; choose one of {sorted(SPACES)}") from None
