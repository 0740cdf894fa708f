"""Compound scaling of the course's networks (EfficientNet) and the FLOPs law.

Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks",
ICML 2019. A baseline network grows in depth, width and input resolution together:

    depth  d = alpha ** phi     (blocks per stage)
    width  w = beta  ** phi     (channels of every layer)
    res    r = gamma ** phi     (input side, pixels)
    subject to  alpha * beta**2 * gamma**2 ~= 2,   alpha, beta, gamma >= 1

so that FLOPs grow about ``2 ** phi``: a convolution's FLOPs are proportional to its
output pixels (``r**2``) times its input and output channels (``w**2``), and the network
repeats its blocks ``d`` times. A grid search at ``phi = 1`` gave ``(1.2, 1.1, 1.15)``.

Rounding, as EfficientNet does it: blocks per stage ``ceil(d * alpha**phi)`` (even past
the space's largest depth), channels ``make_divisible(c * width_mult)`` (multiples of 8,
``hwnas_lab.space``), resolution to an even number of pixels (CIFAR-10 images are 32 px;
``hwnas_lab.data.batches`` resizes them up, bilinear, when a network asks for more).

A scaled network is a ``SearchSpace`` plus an ``Arch`` of it, so the course's builder
trains it (``blocks.build_net``), counts its FLOPs (``blocks.arch_flops``, 2 per
multiply-add) and measures it (``latency.measure_latency``). Extra blocks of a stage
repeat the stage's last block, as EfficientNet repeats a stage's block.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Iterable, Sequence

import numpy as np
import torch

from .blocks import arch_flops, build_net, count_params
from .arch import Arch
from .space import SearchSpace

CONSTRAINT = 2.0  # alpha * beta**2 * gamma**2: FLOPs double per unit of phi
TOLERANCE = 0.05  # relative distance from CONSTRAINT a grid candidate may have
CEIL_DIGITS = 9  # round d * mult to this many decimals before ceil: 5 * 1.2 is 6, not 7


# ----- coefficients --------------------------------------------------------------------
def _check_phi(phi: float) -> float:
    if isinstance(phi, bool) or not isinstance(phi, (int, float, np.number)) or not math.isfinite(phi):
        raise ValueError(f"phi must be a finite number >= 0, got {phi!r}")
    if phi < 0:
        raise ValueError(f"phi = {phi} is negative: compound scaling grows a baseline (phi >= 0); "
                         "to shrink a network pick a smaller baseline instead")
    return float(phi)


@dataclass(frozen=True)
class Coefficients:
    """Bases of compound scaling; ``multipliers(phi)`` gives ``(d, w, r)``."""

    alpha: float = 1.2  # depth base (EfficientNet's grid search)
    beta: float = 1.1  # width base
    gamma: float = 1.15  # resolution base

    def __post_init__(self) -> None:
        for name in ("alpha", "beta", "gamma"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                    or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number >= 1, got {value!r}")
            if value < 1:
                raise ValueError(f"{name} = {value} is below 1: each dimension may only grow "
                                 "(use 1 to keep it fixed)")
            object.__setattr__(self, name, float(value))

    @property
    def product(self) -> float:
        """``alpha * beta**2 * gamma**2``: the FLOPs factor per unit of phi, by the law."""
        return self.alpha * self.beta ** 2 * self.gamma ** 2

    def multipliers(self, phi: float) -> tuple[float, float, float]:
        """``(alpha**phi, beta**phi, gamma**phi)`` before rounding."""
        phi = _check_phi(phi)
        return self.alpha ** phi, self.beta ** phi, self.gamma ** phi

    def check(self, constraint: float = CONSTRAINT, tolerance: float = TOLERANCE) -> "Coefficients":
        """Return self if ``product`` is within ``tolerance`` (relative) of ``constraint``."""
        if not constraint > 0 or not tolerance >= 0:
            raise ValueError(f"constraint must be > 0 and tolerance >= 0, got {constraint}, {tolerance}")
        if abs(self.product / constraint - 1) > tolerance:
            fix = (f"e.g. gamma = {solve_gamma(self.alpha, self.beta, constraint):.4f} (solve_gamma)"
                   if self.alpha * self.beta ** 2 <= constraint else "lower alpha or beta")
            raise ValueError(f"{self}: alpha * beta^2 * gamma^2 = {self.product:.4f} is not within "
                             f"{100 * tolerance:g} % of {constraint:g}; {fix}")
        return self

    def __iter__(self):
        return iter((self.alpha, self.beta, self.gamma))

    def __str__(self) -> str:
        return f"(alpha={self.alpha:.3g}, beta={self.beta:.3g}, gamma={self.gamma:.3g})"


EFFICIENTNET = Coefficients(1.2, 1.1, 1.15)
METHODS: dict[str, Coefficients] = {  # each doubles the FLOPs law per unit of phi
    "compound": EFFICIENTNET,
    "depth": Coefficients(2.0, 1.0, 1.0),
    "width": Coefficients(1.0, math.sqrt(2.0), 1.0),
    "resolution": Coefficients(1.0, 1.0, math.sqrt(2.0)),
}


def solve_gamma(alpha: float, beta: float, constraint: float = CONSTRAINT) -> float:
    """The resolution base with ``alpha * beta**2 * gamma**2 == constraint``."""
    gamma_sq = constraint / (alpha * beta ** 2)
    if not gamma_sq >= 1:
        raise ValueError(f"alpha * beta^2 = {alpha * beta ** 2:.4f} already exceeds {constraint}: "
                         "no gamma >= 1 meets the constraint")
    return math.sqrt(gamma_sq)


def as_coefficients(value: Coefficients | Sequence[float]) -> Coefficients:
    return value if isinstance(value, Coefficients) else Coefficients(*value)


# ----- rounding and the scaled network ------------------------------------------------
def scale_depth(depth: int, mult: float) -> int:
    """Blocks of a stage: ``ceil(depth * mult)`` (EfficientNet's ``round_repeats``)."""
    return math.ceil(round(depth * mult, CEIL_DIGITS))


def scale_resolution(r: int, mult: float) -> int:
    """Input side in pixels, rounded to the nearest even number (``r`` itself if mult is 1)."""
    return r if mult == 1 else max(2, 2 * math.floor(r * mult / 2 + 0.5))


def total_stride(space: SearchSpace) -> int:
    """How much the network shrinks its input: the product of the stage strides (stem: 1)."""
    return math.prod(space.stage_strides)


def scale_dims(depths: Sequence[int], width_mult: float, resolution: int, alpha: float,
               beta: float, gamma: float, phi: float) -> tuple[tuple[int, ...], float, int]:
    """The scaled ``(depths, width_mult, resolution)`` of a network: the central algorithm.

    Depth per stage rounds up, the width multiplier stays continuous (the space rounds
    each channel count to a multiple of 8), the resolution rounds to an even number.
    """
    d_mult, w_mult, r_mult = Coefficients(alpha, beta, gamma).multipliers(phi)
    return (tuple(scale_depth(d, d_mult) for d in depths), width_mult * w_mult,
            scale_resolution(resolution, r_mult))


def apply_dims(space: SearchSpace, arch: Arch, depths: Sequence[int], width_mult: float,
               resolution: int) -> tuple[SearchSpace, Arch]:
    """The space and arch of ``arch`` rebuilt at new depths, width multiplier and resolution.

    The space keeps its choices and gains the new depths and resolution; a stage's new
    blocks repeat its last block (kernel size and expand ratio).
    """
    arch.validate(space)
    depths = tuple(int(d) for d in depths)
    if len(depths) != space.n_stages or min(depths) < 1:
        raise ValueError(f"depths must be {space.n_stages} positive ints (one per stage), got {depths}")
    if not width_mult > 0:
        raise ValueError(f"width_mult must be > 0, got {width_mult}")
    stride = total_stride(space)
    if resolution < stride:
        raise ValueError(f"resolution {resolution} px is below the network's total stride {stride}: "
                         f"the last stage would see less than one pixel; use at least {stride} px")
    new = dataclasses.replace(space, name=f"{space.name}-scaled", width_mult=float(width_mult),
                              d_choices=tuple(sorted(set(space.d_choices) | set(depths))),
                              r_choices=tuple(sorted(set(space.r_choices) | {int(resolution)})))
    ks, e = [], []
    for stage in range(space.n_stages):
        first = stage * space.max_depth
        last = first + arch.d[stage] - 1  # the stage's last active block
        for i in range(new.max_depth):
            slot = min(first + i, last)
            ks.append(arch.ks[slot])
            e.append(arch.e[slot])
    return new, Arch(ks, e, depths, int(resolution)).validate(new)


@dataclass(frozen=True)
class ScaledNet:
    """A baseline scaled by ``coefficients`` at ``phi``: a space and an arch of it."""

    space: SearchSpace
    arch: Arch
    base_space: SearchSpace
    base_arch: Arch
    coefficients: Coefficients
    phi: float

    @cached_property
    def mflops(self) -> float:
        """FLOPs at batch 1, millions (hand count, equal to FlopCounterMode's)."""
        return arch_flops(self.space, self.arch) / 1e6

    @cached_property
    def flops_ratio(self) -> float:
        """Measured FLOPs over the baseline's."""
        return self.mflops / (arch_flops(self.base_space, self.base_arch) / 1e6)

    @property
    def law_ratio(self) -> float:
        """FLOPs ratio the law predicts: ``(alpha * beta**2 * gamma**2) ** phi``."""
        return self.coefficients.product ** self.phi

    @cached_property
    def params(self) -> int:
        return count_params(self.build())

    def build(self, dropout: float = 0.0) -> torch.nn.Module:
        return build_net(self.space, self.arch, dropout)

    @cached_property
    def key(self) -> str:
        """Identifies the network by its operators: two coefficient triples (or width
        multipliers) that round to the same layers share it."""
        blob = json.dumps([s.signature for s in self.space.layer_specs(self.arch)])
        return hashlib.sha1(blob.encode()).hexdigest()[:12]

    def describe(self) -> str:
        s = self.space
        return (f"d {list(self.arch.d)}, widths {s.stem_width}/{list(s.stage_widths)}/{s.head_width}, "
                f"r {self.arch.r}: {self.mflops:.2f} MFLOPs (x{self.flops_ratio:.2f}; law "
                f"x{self.law_ratio:.2f})")


def scale(space: SearchSpace, arch: Arch, coefficients: Coefficients | Sequence[float] = EFFICIENTNET,
          phi: float = 1.0, constraint: float | None = None,
          tolerance: float = TOLERANCE) -> ScaledNet:
    """Scale ``arch`` of ``space`` by ``coefficients`` at ``phi``.

    ``constraint``: if given, refuse coefficients whose product is not within
    ``tolerance`` of it (``Coefficients.check``).
    """
    coefficients = as_coefficients(coefficients)
    if constraint is not None:
        coefficients.check(constraint, tolerance)
    dims = scale_dims(arch.d, space.width_mult, arch.r, *coefficients, phi)
    new_space, new_arch = apply_dims(space, arch, *dims)
    return ScaledNet(new_space, new_arch, space, arch, coefficients, float(phi))


def scale_to_flops(space: SearchSpace, arch: Arch, coefficients: Coefficients | Sequence[float],
                   ratio: float, phi_max: float = 40.0) -> ScaledNet:
    """The ``phi`` whose rounded network comes closest (in log FLOPs) to ``ratio`` x the baseline."""
    coefficients = as_coefficients(coefficients)
    if not ratio >= 1:
        raise ValueError(f"FLOPs ratio must be >= 1, got {ratio}")
    if coefficients.product <= 1:
        raise ValueError(f"{coefficients} do not grow the network (product 1)")
    lo, hi = 0.0, min(phi_max, 2 * math.log(ratio) / math.log(coefficients.product) + 1)
    while scale(space, arch, coefficients, hi).flops_ratio < ratio:
        if hi >= phi_max:
            raise ValueError(f"{coefficients} do not reach x{ratio} FLOPs by phi = {phi_max}")
        hi = min(phi_max, 2 * hi)
    for _ in range(40):  # FLOPs never fall as phi grows: bisect the first phi reaching ratio
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if scale(space, arch, coefficients, mid).flops_ratio >= ratio else (mid, hi)
    below, above = scale(space, arch, coefficients, lo), scale(space, arch, coefficients, hi)
    return min((below, above), key=lambda net: abs(math.log(net.flops_ratio / ratio)))


# ----- the FLOPs law ---------------------------------------------------------------------
def part_flops(space: SearchSpace, arch: Arch) -> dict[str, int]:
    """FLOPs (2 per multiply-add) by how they scale: stem, pointwise and depthwise convs of
    the blocks, head 1x1 conv, classifier. They add up to ``arch_flops``."""
    specs = space.layer_specs(arch)
    stem, head = specs[0], specs[-1]
    parts = {"stem": 2 * stem.macs, "pointwise": 0, "depthwise": 0,
             "head": 2 * head.in_size ** 2 * head.cin * head.cout,
             "classifier": 2 * head.cout * head.classes}
    for s in specs[1:-1]:
        dw = 2 * s.out_size ** 2 * s.cin * s.e * s.ks ** 2
        parts["depthwise"] += dw
        parts["pointwise"] += 2 * s.macs - dw
    return parts


def refined_flops(parts: dict[str, float], d: float, w: float, r: float) -> float:
    """The law part by part: a conv costs out-pixels x in-channels x out-channels / groups.

    The stem reads 3 channels (~ w r^2), block 1x1 convs ~ d w^2 r^2, depthwise convs one
    channel per filter (~ d w r^2), the head conv ~ w^2 r^2, the classifier after global
    pooling ~ w. Stem, head and classifier do not repeat with depth.
    """
    return (parts["stem"] * w * r ** 2 + parts["pointwise"] * d * w ** 2 * r ** 2
            + parts["depthwise"] * d * w * r ** 2 + parts["head"] * w ** 2 * r ** 2
            + parts["classifier"] * w)


def meta_flops(make: Callable[[], torch.nn.Module], input_shape: Sequence[int]) -> int:
    """FLOPs of ``make()`` on an input of ``input_shape`` counted by FlopCounterMode on the
    meta device: shapes only, no weights or activations are allocated."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        net = make().eval()
        x = torch.empty(*input_shape)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(x)
    return int(counter.get_total_flops())


@dataclass(frozen=True)
class FlopsLaw:
    """FLOPs ratios against the baseline over ``phi`` for one set of coefficients."""

    coefficients: Coefficients
    phi: np.ndarray
    law: np.ndarray  # (alpha beta^2 gamma^2) ** phi
    refined: np.ndarray  # refined_flops with the unrounded multipliers
    measured: np.ndarray  # FLOPs of the rounded network (hand count or FlopCounterMode)
    nets: tuple[ScaledNet, ...]


def flops_law(space: SearchSpace, arch: Arch, coefficients: Coefficients | Sequence[float],
              phis: Iterable[float], counter: bool = False) -> FlopsLaw:
    """The law, the refined law and the FLOPs of the rounded networks, over ``phis``.

    ``counter``: count each network with FlopCounterMode (meta device, ~0.3-1 s a network
    on a laptop CPU) instead of the hand count ``arch_flops``, which equals it (tested).
    """
    coefficients = as_coefficients(coefficients)
    phis = np.asarray(list(phis), dtype=float)
    parts = part_flops(space, arch)
    base = sum(parts.values())
    nets = tuple(scale(space, arch, coefficients, p) for p in phis)
    if counter:
        measured = [meta_flops(n.build, (1, 3, n.arch.r, n.arch.r)) / base for n in nets]
    else:
        measured = [arch_flops(n.space, n.arch) / base for n in nets]
    refined = [refined_flops(parts, *coefficients.multipliers(p)) / base for p in phis]
    return FlopsLaw(coefficients, phis, coefficients.product ** phis, np.asarray(refined),
                    np.asarray(measured), nets)


# ----- torchvision's EfficientNet-B0..B7 ---------------------------------------------------
TORCHVISION_FAMILY: dict[str, tuple[float, float]] = {  # name: (width_mult, depth_mult), as
    "efficientnet_b0": (1.0, 1.0), "efficientnet_b1": (1.0, 1.1),  # torchvision.models'
    "efficientnet_b2": (1.1, 1.2), "efficientnet_b3": (1.2, 1.4),  # efficientnet_bN pass
    "efficientnet_b4": (1.4, 1.8), "efficientnet_b5": (1.6, 2.2),  # them (tests check it)
    "efficientnet_b6": (1.8, 2.6), "efficientnet_b7": (2.0, 3.1),
}


def torchvision_resolution(name: str) -> int:
    """Input side of torchvision's ImageNet weights for ``name`` (their eval crop)."""
    import torchvision

    return int(torchvision.models.get_model_weights(name).IMAGENET1K_V1.transforms.keywords["crop_size"])


def efficientnet_family(names: Sequence[str] = tuple(TORCHVISION_FAMILY)) -> list[dict]:
    """Each model's multipliers, resolution, FLOPs (meta device, batch 1) and parameters,
    with its FLOPs ratio to the first against ``2 ** phi`` (phi = N of bN) and against
    ``depth * width**2 * resolution**2`` from its own multipliers."""
    import torchvision

    rows = []
    for name in names:
        if name not in TORCHVISION_FAMILY:
            raise ValueError(f"unknown model {name!r}; choose from {list(TORCHVISION_FAMILY)}")
        width, depth = TORCHVISION_FAMILY[name]
        r = torchvision_resolution(name)
        make = getattr(torchvision.models, name)
        flops = meta_flops(make, (1, 3, r, r))
        with torch.device("meta"):
            params = sum(p.numel() for p in make().parameters())
        rows.append({"name": name, "phi": int(name[-1]), "width_mult": width, "depth_mult": depth,
                     "resolution": r, "gflops": flops / 1e9, "params_m": params / 1e6})
    first = rows[0]
    for row in rows:
        row["ratio"] = row["gflops"] / first["gflops"]
        row["law"] = 2.0 ** (row["phi"] - first["phi"])
        row["own_law"] = (row["depth_mult"] / first["depth_mult"]
                          * (row["width_mult"] / first["width_mult"]) ** 2
                          * (row["resolution"] / first["resolution"]) ** 2)
        row["implied_phi"] = math.log2(row["ratio"]) + first["phi"]
    return rows
