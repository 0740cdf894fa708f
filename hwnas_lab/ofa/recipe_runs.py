"""The shipped records of the recipe experiments, and the runs notebook 05 draws from them.

``weights/recipe_runs.jsonl`` holds one JSON line per finished run of ``recipe_experiments``
(in a clone of the repository ``python scripts/ofa_recipe.py run NAME`` reruns one; notebook
05 reruns those it shows in the gpu preset): its config and per-epoch log, validation and
test accuracy (0..1) of the largest and smallest subnets after BN recalibration, wall and
CPU time (s) and the load average before and after. ``weights/RECIPE.md`` reads them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

RECIPE_RUNS = Path(__file__).resolve().parent / "weights" / "recipe_runs.jsonl"
SCRATCH_BASELINE = "X-scratch"  # subnets trained alone for the shrinking proxies' 9 epochs
SCRATCH_FULL = "X-scratch-full-26"  # ... and for the shipped laptop.pt's 26 epochs on 45,000
# images (X-scratch-full did 24 against the laptop.pt shipped before it: RECIPE.md, section 4)


@dataclass(frozen=True)
class Ablation:
    """One shrinking experiment read against ``ABLATION_REFERENCE``."""

    name: str  # the experiment's name in scripts/ofa_recipe.py
    label: str  # what it changes, for a figure


ABLATION_REFERENCE = Ablation("S-base", "progressive shrinking\n(OFA's six phases)")
ABLATIONS = (
    Ablation("S-no-PS", "without progressive\nshrinking"),
    Ablation("S-kd0", "without\ndistillation"),
    Ablation("S-no-reorder", "without channel\nsorting"),
    Ablation("S-sandwich", "+ smallest subnet\nin every step"),
)
# The changes kept by the recipe experiments, each run on top of the one before (reduced
# budget, read against the reference like the ablations; always the shipped records)
RECIPE_LADDER = (
    ABLATIONS[-1],  # S-sandwich
    Ablation("S-split-6-3-sandwich", "+ 6 epochs largest,\n3 wider shrinking"),
    Ablation("S-split-8-3-sandwich", "+ 2 epochs largest\n(11 in all)"),
    Ablation("S-split-8-3-sandwich-lr0.2", "+ peak lr 0.2\nin phase 1"),
    Ablation("S-elastic-8-3-sandwich-lr0.2", "+ elastic resolution\nin phase 1 (a fifth cheaper)"),
)
# the ladder's last recipe on all 45,000 images, then with the largest in every shrinking
# step, then with flips as the only augmentation
FULL_BUDGET_RUNS = ("F-elastic-12-3-sandwich-lr0.2", "F-elastic-11-3-sandwich2-lr0.2",
                    "F-elastic-11-3-sandwich2-lr0.2-flip")
REFERENCE_SEED_TWIN = "S-base-s1"  # the reference with seed 1: the noise floor of the ablations
SHOWN_RUNS = (SCRATCH_BASELINE, ABLATION_REFERENCE.name, REFERENCE_SEED_TWIN,
              *(a.name for a in ABLATIONS))  # what notebook 05 remakes in the gpu preset


def load_runs(path: Path | str = RECIPE_RUNS) -> dict[str, dict]:
    """Experiment name -> its record (the last line of that name, a rerun replaces a run)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no recipe runs at {path}: run `python scripts/ofa_recipe.py "
                                "run NAME` (it appends there) or pass the file you wrote")
    runs = {}
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            runs[row["name"]] = row
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise ValueError(f"{path}, line {i}: not a recipe run record ({err}); each line "
                             "must be one JSON object with a 'name'") from err
    return runs


def require(runs: dict[str, dict], names: list[str]) -> list[dict]:
    """The records of ``names``, in order; a missing one is an error naming the command."""
    missing = [n for n in names if n not in runs]
    if missing:
        raise ValueError(f"no recipe records for {missing}: run `python scripts/ofa_recipe.py "
                         f"run {' '.join(missing)}`")
    return [runs[n] for n in names]


def ablation_runs(runs: dict[str, dict], ablations: tuple[Ablation, ...] = ABLATIONS
                  ) -> list[tuple[Ablation, dict]]:
    """The reference and every one of ``ablations`` (or ``RECIPE_LADDER``) with its record,
    reference first."""
    wanted = (ABLATION_REFERENCE, *ablations)
    return list(zip(wanted, require(runs, [a.name for a in wanted])))


def seed_gap(runs: dict[str, dict]) -> tuple[float, float] | None:
    """Test-accuracy gap in points (largest, smallest) between the reference and its seed-1
    twin: the noise floor drawn around the reference; None while the twin has no record."""
    twin, base = runs.get(REFERENCE_SEED_TWIN), runs.get(ABLATION_REFERENCE.name)
    if twin is None or base is None:
        return None
    return tuple(100 * abs(twin[k] - base[k]) for k in ("test_acc_largest", "test_acc_smallest"))
