"""Latency predictors built on a latency table, checked against end-to-end measurement.

The plain LUT sum (ProxylessNAS, Cai et al., ICLR 2019; Once-for-All, Cai et al., ICLR
2020) misses what isolated operator measurements cannot see: per-network overhead
(Python dispatch of the whole module tree, the framework's call), caches warmed by the
previous layer, fusion across layers in a runtime such as ONNX Runtime. nn-Meter (Zhang
et al., MobiSys 2021) learns kernel-level predictors for this. Here, each a step up:

* :class:`SumPredictor`: the sum of the table's entries (one vectorised gather).
* :class:`CalibratedSum`: ``a * sum + c * operators + b`` fit by least squares on measured
  networks (``b`` the per-network overhead, ``c`` the per-call overhead every isolated
  measurement paid, ``a`` the systematic bias of isolated timings).
* :class:`MLPPredictor`: a small MLP on the architecture's one-hot features
  (``SearchSpace.encode_batch``) plus the log LUT sum, learning a multiplicative
  correction ``log(measured / calibrated)`` under a Huber loss (noisy outliers weigh less);
  its last layer starts at zero, so before training it equals the calibrated sum, and
  weight decay keeps it near it.

All are scored with :func:`hwnas_lab.latency.noise.latency_metrics` on held-out random
subnetworks (:func:`validate_table`), beside the measurement's own noise floor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..arch import Arch, ArchBatch
from ..blocks import build_net
from ..space import make_rng
from .lut import LatencyTable
from .measure import measure_archs
from .noise import LatencyMetrics, NoiseFloor, latency_metrics, noise_floor


def _measured(values: Sequence[float]) -> np.ndarray:
    y = np.asarray(values, dtype=np.float64).ravel()
    if y.size == 0 or np.any(~np.isfinite(y)) or np.any(y <= 0):
        raise ValueError("measured latencies must be a non-empty list of positive numbers (ms)")
    return y


class SumPredictor:
    """Latency = sum of the table's entries (no fitting)."""

    name = "LUT sum"

    def __init__(self, table: LatencyTable):
        self.table = table

    def fit(self, archs: Sequence[Arch], measured_ms: Sequence[float]) -> "SumPredictor":
        return self

    def predict(self, archs: "Sequence[Arch] | ArchBatch") -> np.ndarray:
        return self.table.predict_batch(archs)


class CalibratedSum(SumPredictor):
    """Latency = ``scale * LUT sum + per_op_ms * operators + overhead_ms``, fit by least
    squares on relative errors (each network weighs the same, small or large).

    ``overhead_ms`` is what a whole network costs once (the framework call);
    ``per_op_ms`` (usually negative) removes the call overhead each isolated measurement
    paid but the network pays only once; ``scale`` absorbs cache and fusion effects.
    """

    name = "calibrated sum"

    def __init__(self, table: LatencyTable):
        super().__init__(table)
        self.scale, self.per_op_ms, self.overhead_ms = 1.0, 0.0, 0.0  # identity until fit

    def _design(self, archs: "Sequence[Arch] | ArchBatch") -> np.ndarray:
        arrays = ArchBatch.from_archs(self.table.space, archs)
        n_ops = arrays.d.sum(1) + 2.0  # blocks + stem + head
        return np.stack([self.table.predict_batch(arrays), n_ops, np.ones(len(arrays))], axis=1)

    def fit(self, archs: Sequence[Arch], measured_ms: Sequence[float]) -> "CalibratedSum":
        y = _measured(measured_ms)
        X = self._design(archs)
        if len(X) != len(y):
            raise ValueError(f"{len(X)} archs but {len(y)} measurements")
        if len(y) < 2 or np.ptp(X[:, 0]) == 0:  # too little to fit a slope: overhead only
            coef = np.array([1.0, 0.0, np.mean(y - X[:, 0])])
        elif len(y) < 6 or np.ptp(X[:, 1]) == 0:  # slope and intercept only
            coef = np.linalg.lstsq(X[:, [0, 2]] / y[:, None], np.ones_like(y), rcond=None)[0]
            coef = np.array([coef[0], 0.0, coef[1]])
        else:
            coef = np.linalg.lstsq(X / y[:, None], np.ones_like(y), rcond=None)[0]  # relative errors
        self.scale, self.per_op_ms, self.overhead_ms = (float(c) for c in coef)
        return self

    def predict(self, archs: "Sequence[Arch] | ArchBatch") -> np.ndarray:
        return self._design(archs) @ np.array([self.scale, self.per_op_ms, self.overhead_ms])


class MLPPredictor(CalibratedSum):
    """Calibrated sum times ``exp(mlp(features))``; features: one-hots of the arch + log LUT sum."""

    name = "MLP"

    def __init__(self, table: LatencyTable, hidden: int = 16, steps: int = 200, lr: float = 1e-2,
                 weight_decay: float = 1e-2, seed: int = 0):
        super().__init__(table)
        self.hidden = hidden  # units of the one hidden layer
        self.steps = steps  # full-batch Adam steps
        self.lr = lr  # Adam learning rate
        self.weight_decay = weight_decay  # L2 on all weights: keeps the correction small
        self.seed = seed  # weight initialisation
        self.max_log_corr = 0.7  # the correction stays within x0.5 .. x2 of the calibrated sum
        self.huber_delta = 0.05  # log-error beyond which the loss is linear: outliers weigh less
        self.net: nn.Module | None = None

    def _features(self, archs: Sequence[Arch], base: np.ndarray) -> torch.Tensor:
        x = np.concatenate([self.table.space.encode_batch(archs), np.log(base)[:, None]], axis=1)
        return torch.as_tensor((x - self.mu) / self.sd, dtype=torch.float32)

    def fit(self, archs: Sequence[Arch], measured_ms: Sequence[float]) -> "MLPPredictor":
        y = _measured(measured_ms)
        super().fit(archs, y)
        base = np.maximum(super().predict(archs), 1e-6)
        raw = np.concatenate([self.table.space.encode_batch(archs), np.log(base)[:, None]], axis=1)
        sd = raw.std(0)
        self.mu, self.sd = raw.mean(0), np.where(sd < 1e-3, 1.0, sd)  # constant columns stay put
        x = self._features(archs, base)
        target = torch.as_tensor(np.log(y / base), dtype=torch.float32)
        gen = torch.Generator().manual_seed(self.seed)
        self.net = nn.Sequential(nn.Linear(x.shape[1], self.hidden), nn.ReLU(), nn.Linear(self.hidden, 1))
        with torch.no_grad():
            for p in self.net.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * (1 / np.sqrt(max(p.shape[-1], 1))))
            self.net[2].weight.zero_()
            self.net[2].bias.zero_()
        opt = torch.optim.Adam(self.net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        for _ in range(self.steps):
            opt.zero_grad()
            loss = nn.functional.huber_loss(self.net(x).squeeze(1), target, delta=self.huber_delta)
            loss.backward()
            opt.step()
        return self

    def predict(self, archs: "Sequence[Arch] | ArchBatch") -> np.ndarray:
        if self.net is None:
            raise ValueError("MLPPredictor.predict before fit: call fit(archs, measured_ms) first")
        base = np.maximum(super().predict(archs), 1e-6)
        with torch.no_grad():
            corr = self.net(self._features(archs, base)).squeeze(1).numpy()
        return base * np.exp(np.clip(corr, -self.max_log_corr, self.max_log_corr))


@dataclass
class Validation:
    """Predictors fit on measured random subnetworks and scored on held-out ones."""

    target: str  # Target.name of the table and the measurements
    train_archs: list[Arch]
    train_ms: np.ndarray  # measured medians of the training archs
    test_archs: list[Arch]
    test_ms: np.ndarray  # measured medians of the held-out archs
    test_iqr_ms: np.ndarray  # their within-measurement IQRs
    predictions: dict[str, np.ndarray] = field(default_factory=dict)  # name -> on test archs
    metrics: dict[str, LatencyMetrics] = field(default_factory=dict)  # name -> on test archs
    noise: NoiseFloor | None = None  # repeatability of the measurement itself

    @property
    def best(self) -> str:
        """The predictor with the most held-out archs within +-10 % (then lowest MAPE)."""
        return max(self.metrics, key=lambda k: (self.metrics[k].within10, -self.metrics[k].mape_pct))

    def report(self) -> str:
        lines = [f"target {self.target}: {len(self.train_archs)} train / {len(self.test_archs)} "
                 f"held-out random subnetworks, measured end to end"]
        lines += [f"  {name:15s} {m}" for name, m in self.metrics.items()]
        if self.noise is not None:
            lines.append(f"  {'noise floor':15s} {self.noise.metrics()}")
        return "\n".join(lines)


def fit_predictors(table: LatencyTable, archs: Sequence[Arch], measured_ms: Sequence[float],
                   seed: int = 0) -> list[SumPredictor]:
    """The three predictors, fit on ``archs`` and their measured latencies."""
    return [SumPredictor(table), CalibratedSum(table).fit(archs, measured_ms),
            MLPPredictor(table, seed=seed).fit(archs, measured_ms)]


def validate_table(table: LatencyTable, n_train: int = 40, n_test: int = 40, repeats: int = 15,
                   warmup: int = 5, seed: int = 0, noise_rounds: int = 3, noise_nets: int = 4,
                   progress: bool = True) -> Validation:
    """Measure ``n_train + n_test`` random subnetworks on the table's target, fit the
    predictors on the first ``n_train``, score all on the rest; plus a noise floor."""
    if n_train < 2 or n_test < 2:
        raise ValueError(f"validate needs n_train >= 2 and n_test >= 2, got {n_train} and {n_test}")
    space, rng = table.space, make_rng(seed)
    archs = [space.sample(rng) for _ in range(n_train + n_test)]
    table.ensure([s for a in archs for s in space.layer_specs(a)], progress=progress)
    results = measure_archs(space, archs, table.target, repeats=repeats, warmup=warmup,
                            progress=progress)
    ms = np.array([r.median_ms for r in results])
    val = Validation(table.target, archs[:n_train], ms[:n_train], archs[n_train:], ms[n_train:],
                     np.array([r.iqr_ms for r in results[n_train:]]))
    for pred in fit_predictors(table, val.train_archs, val.train_ms, seed=seed):
        val.predictions[pred.name] = pred.predict(val.test_archs)
        val.metrics[pred.name] = latency_metrics(val.predictions[pred.name], val.test_ms)
    if noise_rounds >= 2 and noise_nets >= 1:
        nets = [build_net(space, a) for a in val.test_archs[:noise_nets]]
        val.noise = noise_floor(nets, table.target, rounds=noise_rounds, repeats=repeats,
                                warmup=warmup, progress=progress)
    return val
