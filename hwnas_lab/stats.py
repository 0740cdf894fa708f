"""Robust summaries of noisy measurements, and rank agreement.

Latency on a shared CPU is noisy and skewed (an interrupted sample is much slower, never
much faster), so the course reports the **median** and the **inter-quartile range**
(75th minus 25th percentile) rather than a mean and standard deviation. Rankings are
compared with **Kendall's tau-b** (Kendall, Biometrika 1938; tau-b handles ties): over
all pairs, (concordant - discordant) / sqrt(pairs not tied in x * pairs not tied in y).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def quartiles(samples: Sequence[float]) -> tuple[float, float, float]:
    """(25th percentile, median, 75th percentile) of one set of samples (linear interpolation)."""
    values = np.asarray(samples, dtype=np.float64).ravel()
    if values.size == 0:
        raise ValueError("quartiles of an empty set of samples")
    q1, q2, q3 = np.percentile(values, [25, 50, 75])
    return float(q1), float(q2), float(q3)


def quartiles_of_each(sample_sets: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per set of samples (sets may differ in length): arrays of (Q1, median, Q3)."""
    q = np.array([quartiles(s) for s in sample_sets]).reshape(-1, 3)
    return q[:, 0], q[:, 1], q[:, 2]


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b rank correlation (ties handled), O(n^2) memory and time in numpy."""
    a, b = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if a.shape != b.shape or a.size < 2:
        raise ValueError(f"kendall_tau needs two sequences of equal length >= 2, got "
                         f"{a.size} and {b.size}")
    i, j = np.triu_indices(a.size, k=1)
    sa, sb = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
    denom = np.sqrt(np.count_nonzero(sa) * np.count_nonzero(sb))
    return float(np.sum(sa * sb) / denom) if denom > 0 else float("nan")
