"""One supernet, several devices: per-target latency models, re-measured winners, the cost.

Once-for-All (Cai et al., ICLR 2020) trains once and specialises by search: for each
deployment target only a latency table is measured and a search is run (Section 3.4,
Table 1's cost model ``Cost_supernet + N * Cost_search`` against ``N * Cost_single``).
This module holds what a specialisation needs around the search itself:

* :data:`BUDGETS`: what each preset measures (accuracy pairs, calibration, searches);
* :func:`latency_model`: a target's latency table (built if missing) and, optionally, its
  sum calibrated on a few subnets measured end to end (``predictors.CalibratedSum`` with a
  robust Theil-Sen fit of slope and intercept);
* :func:`remeasure`: a winner evaluated for real: test accuracy after BN recalibration and
  latency measured on the target, beside its constraint and its predictions;
* :func:`cost_table`: specialising N targets by search against training N networks.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..space import Arch, SearchSpace


@dataclass(frozen=True)
class SearchBudget:
    """What notebook 06 and ``ofa search`` measure in one preset."""

    preset: str  # data preset (hwnas_lab.config.PRESETS)
    supernet_preset: str  # whose supernet is searched (smoke searches the laptop one: same space)
    eval_per_class: int | None  # validation images per class for accuracy pairs (None: all of val)
    recal_batches: int  # BN recalibration batches (of 256 training images) per accuracy measurement
    n_extremes: int  # uniform corner architectures measured (smallest and largest first)
    n_random: int  # random subnets measured
    n_test: int  # of which held out to score the predictor
    n_repeats: int  # held-out subnets measured twice (the noise yardstick)
    calib_archs: int  # subnets measured per target to calibrate its table's sum (0: plain sum)
    latency_repeats: int  # timed samples per latency measurement (tables and re-measurement)
    latency_rounds: int  # end-to-end measurements: interleaved rounds, the least disturbed one kept
    predictor_steps: int  # AdamW steps fitting the accuracy predictor
    population: int  # evolution: population and children per generation (OFA: 100)
    generations: int  # evolution: generations (OFA: 500)
    seeds: int  # search curves over this many seeds
    targets: tuple[str, ...]  # latency targets searched (``latency.get_target`` names)


BUDGETS: dict[str, SearchBudget] = {
    # seconds: a few pairs on the 100 smoke validation images, tiny searches, two quick torch tables
    "smoke": SearchBudget("smoke", "laptop", None, 2, 2, 8, 3, 2, 3, 3, 2, 300, 20, 10, 2,
                          ("torch-1thread", "torch-allthreads")),
    # minutes on 2 CPU cores, measured once then cached: 126 evaluations of ~2.5 s (1,000 validation
    # images after recalibration on 4 x 256 training images); OFA's search settings; two runtimes
    "laptop": SearchBudget("laptop", "laptop", 100, 4, 16, 100, 25, 10, 12, 15, 3, 1500, 100, 500, 5,
                           ("torch-1thread", "onnxruntime")),
    # the gpu space and its own supernet, more pairs on all 5,000 validation images; CUDA if present
    "gpu": SearchBudget("gpu", "gpu", None, 10, 16, 400, 80, 20, 12, 30, 3, 1500, 100, 500, 10,
                        ("torch-1thread", "onnxruntime", "cuda")),
}


def get_budget(preset: str) -> SearchBudget:
    try:
        return BUDGETS[preset]
    except KeyError:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(BUDGETS)}") from None


def search_targets(budget: SearchBudget) -> list[str]:
    """The budget's targets that this machine has (``cuda`` only with a GPU)."""
    from ..latency.measure import cuda_available

    return [t for t in budget.targets if t != "cuda" or cuda_available()]


def find_search_supernet(preset: str) -> tuple[Path, str]:
    """The checkpoint to search in ``preset``: the learner's own, else a shipped one.

    Raises ``FileNotFoundError`` saying what to run when there is none (the gpu space ships
    none: train it on a GPU first).
    """
    from .checkpoint import find_supernet, run_dir

    which = get_budget(preset).supernet_preset
    path, source = find_supernet(which)
    if path is None:
        raise FileNotFoundError(
            f"no trained supernet for preset {which!r} (space of that preset): train one with "
            f"`python -m hwnas_lab ofa train --preset {which} --out {run_dir(which)}` (on a GPU for "
            "'gpu': days on a CPU), or pass a checkpoint: "
            "`python -m hwnas_lab ofa search --supernet CKPT ...`")
    return path, source


def get_search_supernet(preset: str, data=None, train: bool | None = None, progress: bool = True):
    """``(net, checkpoint, path, source)`` of the supernet to search in ``preset``.

    Without a checkpoint (the gpu space ships none), trains one when ``train`` (default: only
    if CUDA is present, as ``ofa.shrink.get_supernet``), else raises ``FileNotFoundError``
    saying what to run.
    """
    from ..latency.measure import cuda_available
    from .checkpoint import FINAL, load_checkpoint, load_supernet, run_dir
    from .shrink import get_supernet

    try:
        path, source = find_search_supernet(preset)
    except FileNotFoundError:
        if not (cuda_available() if train is None else train):
            raise
        which = get_budget(preset).supernet_preset
        net, ckpt, source = get_supernet(which, data=data, progress=progress)
        return net, ckpt, run_dir(which) / FINAL, source
    return load_supernet(path), load_checkpoint(path), path, source


# ----- latency per target ---------------------------------------------------------------------
@dataclass
class LatencyModel:
    """A target's table and the predictor the search uses (the plain or the calibrated sum)."""

    target: str  # Target.name
    table: object  # lut.LatencyTable of the space
    model: object  # what the search calls: the table itself or a fitted CalibratedSum
    calib_archs: list[Arch]  # measured end to end for the calibration (empty: plain sum)
    calib_ms: np.ndarray  # their measured medians
    calib_s: float  # time the calibration measurements took (now)

    def fit_mape(self) -> dict[str, float]:
        """Mean absolute % error on the calibration subnets (in sample) of the plain table sum and
        of the model the search uses."""
        if not self.calib_archs:
            return {}
        plain = self.table.predict_batch(self.calib_archs)
        model = self.model.predict(self.calib_archs)
        return {name: float(100 * np.mean(np.abs(p / self.calib_ms - 1))) for name, p in
                (("sum", plain), ("model", model))}

    @property
    def build_s(self) -> float:
        """Time the table took to build (recorded in it when it was measured)."""
        return float(self.table.meta.get("build_s", 0.0))


def measure_least_disturbed(space: SearchSpace, archs: list[Arch], target: str, rounds: int = 3,
                            repeats: int = 15) -> tuple[np.ndarray, np.ndarray]:
    """End-to-end latency (median ms, batch 1) of each arch and its IQR, from the least disturbed of
    ``rounds`` interleaved rounds (``latency.noise_floor``): on a shared machine another job only
    ever adds time, so the lowest round median is the best estimate of the device's own latency."""
    from ..blocks import build_net
    from ..latency import measure_archs, noise_floor

    if rounds < 2:
        res = measure_archs(space, archs, target, repeats=repeats, progress=False)
        return np.array([r.median_ms for r in res]), np.array([r.iqr_ms for r in res])
    floor = noise_floor([build_net(space, a) for a in archs], target, rounds=rounds, repeats=repeats,
                        progress=False)
    best, cols = floor.medians_ms.argmin(0), np.arange(len(archs))
    return floor.medians_ms[best, cols], floor.iqrs_ms[best, cols]


def latency_model(space: SearchSpace, target: str, calib_archs: int = 0, repeats: int = 15,
                  seed: int = 0, progress: bool = False, rounds: int = 3) -> LatencyModel:
    """The target's latency table of ``space`` (cached; built or completed if needed), and its sum
    calibrated on ``calib_archs`` random subnets measured end to end (0: the plain sum), each the
    least disturbed of ``rounds`` rounds."""
    from ..latency import get_target
    from ..latency.lut import get_lut
    from ..latency.predictors import CalibratedSum

    tgt = get_target(target)
    table = get_lut(space, tgt, repeats=repeats, at_least=True, progress=progress)
    archs, ms, model = [], np.zeros(0), table
    start = time.perf_counter()
    if calib_archs:
        rng = random.Random(seed)
        archs = [space.smallest(), space.largest()] + [space.sample(rng) for _ in range(calib_archs - 2)]
        archs = archs[:calib_archs]
        ms = measure_least_disturbed(space, archs, tgt.name, rounds, repeats)[0]
        model = robust_calibration(CalibratedSum(table), archs, ms)
    return LatencyModel(tgt.name, table, model, archs, ms, time.perf_counter() - start)


def latency_levels(efficiency, fractions=(0.25, 0.5, 0.75)) -> list[float]:
    """Latency limits at ``fractions`` of the way from the target's fastest subnet to its largest
    one: comparable budgets on targets whose absolute speeds differ."""
    from ..arch import ArchBatch

    low = efficiency.minimum("latency_ms")[0]
    largest = ArchBatch.from_archs(efficiency.space, [efficiency.space.largest()])
    high = float(efficiency.latency_ms(largest)[0])
    return [low + f * (high - low) for f in fractions]


def robust_calibration(model, archs: list[Arch], measured_ms: np.ndarray):
    """Set ``model`` (a ``predictors.CalibratedSum``) to ``slope * table sum + intercept`` fitted by
    Theil-Sen (Sen, JASA 1968): the median of the pairwise slopes, then the median intercept.

    A few end-to-end measurements on a shared machine carry outliers (a run hit by another
    job); least squares with three terms follows them, medians do not. When the measurements
    are too disturbed to order the subnets by their table sums (a slope <= 0, or a line that
    predicts the fastest of them below half its measured latency: a busy machine), or when a
    negative intercept takes more than half of ``slope * min_sum`` (``min_sum``: the smallest
    table sum of the whole space, ``Efficiency.minimum``; a steep line extrapolated below the
    subnets it was fitted on), the table is only rescaled, by the median ratio measured / sum,
    which keeps every latency positive.
    """
    from .efficiency import Efficiency

    x, y = model.table.predict_batch(archs), np.asarray(measured_ms, dtype=float)
    i, j = np.triu_indices(len(x), k=1)
    keep = np.abs(x[j] - x[i]) > 1e-9
    slope = float(np.median((y[j] - y[i])[keep] / (x[j] - x[i])[keep])) if keep.any() else 1.0
    intercept = float(np.median(y - slope * x))
    fastest = int(np.argmin(x))
    min_sum = Efficiency(model.table.space, model.table).minimum("latency_ms")[0]  # ms
    if not (slope > 0 and slope * x[fastest] + intercept >= 0.5 * y[fastest]
            and intercept >= -0.5 * slope * min_sum):
        slope, intercept = float(np.median(y / x)), 0.0
    model.scale, model.per_op_ms, model.overhead_ms = slope, 0.0, intercept
    return model


# ----- winners, re-measured ---------------------------------------------------------------------
@dataclass(frozen=True)
class Remeasured:
    """A searched subnet measured for real, beside what the search predicted."""

    arch: Arch
    target: str  # Target.name of the latency
    limit_ms: float | None  # the latency constraint it was searched under
    predicted_acc: float  # accuracy predictor (validation pairs), 0..1
    measured_acc: float  # supernet subnet on `split` after BN recalibration, 0..1
    split: str  # "test" normally
    images: int  # size of that split
    predicted_ms: float  # the search's latency model
    measured_ms: float  # median end to end on the target, batch 1
    iqr_ms: float  # its inter-quartile range
    val_acc: float | None = None  # the same subnet on the pairs' validation images (None: not measured)

    @property
    def meets_limit(self) -> bool:
        return self.limit_ms is None or self.measured_ms <= self.limit_ms

    def row(self) -> str:
        limit = "-" if self.limit_ms is None else f"{self.limit_ms:7.3f}"
        val = "" if self.val_acc is None else f"  val {100 * self.val_acc:5.2f} %"
        verdict = "meets " if self.meets_limit else "MISSES"
        return (f"{self.target:19s} limit {limit} ms  predicted {self.predicted_ms:6.3f}  measured "
                f"{self.measured_ms:6.3f} ms (IQR {self.iqr_ms:.3f}) {verdict}  acc predicted "
                f"{100 * self.predicted_acc:5.2f} %{val}  {self.split} {100 * self.measured_acc:5.2f} %")


def remeasure_many(net, items: list[tuple], train_data, eval_data, recal_batches: int = 10,
                   seed: int = 0, repeats: int = 15, rounds: int = 3, split: str = "test",
                   val_data=None) -> list[Remeasured]:
    """Measure searched subnets for real. ``items``: ``(arch, target, predicted_acc, predicted_ms,
    limit_ms)``. Accuracy on ``eval_data`` after BN recalibration on ``train_data`` (and on
    ``val_data``, the images the accuracy pairs came from, if given: the predictor's own error
    apart from the shift between splits); latency per target with
    :func:`measure_least_disturbed`, the subnets of one target interleaved."""
    from ..latency import get_target
    from .shrink import evaluate_subnet

    accs = [evaluate_subnet(net, it[0], train_data, eval_data, recal_batches, seed=seed) for it in items]
    vals = [None if val_data is None else evaluate_subnet(net, it[0], train_data, val_data, recal_batches,
                                                          seed=seed) for it in items]
    names = [get_target(it[1]).name for it in items]
    lat: dict[int, tuple[float, float]] = {}
    for name in dict.fromkeys(names):
        idx = [i for i, n in enumerate(names) if n == name]
        ms, iqr = measure_least_disturbed(net.space, [items[i][0] for i in idx], name, rounds, repeats)
        lat.update({i: (float(m), float(q)) for i, m, q in zip(idx, ms, iqr)})
    return [Remeasured(arch, names[i], limit, float(p_acc), float(accs[i]), split, len(eval_data),
                       float(p_ms), *lat[i], vals[i])
            for i, (arch, _, p_acc, p_ms, limit) in enumerate(items)]


def remeasure(net, arch: Arch, train_data, eval_data, target: str, predicted_acc: float,
              predicted_ms: float, limit_ms: float | None = None, recal_batches: int = 10,
              seed: int = 0, repeats: int = 15, split: str = "test", val_data=None,
              rounds: int = 3) -> Remeasured:
    """:func:`remeasure_many` of one subnet."""
    return remeasure_many(net, [(arch, target, predicted_acc, predicted_ms, limit_ms)], train_data, eval_data,
                          recal_batches, seed, repeats, rounds, split, val_data)[0]


def arch_differences(archs: dict[str, Arch]) -> str:
    """Where architectures found for different targets differ: resolution, depth, kernels, expand."""
    rows = []
    for name, a in archs.items():
        ks = [k for _, _, k, _ in a.active_blocks()]
        es = [e for *_, e in a.active_blocks()]
        rows.append(f"{name:18s} r {a.r:3d}  d {list(a.d)} ({sum(a.d):2d} blocks)  mean ks {np.mean(ks):.2f} "
                    f"(k7: {ks.count(7):2d})  mean e {np.mean(es):.2f}")
    return "\n".join(rows)


# ----- what specialisation costs ----------------------------------------------------------------
def training_costs(ckpt: dict) -> dict:
    """From a checkpoint's own log: the whole supernet's training time and that of the largest
    network alone (phase 1, what one stand-alone network costs), in seconds."""
    history = ckpt.get("history") or []
    if not history or "elapsed_s" not in ckpt:
        raise ValueError("the checkpoint has no training log (history, elapsed_s): cannot read its costs")
    first = [row for row in history if row.get("phase_index") == 0]
    single = sum(row.get("epoch_s", row.get("train_s", 0.0)) for row in first)
    return {"supernet_s": float(ckpt["elapsed_s"]), "single_s": float(single),
            "single_epochs": len(first)}


def cost_table(supernet_s: float, single_s: float, once_s: float, per_target_s: float,
               ns=(1, 2, 5, 10, 20, 50)) -> list[tuple[int, float, float]]:
    """``(N, OFA seconds, N networks seconds)``: OFA = supernet + one-off accuracy data + N x
    (table + search); the alternative trains N networks alone."""
    for name, v in (("supernet_s", supernet_s), ("single_s", single_s), ("once_s", once_s),
                    ("per_target_s", per_target_s)):
        if not np.isfinite(v) or v < 0:
            raise ValueError(f"{name} must be a finite number of seconds >= 0, got {v!r}")
    return [(n, supernet_s + once_s + n * per_target_s, n * single_s) for n in ns]
