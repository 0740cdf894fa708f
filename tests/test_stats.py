"""Median/IQR and Kendall's tau against hand-worked values and the definition."""

import itertools

import numpy as np
import pytest

from hwnas_lab.stats import kendall_tau, quartiles, quartiles_of_each


def test_quartiles_by_hand():
    # sorted 1, 2, 3, 4, 100: positions 1 and 3 of 0..4 (linear interpolation)
    assert quartiles([4, 100, 1, 3, 2]) == (2.0, 3.0, 4.0)
    # 1, 2, 3, 4: Q1 at position 0.75 -> 1.75, median 2.5, Q3 at 2.25 -> 3.25
    assert quartiles([1, 2, 3, 4]) == (1.75, 2.5, 3.25)
    q1, med, q3 = quartiles_of_each([[1, 2, 3, 4], [5.0], [4, 100, 1, 3, 2]])
    assert q1.tolist() == [1.75, 5.0, 2.0] and med.tolist() == [2.5, 5.0, 3.0]
    assert q3.tolist() == [3.25, 5.0, 4.0]
    with pytest.raises(ValueError, match="empty"):
        quartiles([])


def tau_b_by_definition(x, y):
    concordant = discordant = tied_x = tied_y = 0
    for i, j in itertools.combinations(range(len(x)), 2):
        dx, dy = x[i] - x[j], y[i] - y[j]
        if dx == 0 and dy == 0:
            continue  # tied in both: counts in neither denominator term
        if dx == 0:
            tied_x += 1
        elif dy == 0:
            tied_y += 1
        elif dx * dy > 0:
            concordant += 1
        else:
            discordant += 1
    n_x = concordant + discordant + tied_y  # pairs not tied in x
    n_y = concordant + discordant + tied_x  # pairs not tied in y
    return (concordant - discordant) / np.sqrt(n_x * n_y)


def test_kendall_tau_by_hand_and_by_definition():
    assert kendall_tau([1, 2, 3], [10, 20, 30]) == 1.0
    assert kendall_tau([1, 2, 3], [3, 2, 1]) == -1.0
    # pairs (1,2) concordant, (1,3) concordant, (2,3) discordant: (2 - 1) / 3
    assert kendall_tau([1, 2, 3], [1, 3, 2]) == pytest.approx(1 / 3)
    rng = np.random.default_rng(0)
    for _ in range(20):
        x, y = rng.integers(0, 4, 12), rng.integers(0, 4, 12)  # many ties
        assert kendall_tau(x, y) == pytest.approx(tau_b_by_definition(x, y))
    assert np.isnan(kendall_tau([1, 1, 1], [1, 2, 3]))
    with pytest.raises(ValueError, match="equal length >= 2"):
        kendall_tau([1, 2], [1])
