"""Notebook 03's exercise checks: the reference and a learner's version pass, typical wrong
answers fail with their hint, an unfinished exercise is reported as TODO."""

import numpy as np
import pytest

from hwnas_lab.course import nb03_checks as nb
from hwnas_lab.mnas import softmax
from helpers import todo


# ----- exercise 1: the reward -----------------------------------------------------------------
def reward(acc, lat, T, alpha, beta):
    lat = np.asarray(lat, dtype=float)
    return np.asarray(acc) * (lat / T) ** np.where(lat <= T, alpha, beta)


def test_reward_check_passes_the_right_answer(capsys):
    nb.check_mnas_reward(reward)
    assert "PASS  mnas_reward" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda a, l, T, al, be: reward(a, l, T, be, al), "alpha and beta are swapped"),
    # the side test turned round: alpha used over the target
    (lambda a, l, T, al, be: np.asarray(a) * (np.asarray(l) / T) ** np.where(np.asarray(l) > T, al, be),
     "alpha and beta are swapped"),
    (lambda a, l, T, al, be: np.asarray(a) * (T / np.asarray(l)) ** np.where(np.asarray(l) <= T, al, be),
     "LAT / T, not T / LAT"),
    (lambda a, l, T, al, be: a * (l / T) ** (al if l <= T else be), "np.where"),  # scalars only
    (lambda a, l, T, al, be: np.mean(reward(a, l, T, al, be)), "one reward per point"),
    (lambda a, l, T, al, be: reward(a, l, T, al, be) * 1.01, "should be"),
])
def test_reward_check_catches_wrong_answers(wrong, hint, capsys):
    with pytest.raises(AssertionError, match=hint):
        nb.check_mnas_reward(wrong)
    assert "FAIL  mnas_reward" in capsys.readouterr().out


def test_reward_check_reports_todo(capsys, monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    nb.check_mnas_reward(todo)  # reported as TODO, not raised: Run All goes on
    assert "TODO  mnas_reward" in capsys.readouterr().out
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")  # graded: an unsolved exercise fails
    with pytest.raises(NotImplementedError):
        nb.check_mnas_reward(todo)


# ----- exercise 2: the Pareto filter ----------------------------------------------------------
def brute_force(lat, acc, strict=True):
    keep = np.ones(len(lat), dtype=bool)
    for i in range(len(lat)):
        for j in range(len(lat)):
            if j == i:
                continue
            no_worse = lat[j] <= lat[i] and acc[j] >= acc[i]
            if no_worse and (not strict or lat[j] < lat[i] or acc[j] > acc[i]):
                keep[i] = False
    return keep


def test_pareto_check_passes_the_right_answer(capsys):
    nb.check_pareto_filter(brute_force)
    assert "PASS  pareto_filter" in capsys.readouterr().out


def strictly_better_on_both(lat, acc):  # keeps points dominated through a tie
    return np.array([not np.any((lat < lat[i]) & (acc > acc[i])) for i in range(len(lat))])


@pytest.mark.parametrize("wrong, hint", [
    (strictly_better_on_both, "a tie on one axis still dominates"),
    (lambda lat, acc: brute_force(lat, acc, strict=False), "exact duplicate"),
    (lambda lat, acc: brute_force(-lat, acc), "wrong direction"),
    (lambda lat, acc: brute_force(lat, -acc), "wrong direction"),
    (lambda lat, acc: np.flatnonzero(brute_force(lat, acc)), "boolean mask"),
    (lambda lat, acc: brute_force(lat, acc) & (acc > acc.min()), "on the front but you dropped it"),
])
def test_pareto_check_catches_wrong_answers(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_pareto_filter(wrong)


def test_pareto_check_reports_todo(capsys, monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    nb.check_pareto_filter(todo)
    assert "TODO  pareto_filter" in capsys.readouterr().out


# ----- exercise 3: REINFORCE ------------------------------------------------------------------
def step(logits, actions, rewards, baseline, lr):
    logits, actions = np.asarray(logits, dtype=float), np.asarray(actions)
    onehot = np.eye(len(logits))[actions]
    adv = np.asarray(rewards) - baseline
    return logits + lr * (adv[:, None] * (onehot - softmax(logits))).mean(0)


def test_reinforce_check_passes_the_right_answer(capsys):
    nb.check_reinforce_step(step)
    out = capsys.readouterr().out
    assert "PASS  reinforce_step" in out and "toy bandit" in out


def in_place(logits, actions, rewards, baseline, lr):
    logits += step(logits, actions, rewards, baseline, lr) - logits
    return logits


@pytest.mark.parametrize("wrong, hint", [
    (lambda lg, a, r, b, lr: step(lg, a, r, 0.0, lr), "no baseline"),
    (lambda lg, a, r, b, lr: 2 * np.asarray(lg) - step(lg, a, r, b, lr), "wrong sign"),
    (lambda lg, a, r, b, lr: lg + lr * ((np.asarray(r) - b)[:, None] * np.eye(len(lg))[a]).mean(0),
     "the - p term is missing"),
    (lambda lg, a, r, b, lr: lg + len(a) * (step(lg, a, r, b, lr) - lg), "not the sum"),
    (lambda lg, a, r, b, lr: (step(lg, a, r, b, lr) - lg) / lr, "not the gradient"),
    (in_place, "changed the logits passed in"),
])
def test_reinforce_check_catches_wrong_answers(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        nb.check_reinforce_step(wrong)


def test_reinforce_check_runs_the_bandit_with_the_learners_update():
    calls = []

    def counted(*args):
        calls.append(1)
        return step(*args)

    nb.check_reinforce_step(counted)
    assert len(calls) == 3 + 60  # three compared batches, then 60 bandit steps
