"""Pareto fronts of (cost, quality) points: lower cost and higher quality are better.

Multi-objective NAS (MnasNet, Tan et al., CVPR 2019; Once-for-All's specialisation,
Cai et al., ICLR 2020) reports the architectures no other one beats on both axes at
once, e.g. latency (ms, lower is better) against accuracy (higher is better).

Point ``p`` **dominates** ``q`` when ``cost_p <= cost_q`` and ``quality_p >= quality_q``
with at least one of the two strict. The front is every point no other point dominates.
Exact duplicates do not dominate each other, so all copies of a front point are on the
front. ``pareto_mask`` sorts once (O(n log n)) and needs no Python loop over points.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def _as_pair(cost: Sequence[float], quality: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(cost, dtype=np.float64).ravel()
    q = np.asarray(quality, dtype=np.float64).ravel()
    if c.shape != q.shape:
        raise ValueError(f"cost has {c.size} values but quality has {q.size}: give one of "
                         "each per point")
    if np.isnan(c).any() or np.isnan(q).any():
        raise ValueError("cost and quality must not contain NaN (a point without a "
                         "measurement cannot be ranked); drop it first")
    return c, q


def pareto_mask(cost: Sequence[float], quality: Sequence[float]) -> np.ndarray:
    """Boolean mask of the non-dominated points (lower ``cost``, higher ``quality``).

    Sort by cost, then by quality descending. Within a group of equal cost only the
    group's best quality can survive; it survives if it is strictly better than every
    point of strictly lower cost (the running maximum over earlier groups).
    """
    c, q = _as_pair(cost, quality)
    n = c.size
    if n == 0:
        return np.zeros(0, dtype=bool)
    order = np.lexsort((-q, c))  # by cost, ties by quality descending
    cs, qs = c[order], q[order]
    new_group = np.r_[True, cs[1:] != cs[:-1]]
    group = np.cumsum(new_group) - 1  # group index of each sorted point
    first = np.flatnonzero(new_group)  # position of each group's best point
    group_best = qs[first]
    # best quality among all strictly cheaper groups (-inf for the cheapest group)
    before = np.r_[-np.inf, np.maximum.accumulate(group_best)[:-1]]
    keep_sorted = (qs == group_best[group]) & (qs > before[group])
    mask = np.empty(n, dtype=bool)
    mask[order] = keep_sorted
    return mask


def pareto_front(cost: Sequence[float], quality: Sequence[float]) -> np.ndarray:
    """Indices of the non-dominated points, by increasing cost (ties: original order)."""
    c, _ = _as_pair(cost, quality)
    idx = np.flatnonzero(pareto_mask(cost, quality))
    return idx[np.argsort(c[idx], kind="stable")]
