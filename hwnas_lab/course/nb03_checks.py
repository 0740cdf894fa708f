"""Notebook 03's exercise checks: each runs the learner's function against the package's
reference (:mod:`hwnas_lab.mnas`, :mod:`hwnas_lab.pareto`) and names the likely mistake when
they differ.

Exercises: ``mnas_reward`` (MnasNet's reward, soft and hard constraints),
``pareto_filter`` (the non-dominated points) and ``reinforce_step`` (one REINFORCE update of
a categorical decision, then a toy bandit it must learn).
"""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np

from .checks import exercise, expect_close
from ..mnas import RewardWarning, mnas_reward, reinforce_step, softmax
from ..pareto import pareto_mask


def reward_array(acc, lat, T, alpha, beta) -> np.ndarray:
    """The package's reward for exponents (alpha, beta) as a float64 array, without
    ``RewardWarning`` (checks and figures evaluate it far from typical points on purpose)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RewardWarning)
        return np.asarray(mnas_reward(acc, lat, T, (alpha, beta)), dtype=np.float64)


def _close(got, expected, rel: float = 1e-9) -> bool:
    try:
        got = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return got.shape == np.shape(expected) and bool(np.allclose(got, expected, rtol=rel, atol=1e-12))


# ----- exercise 1: the reward ---------------------------------------------------------------
REWARD_CASES = (  # (what, acc, latency_ms, target_ms, alpha, beta)
    ("exactly at the target (soft)", 0.8, 10.0, 10.0, -0.07, -0.07),
    ("twice the target (soft)", 0.8, 20.0, 10.0, -0.07, -0.07),
    ("half the target (soft)", 0.8, 5.0, 10.0, -0.07, -0.07),
    ("under the target (hard)", 0.8, 5.0, 10.0, 0.0, -1.0),
    ("twice the target (hard)", 0.8, 20.0, 10.0, 0.0, -1.0),
    ("under the target (alpha=-0.2, beta=-0.5)", 0.6, 4.0, 8.0, -0.2, -0.5),
    ("over the target (alpha=-0.2, beta=-0.5)", 0.6, 16.0, 8.0, -0.2, -0.5),
    ("arrays on both sides and at T", np.array([0.5, 0.7, 0.9, 0.6, 0.8, 0.75]),
     np.array([2.0, 8.0, 8.0, 7.99, 12.0, 40.0]), 8.0, -0.2, -0.5),
)


def check_mnas_reward(mnas_reward_fn: Callable) -> None:
    """Exercise: ``mnas_reward(acc, latency_ms, target_ms, alpha, beta)`` elementwise."""
    with exercise("mnas_reward"):
        for what, acc, lat, T, alpha, beta in REWARD_CASES:
            call = f"mnas_reward(acc={acc}, latency_ms={lat}, target_ms={T}, alpha={alpha}, beta={beta})"
            try:
                got = mnas_reward_fn(acc, lat, T, alpha, beta)
            except ValueError as err:
                if "truth value" in str(err):
                    raise AssertionError(f"{what}: `if` on an array is ambiguous; choose the exponent "
                                         "per element with np.where(latency_ms <= target_ms, alpha, "
                                         "beta)") from None
                raise
            expected = reward_array(acc, lat, T, alpha, beta)
            if _close(got, expected):
                continue
            if np.ndim(acc) and np.shape(got) != expected.shape:
                raise AssertionError(f"{what}: expected one reward per point, shape {expected.shape}, "
                                     f"got shape {np.shape(got)}")
            hint = ""
            if _close(got, reward_array(acc, lat, T, beta, alpha)):
                hint = (" - alpha and beta are swapped: alpha is the exponent when LAT <= T (at or "
                        "under the target), beta when LAT > T")
            elif _close(got, acc * (T / np.asarray(lat)) ** np.where(np.asarray(lat) <= T, alpha, beta)):
                hint = " - the ratio is LAT / T, not T / LAT (negative exponents then penalise slow nets)"
            raise AssertionError(f"{what}: {call} should be {np.round(expected, 6).tolist()}, got "
                                 f"{np.round(np.asarray(got, dtype=float), 6).tolist()}{hint}")
        print(f"  matched the paper's formula on {len(REWARD_CASES)} cases, incl. LAT = T and "
              "both sides of it")


# ----- exercise 2: the Pareto filter --------------------------------------------------------
def _pareto_cases() -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(3)
    hand_lat = np.array([1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 0.5, 3.0])
    hand_acc = np.array([0.5, 0.7, 0.6, 0.7, 0.9, 0.9, 0.5, 0.9])  # ties and a duplicate
    grid_lat = rng.integers(1, 12, 60).astype(float)  # coarse: many ties and duplicates
    grid_acc = rng.integers(50, 60, 60) / 100
    return [("8 hand-made points", hand_lat, hand_acc), ("60 points on a coarse grid", grid_lat, grid_acc),
            ("300 random points", rng.uniform(1, 20, 300), rng.uniform(0.6, 0.8, 300))]


def _dominator(lat: np.ndarray, acc: np.ndarray, i: int) -> int:
    better = (lat <= lat[i]) & (acc >= acc[i]) & ((lat < lat[i]) | (acc > acc[i]))
    return int(np.flatnonzero(better)[0])


def check_pareto_filter(pareto_filter: Callable) -> None:
    """Exercise: ``pareto_filter(latency_ms, acc)`` -> boolean mask of the non-dominated points."""
    with exercise("pareto_filter"):
        for what, lat, acc in _pareto_cases():
            got = np.asarray(pareto_filter(lat.copy(), acc.copy()))
            expected = pareto_mask(lat, acc)
            if got.dtype != bool or got.shape != expected.shape:
                kind = "indices" if np.issubdtype(got.dtype, np.integer) else f"{got.dtype} {got.shape}"
                raise AssertionError(f"{what}: return a boolean mask of length {len(lat)} (True = on "
                                     f"the front), got {kind}")
            if np.array_equal(got, expected):
                continue
            if np.array_equal(got, pareto_mask(-lat, acc)) or np.array_equal(got, pareto_mask(lat, -acc)):
                raise AssertionError(f"{what}: wrong direction - LOWER latency and HIGHER accuracy "
                                     "are better")
            kept = np.flatnonzero(got & ~expected)
            if kept.size:
                i = int(kept[0])
                j = _dominator(lat, acc, i)
                tie = " (a tie on one axis still dominates when the other is strictly better)" \
                    if lat[j] == lat[i] or acc[j] == acc[i] else ""
                raise AssertionError(f"{what}: point {i} ({lat[i]:g} ms, {acc[i]:g}) is dominated by "
                                     f"point {j} ({lat[j]:g} ms, {acc[j]:g}) but you kept it{tie}")
            i = int(np.flatnonzero(expected & ~got)[0])
            twins = np.flatnonzero((lat == lat[i]) & (acc == acc[i]))
            hint = (f" - it has an exact duplicate (points {twins.tolist()}); duplicates do not "
                    "dominate each other: dominating needs one STRICT improvement") if len(twins) > 1 else \
                " - no other point is at least as fast AND at least as accurate with one strictly better"
            raise AssertionError(f"{what}: point {i} ({lat[i]:g} ms, {acc[i]:g}) is on the front but "
                                 f"you dropped it{hint}")
        print("  matched hwnas_lab.pareto.pareto_mask on hand-made, tied and random points")


# ----- exercise 3: the REINFORCE update -----------------------------------------------------
def check_reinforce_step(reinforce_step_fn: Callable) -> None:
    """Exercise: ``reinforce_step(logits, actions, rewards, baseline, lr)`` -> new logits of one
    categorical decision; then the learner's update must learn a toy bandit."""
    with exercise("reinforce_step"):
        rng = np.random.default_rng(0)
        for K, N in ((3, 1), (3, 8), (4, 32)):
            logits = rng.normal(size=K)
            actions, rewards = rng.integers(0, K, N), rng.uniform(0.5, 1.0, N)
            baseline, lr = 0.6, 0.1  # mean advantage is not zero: a missing baseline shows
            before = logits.copy()
            got = reinforce_step_fn(logits, actions, rewards, baseline, lr)
            if not np.array_equal(logits, before):
                raise AssertionError("reinforce_step changed the logits passed in; return a new array "
                                     "(logits + lr * gradient) instead")
            expected = reinforce_step(before, actions, rewards, baseline, lr)
            if _close(got, expected):
                continue
            onehot = (actions[:, None] == np.arange(K)).astype(float)
            grad = expected - before
            wrong = {
                "wrong sign: REINFORCE ascends the reward, logits + lr * gradient": before - grad,
                "no baseline: use the advantage rewards - baseline": reinforce_step(before, actions, rewards, 0.0, lr),
                "d log softmax(logits)[a] / d logits = onehot(a) - softmax(logits): the - p term is missing":
                    before + lr * ((rewards - baseline)[:, None] * onehot).mean(0),
                "average over the batch (mean), not the sum": before + N * grad,
                "return the updated logits, not the gradient": grad / lr,
            }
            hint = next((h for h, w in wrong.items() if _close(got, w)), None)
            raise AssertionError(f"K={K} choices, N={N} samples: expected logits "
                                 f"{np.round(expected, 5).tolist()}, got {np.round(np.asarray(got, dtype=float), 5).tolist()}"
                                 + (f" - {hint}" if hint else ""))
        logits, b = np.zeros(3), None  # a toy bandit: choice 2 pays 1.0, the others 0.7
        for _ in range(60):
            actions = rng.choice(3, size=8, p=softmax(logits))
            rewards = np.where(actions == 2, 1.0, 0.7)
            b = rewards.mean() if b is None else b
            logits = np.asarray(reinforce_step_fn(logits, actions, rewards, b, 2.0), dtype=float)
            b = 0.9 * b + 0.1 * rewards.mean()
        expect_close("probability of the best arm after 60 steps on a toy bandit (at least 0.9)",
                     min(softmax(logits)[2], 0.9), 0.9, abs_=1e-9)
        print(f"  matched the reference on 3 batches; on a toy bandit your update put "
              f"{softmax(logits)[2]:.3f} on the best choice after 60 steps")
