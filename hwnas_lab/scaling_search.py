"""Searching compound-scaling coefficients by training: EfficientNet's grid search at
``phi = 1`` and compound against single-dimension scaling at equal FLOPs.

Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks",
ICML 2019: step 1 fixes ``phi = 1`` and grid-searches ``alpha, beta, gamma`` under
``alpha * beta**2 * gamma**2 ~= 2``; its Figure 8 compares compound scaling with scaling
one dimension at equal FLOPs. Here every network is one of ``hwnas_lab.scaling``'s (a
``SearchSpace`` plus an ``Arch``), trained from scratch by ``hwnas_lab.train.train``.

Runs are cached on disk (``cache_dir("scaling")``), one JSON file per network, training
config and data (written atomically), so a re-run costs nothing, and candidates that
round to the same network are trained once. A run's seed seeds the weights, the shuffle
and the augmentation; the spread over seeds says whether a winner is real or noise.
Latency of a scaled network (``operator_latency_ms``): the latency table's entry where it
has the operator, the operator measured alone on the same target otherwise.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .config import atomic_path, cache_dir
from .scaling import (CONSTRAINT, EFFICIENTNET, METHODS, TOLERANCE, Coefficients, ScaledNet,
                      scale, scale_to_flops)
from .arch import Arch
from .space import SearchSpace


# ----- training a scaled network, cached on disk -------------------------------------------
def fingerprint(data) -> str:
    """Short hash of a ``TensorData``'s images and labels (part of every cache key)."""
    h = hashlib.sha1()
    h.update(data.y.cpu().numpy().tobytes())
    h.update(data.X.cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:12]


@dataclass
class Trial:
    """One network trained with one or more seeds: validation accuracy per seed."""

    label: str  # e.g. "compound x2" or the coefficients
    net: ScaledNet
    accs: dict[int, float] = dataclasses.field(default_factory=dict)  # seed -> val accuracy 0..1
    train_s: dict[int, float] = dataclasses.field(default_factory=dict)  # seed -> seconds (when trained)
    cached: int = 0  # how many of the runs came from the cache

    @property
    def mean(self) -> float:
        return float(np.mean(list(self.accs.values())))

    @property
    def std(self) -> float:
        """Sample standard deviation over seeds (NaN with one seed)."""
        values = list(self.accs.values())
        return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


def train_scaled(net: ScaledNet, train_data, val_data, config, cache: Path | str | bool = True,
                 progress: bool = False, device: str = "cpu",
                 fingerprints: tuple[str, str] | None = None) -> dict:
    """Train ``net`` from scratch with ``config`` (its ``seed`` seeds the weights too) at the
    network's resolution, then return its validation accuracy.

    The result is cached as JSON in ``cache`` (True: ``cache_dir("scaling")``; False: no
    cache; else that folder), keyed by the network, the config and both data sets, written
    atomically.
    """
    from .train import evaluate, seed_everything, train

    config = dataclasses.replace(config, resolution=net.arch.r)
    fp_train, fp_val = fingerprints or (fingerprint(train_data), fingerprint(val_data))
    blob = json.dumps({"net": net.key, "config": dataclasses.asdict(config), "train": fp_train,
                       "val": fp_val}, sort_keys=True)
    key = hashlib.sha1(blob.encode()).hexdigest()[:16]
    folder = cache_dir("scaling") if cache is True else None if cache is False else Path(cache)
    path = folder / f"run-{key}.json" if folder is not None else None
    if path is not None and path.is_file():
        try:
            return {**json.loads(path.read_text()), "cached": True}
        except (ValueError, OSError):  # a damaged file: train again and overwrite it
            pass
    seed_everything(config.seed)
    model = net.build()
    history = train(model, train_data, None, config, progress=progress, device=device)
    _, val_acc = evaluate(model, val_data, resolution=net.arch.r, device=device,
                          channels_last=config.channels_last)
    result = {"key": key, "net": net.key, "seed": config.seed, "val_acc": val_acc,
              "train_s": float(sum(history.seconds)), "train_acc": history.train_acc[-1],
              "epochs": config.epochs, "train_images": len(train_data), "val_images": len(val_data),
              "mflops": net.mflops, "arch": net.arch.to_dict(), "width_mult": net.space.width_mult}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(result, indent=1))
    return {**result, "cached": False}


def run_trials(trials: Sequence[Trial], seeds: Sequence[int], train_data, val_data, config,
               cache: Path | str | bool = True, progress: bool = True,
               device: str = "cpu") -> None:
    """Train every trial's network with every seed it lacks (in place)."""
    from tqdm.auto import tqdm

    fps = (fingerprint(train_data), fingerprint(val_data))
    todo = [(t, s) for t in trials for s in seeds if s not in t.accs]
    for trial, seed in tqdm(todo, desc="train", disable=not progress or not todo, leave=False):
        run = train_scaled(trial.net, train_data, val_data, dataclasses.replace(config, seed=seed),
                           cache, device=device, fingerprints=fps)
        trial.accs[seed] = run["val_acc"]
        trial.train_s[seed] = run["train_s"]
        trial.cached += run["cached"]


# ----- grid search at phi = 1 --------------------------------------------------------------
def grid_candidates(alphas: Iterable[float], betas: Iterable[float], gammas: Iterable[float],
                    constraint: float = CONSTRAINT, tolerance: float = TOLERANCE) -> list[Coefficients]:
    """Every ``(alpha, beta, gamma)`` of the grid whose product is within ``tolerance`` of
    ``constraint``."""
    betas, gammas = list(betas), list(gammas)
    out = [Coefficients(a, b, g) for a in alphas for b in betas for g in gammas
           if abs(a * b * b * g * g / constraint - 1) <= tolerance]
    if not out:
        raise ValueError(f"no grid point has alpha * beta^2 * gamma^2 within {100 * tolerance:g} % "
                         f"of {constraint}; widen the grid or the tolerance")
    return out


@dataclass
class GridResult:
    """Candidates, the distinct networks they round to, and each network's accuracies."""

    candidates: list[Coefficients]
    net_of: list[str]  # candidate i -> key of its network in ``trials``
    trials: dict[str, Trial]  # network key -> its trial
    reference: Coefficients | None  # EfficientNet's coefficients, trained with every seed

    def ranked(self) -> list[Trial]:
        """Distinct networks, best mean validation accuracy first."""
        return sorted(self.trials.values(), key=lambda t: -t.mean)

    def coefficients_of(self, trial: Trial) -> list[Coefficients]:
        return [c for c, k in zip(self.candidates, self.net_of) if k == trial.net.key]

    def trial_of(self, coefficients: Coefficients) -> Trial:
        return self.trials[self.net_of[self.candidates.index(coefficients)]]


def grid_search(space: SearchSpace, arch: Arch, candidates: Sequence[Coefficients], train_data,
                val_data, config, seeds: Sequence[int] = (0, 1, 2), top_k: int = 3,
                reference: Coefficients | None = EFFICIENTNET, phi: float = 1.0,
                cache: Path | str | bool = True, progress: bool = True,
                device: str = "cpu") -> GridResult:
    """EfficientNet's step 1: scale the baseline by each candidate at ``phi``, train each
    distinct network with ``seeds[0]``, then the ``top_k`` best other than the ``reference``,
    and the ``reference``, with every seed."""
    candidates = list(candidates)
    if reference is not None and reference not in candidates:
        candidates.append(reference)
    trials: dict[str, Trial] = {}
    net_of = []
    for c in candidates:
        net = scale(space, arch, c, phi)
        trials.setdefault(net.key, Trial(str(c), net))
        net_of.append(net.key)
    run_trials(list(trials.values()), seeds[:1], train_data, val_data, config, cache, progress, device)
    result = GridResult(candidates, net_of, trials, reference)
    ref = result.trial_of(reference) if reference else None
    chosen = [t for t in result.ranked() if t is not ref][:top_k] + ([ref] if ref else [])
    run_trials(chosen, seeds, train_data, val_data, config, cache, progress, device)
    return result


# ----- compound against one dimension at equal FLOPs --------------------------------------
def compare_methods(space: SearchSpace, arch: Arch, train_data, val_data, config,
                    budgets: Sequence[float] = (2.0, 4.0), methods: dict[str, Coefficients] = METHODS,
                    seeds: Sequence[int] = (0,), cache: Path | str | bool = True,
                    progress: bool = True, device: str = "cpu") -> dict[str, list[Trial]]:
    """For each method, the baseline and its networks scaled to each FLOPs budget (``phi``
    chosen per method so the rounded network's FLOPs come closest), trained with ``seeds``."""
    base = scale(space, arch, EFFICIENTNET, 0.0)
    out = {}
    for name, coefficients in methods.items():
        out[name] = [Trial("baseline", base)] + [
            Trial(f"{name} x{b:g}", scale_to_flops(space, arch, coefficients, b)) for b in budgets]
    unique = {t.net.key: t for trials in out.values() for t in trials}  # train each net once
    run_trials(list(unique.values()), seeds, train_data, val_data, config, cache, progress, device)
    for trials in out.values():
        for t in trials:
            done = unique[t.net.key]
            t.accs, t.train_s, t.cached = done.accs, done.train_s, done.cached
    return out


# ----- latency of a scaled network ---------------------------------------------------------
def operator_latency_ms(space: SearchSpace, arch: Arch, table, measured: dict[str, float],
                        repeats: int | None = None) -> tuple[float, int]:
    """Predicted latency (ms): the sum over operators of the latency table's entry where it
    has one, else a measurement of the operator alone on the table's target with the table's
    protocol (warm-up, batch; ``repeats``, None: the table's), kept in ``measured``
    (signature -> ms) for the next call. Returns (ms, operators measured now)."""
    from .latency.measure import measure_layer

    proto = table.protocol
    repeats = proto["repeats"] if repeats is None else repeats
    total, fresh = 0.0, 0
    for spec in space.layer_specs(arch):
        ms = table.entries.get(spec.signature, measured.get(spec.signature))
        if ms is None:
            ms = measured[spec.signature] = measure_layer(
                spec, table.target, repeats=repeats, warmup=proto["warmup"],
                batch=proto["batch"]).median_ms
            fresh += 1
        total += ms
    return total, fresh
