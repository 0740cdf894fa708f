"""MnasNet's latency-aware reward and a REINFORCE controller over the course's space.

Tan, Chen, Pang, Vasudevan, Sandler, Howard, Le: "MnasNet: Platform-Aware Neural
Architecture Search for Mobile", CVPR 2019, Section 3. The reward of a model ``m`` is

    R(m) = ACC(m) * (LAT(m) / T) ** w,   w = alpha if LAT(m) <= T else beta

with ``T`` the target latency. The paper's convention: ``alpha`` is the exponent at or
under the target, ``beta`` the one over it. Its **soft** constraint is
``alpha = beta = -0.07``: a model twice as slow with 5 % more (relative) accuracy should
score about the same, ``1.05 * 2 ** beta = 1`` gives ``beta = -ln 1.05 / ln 2 = -0.0704``
(so doubling the latency costs ``1 - 2 ** -0.07 = 4.7 %`` of the reward). Its **hard**
constraint is ``alpha = 0, beta = -1``: under the target only accuracy counts, over it the
reward falls in proportion to ``T / LAT``.

The paper's controller is a recurrent network trained with proximal policy optimisation.
Here the policy is factorised (an independent softmax per decision: ``ks`` and ``e`` of
every block slot, ``d`` of every stage, ``r``), trained with REINFORCE (Williams, 1992)
and a moving-average baseline; latencies come from the latency table
(``LatencyTable.predict_batch``, optionally calibrated on measured networks), accuracies
from any source in ``hwnas_lab.accuracy``.
Pareto fronts: ``hwnas_lab.pareto``.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .arch import Arch, ArchBatch
from .space import SearchSpace, get_space


# ----- the reward ---------------------------------------------------------------------------
class RewardWarning(UserWarning):
    """Exponents that are legal but almost certainly not what was meant."""


@dataclass(frozen=True)
class RewardSetting:
    """The exponents of the reward; ``alpha`` applies when LAT <= T, ``beta`` when LAT > T."""

    name: str  # shown in legends
    alpha: float  # exponent at or under the target (0: no bonus for being faster)
    beta: float  # exponent over the target (-1: reward falls like T / LAT)

    def __post_init__(self) -> None:
        for side in ("alpha", "beta"):
            value = getattr(self, side)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(value):
                raise ValueError(f"{side} must be a finite number (an exponent), got {value!r}")
        if self.alpha > 0 or self.beta > 0:
            warnings.warn(f"reward setting {self.name!r}: alpha={self.alpha}, beta={self.beta}; a "
                          "positive exponent makes the reward GROW with latency. MnasNet's exponents "
                          "are <= 0 (soft: -0.07 and -0.07, hard: 0 and -1)", RewardWarning, stacklevel=3)
        elif self.alpha < self.beta:
            warnings.warn(f"reward setting {self.name!r}: alpha={self.alpha} < beta={self.beta} "
                          "punishes models UNDER the target more than models over it; alpha is the "
                          "exponent for LAT <= T, beta for LAT > T (swapped?)", RewardWarning, stacklevel=3)


REWARD_PRESETS: dict[str, RewardSetting] = {
    "soft": RewardSetting("soft", -0.07, -0.07),  # MnasNet's default: a smooth trade-off
    "hard": RewardSetting("hard", 0.0, -1.0),  # a latency constraint, accuracy alone under T
}


def get_setting(setting: "str | RewardSetting | tuple[float, float]") -> RewardSetting:
    """A setting by name (``soft``, ``hard``), as given, or from an ``(alpha, beta)`` pair."""
    if isinstance(setting, RewardSetting):
        return setting
    if isinstance(setting, str):
        try:
            return REWARD_PRESETS[setting]
        except KeyError:
            raise ValueError(f"unknown reward setting {setting!r}; choose one of "
                             f"{sorted(REWARD_PRESETS)} or give (alpha, beta)") from None
    if isinstance(setting, (tuple, list)) and len(setting) == 2:
        alpha, beta = setting
        return RewardSetting(f"alpha={alpha:g}, beta={beta:g}", alpha, beta)
    raise ValueError(f"a reward setting is 'soft', 'hard', a RewardSetting or (alpha, beta); "
                     f"got {setting!r}")


def _finite(name: str, values) -> np.ndarray:
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers, got {values!r:.80}") from None
    if not np.isfinite(x).all():
        raise ValueError(f"{name} holds NaN or infinite values; drop those points first")
    return x


def reward_inputs(acc, latency_ms, target_ms) -> tuple[np.ndarray, np.ndarray, float]:
    """Validated ``(acc, latency_ms, target_ms)``: the checks every reward call makes."""
    if isinstance(target_ms, bool) or np.ndim(target_ms) != 0:
        raise ValueError(f"target_ms must be one positive number (milliseconds), got {target_ms!r}")
    T = float(_finite("target_ms", target_ms))
    if T <= 0:
        raise ValueError(f"target_ms must be positive (a latency in ms), got {T}")
    a, lat = _finite("acc", acc), _finite("latency_ms", latency_ms)
    if a.ndim and lat.ndim and a.shape != lat.shape:
        raise ValueError(f"acc has shape {a.shape} but latency_ms has shape {lat.shape}: give one "
                         "accuracy per latency (or one number for all)")
    if a.size and (a.min() < 0 or a.max() > 1):
        hint = " (percent? divide by 100)" if a.max() <= 100 and a.min() >= 0 else ""
        raise ValueError(f"acc must be fractions in [0, 1], got values in [{a.min():g}, "
                         f"{a.max():g}]{hint}")
    if lat.size and lat.min() <= 0:
        raise ValueError(f"latency_ms must be positive, got a minimum of {lat.min():g}")
    return a, lat, T


def mnas_reward(acc, latency_ms, target_ms: float,
                setting: "str | RewardSetting | tuple[float, float]" = "soft"):
    """MnasNet's reward ``acc * (latency_ms / target_ms) ** w``, elementwise (see module doc).

    ``acc`` in [0, 1] and ``latency_ms`` > 0 are arrays of one shape (or scalars);
    returns an array of that shape (a float for scalars). At ``latency_ms == target_ms``
    the reward is ``acc`` whatever the exponents.
    """
    a, lat, T = reward_inputs(acc, latency_ms, target_ms)
    s = get_setting(setting)
    reward = a * (lat / T) ** np.where(lat <= T, s.alpha, s.beta)
    return float(reward) if reward.ndim == 0 else reward


def best_index(reward, latency_ms, acc) -> int:
    """Index of the highest reward; ties go to the lowest latency, then the highest accuracy,
    so that with exponents <= 0 the winner is never a dominated point (two networks of equal
    accuracy within a hard target tie, and the slower one is not Pareto-optimal)."""
    reward, lat, a = (np.ravel(x) for x in np.broadcast_arrays(reward, latency_ms, acc))
    if reward.size == 0:
        raise ValueError("choosing the reward-best point needs at least one point")
    return int(np.lexsort((-a, lat, -reward))[0])


def reward_best(acc, latency_ms, target_ms: float, setting="soft") -> int:
    """Index of the highest reward (ties: the fastest, then the most accurate)."""
    return best_index(mnas_reward(acc, latency_ms, target_ms, setting), latency_ms, acc)


# ----- REINFORCE for categorical decisions --------------------------------------------------
def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def reinforce_gradient(logits: np.ndarray, actions: np.ndarray, advantages: np.ndarray,
                       mask: np.ndarray | None = None) -> np.ndarray:
    """The REINFORCE estimate of d E[R] / d logits for independent categorical decisions.

    ``logits`` (V, K): V decisions of K choices; ``actions`` (N, V) chosen indices;
    ``advantages`` (N,) reward minus baseline; ``mask`` (N, V) whether a decision mattered
    in that sample (an inactive block slot did not). With ``p = softmax(logits)`` and
    ``d log p[a] / d logits = onehot(a) - p``, the estimate is
    ``mean_n advantage_n * mask_nv * (onehot(a_nv) - p_v)``.
    """
    logits = np.asarray(logits, dtype=np.float64)
    actions, adv = np.asarray(actions), np.asarray(advantages, dtype=np.float64)
    V, K = logits.shape
    if actions.ndim != 2 or actions.shape[1] != V or adv.shape != (actions.shape[0],) or not len(adv):
        raise ValueError(f"actions must be (N, {V}) and advantages (N,) with N >= 1; got "
                         f"{actions.shape} and {adv.shape}")
    if not np.issubdtype(actions.dtype, np.integer) or actions.min() < 0 or actions.max() >= K:
        raise ValueError(f"actions must be integer choice indices in 0..{K - 1}")
    score = (actions[..., None] == np.arange(K)) - softmax(logits)[None]  # (N, V, K)
    if mask is not None:
        score = score * np.asarray(mask, dtype=np.float64)[..., None]
    return np.einsum("n,nvk->vk", adv, score) / len(adv)


def reinforce_step(logits, actions, rewards, baseline: float, lr: float) -> np.ndarray:
    """One REINFORCE ascent step for ONE categorical decision (the notebook's exercise).

    ``logits`` (K,), ``actions`` (N,) sampled choice indices, ``rewards`` (N,): returns
    ``logits + lr * mean_n (rewards_n - baseline) * (onehot(actions_n) - softmax(logits))``.
    """
    logits = np.asarray(logits, dtype=np.float64)
    rewards = np.asarray(rewards, dtype=np.float64)
    grad = reinforce_gradient(logits[None], np.asarray(actions).reshape(-1, 1), rewards - baseline)
    return logits + lr * grad[0]


class Adam:
    """Adam (Kingma & Ba, ICLR 2015) ascending a dict of numpy arrays in place."""

    def __init__(self, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.lr, self.betas, self.eps, self.t = lr, betas, eps, 0
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}

    def ascend(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        b1, b2 = self.betas
        self.t += 1
        for name, g in grads.items():
            m = self.m[name] = b1 * self.m.get(name, 0.0) + (1 - b1) * g
            v = self.v[name] = b2 * self.v.get(name, 0.0) + (1 - b2) * g * g
            step = self.lr * (m / (1 - b1 ** self.t)) / (np.sqrt(v / (1 - b2 ** self.t)) + self.eps)
            params[name] += step


# ----- the policy over the search space -----------------------------------------------------
DECISIONS = ("ks", "e", "d", "r")  # decision groups of the policy, in Arch's field order


class CategoricalPolicy:
    """An independent softmax per decision of ``space``: ``ks[slot]``, ``e[slot]``, ``d[stage]``, ``r``.

    ``logits[name]`` has shape (decisions, choices); uniform at the start. ``sample``
    draws a batch at once (``ArchBatch`` plus the chosen indices).
    """

    def __init__(self, space: SearchSpace | str):
        self.space = s = get_space(space)
        self.choices = {"ks": np.array(s.ks_choices), "e": np.array(s.e_choices),
                        "d": np.array(s.d_choices), "r": np.array(s.r_choices)}
        sizes = {"ks": s.n_slots, "e": s.n_slots, "d": s.n_stages, "r": 1}
        self.logits = {n: np.zeros((sizes[n], len(self.choices[n]))) for n in DECISIONS}

    def probs(self) -> dict[str, np.ndarray]:
        return {n: softmax(v) for n, v in self.logits.items()}

    def sample(self, n: int, rng: np.random.Generator) -> tuple[ArchBatch, dict[str, np.ndarray]]:
        """``n`` architectures drawn from the policy (one vectorised draw per decision group)."""
        if n < 1:
            raise ValueError(f"sample at least one architecture, got n={n}")
        index = {}
        for name, p in self.probs().items():
            u = rng.random((n, p.shape[0], 1))
            index[name] = np.minimum((u > np.cumsum(p, axis=1)[None]).sum(-1), p.shape[1] - 1)
        return self.to_arrays(index), index

    def to_arrays(self, index: dict[str, np.ndarray]) -> ArchBatch:
        c = self.choices
        return ArchBatch(c["ks"][index["ks"]], c["e"][index["e"]], c["d"][index["d"]],
                          c["r"][index["r"][:, 0]])

    def gradient(self, index: dict[str, np.ndarray], advantages: np.ndarray,
                 arrays: ArchBatch) -> dict[str, np.ndarray]:
        """REINFORCE gradient per group; inactive slots' ``ks``/``e`` had no effect, so no credit."""
        mask = arrays.active
        return {n: reinforce_gradient(self.logits[n], index[n], advantages,
                                      mask if n in ("ks", "e") else None) for n in DECISIONS}

    def mode(self) -> Arch:
        """The most likely choice of every decision: the architecture the policy settled on."""
        index = {n: np.argmax(v, axis=1)[None] for n, v in self.logits.items()}
        a = self.to_arrays(index)
        return Arch(a.ks[0].tolist(), a.e[0].tolist(), a.d[0].tolist(), int(a.r[0])).validate(self.space)

    def entropy(self) -> float:
        """Summed entropy (nats) of all decisions: ln 3 per decision when uniform over 3."""
        return float(sum(-(p * np.log(p + 1e-300)).sum() for p in self.probs().values()))


def arch_keys(space: SearchSpace, archs: "Sequence[Arch] | ArchBatch") -> list[str]:
    """One string per network: inactive slots are blanked, so two encodings of the same
    network (differing only in slots beyond a stage's depth) share a key."""
    a = archs if isinstance(archs, ArchBatch) else ArchBatch.from_archs(space, archs)
    ks, e = np.where(a.active, a.ks, 0), np.where(a.active, a.e, 0)
    rows = np.concatenate([a.r[:, None], a.d, ks, e], axis=1)
    return [",".join(map(str, row)) for row in rows.tolist()]


# ----- the controller -----------------------------------------------------------------------
@dataclass(frozen=True)
class MnasObjective:
    """``R = mnas_reward(accuracy(archs), latency(archs), target_ms, setting)`` for a batch.

    ``latency`` is any vectorised latency model taking ``ArchBatch``: a table's
    ``predict_batch`` (the LUT sum) or a calibrated one (``predictors.CalibratedSum.predict``).
    """

    accuracy: Callable[[ArchBatch], np.ndarray]  # e.g. a SupernetAccuracy or AccuracyPredictor
    latency: Callable[[ArchBatch], np.ndarray]  # ms, e.g. LatencyTable.predict_batch
    target_ms: float  # T
    setting: "str | RewardSetting | tuple[float, float]" = "soft"

    def __call__(self, arrays: ArchBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(reward, accuracy, latency_ms) of a batch."""
        latency_ms = np.asarray(self.latency(arrays), dtype=np.float64)
        acc = np.asarray(self.accuracy(arrays), dtype=np.float64)
        return mnas_reward(acc, latency_ms, self.target_ms, self.setting), acc, latency_ms


@dataclass(frozen=True)
class ControllerConfig:
    """REINFORCE settings of ``reinforce_search``."""

    steps: int = 300  # policy updates
    batch_size: int = 16  # architectures sampled per update
    lr: float = 0.05  # Adam step size on the logits
    baseline_decay: float = 0.9  # b <- decay * b + (1 - decay) * mean batch reward
    seed: int = 0  # seeds the sampling

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"ControllerConfig.{name} must be a positive int, got {getattr(self, name)!r}")
        if not self.lr > 0:
            raise ValueError(f"ControllerConfig.lr must be > 0, got {self.lr!r}")
        if not 0 <= self.baseline_decay < 1:
            raise ValueError(f"ControllerConfig.baseline_decay must be in [0, 1), got {self.baseline_decay!r}")


@dataclass
class SearchLog:
    """What a controller run did, step by step (arrays of length ``steps``)."""

    reward_mean: np.ndarray  # mean reward of each step's batch
    reward_max: np.ndarray  # best reward of each step's batch
    baseline: np.ndarray  # the baseline the step's advantages used
    entropy: np.ndarray  # policy entropy (nats) before the step
    sampled: np.ndarray  # architectures sampled so far (cumulative)
    unique: np.ndarray  # distinct networks sampled so far (cumulative)
    probs: dict[str, np.ndarray]  # name -> (steps + 1, decisions, choices) policy history
    policy: CategoricalPolicy  # the trained policy
    best: dict = field(default_factory=dict)  # best sampled: arch, reward, acc, latency_ms, step
    seconds: float = 0.0  # wall time of the run

    @property
    def settled(self) -> Arch:
        """The policy's most likely architecture at the end."""
        return self.policy.mode()


def reinforce_search(objective: Callable[[ArchBatch], tuple], space: SearchSpace | str,
                     config: ControllerConfig = ControllerConfig(), progress: bool = False) -> SearchLog:
    """Train a ``CategoricalPolicy`` with REINFORCE and a moving-average baseline.

    Each step samples ``batch_size`` architectures, scores them with ``objective`` (returns
    reward, accuracy, latency arrays), and ascends ``mean (R - b) * d log pi / d logits``
    with Adam. The baseline starts at the first batch's mean reward.
    """
    from tqdm.auto import tqdm

    space = get_space(space)
    policy, rng, opt = CategoricalPolicy(space), np.random.default_rng(config.seed), Adam(config.lr)
    rows = {k: np.zeros(config.steps) for k in ("reward_mean", "reward_max", "baseline", "entropy",
                                                 "sampled", "unique")}
    history = {n: [p] for n, p in policy.probs().items()}
    seen: set[str] = set()
    best: dict = {"reward": -np.inf}
    baseline = None
    start = time.perf_counter()
    for step in tqdm(range(config.steps), desc="controller", disable=not progress, leave=False):
        arrays, index = policy.sample(config.batch_size, rng)
        reward, acc, latency_ms = objective(arrays)
        reward = np.asarray(reward, dtype=np.float64)
        baseline = float(reward.mean()) if baseline is None else baseline
        rows["entropy"][step] = policy.entropy()
        opt.ascend(policy.logits, policy.gradient(index, reward - baseline, arrays))
        seen.update(arch_keys(space, arrays))
        i = int(np.argmax(reward))
        if reward[i] > best["reward"]:
            best = {"arch": arrays[i], "reward": float(reward[i]), "acc": float(acc[i]),
                    "latency_ms": float(latency_ms[i]), "step": step}
        rows["reward_mean"][step], rows["reward_max"][step] = reward.mean(), reward.max()
        rows["baseline"][step] = baseline
        rows["sampled"][step], rows["unique"][step] = (step + 1) * config.batch_size, len(seen)
        baseline = config.baseline_decay * baseline + (1 - config.baseline_decay) * float(reward.mean())
        for n, p in policy.probs().items():
            history[n].append(p)
    return SearchLog(**rows, probs={n: np.array(h, dtype=np.float32) for n, h in history.items()},
                     policy=policy, best=best, seconds=time.perf_counter() - start)
