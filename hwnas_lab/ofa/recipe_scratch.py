"""The from-scratch baselines of issue 9: architectures of the space trained alone.

Each ``Scratch`` trains the largest, the smallest and two random subnets of the ``cpu``
space alone, each for as many epochs as a supernet of ``recipe_catalog`` had in all, and
measures them beside the same subnets of those supernets (BN recalibrated, no fine-tuning).
``recipe_experiments.run_scratch`` runs them; ``scripts/ofa_recipe.py`` is the command line.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwnas_lab.ofa.recipe_catalog import (LAPTOP, LAPTOP_22EP, LARGEST, PROXY, SHIPPED_SUPERNET,
                                          SHRINK_FROM)
from hwnas_lab.ofa.schedule import ShrinkConfig


@dataclass(frozen=True)
class Scratch:
    """Architectures of the space trained alone, beside the same subnets of supernets."""

    description: str  # the question it answers
    epochs: int  # per architecture trained alone
    supernets: tuple[str, ...]  # experiments (or SHIPPED_SUPERNET) whose subnets are measured
    recipe: ShrinkConfig  # its first phase's lr and warm-up share, its batch, weight decay,
    #   label smoothing, crop padding and seed train the architectures alone
    per_class: int | None = PROXY  # training images per class (None: all 4,500)


# The largest, the smallest and two random subnets trained alone, each for as many epochs as
# a supernet had in all, beside the same subnets of that supernet (BN recalibrated, no
# fine-tuning): OFA's central claim, at the proxies' budget (L-full-res's 4 + 5 epochs) and
# at the shipped supernet's, on all 45,000 images: LAPTOP's 24 epochs against laptop.pt as
# shipped on 2026-12-01 (a rerun would measure the 26-epoch one shipped since), and the
# laptop preset's 26 against that one.
SCRATCH = {
    "X-scratch": Scratch("the largest, the smallest and two random subnets, each trained alone "
                         "for 9 epochs with phase 1's recipe, against the same subnets of "
                         "S-base and S-sandwich", 9, ("S-base", "S-sandwich"),
                         LARGEST[SHRINK_FROM][1]),
    "X-scratch-full": Scratch("the same four architectures, each trained alone on all 45,000 "
                              "images for the shipped supernet's 24 epochs with the laptop "
                              "preset's phase-1 recipe, against the same subnets of the "
                              "shipped supernet", sum(p.epochs for p in LAPTOP.phases),
                              (SHIPPED_SUPERNET,), LAPTOP, per_class=None),
    "X-scratch-full-26": Scratch("the same four architectures, each trained alone on all 45,000 "
                                 "images for the laptop preset's 26 epochs with its phase-1 "
                                 "recipe, against the same subnets of the shipped supernet (the "
                                 "networks trained 2026-12-02; the supernet's side remeasured "
                                 "when laptop.pt is reshipped, supernets_measured says when)",
                                 sum(p.epochs for p in LAPTOP_22EP.phases),
                                 (SHIPPED_SUPERNET,), LAPTOP_22EP, per_class=None),
}
