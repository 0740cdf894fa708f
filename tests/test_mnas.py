"""MnasNet reward (against hand-worked points), REINFORCE (against autograd), the policy and
the controller (it must learn a clearly better choice)."""

import math
import random

import numpy as np
import pytest
import torch

from hwnas_lab.arch import Arch, ArchBatch
from hwnas_lab.latency.lut import LatencyTable
from hwnas_lab.mnas import (REWARD_PRESETS, Adam, CategoricalPolicy, ControllerConfig, MnasObjective,
                            RewardSetting, RewardWarning, arch_keys, get_setting,
                            mnas_reward, reinforce_gradient, reinforce_search, reinforce_step,
                            reward_best, softmax)
from hwnas_lab.pareto import pareto_mask
from hwnas_lab.space import get_space

SPACE = get_space("cpu")


# ----- the reward, by hand --------------------------------------------------------------------
@pytest.mark.parametrize("acc, lat, T, setting, expected", [
    (0.8, 10.0, 10.0, "soft", 0.8),  # exactly at T: (LAT/T)^w = 1 for any w
    (0.8, 10.0, 10.0, "hard", 0.8),
    (0.8, 20.0, 10.0, "soft", 0.8 * 0.952638),  # 2^-0.07 = exp(-0.07 ln 2) = 0.952638
    (0.8, 5.0, 10.0, "soft", 0.8 * 1.049717),  # 0.5^-0.07 = 1.049717
    (0.8, 5.0, 10.0, "hard", 0.8),  # under T the hard constraint ignores latency (alpha = 0)
    (0.8, 20.0, 10.0, "hard", 0.4),  # over T: acc * T / LAT (beta = -1)
    (0.9, 15.0, 10.0, "hard", 0.6),
    (0.6, 4.0, 8.0, (-0.2, -0.5), 0.6 * 0.5 ** -0.2),  # alpha under T ...
    (0.6, 16.0, 8.0, (-0.2, -0.5), 0.6 * 2 ** -0.5),  # ... beta over it
])
def test_reward_matches_hand_worked_points(acc, lat, T, setting, expected):
    assert mnas_reward(acc, lat, T, setting) == pytest.approx(expected, rel=1e-6)


def test_soft_exponent_is_the_papers_trade_off():
    soft = REWARD_PRESETS["soft"]
    assert soft.alpha == soft.beta == -0.07
    # 5 % more accuracy for twice the latency should score the same: 1.05 * 2^beta = 1
    assert soft.beta == pytest.approx(-math.log(1.05) / math.log(2), abs=1e-3)
    assert mnas_reward(0.8 * 1.05, 20.0, 10.0) == pytest.approx(mnas_reward(0.8, 10.0, 10.0), rel=2e-3)
    assert (REWARD_PRESETS["hard"].alpha, REWARD_PRESETS["hard"].beta) == (0.0, -1.0)


def test_reward_is_vectorised_and_equals_the_formula_elementwise():
    rng = np.random.default_rng(0)
    acc, lat = rng.uniform(0.5, 0.9, 1000), rng.uniform(1.0, 20.0, 1000)
    lat[:10] = 8.0  # exactly at T
    got = mnas_reward(acc, lat, 8.0, (-0.2, -0.5))
    loop = [a * (l / 8.0) ** (-0.2 if l <= 8.0 else -0.5) for a, l in zip(acc, lat)]
    assert got.shape == (1000,) and np.allclose(got, loop, rtol=1e-12)
    assert np.allclose(got[:10], acc[:10])
    assert isinstance(mnas_reward(0.7, 3.0, 4.0), float)
    assert np.allclose(mnas_reward(0.7, lat[:5], 8.0), [mnas_reward(0.7, x, 8.0) for x in lat[:5]])


def test_reward_best_and_settings():
    lat, acc = np.array([5.0, 10.0, 20.0]), np.array([0.70, 0.74, 0.80])
    assert reward_best(acc, lat, 10.0, "hard") == 1  # the most accurate within T
    assert reward_best(acc, lat, 10.0, "soft") == 2  # 0.8 * 2^-0.07 = 0.762 > 0.74
    assert reward_best(acc, lat, 10.0, (-0.5, -0.5)) == 0  # a steep trade-off prefers the fast one
    assert get_setting((-0.1, -0.2)) == RewardSetting("alpha=-0.1, beta=-0.2", -0.1, -0.2)
    assert get_setting(REWARD_PRESETS["hard"]) is REWARD_PRESETS["hard"]


def test_reward_best_breaks_ties_toward_the_pareto_front():
    # equal accuracy within a hard target: equal rewards, and the slower one is dominated
    lat, acc = np.array([9.0, 4.0, 4.0, 12.0]), np.array([0.75, 0.70, 0.75, 0.75])
    front = pareto_mask(lat, acc)
    for setting in ("hard", (0.0, 0.0)):
        best = reward_best(acc, lat, 10.0, setting)
        assert best == 2 and front[best]
    assert reward_best(0.75, lat, 10.0, "hard") == 1  # one accuracy for all: the fastest


@pytest.mark.parametrize("args, match", [
    ((0.8, 10.0, 0.0), "target_ms must be positive"),
    ((0.8, 10.0, -5.0), "target_ms must be positive"),
    ((0.8, 10.0, [10.0, 12.0]), "one positive number"),
    ((0.8, 0.0, 10.0), "latency_ms must be positive"),
    ((0.8, [3.0, -1.0], 10.0), "latency_ms must be positive"),
    ((80.0, 10.0, 10.0), r"percent\? divide by 100"),
    ((-0.1, 10.0, 10.0), r"fractions in \[0, 1\]"),
    (([0.8, 0.7], [10.0, 11.0, 12.0], 10.0), "one accuracy per latency"),
    ((float("nan"), 10.0, 10.0), "NaN"),
    (("high", 10.0, 10.0), "must be numbers"),
])
def test_reward_rejects_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        mnas_reward(*args)


def test_reward_settings_warn_or_refuse():
    with pytest.warns(RewardWarning, match="GROW with latency"):
        mnas_reward(0.8, 5.0, 10.0, (0.1, -0.07))
    with pytest.warns(RewardWarning, match="GROW with latency"):
        RewardSetting("up", -0.07, 0.5)
    with pytest.warns(RewardWarning, match="swapped"):
        mnas_reward(0.8, 5.0, 10.0, (-1.0, 0.0))
    with pytest.raises(ValueError, match="unknown reward setting 'medium'"):
        mnas_reward(0.8, 5.0, 10.0, "medium")
    with pytest.raises(ValueError, match="finite number"):
        RewardSetting("bad", float("nan"), -0.07)
    with pytest.raises(ValueError, match=r"\(alpha, beta\)"):
        get_setting(-0.07)


# ----- REINFORCE ------------------------------------------------------------------------------
def test_reinforce_gradient_equals_autograd_of_the_surrogate():
    rng = np.random.default_rng(1)
    V, K, N = 5, 3, 7
    logits, actions = rng.normal(size=(V, K)), rng.integers(0, K, (N, V))
    adv, mask = rng.normal(size=N), rng.random((N, V)) < 0.7
    t = torch.tensor(logits, requires_grad=True)
    logp = torch.log_softmax(t, dim=-1)
    chosen = logp[torch.arange(V)[None], torch.tensor(actions)]  # (N, V)
    surrogate = (torch.tensor(adv)[:, None] * torch.tensor(mask, dtype=torch.float64) * chosen).sum() / N
    surrogate.backward()
    assert np.allclose(reinforce_gradient(logits, actions, adv, mask), t.grad.numpy(), atol=1e-12)


def test_reinforce_step_is_one_ascent_step_and_leaves_its_input_alone():
    logits, actions, rewards = np.array([0.0, 0.5, -0.5]), np.array([1, 1, 2, 0]), np.array([1.0, 0.8, 0.2, 0.5])
    before = logits.copy()
    new = reinforce_step(logits, actions, rewards, baseline=0.5, lr=0.3)
    p, adv = softmax(before), rewards - 0.5
    by_hand = before + 0.3 * np.mean([a * (np.eye(3)[k] - p) for a, k in zip(adv, actions)], axis=0)
    assert np.allclose(new, by_hand) and np.array_equal(logits, before)
    assert new[1] > before[1]  # choice 1 earned +0.4 on average: it goes up


@pytest.mark.parametrize("kwargs, match", [
    (dict(actions=np.array([[0, 3]])), "choice indices"),
    (dict(actions=np.array([[0.0, 1.0]])), "choice indices"),
    (dict(advantages=np.ones(2)), r"actions must be \(N, 2\)"),
])
def test_reinforce_gradient_rejects_bad_input(kwargs, match):
    args = dict(logits=np.zeros((2, 3)), actions=np.array([[0, 1]]), advantages=np.ones(1)) | kwargs
    with pytest.raises(ValueError, match=match):
        reinforce_gradient(**args)


def test_adam_climbs_a_concave_function():
    params, opt = {"x": np.array([3.0, -2.0])}, Adam(lr=0.1)
    for _ in range(300):
        opt.ascend(params, {"x": -2 * (params["x"] - 1.0)})  # gradient of -(x - 1)^2
    assert np.allclose(params["x"], 1.0, atol=0.05)


# ----- the policy -----------------------------------------------------------------------------
def test_policy_samples_follow_its_probabilities():
    policy = CategoricalPolicy(SPACE)
    assert {n: v.shape for n, v in policy.logits.items()} == {"ks": (16, 3), "e": (16, 3), "d": (4, 3), "r": (1, 3)}
    assert policy.entropy() == pytest.approx(37 * math.log(3))
    policy.logits["r"][0] = [0.0, 1.0, 2.0]
    policy.logits["ks"][5] = [2.0, 0.0, -1.0]
    arrays, index = policy.sample(20000, np.random.default_rng(0))
    ArchBatch.from_archs(SPACE, arrays.to_archs()[:50])  # valid architectures of the space
    p = policy.probs()
    assert np.allclose(np.bincount(index["r"][:, 0], minlength=3) / 20000, p["r"][0], atol=0.015)
    assert np.allclose(np.bincount(index["ks"][:, 5], minlength=3) / 20000, p["ks"][5], atol=0.015)
    assert np.array_equal(arrays.r, np.array(SPACE.r_choices)[index["r"][:, 0]])
    mode = policy.mode()
    assert mode.r == 32 and mode.ks[5] == 3


def test_inactive_slots_get_no_credit():
    policy = CategoricalPolicy(SPACE)
    arrays, index = policy.sample(64, np.random.default_rng(2))
    arrays = ArchBatch(arrays.ks, arrays.e, np.full_like(arrays.d, 2), arrays.r)  # slots 2, 3 idle
    grads = policy.gradient(index, np.random.default_rng(3).normal(size=64), arrays)
    idle = np.arange(16) % 4 >= 2
    assert np.all(grads["ks"][idle] == 0) and np.all(grads["e"][idle] == 0)
    assert np.any(grads["ks"][~idle] != 0)


def test_arch_keys_identify_networks_not_encodings():
    a = SPACE.uniform(5, 4, 2, 28)
    b = Arch(list(a.ks[:2]) + [7, 3] + list(a.ks[4:]), a.e, a.d, a.r)  # differs in idle slots only
    c = Arch([3] + list(a.ks[1:]), a.e, a.d, a.r)  # differs in an active slot
    keys = arch_keys(SPACE, [a, b, c])
    assert keys[0] == keys[1] != keys[2]
    assert arch_keys(SPACE, ArchBatch.from_archs(SPACE, [a])) == keys[:1]


# ----- the controller -------------------------------------------------------------------------
def test_controller_moves_toward_a_clearly_better_choice():
    def toy(arrays):  # r = 32 pays 0.1 more; everything else is irrelevant
        acc = 0.6 + 0.1 * (arrays.r == 32)
        return acc, acc, np.ones(len(acc))

    log = reinforce_search(toy, SPACE, ControllerConfig(steps=120, batch_size=16, lr=0.1, seed=0))
    assert log.probs["r"][0, 0].tolist() == pytest.approx([1 / 3] * 3)
    assert log.probs["r"][-1, 0, 2] > 0.9
    assert log.settled.r == 32
    assert log.reward_mean[-20:].mean() > log.reward_mean[:5].mean() + 0.05
    assert log.sampled[-1] == 120 * 16 and 1 < log.unique[-1] <= log.sampled[-1]
    assert log.best["reward"] == pytest.approx(0.7) and log.best["arch"].r == 32


def _synthetic_table(seed: int = 1) -> LatencyTable:
    rng = random.Random(seed)
    return LatencyTable(SPACE, "synthetic", {s.signature: rng.uniform(0.05, 1.0) * (s.macs / 1e5) ** 0.5
                                             for s in SPACE.all_layer_specs()})


def test_hard_constraint_settles_under_the_target():
    table = _synthetic_table()
    spread = table.predict_batch([SPACE.sample(i) for i in range(200)])
    lo, hi = spread.min(), spread.max()

    def bigger_is_better(arrays):  # accuracy grows with latency: the constraint must bind
        return 0.6 + 0.3 * (table.predict_batch(arrays) - lo) / (hi - lo)

    T = float(np.quantile(spread, 0.4))
    objective = MnasObjective(bigger_is_better, table.predict_batch, T, "hard")
    log = reinforce_search(objective, SPACE, ControllerConfig(steps=250, batch_size=16, lr=0.1))
    settled = table.predict(log.settled)
    assert 0.7 * T < settled <= 1.05 * T, (settled, T)
    assert log.best["latency_ms"] <= T * 1.05


def test_controller_config_rejects_bad_values():
    for kwargs, match in ((dict(steps=0), "steps"), (dict(batch_size=1.5), "batch_size"),
                          (dict(lr=0.0), "lr"), (dict(baseline_decay=1.0), "baseline_decay")):
        with pytest.raises(ValueError, match=match):
            ControllerConfig(**kwargs)
    with pytest.raises(ValueError, match="at least one"):
        CategoricalPolicy(SPACE).sample(0, np.random.default_rng(0))
