"""Pareto front: against a brute-force O(n^2) definition, ties, duplicates, bad input."""

import numpy as np
import pytest

from hwnas_lab.pareto import pareto_front, pareto_mask


def brute_force(cost, quality):
    """Keep i unless some j is no worse on both axes and strictly better on one."""
    n = len(cost)
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        for j in range(n):
            if (cost[j] <= cost[i] and quality[j] >= quality[i]
                    and (cost[j] < cost[i] or quality[j] > quality[i])):
                keep[i] = False
                break
    return keep


@pytest.mark.parametrize("seed", range(20))
def test_matches_brute_force_on_random_points(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 200))
    # coarse grids make ties and exact duplicates frequent
    cost = rng.integers(0, 15, n).astype(float) if seed % 2 else rng.random(n)
    quality = rng.integers(0, 15, n).astype(float) if seed % 3 else rng.random(n)
    assert np.array_equal(pareto_mask(cost, quality), brute_force(cost, quality))


def test_hand_worked_points():
    cost = [1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 0.5]
    quality = [0.5, 0.7, 0.6, 0.7, 0.9, 0.9, 0.5]
    # 0.5ms/0.5 dominates 1.0ms/0.5; 2.0/0.6 loses to 2.0/0.7; 3.0/0.7 loses to 2.0/0.7;
    # 4.0/0.9 loses to 3.0/0.9
    assert pareto_front(cost, quality).tolist() == [6, 1, 4]


def test_duplicates_all_kept_and_front_sorted_by_cost():
    cost = [2.0, 1.0, 2.0, 1.0]
    quality = [0.9, 0.8, 0.9, 0.8]
    assert pareto_front(cost, quality).tolist() == [1, 3, 0, 2]
    assert pareto_mask([], []).shape == (0,)


def test_bad_input():
    with pytest.raises(ValueError, match="cost has 2 values but quality has 3"):
        pareto_mask([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="NaN"):
        pareto_mask([1, float("nan")], [1, 2])
