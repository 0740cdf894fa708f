"""The schedule of progressive shrinking: phases, what they sample, per-preset configs.

Cai et al., "Once-for-All: Train One Network and Specialize it for Efficient
Deployment", ICLR 2020, Section 3.3 and Fig. 3: train the largest network first, then
let the supernet shrink one dimension at a time, each phase sampling random subnets
from a growing set while the largest network teaches them:

    largest  ->  elastic kernel  ->  elastic depth (2 steps)  ->  elastic expand (2 steps)

with elastic resolution throughout (``progressive_phases``; the laptop preset opens
kernel, depth and expand in one step each, ``one_step_phases``). ``Phase`` rows of a
``ShrinkConfig`` per preset (``SHRINK_PRESETS``) set epochs, learning rates and subnets per
step; what every training run shares (batch size, momentum, weight decay, label smoothing,
crop padding ...) is ``hwnas_lab.train.OptimConfig``, which ``ShrinkConfig`` extends.

Recipe knobs beyond OFA's schedule (scripts/ofa_recipe.py measures them; off by default,
the laptop preset uses the sandwich rule):
a phase's own resolutions (``Phase.r``), subnets trained in every step besides the random
ones (``Phase.always``, the sandwich rule), a moving average of the weights
(``ShrinkConfig.ema_decay``), validation every N epochs (``eval_every``) and the largest
subnet of each step as the teacher instead of a frozen copy (``inplace_distillation``) and
bfloat16 autocast of the training steps (``bf16``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Callable

import torch

from ..arch import Arch
from ..config import check_int, get_preset
from ..space import SearchSpace, get_space
from ..train import OptimConfig


@dataclass(frozen=True)
class Phase:
    """One phase of progressive shrinking: which choices are elastic, for how long."""

    name: str  # shown in logs and plots
    epochs: int  # passes over the training split
    lr: float  # peak learning rate; cosine decay to 0 within the phase
    ks: tuple[int, ...] | None = None  # kernel sizes sampled (None: all of the space's)
    e: tuple[int, ...] | None = None  # expand ratios sampled (None: all)
    d: tuple[int, ...] | None = None  # stage depths sampled (None: all)
    n_subnets: int = 1  # random subnets per step; their losses add up (OFA: 1, 2, 4)
    kd: float = 1.0  # weight of the distillation loss (0: no teacher, phase 1)
    reorder: bool = False  # sort hidden channels by importance before the phase
    warmup_epochs: float = 0.0  # linear learning-rate warm-up at the start of the phase
    r: tuple[int, ...] | None = None  # resolutions drawn per batch (None: all of the space's)
    r_by_epoch: tuple[int, ...] | None = None  # instead of ``r``: one resolution per epoch,
    #   e.g. low to high (progressive resizing, as FFCV trains ImageNet)
    always: tuple[str, ...] = ()  # also trained in every step, at the batch's resolution:
    #   "largest" and/or "smallest" of the phase's choices (the sandwich rule of Yu & Huang,
    #   "Universally Slimmable Networks", ICCV 2019); (): only the n_subnets random ones

    def __post_init__(self) -> None:
        check_int(f"Phase {self.name!r} epochs", self.epochs)
        check_int(f"Phase {self.name!r} n_subnets", self.n_subnets, minimum=0)
        if not self.lr > 0 or self.kd < 0:
            raise ValueError(f"Phase {self.name!r}: lr must be > 0 and kd >= 0, got lr "
                             f"{self.lr!r}, kd {self.kd!r}")
        for name in ("ks", "e", "d", "r", "r_by_epoch"):
            value = getattr(self, name)
            if value is not None:
                if not tuple(value):
                    raise ValueError(f"Phase {self.name!r}: {name}=() samples nothing; give "
                                     "some choices, or None for all of the space's")
                object.__setattr__(self, name, tuple(value))
        object.__setattr__(self, "always", tuple(self.always))
        if self.r_by_epoch is not None and self.r is not None:
            raise ValueError(f"Phase {self.name!r}: give r (drawn per batch) or r_by_epoch (one "
                             "per epoch), not both")
        if self.r_by_epoch is not None and len(self.r_by_epoch) != self.epochs:
            raise ValueError(f"Phase {self.name!r}: r_by_epoch needs one resolution per epoch "
                             f"({self.epochs} epochs), got {len(self.r_by_epoch)}")
        if any(a not in ("largest", "smallest") for a in self.always) \
                or len(set(self.always)) != len(self.always):
            raise ValueError(f"Phase {self.name!r}: always={self.always!r}; allowed: "
                             "'largest' and 'smallest', each at most once")
        if self.subnets_per_step < 1:
            raise ValueError(f"Phase {self.name!r}: n_subnets=0 and always=() train no subnet; "
                             "give n_subnets >= 1 or always=('largest',)")
        if not 0 <= self.warmup_epochs <= self.epochs:
            raise ValueError(f"Phase {self.name!r}: warmup_epochs must be in [0, epochs="
                             f"{self.epochs}], got {self.warmup_epochs!r}")

    @property
    def subnets_per_step(self) -> int:
        """Subnets trained in each step: the ``always`` ones plus the random ones."""
        return len(self.always) + self.n_subnets

    def choices(self) -> dict:
        """The subsets to sample from, as keyword arguments of ``SearchSpace.sample``."""
        return {"ks": self.ks, "e": self.e, "d": self.d}

    def resolutions(self, space: SearchSpace, epoch: int | None = None) -> tuple[int, ...]:
        """The resolutions this phase trains at, in ``epoch`` (0-based) if given; with
        ``r_by_epoch`` and no epoch, one per epoch (drawing from them weighs each by its
        epochs). A ``ValueError`` if ``space`` lacks one."""
        chosen = self.r_by_epoch or self.r
        if chosen is None:
            return space.r_choices
        bad = sorted({r for r in chosen if r not in space.r_choices})
        if bad:
            raise ValueError(f"Phase {self.name!r}: resolutions {bad} are not in the space's "
                             f"{list(space.r_choices)}")
        if self.r_by_epoch is not None and epoch is not None:
            return (self.r_by_epoch[epoch],)
        return chosen

    def fixed_subnets(self, space: SearchSpace, r: int) -> list[Arch]:
        """The ``always`` subnets at resolution ``r``, from the phase's own choices."""
        sets = [getattr(self, n) or getattr(space, f"{n}_choices") for n in ("ks", "e", "d")]
        return [space.uniform(*(pick(s) for s in sets), r)
                for pick in (max if a == "largest" else min for a in self.always)]


def progressive_phases(space: SearchSpace, epochs: tuple[int, int, int, int, int, int],
                       lrs: tuple[float, ...], n_subnets: tuple[int, ...] = (1, 1, 2, 2, 4, 4),
                       warmup_epochs: float = 0.0) -> tuple[Phase, ...]:
    """OFA's six phases over ``space``: largest, kernel, depth x2, expand x2.

    Depth and expand grow by one choice at a time from the largest (e.g. d {4} -> {3, 4} ->
    {2, 3, 4}); kernel opens all sizes at once, as in OFA.
    """
    ks, e, d = space.ks_choices, space.e_choices, space.d_choices
    names = ("largest", "kernel", "depth-1", "depth-2", "expand-1", "expand-2")
    sets = [(ks[-1:], e[-1:], d[-1:]), (ks, e[-1:], d[-1:]), (ks, e[-1:], d[-2:]),
            (ks, e[-1:], d), (ks, e[-2:], d), (ks, e, d)]
    return tuple(Phase(name, n, lr, k, x, dd, n_sub, kd=0.0 if i == 0 else 1.0,
                       reorder=name == "expand-1", warmup_epochs=warmup_epochs if i == 0 else 0.0)
                 for i, (name, n, lr, n_sub, (k, x, dd))
                 in enumerate(zip(names, epochs, lrs, n_subnets, sets)))


def one_step_phases(space: SearchSpace, epochs: tuple[int, int, int, int],
                    lrs: tuple[float, float, float, float],
                    n_subnets: tuple[int, int, int, int] = (1, 1, 2, 2),
                    always: tuple[str, ...] = ("largest", "smallest"),
                    warmup_epochs: float = 0.0) -> tuple[Phase, ...]:
    """Four phases: largest, then kernel, depth and expand each opened fully in one step
    (all kernel sizes; then every depth; then every expand ratio, channels sorted first),
    ``always`` trained in every depth and expand step (the sandwich rule): OFA's phases
    largest, kernel, depth-2 and expand-2 of ``progressive_phases``."""
    def per_ofa_phase(four: tuple) -> tuple:  # depth's value for depth-1/2, expand's for expand-1/2
        return four[0], four[1], four[2], four[2], four[3], four[3]

    largest, kernel, _, depth, _, expand = progressive_phases(
        space, per_ofa_phase(epochs), per_ofa_phase(lrs), per_ofa_phase(n_subnets), warmup_epochs)
    return (largest, kernel, replace(depth, name="depth", always=always),
            replace(expand, name="expand", reorder=True, always=always))


@dataclass(frozen=True, kw_only=True)
class ShrinkConfig(OptimConfig):
    """A whole progressive-shrinking run: the ``phases`` and what they share."""

    preset: str  # data/space preset of hwnas_lab.config.PRESETS
    phases: tuple[Phase, ...]  # run in order
    kd_temperature: float = 1.0  # softmax temperature of the distillation loss (OFA: 1)
    dropout: float = 0.0  # before the classifier
    recal_batches: int = 10  # training batches for BN recalibration before each evaluation
    threads: int | None = None  # intra-op CPU threads per process (None: torch's default)
    ema_decay: float = 0.0  # per-step moving average of the weights (hwnas_lab.ema; 0: off);
    #   when on, evaluations, the teacher and the saved supernet use the average
    eval_every: int = 1  # validate every N epochs (and always at the end of a phase)
    inplace_distillation: bool = False  # no frozen teacher: in each distilling step the
    #   largest subnet (first in the phase's ``always``) learns from the labels and teaches
    #   the step's other subnets (shrink_step.shrink_step)
    bf16: bool = False  # training steps under bfloat16 autocast (weights, optimizer state and
    #   evaluation stay float32): on an H200, phase 1 of the gpu preset at 2.1x float32's img/s
    #   (RECIPE.md section 6); on the Zen 4 CPU, 1.4-1.9x slower than float32 (section 2)

    def __post_init__(self) -> None:
        super().__post_init__()
        get_preset(self.preset)  # unknown preset: ValueError
        if not self.phases:
            raise ValueError("ShrinkConfig.phases is empty: give at least one Phase")
        check_int("ShrinkConfig.recal_batches", self.recal_batches)
        check_int("ShrinkConfig.eval_every", self.eval_every)
        if not (self.ema_decay == 0.0 or 0.0 < self.ema_decay < 1.0):
            raise ValueError(f"ShrinkConfig.ema_decay must be 0 (off) or in (0, 1), e.g. 0.999; "
                             f"got {self.ema_decay!r}")
        if not self.kd_temperature > 0:
            raise ValueError(f"ShrinkConfig.kd_temperature must be > 0, got {self.kd_temperature!r}")
        for phase in self.phases:
            phase.resolutions(self.space)  # a resolution outside the space: ValueError
            if self.inplace_distillation and phase.kd > 0 and phase.always[:1] != ("largest",):
                raise ValueError(f"Phase {phase.name!r} distils (kd={phase.kd}) in place, so the "
                                 "largest subnet must be trained in every step as its teacher: "
                                 f"give always=('largest', ...) (got {phase.always!r}) or kd=0")

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """What a training step's forward passes autocast to (``shrink_step``); None: nothing."""
        return torch.bfloat16 if self.bf16 else None

    @property
    def space(self) -> SearchSpace:
        return get_space(get_preset(self.preset).space)

    def validations(self) -> int:
        """How many validations of the largest and smallest subnets the run makes: every
        ``eval_every`` epochs and at each phase end, twice over (average, raw) with the EMA."""
        per_phase = (p.epochs // self.eval_every + (p.epochs % self.eval_every > 0)
                     for p in self.phases)
        return sum(per_phase) * (2 if self.ema_decay > 0 else 1)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ShrinkConfig":
        data = dict(data)
        phases = tuple(Phase(**{k: tuple(v) if isinstance(v, list) else v for k, v in p.items()})
                       for p in data.pop("phases"))
        return cls(phases=phases, **data)


def _laptop() -> ShrinkConfig:
    space = get_space(get_preset("laptop").space)
    # issue 9's recipe (hwnas_lab/ofa/weights/RECIPE.md, run F-laptop-22ep-lr0.01-kernel0.003):
    # 26 epochs; on 2 cores 90.8 min in one process (AMD EPYC, Zen 4), 69-80 min in two
    # one-thread processes there and 77.7 on an Intel Xeon (the shipped laptop.pt;
    # `python -m hwnas_lab ofa bench` prints the estimate for your machine); peak lr 0.2 in
    # phase 1, then each dimension opened in one step at a low peak lr (0.003 for the kernel
    # step, 0.01 after it) so that the largest keeps phase 1's accuracy; the largest trained
    # in every kernel step, the largest and smallest in every depth/width step; flips as the
    # only augmentation (random crops cost 4-6 points at this budget)
    largest, kernel, depth, expand = one_step_phases(
        space, epochs=(22, 1, 1, 2), lrs=(0.2, 0.003, 0.01, 0.01), warmup_epochs=1.0)
    return ShrinkConfig(preset="laptop", phases=(largest, replace(kernel, always=("largest",)),
                                                 depth, expand),
                        batch_size=128, crop_padding=0, eval_every=4)


def _gpu() -> ShrinkConfig:
    space = get_space(get_preset("gpu").space)
    # OFA's six phases, sized for about 30 min on an H200 from one timed epoch of each
    # (RECIPE.md section 6; estimated, not run whole): phase 1 100 epochs under bfloat16
    # autocast (2.1x float32, ~13 min), then the shrinking phases far shorter than OFA's
    # ImageNet ratios (120 / 25 + 120 / 25 + 120 after 180) to fit: 10-20 min, as they gain
    # 2.1x or nothing from bfloat16; validations every 5 epochs
    return ShrinkConfig(preset="gpu", phases=progressive_phases(
        space, epochs=(100, 10, 5, 10, 5, 10), lrs=(0.2, 0.06, 0.02, 0.05, 0.02, 0.05),
        warmup_epochs=3.0), batch_size=256, recal_batches=20, bf16=True, eval_every=5)


def _smoke() -> ShrinkConfig:
    space = get_space(get_preset("smoke").space)
    # every code path in seconds on 200 images: three epochs of the largest network (enough
    # for its training loss to fall measurably, which the tests check), one per other phase;
    # tiny batches: a second thread only adds synchronisation (8x slower on a busy CPU)
    return ShrinkConfig(preset="smoke", phases=progressive_phases(
        space, epochs=(3, 1, 1, 1, 1, 1), lrs=(0.1,) * 6, n_subnets=(1, 1, 2, 2, 2, 2)),
        batch_size=32, recal_batches=2, threads=1)


SHRINK_PRESETS: dict[str, Callable[[], ShrinkConfig]] = {
    "smoke": _smoke, "laptop": _laptop, "gpu": _gpu}


def get_shrink_config(preset: str) -> ShrinkConfig:
    """The progressive-shrinking config of a preset (``smoke``, ``laptop`` or ``gpu``)."""
    try:
        return SHRINK_PRESETS[preset]()
    except KeyError:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(SHRINK_PRESETS)}") from None
