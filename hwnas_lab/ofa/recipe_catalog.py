"""The catalogue of issue 9's recipe experiments: what each named run trains.

Each ``Experiment`` is a ``ShrinkConfig`` of a reduced budget, a training subset
(``per_class`` images of each class of the 45,000-image training split, or all of them) and,
for the shrinking experiments, a starting point: the final weights of another experiment
(or of the shipped supernet), whose phases are skipped. ``L-*`` train the largest phase
alone, ``S-*`` shrink from one of them, ``F-*`` run a whole recipe on all the training
images (or continue the shipped one); ``recipe_scratch.SCRATCH`` trains subnets alone.
``recipe_experiments`` runs them; ``scripts/ofa_recipe.py`` is the command line.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hwnas_lab.ofa.schedule import Phase, ShrinkConfig, one_step_phases, progressive_phases
from hwnas_lab.space import get_space

SPACE = get_space("cpu")
# the laptop preset before F-laptop-22ep-lr0.01-kernel0.003 became it (24 epochs, shrinking at
# peak lr 0.03): the recipe the L-laptop and F-laptop-* runs, X-scratch-full and the supernet
# shipped until then were made with
LAPTOP = ShrinkConfig(preset="laptop", phases=one_step_phases(
    SPACE, epochs=(20, 1, 1, 2), lrs=(0.2, 0.03, 0.03, 0.03), warmup_epochs=1.0),
    batch_size=128, crop_padding=0, eval_every=4)


@dataclass(frozen=True)
class Experiment:
    description: str  # the question it answers
    config: ShrinkConfig
    per_class: int | None = None  # training images per class (None: all 4,500)
    init: str | None = None  # start from this experiment's (or laptop.pt's) final weights ...
    init_phases: int = 0  # ... skipping this many phases of ``config`` (those it trained)


PROXY = 1500  # training images per class of the proxies (15,000 of the 45,000)


def largest_phase(epochs: int = 4, lr: float = 0.1, r: tuple[int, ...] | None = None,
                  warmup: float = 0.05, **config) -> ShrinkConfig:
    """Phase 1 alone (the largest network, no teacher) as the laptop preset trained it when
    these experiments began (peak lr 0.1, crops), with a weight EMA recorded beside the raw
    weights. ``warmup``: share of the phase's epochs spent warming up (1 of 20 = 0.05). 4 epochs of 15,000 images: about 10
    minutes at the ~100 img/s that 2 cores of a Zen 3 EPYC train the largest subnet at."""
    phase = Phase("largest", epochs, lr, SPACE.ks_choices[-1:], SPACE.e_choices[-1:],
                  SPACE.d_choices[-1:], kd=0.0, warmup_epochs=warmup * epochs, r=r)
    return ShrinkConfig(**{"preset": "laptop", "phases": (phase,), "batch_size": 128,
                           "threads": 2, "ema_decay": 0.995, "eval_every": 4, **config})


FULL = (32,)
LARGEST = {
    "L-base": ("the laptop preset's phase 1: elastic r {24, 28, 32}, lr 0.1, batch 128, "
               "wd 5e-4, label smoothing 0.1", largest_phase()),
    "L-full-res": ("phase 1 at r=32 only", largest_phase(r=FULL)),
    "L-full-res-s1": ("L-full-res with seed 1 (seed noise)", largest_phase(r=FULL, seed=1)),
    "L-lr0.2": ("r=32, peak lr 0.2", largest_phase(r=FULL, lr=0.2)),
    "L-lr0.05": ("r=32, peak lr 0.05", largest_phase(r=FULL, lr=0.05)),
    "L-onecycle": ("r=32, lr 0.2 after a 30 % warm-up (one-cycle shape)",
                   largest_phase(r=FULL, lr=0.2, warmup=0.3)),
    "L-bs256": ("r=32, batch 256, lr 0.2", largest_phase(r=FULL, lr=0.2, batch_size=256)),
    "L-wd1e-4": ("r=32, weight decay 1e-4", largest_phase(r=FULL, weight_decay=1e-4)),
    "L-ls0": ("r=32, no label smoothing", largest_phase(r=FULL, label_smoothing=0.0)),
    "L-6ep": ("r=32, 6 epochs (the start of S-split-6-3)", largest_phase(epochs=6, r=FULL)),
    "L-8ep": ("r=32, 8 epochs (with L-full-res and L-6ep: accuracy against the phase's length)",
              largest_phase(epochs=8, r=FULL)),
    "L-base-8ep": ("L-base at 8 epochs (does r=32's lead over elastic resolution hold at "
                   "twice the budget?)", largest_phase(epochs=8)),
    "L-8ep-lr0.2": ("L-8ep at peak lr 0.2 (does L-lr0.2's lead hold at twice the budget?)",
                    largest_phase(epochs=8, r=FULL, lr=0.2)),
    "L-base-8ep-lr0.2": ("L-base-8ep at peak lr 0.2 (the start of S-elastic-8-3-sandwich-lr0.2)",
                         largest_phase(epochs=8, lr=0.2)),
    "L-base-10ep-lr0.2": ("L-base-8ep-lr0.2 at 10 epochs: about L-8ep-lr0.2's compute (a step at "
                          "r=32 costs 1.26 elastic ones)", largest_phase(epochs=10, lr=0.2)),
    "L-base-8ep-lr0.2-pad2": ("L-base-8ep-lr0.2 with weaker augmentation: random crops from 2 "
                              "pixels of padding, not 4", largest_phase(epochs=8, lr=0.2,
                                                                         crop_padding=2)),
    "L-base-8ep-lr0.2-flip": ("L-base-8ep-lr0.2 with flips only, no random crop",
                              largest_phase(epochs=8, lr=0.2, crop_padding=0)),
    # one thread each, so that two run side by side on two cores; -1t is their reference
    "L-flip-8ep-1t": ("L-base-8ep-lr0.2-flip on one thread (the reference of the three below)",
                      largest_phase(epochs=8, lr=0.2, crop_padding=0, threads=1)),
    "L-flip-8ep-1t-lr0.4": ("L-flip-8ep-1t at peak lr 0.4 (0.05 -> 0.1 -> 0.2 gained at "
                            "every step)", largest_phase(epochs=8, lr=0.4, crop_padding=0,
                                                         threads=1)),
    "L-flip-8ep-1t-lr0.8": ("L-flip-8ep-1t at peak lr 0.8 (does 0.4's gain go on?)",
                            largest_phase(epochs=8, lr=0.8, crop_padding=0, threads=1)),
    "L-flip-8ep-1t-wd1e-3": ("L-flip-8ep-1t at weight decay 1e-3 (5e-4 beat 1e-4 by 2 points)",
                             largest_phase(epochs=8, lr=0.2, crop_padding=0, threads=1,
                                           weight_decay=1e-3)),
}

SHRINK_FROM = "L-full-res"  # the largest-phase proxy the shrinking proxies start from


def shrinking(epochs=(1, 1, 1, 1, 1), lrs=(0.03, 0.02, 0.03, 0.02, 0.03),
              n_subnets=(1, 2, 2, 2, 2), always: tuple[str, ...] = (), kd: float = 1.0,
              reorder: bool = True, phases: tuple[Phase, ...] | None = None,
              start: str = SHRINK_FROM, **config) -> ShrinkConfig:
    """The five shrinking phases after ``start``'s largest phase (which the run starts
    from): OFA's phases as the laptop preset had them when these experiments began (5, 2, 4,
    2, 5 epochs), at one epoch each, with its learning rates and subnets per step. ``always`` goes to the depth and expand phases; ``phases``
    replaces the five (an ablation of the schedule itself)."""
    first = LARGEST[start][1]
    if phases is None:
        phases = progressive_phases(SPACE, (first.phases[0].epochs, *epochs),
                                    (first.phases[0].lr, *lrs), (1, *n_subnets))[1:]
        phases = tuple(replace(p, kd=kd, reorder=p.reorder and reorder,
                               always=always if p.name.startswith(("depth", "expand")) else ())
                       for p in phases)
    return replace(first, phases=(first.phases[0], *phases), ema_decay=0.0, eval_every=100,
                   **config)


SANDWICH = ("smallest",)  # trained in every depth/expand step besides the random subnets
SANDWICH2 = ("largest", "smallest")  # both ends of the phase: the "sandwich2" runs


def three_phases(always: tuple[str, ...] = (), kernel_always: tuple[str, ...] = ()
                 ) -> tuple[Phase, ...]:
    """S-base's shrinking with each dimension opened in one step: kernel, then every depth,
    then every width (channels sorted first), one epoch each; ``always`` as in ``shrinking``,
    ``kernel_always`` the same for the kernel step."""
    kernel, _, depth, _, expand = shrinking(always=always).phases[1:]
    return replace(kernel, always=kernel_always), depth, replace(expand, reorder=True)


def split_after(start: str, always: tuple[str, ...] = (), kernel_always: tuple[str, ...] = (),
                **config) -> tuple[ShrinkConfig, str]:
    """``three_phases(always, kernel_always)`` after the largest-phase experiment ``start``:
    the config (``config`` overrides its fields) and the experiment it starts from, as a
    SHRINKING entry takes them."""
    return shrinking(phases=three_phases(always, kernel_always), start=start, **config), start


# name -> (the question, config[, the largest-phase experiment it starts from: SHRINK_FROM])
SHRINKING = {
    "S-base": ("shrinking as the laptop preset does it, one epoch per phase", shrinking()),
    "S-base-s1": ("S-base with seed 1 (noise of the sampled subnets and the data order)",
                  shrinking(seed=1)),
    "S-sandwich": ("S-base + the phase's smallest subnet in every depth/expand step",
                   shrinking(always=SANDWICH)),
    "S-low-lr": ("S-base with 1/3 of the learning rates",
                 shrinking(lrs=(0.01, 0.007, 0.01, 0.007, 0.01))),
    "S-lr0.1": ("S-base with peak lr 0.1 in every shrinking phase (the largest phase's; "
                "S-base: 0.02-0.03)", shrinking(lrs=(0.1, 0.1, 0.1, 0.1, 0.1))),
    "S-sandwich-lr0.1": ("S-sandwich and S-lr0.1 together (do the two kept changes add up?)",
                         shrinking(lrs=(0.1, 0.1, 0.1, 0.1, 0.1), always=SANDWICH)),
    "S-n1": ("S-base with one subnet per step in every phase (5 subnet-epochs against 9)",
             shrinking(n_subnets=(1, 1, 1, 1, 1))),
    "S-kd0": ("S-base without distillation", shrinking(kd=0.0)),
    "S-no-reorder": ("S-base without sorting channels by importance before expand-1",
                     shrinking(reorder=False)),
    "S-no-PS": ("no progressive shrinking: 5 epochs sampling the whole space, 2 subnets per "
                "step (S-base: 9 subnet-epochs, this 10), distilled, channels sorted first",
                shrinking(phases=(Phase("all", 5, 0.03, n_subnets=2, reorder=True),))),
    "S-split-6-3": ("the 9 epochs split 6 + 3 (S-base: 4 + 5): L-6ep, then one epoch each of "
                    "kernel, every depth, every width (5 subnet-epochs against S-base's 9)",
                    *split_after("L-6ep")),
    "S-split-6-3-sandwich": ("S-split-6-3 + the phase's smallest subnet in every depth/width "
                             "step (do the split and the sandwich rule add up?)",
                             *split_after("L-6ep", SANDWICH)),
    "S-split-8-3-sandwich": ("S-split-6-3-sandwich after L-8ep (11 epochs in all): what two more "
                             "largest-phase epochs give each subnet",
                             *split_after("L-8ep", SANDWICH)),
    "S-elastic-8-3-sandwich": ("S-split-8-3-sandwich after L-base-8ep (elastic resolution in the "
                               "largest phase, the faster per minute): about S-split-6-3-"
                               "sandwich's training time",
                               *split_after("L-base-8ep", SANDWICH)),
    "S-split-8-3-sandwich-lr0.2": ("S-split-8-3-sandwich after L-8ep-lr0.2: every change kept "
                                   "so far, together",
                                   *split_after("L-8ep-lr0.2", SANDWICH)),
    "S-elastic-8-3-sandwich-lr0.2": ("S-split-8-3-sandwich-lr0.2 with elastic resolution in the "
                                     "largest phase (the better per minute)",
                                     *split_after("L-base-8ep-lr0.2", SANDWICH)),
    "S-elastic-10-3-sandwich-lr0.2": ("S-elastic-8-3-sandwich-lr0.2 with the compute elastic "
                                      "resolution saves spent on two more epochs of phase 1: "
                                      "against S-split-8-3-sandwich-lr0.2 at about equal compute",
                                      *split_after("L-base-10ep-lr0.2", SANDWICH)),
    "S-elastic-8-3-sandwich2-lr0.2": ("S-elastic-8-3-sandwich-lr0.2 with the largest subnet "
                                      "also trained in every depth/width step (does it keep "
                                      "the largest's accuracy through shrinking?)",
                                      *split_after("L-base-8ep-lr0.2", SANDWICH2)),
    "S-elastic-8-all-sandwich-lr0.2": ("S-elastic-8-3-sandwich-lr0.2 without progressive "
                                       "shrinking: 3 epochs sampling the whole space, 2 random "
                                       "subnets and the smallest per step, channels sorted first",
                                       shrinking(phases=(Phase("all", 3, 0.03, n_subnets=2,
                                                               reorder=True, always=SANDWICH),),
                                                 start="L-base-8ep-lr0.2"), "L-base-8ep-lr0.2"),
    "S-elastic-8-3-sandwich2-lr0.2-kernel": ("S-elastic-8-3-sandwich2-lr0.2 with the largest "
                                             "subnet trained in every kernel step too (does the "
                                             "largest keep phase 1's accuracy through it?)",
                                             *split_after("L-base-8ep-lr0.2",
                                                          SANDWICH2,
                                                          kernel_always=("largest",))),
    **{f"S-elastic-8-3-sandwich2-lr0.2-T{t}": (
        f"S-elastic-8-3-sandwich2-lr0.2 with distillation at temperature {t} (OFA: 1)",
        *split_after("L-base-8ep-lr0.2", SANDWICH2, kd_temperature=float(t)))
       for t in (2, 4)},
}

def full_budget(epochs: int, always: tuple[str, ...] = SANDWICH, **config) -> ShrinkConfig:
    """Every kept change on all 45,000 training images: ``epochs`` of phase 1 (elastic
    resolution, peak lr 0.2), then ``three_phases(always)``; validation every 4
    epochs, no weight EMA (it gained nothing at the end of a cosine schedule); ``config``
    overrides the run's fields."""
    first = largest_phase(epochs=epochs, lr=0.2, ema_decay=0.0, eval_every=4, **config)
    return replace(first, phases=(first.phases[0], *three_phases(always)))


LAPTOP_PHASE1 = "L-laptop"  # the laptop preset's phase 1 alone, on all 45,000 images

# runs on the full training split, sized for the laptop preset's 90 minutes on 2 cores
FULL_DATA = {
    "F-elastic-12-3-sandwich-lr0.2": ("S-elastic-8-3-sandwich-lr0.2 on all 45,000 images with "
                                      "12 epochs of phase 1: the best recipe of the proxies "
                                      "within 90 minutes of this machine", full_budget(12)),
    "F-elastic-11-3-sandwich2-lr0.2": ("F-elastic-12-3-sandwich-lr0.2 with the largest subnet "
                                       "also trained in every depth/width step (as "
                                       "S-elastic-8-3-sandwich2-lr0.2), phase 1 one epoch "
                                       "shorter to pay for it within 90 minutes",
                                       full_budget(11, SANDWICH2)),
    "F-elastic-11-3-sandwich2-lr0.2-flip": ("F-elastic-11-3-sandwich2-lr0.2 with flips only, no "
                                            "random crop (as L-base-8ep-lr0.2-flip)",
                                            full_budget(11, SANDWICH2,
                                                        crop_padding=0)),
    LAPTOP_PHASE1: ("the laptop preset's phase 1 alone on all 45,000 images (20 epochs of the "
                    "largest network, elastic resolution, peak lr 0.2, flips only): the start "
                    "of the F-laptop-* runs", replace(LAPTOP, phases=LAPTOP.phases[:1])),
    "L-laptop-ramp": ("L-laptop with its resolution raised by epoch, not drawn per batch: 7 "
                      "epochs at 24 px, 7 at 28, the last 6 at 32 (the same compute, within 1 "
                      "%): does ending phase 1 at the resolution it is judged at win the "
                      "points 85 % needs?",
                      replace(LAPTOP, phases=(replace(LAPTOP.phases[0], r_by_epoch=(
                          (24,) * 7 + (28,) * 7 + (32,) * 6)),))),
    "L-laptop-pad2": ("L-laptop with random crops from 2 pixels of padding besides the flips: "
                      "at 20 epochs on 45,000 images, is phase 1 held back by too little "
                      "augmentation (the 8-epoch proxies said crops cost points)?",
                      replace(LAPTOP, phases=LAPTOP.phases[:1], crop_padding=2)),
    "L-laptop-22ep": ("L-laptop with 22 epochs, not 20: the two more that the laptop preset's "
                      "90 minutes leave beside F-laptop-kernel's shrinking (about 3 minutes "
                      "each on the Intel Xeon): what does phase 1 still gain at its end?",
                      replace(LAPTOP, phases=(replace(LAPTOP.phases[0], epochs=22),))),
}

# the laptop preset's shrinking changed in the ways RECIPE.md section 5 names for the 85 %
# target; every F-laptop-* run starts from the weights of a phase-1 run (LAPTOP_PHASE1 or
# L-laptop-22ep, directly or through another), so that each is, with the runs it starts
# from, one run of its config
FINAL_SANDWICH = Phase("final", 1, 0.03, n_subnets=0, always=SANDWICH2)  # distilled (kd 1)


def laptop_shrinking(kernel_always: tuple[str, ...] = ("largest",), expand_epochs: int = 2,
                     final: Phase | None = None, largest_epochs: int = 20,
                     lrs: tuple[float, float, float] | None = None) -> ShrinkConfig:
    """The laptop preset with ``largest_epochs`` of phase 1, ``kernel_always`` trained in every
    kernel step, ``expand_epochs`` of the expand phase, the peak lrs ``lrs`` of the kernel,
    depth and expand steps if given and, after them, the phase ``final`` if one is given (a
    ``FINAL_SANDWICH``)."""
    largest, kernel, depth, expand = LAPTOP.phases
    shrinking = (replace(kernel, always=kernel_always), depth,
                 replace(expand, epochs=expand_epochs))
    if lrs is not None:
        shrinking = tuple(replace(phase, lr=lr) for phase, lr in zip(shrinking, lrs, strict=True))
    phases = (replace(largest, epochs=largest_epochs), *shrinking)
    return replace(LAPTOP, phases=phases + ((final,) if final is not None else ()))


# F-laptop-22ep-lr0.01-kernel0.003 below: the laptop preset since 2026-12-02
LAPTOP_22EP = laptop_shrinking(largest_epochs=22, lrs=(0.003, 0.01, 0.01))
# ... without its kernel step (the depth step samples every kernel size anyway)
LAPTOP_22EP_NOKERNEL = replace(LAPTOP_22EP, phases=LAPTOP_22EP.phases[:1] + LAPTOP_22EP.phases[2:])

SHIPPED_SUPERNET = "laptop.pt"  # hwnas_lab/ofa/weights/laptop.pt, as an init, or a
# recipe_scratch.Scratch.supernets entry


FROM_LAPTOP_PHASE1 = {  # name -> (the question, config, the experiment it starts from)
    "F-laptop-kernel": ("the laptop preset with the largest subnet also trained in every kernel "
                        "step (does the largest keep phase 1's accuracy through shrinking?)",
                        laptop_shrinking(), LAPTOP_PHASE1),
    "F-laptop-kernel-final": ("F-laptop-kernel and then one epoch of only the largest and "
                              "smallest subnets, distilled from phase 1's network",
                              laptop_shrinking(final=FINAL_SANDWICH), "F-laptop-kernel"),
    "F-laptop-kernel-final-kd0": ("F-laptop-kernel-final without the teacher in the last epoch "
                                  "(as F-laptop-final-sandwich): does distilling from phase 1's "
                                  "network hold the largest back?",
                                  laptop_shrinking(final=replace(FINAL_SANDWICH, kd=0.0)),
                                  "F-laptop-kernel"),
    "F-laptop-kernel-expand1-final": ("F-laptop-kernel-final with one epoch of the expand phase, "
                                      "not two: the time the final epoch costs, paid back",
                                      laptop_shrinking(expand_epochs=1, final=FINAL_SANDWICH),
                                      LAPTOP_PHASE1),
    "F-laptop-22ep-kernel": ("F-laptop-kernel after the 22-epoch phase 1 of L-laptop-22ep: "
                             "do phase 1's two more epochs survive shrinking?",
                             laptop_shrinking(largest_epochs=22), "L-laptop-22ep"),
    "F-laptop-22ep-kernel-lr0.01": ("F-laptop-22ep-kernel with its kernel step at peak lr 0.01, "
                                    "not 0.03: does a gentler kernel step keep the largest "
                                    "near phase 1's accuracy?",
                                    laptop_shrinking(largest_epochs=22,
                                                     lrs=(0.01, 0.03, 0.03)),
                                    "L-laptop-22ep"),
    "F-laptop-22ep-lr0.01": ("F-laptop-22ep-kernel with every shrinking step at peak lr 0.01, "
                             "not 0.03: does the largest keep phase 1's 85.4 % through "
                             "shrinking, and the smallest its 75 %?",
                             laptop_shrinking(largest_epochs=22, lrs=(0.01, 0.01, 0.01)),
                             "L-laptop-22ep"),
    "F-laptop-22ep-lr0.01-kernel0.003": ("F-laptop-22ep-lr0.01 with its kernel step at peak lr "
                                         "0.003: that step cost the largest most of what "
                                         "shrinking at lr 0.01 took (0.8 of 1.1 validation "
                                         "points); is 85 % kept if it costs almost nothing?",
                                         LAPTOP_22EP, "L-laptop-22ep"),
    "F-laptop-22ep-inplace": ("F-laptop-22ep-lr0.01-kernel0.003 (the laptop preset of "
                              "2026-12-02) with in-place distillation: the largest subnet of "
                              "each step, trained on the labels, teaches the others instead "
                              "of a frozen copy of phase 1's network. The teacher's forward "
                              "pass is saved; are both targets kept?",
                              replace(LAPTOP_22EP, inplace_distillation=True),
                              "L-laptop-22ep"),
    "F-laptop-22ep-n1": ("F-laptop-22ep-lr0.01-kernel0.003 (the laptop preset of 2026-12-02) "
                         "with one random subnet per depth and expand step, not two, beside "
                         "the largest and smallest (estimated: about 4 minutes less): what "
                         "does it cost the two targets (and the subnets between them)?",
                         replace(LAPTOP_22EP, phases=tuple(replace(p, n_subnets=1)
                                                           for p in LAPTOP_22EP.phases)),
                         "L-laptop-22ep"),
    "F-laptop-22ep-depth0.003": ("F-laptop-22ep-lr0.01-kernel0.003 (the laptop preset of "
                                 "2026-12-02) with the depth step at peak lr 0.003 too: it "
                                 "cost the largest 1.1 of the 1.3 validation points shrinking "
                                 "took; does a gentler depth step leave it a margin over 85 %, "
                                 "and at what cost to the smallest and the subnets between?",
                                 laptop_shrinking(largest_epochs=22, lrs=(0.003, 0.003, 0.01)),
                                 "L-laptop-22ep"),
    "F-laptop-22ep-nokernel": ("F-laptop-22ep-lr0.01-kernel0.003 (the laptop preset of "
                               "2026-12-02) without its kernel step: the depth step, which "
                               "samples every kernel size anyway, opens kernel and depth "
                               "together. It saves the kernel epoch (346 s in the shipped run); "
                               "are both targets and the subnets between kept?",
                               LAPTOP_22EP_NOKERNEL, "L-laptop-22ep"),
}

# the shipped supernet (LAPTOP's four phases, laptop.pt of 2026-12-01) trained further: what
# one more epoch of the recipe's remaining 7 minutes (on the Intel Xeon) buys. Its checkpoint
# keeps no teacher, so the added phase trains without distillation.
FROM_SHIPPED = {
    "F-laptop-final-sandwich": ("the shipped laptop.pt with one more epoch training only its "
                                "largest and smallest subnets (peak lr 0.03, no teacher): can "
                                "the largest win back the 1.6 points shrinking cost it?",
                                replace(LAPTOP, phases=(*LAPTOP.phases,
                                                        replace(FINAL_SANDWICH, kd=0.0)))),
}

EXPERIMENTS: dict[str, Experiment] = {
    **{n: Experiment(d, c, PROXY) for n, (d, c) in LARGEST.items()},
    **{n: Experiment(d, c, PROXY, init=start[0] if start else SHRINK_FROM, init_phases=1)
       for n, (d, c, *start) in SHRINKING.items()},
    **{n: Experiment(d, c) for n, (d, c) in FULL_DATA.items()},
    **{n: Experiment(d, c, init=SHIPPED_SUPERNET, init_phases=len(LAPTOP.phases))
       for n, (d, c) in FROM_SHIPPED.items()},
}
for _name, (_question, _config, _start) in FROM_LAPTOP_PHASE1.items():  # each after its start
    EXPERIMENTS[_name] = Experiment(_question, _config, init=_start,
                                    init_phases=len(EXPERIMENTS[_start].config.phases))
# F-laptop-22ep-nokernel's saving spent on phase 1, trained whole from scratch: made as
# `ofa train --preset laptop` at commit d685054, where the preset was this config for one run
# (RECIPE.md, section 5, "No kernel step of its own"); not kept as the preset
EXPERIMENTS["F-laptop-23ep-nokernel"] = Experiment(
    "the laptop preset of 2026-12-02 without its kernel step and with that epoch in phase 1 "
    "(23 + 1 + 2 epochs, the same 26): a margin on the largest for less time?",
    replace(LAPTOP_22EP_NOKERNEL, phases=(replace(LAPTOP_22EP_NOKERNEL.phases[0], epochs=23),
                                          *LAPTOP_22EP_NOKERNEL.phases[1:])))
# ... and its second sample: made as `ofa train --preset laptop --seed 1` with the preset as at
# d685054 (RECIPE.md, section 5, "No kernel step of its own")
EXPERIMENTS["F-laptop-23ep-nokernel-s1"] = Experiment(
    "F-laptop-23ep-nokernel with seed 1 (weights, data order, sampled subnets): does the "
    "cheaper recipe centre on the targets as the shipped one does (its seed 1: 84.84 / 75.29 %)?",
    replace(EXPERIMENTS["F-laptop-23ep-nokernel"].config, seed=1))
# the laptop preset with the ~10 minutes that two processes free (RECIPE.md, section 5, "Two
# one-thread processes") spent on phase 1, trained whole in two processes:
# `torchrun --nproc-per-node 2 scripts/ofa_recipe.py whole F-laptop-24ep --out DIR`
EXPERIMENTS["F-laptop-24ep"] = Experiment(
    "the laptop preset of 2026-12-02 with 24 epochs of phase 1, not 22 (28 in all), trained "
    "in two one-thread processes: a margin over 85 % on the largest within 90 minutes?",
    replace(LAPTOP_22EP, phases=(replace(LAPTOP_22EP.phases[0], epochs=24),
                                 *LAPTOP_22EP.phases[1:])))
# the laptop preset at weight decay 1e-3 (L-flip-8ep-1t-wd1e-3 beat its 5e-4 reference by
# 3.0 / 2.8 points, the largest gain of the four proxies), trained whole in two processes:
# `torchrun --nproc-per-node 2 scripts/ofa_recipe.py whole F-laptop-wd1e-3 --out DIR`
EXPERIMENTS["F-laptop-wd1e-3"] = Experiment(
    "the laptop preset of 2026-12-02 (26 epochs) at weight decay 1e-3, not 5e-4, trained in "
    "two one-thread processes: does the proxies' gain carry to the full budget?",
    replace(LAPTOP_22EP, weight_decay=1e-3))
