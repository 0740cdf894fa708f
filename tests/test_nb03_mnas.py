"""Notebook 03's checks (right answers pass, typical wrong ones fail with their hint), figures
and reward panel."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from hwnas_lab.course import nb03_mnas as nb  # noqa: E402
from hwnas_lab.mnas import (ControllerConfig, reinforce_search, reward_best,  # noqa: E402
                            softmax)
from hwnas_lab.space import get_space  # noqa: E402
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


# ----- figures and the panel ------------------------------------------------------------------
LAT = np.array([3.0, 4.0, 5.0, 6.0, 8.0, 9.0, 12.0])
ACC = np.array([0.70, 0.72, 0.71, 0.76, 0.78, 0.77, 0.80])


def test_figures_return_figures_and_reject_bad_input():
    settings = {"soft": (-0.07, -0.07), "hard": (0.0, -1.0)}
    assert isinstance(nb.reward_contours(6.0, settings, (2, 14), latency_ms=LAT, acc=ACC), Figure)
    fig, grid = nb.winner_map(LAT, ACC, 6.0, np.linspace(-1, 0, 6), np.linspace(-1.5, 0, 7),
                              marks=settings)
    assert isinstance(fig, Figure) and grid.shape == (6, 7)
    assert grid[-1, 0] == reward_best(ACC, LAT, 6.0, (0.0, -1.5))  # alpha = 0, beta = -1.5
    assert isinstance(nb.pareto_plot(LAT, ACC, {"soft": 6}, targets_ms=[6.0]), Figure)
    assert isinstance(nb.proxy_vs_oracle(ACC - 0.3, ACC, 0.5, labels=list("abcdefg")), Figure)
    with pytest.raises(ValueError, match="equal length"):
        nb.pareto_plot(LAT, ACC[:3])
    with pytest.raises(ValueError, match="not one of the 7 points"):
        nb.pareto_plot(LAT, ACC, {"soft": 9})
    with pytest.raises(ValueError, match="positive target"):
        nb.reward_contours(-1.0, settings, (2, 14))
    with pytest.raises(ValueError, match="equal length"):
        nb.proxy_vs_oracle([], [], 0.0)


def test_controller_figures():
    space = get_space("cpu")

    def toy(arrays):
        acc = 0.6 + 0.1 * (arrays.r == 32)
        return acc, acc, np.ones(len(acc))

    log = reinforce_search(toy, space, ControllerConfig(steps=5, batch_size=4))
    assert isinstance(nb.controller_curves({"toy": log}), Figure)
    choices = {n: getattr(space, f"{n}_choices") for n in ("ks", "e", "d", "r")}
    assert isinstance(nb.choice_distributions(log.probs, choices, title="toy"), Figure)
    assert isinstance(nb.evaluated_vs_space({"toy": log}, space.num_subnets(), {"supernet": 80}), Figure)
    with pytest.raises(ValueError, match="runs is empty"):
        nb.controller_curves({})
    with pytest.raises(ValueError, match=r"probs\['r'\]"):
        nb.choice_distributions({**log.probs, "r": log.probs["r"][:, 0]}, choices)
    with pytest.raises(ValueError, match="space_size"):
        nb.evaluated_vs_space({"toy": log}, 0)


def test_reward_view_marks_the_reward_best_point():
    fig, best, text = nb.reward_view(LAT, ACC, 6.0, 0.0, -1.0, labels=[f"net{i}" for i in range(7)])
    assert isinstance(fig, Figure) and best == reward_best(ACC, LAT, 6.0, "hard") == 3
    assert "net3" in text and "6.000 ms" in text
    with pytest.raises(ValueError, match="target_ms must be positive"):
        nb.reward_view(LAT, ACC, 0.0, 0.0, -1.0)


def test_reward_panel_redraws_on_slider_changes():
    panel = nb.RewardPanel(LAT, ACC, 6.0)
    assert panel.best == reward_best(ACC, LAT, 6.0, "soft")
    panel.alpha.value, panel.beta.value = 0.0, -1.0
    assert panel.best == 3  # hard constraint at 6 ms
    panel.T.value = 4.0
    assert panel.best == 1 and "4.000 ms" in panel.text.value
    assert panel.image.value[:4] == b"\x89PNG"
