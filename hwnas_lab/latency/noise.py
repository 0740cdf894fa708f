"""How good a latency prediction is, and how repeatable the measurement itself is.

* **Metrics.** RMSE, mean absolute percentage error, the share within +-5 % and +-10 %
  (nn-Meter's measure, Zhang et al., MobiSys 2021) and Kendall's tau
  (:func:`latency_metrics`).
* **Noise floor.** The same networks measured again and again, interleaved. Scoring one
  round's measurement as a "prediction" of another's shows how far two measurements of
  the same network disagree on this machine (:class:`NoiseFloor`). It is a yardstick,
  not a bound: each side of the comparison carries its own noise, so a perfect predictor
  of a network's typical latency scores better than a second measurement (about
  sqrt(2) times lower RMSE when the noise is independent and alike).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from torch import nn
from tqdm.auto import tqdm

from ..config import check_int
from ..stats import kendall_tau
from .measure import Target, get_target, machine_info, time_runner


def _as_arrays(pred: Sequence[float], meas: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    p, m = np.asarray(pred, dtype=np.float64).ravel(), np.asarray(meas, dtype=np.float64).ravel()
    if p.shape != m.shape or p.size == 0:
        raise ValueError(f"predictions ({p.size}) and measurements ({m.size}) must be non-empty "
                         "and of equal length")
    if np.any(m <= 0):
        raise ValueError("measured latencies must be positive (a relative error divides by them)")
    return p, m


def within_pct(pred: Sequence[float], meas: Sequence[float], pct: float = 10.0) -> float:
    """Share (0..1) of predictions within +-``pct`` % of the measurement (nn-Meter's measure)."""
    p, m = _as_arrays(pred, meas)
    return float(np.mean(np.abs(p - m) / m <= pct / 100.0 + 1e-12))  # band edge inside


@dataclass(frozen=True)
class LatencyMetrics:
    """How well predicted latencies match measured ones."""

    rmse_ms: float  # root mean squared error
    mape_pct: float  # mean absolute percentage error
    within5: float  # share within +-5 %
    within10: float  # share within +-10 %
    kendall_tau: float  # rank agreement, 1 = same order
    n: int  # number of (prediction, measurement) pairs

    def __str__(self) -> str:
        return (f"RMSE {self.rmse_ms:.3f} ms, MAPE {self.mape_pct:.1f} %, "
                f"+-5 % {100 * self.within5:.0f} %, +-10 % {100 * self.within10:.0f} %, "
                f"tau {self.kendall_tau:.3f} (n={self.n})")


def latency_metrics(pred: Sequence[float], meas: Sequence[float]) -> LatencyMetrics:
    """RMSE, MAPE, share within +-5/10 % and Kendall's tau of ``pred`` against ``meas``."""
    p, m = _as_arrays(pred, meas)
    rel = np.abs(p - m) / m
    tau = kendall_tau(p, m) if p.size >= 2 else float("nan")
    return LatencyMetrics(float(np.sqrt(np.mean((p - m) ** 2))), float(100 * rel.mean()),
                          float(np.mean(rel <= 0.05 + 1e-12)), float(np.mean(rel <= 0.10 + 1e-12)),
                          tau, int(p.size))


# ----- the noise floor -------------------------------------------------------------------
@dataclass
class NoiseFloor:
    """Repeated, interleaved measurements of the same networks on one target.

    ``medians_ms[k, j]`` is round ``k``'s median for network ``j``. Using one round as a
    "prediction" of another (every ordered pair of rounds) scores the measurement
    against itself: a yardstick for predictors (see the module docstring), not a bound.
    """

    target: str  # Target.name
    names: list[str]  # one per network
    medians_ms: np.ndarray  # shape (rounds, networks)
    iqrs_ms: np.ndarray  # within-measurement IQRs, same shape
    info: dict = field(default_factory=machine_info)  # machine the rounds ran on

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(as-if-predicted, measured): every ordered pair of different rounds, every network."""
        rounds = self.medians_ms.shape[0]
        if rounds < 2:
            raise ValueError("a noise floor needs at least 2 rounds")
        ab = np.array(list(itertools.permutations(range(rounds), 2)))
        return self.medians_ms[ab[:, 0]].ravel(), self.medians_ms[ab[:, 1]].ravel()

    def metrics(self) -> LatencyMetrics:
        return latency_metrics(*self.pairs())

    @property
    def rel_spread_pct(self) -> float:
        """Median over networks of (IQR across rounds / median), in percent."""
        q1, med, q3 = np.percentile(self.medians_ms, [25, 50, 75], axis=0)
        return float(100 * np.median((q3 - q1) / med))

    def __str__(self) -> str:
        m = self.metrics()
        return (f"noise floor on {self.target} ({self.info.get('cpu')}): {self.medians_ms.shape[0]} "
                f"rounds x {len(self.names)} nets; round-to-round spread {self.rel_spread_pct:.1f} %, "
                f"repeat-vs-repeat MAPE {m.mape_pct:.1f} %, within +-10 % {100 * m.within10:.0f} %, "
                f"within +-5 % {100 * m.within5:.0f} %")


def noise_floor(nets: Sequence[nn.Module], target: "str | Target" = "torch", rounds: int = 5,
                repeats: int = 15, warmup: int = 5, names: Sequence[str] | None = None,
                progress: bool = True) -> NoiseFloor:
    """Measure every net ``rounds`` times, interleaved (net 1, net 2, ..., net 1, ...)."""
    check_int("rounds", rounds, 2)
    if not nets:
        raise ValueError("noise_floor needs at least one network")
    tgt = get_target(target)
    names = list(names) if names is not None else [f"net{i}" for i in range(len(nets))]
    med, iqr = np.zeros((rounds, len(nets))), np.zeros((rounds, len(nets)))
    bar = tqdm(total=rounds * len(nets), desc=f"noise floor {tgt.name}", disable=not progress,
               leave=False)
    runners = [tgt.prepare(net, net.input_shape(1) if hasattr(net, "input_shape") else (1, 3, 32, 32))
               for net in nets]  # prepared once (an ONNX export per net, not per round)
    for k in range(rounds):
        for j, run in enumerate(runners):
            res = time_runner(run, tgt, repeats=repeats, warmup=warmup)
            med[k, j], iqr[k, j] = res.median_ms, res.iqr_ms
            bar.update()
    bar.close()
    return NoiseFloor(tgt.name, names, med, iqr)
