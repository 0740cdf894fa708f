"""Notebook 01 (latency lookup tables): the exercise checks, each against typical mistakes.

* ``measure_median_ms(fn, warmup, repeats)``: the measurement protocol (warm-up, median);
* ``operator_list(space, arch)``: the operators of an architecture, walking the slot
  layout (stem, the running blocks with their channels, stride and input size, head),
  the keys of the latency table (ProxylessNAS, Cai et al., ICLR 2019; OFA, ICLR 2020);
* ``fit_calibration(lut_sum_ms, n_ops, measured_ms)``: least squares of the calibrated sum
  ``a * sum + c * n_ops + b`` against end-to-end measurements, on relative errors;
* ``within_pct(pred, meas, pct)``: nn-Meter's share within +-pct % (Zhang et al., MobiSys 2021).

Each check tries the learner's function on cases built so that every typical mistake
gives its own wrong value, and names that mistake. References are imported inside the
checks, so this module's namespace holds no answer.
"""

from __future__ import annotations

import time
import timeit
from dataclasses import dataclass

import numpy as np

from ..space import SPACES, LayerSpec, SearchSpace
from .checks import exercise

# ----- exercise 1: the measurement protocol -------------------------------------------------
MEDIAN_WARMUP, MEDIAN_REPEATS = 6, 5
WARMUP_MS = 10.0  # each warm-up call (cold caches, first allocations)
TIMED_MS = (1.0, 1.2, 25.0, 0.9, 1.1)  # the timed calls; 25 ms: the OS interrupted one


class _FakeClock:
    """``time.perf_counter`` that only advances when the check's ``fn`` runs."""

    def __init__(self) -> None:
        self.now_s = _REAL_PERF_COUNTER()

    def perf_counter(self) -> float:
        return self.now_s

    def perf_counter_ns(self) -> int:
        return int(round(self.now_s * 1e9))


_REAL_PERF_COUNTER = time.perf_counter


def _median_mistakes(got: float) -> str:
    timed = np.array(TIMED_MS)
    everything = np.r_[np.full(MEDIAN_WARMUP, WARMUP_MS), timed]
    expected = float(np.median(timed))
    swapped = everything[-MEDIAN_WARMUP:]  # warmup and repeats swapped: the last 6 timed
    known = [
        (np.mean(timed), "that is the mean: the one 25 ms call drags it up; return the median"),
        (np.median(everything), "the warm-up calls were timed too (they take 10 ms each): "
                                "run them untimed, then time only the `repeats` calls"),
        (np.mean(everything), "that is the mean over the warm-up calls too: run the warm-up "
                              "untimed, and return the median, not the mean"),
        (np.min(timed), "that is the fastest call; the protocol reports the median"),
        (np.median(swapped), "warmup and repeats swapped: call fn `warmup` times untimed, then "
                             "time `repeats` calls"),
        (expected / 1e3, "that is seconds: return milliseconds (seconds * 1e3)"),
        (expected * 1e3, "that is microseconds: perf_counter() is in seconds, times 1e3 is ms"),
    ]
    return next((why for value, why in known if abs(got - value) < 1e-6 * max(1.0, value)),
                "time each call alone with time.perf_counter() (the check's fn advances that "
                "clock by known amounts) and return the median of the timed calls in ms")


def check_measure_median(measure_median_ms) -> None:
    """Exercise (notebook 01): ``measure_median_ms(fn, warmup, repeats)`` calls ``fn``
    ``warmup`` times untimed, then times ``repeats`` calls one by one, and returns their
    median in ms. The ``fn`` given advances ``time.perf_counter`` by known durations
    (slow warm-up calls, one 25 ms hiccup), so the right answer is exact and each typical
    mistake gives its own number."""
    with exercise("measure_median_ms"):
        clock, calls = _FakeClock(), []
        durations = [WARMUP_MS] * MEDIAN_WARMUP + list(TIMED_MS)

        def fn() -> None:
            clock.now_s += (durations[len(calls)] if len(calls) < len(durations) else 1.0) / 1e3
            calls.append(1)

        saved = time.perf_counter, time.perf_counter_ns, timeit.default_timer
        time.perf_counter, time.perf_counter_ns = clock.perf_counter, clock.perf_counter_ns
        timeit.default_timer = clock.perf_counter
        try:
            got = measure_median_ms(fn, MEDIAN_WARMUP, MEDIAN_REPEATS)
        finally:
            time.perf_counter, time.perf_counter_ns, timeit.default_timer = saved
        expected_calls = MEDIAN_WARMUP + MEDIAN_REPEATS
        if len(calls) != expected_calls:
            why = ("the warm-up is missing" if len(calls) == MEDIAN_REPEATS else
                   "call fn once per warm-up and once per timed repeat")
            raise AssertionError(f"fn was called {len(calls)} times for warmup={MEDIAN_WARMUP}, "
                                 f"repeats={MEDIAN_REPEATS}; expected {expected_calls} ({why})")
        try:
            got = float(got)
        except (TypeError, ValueError):
            raise AssertionError(f"return a number of milliseconds, got {got!r}") from None
        expected = float(np.median(TIMED_MS))
        if abs(got - expected) > 1e-6:
            raise AssertionError(f"expected the median {expected:.3f} ms of the timed calls "
                                 f"{list(TIMED_MS)} ms, got {got:.6g} ({_median_mistakes(got)})")
        print(f"  median {got:.3f} ms of {MEDIAN_REPEATS} timed calls after {MEDIAN_WARMUP} "
              "untimed warm-up calls; the 25 ms hiccup ignored")


# ----- exercise 2: the operators of an architecture -----------------------------------------
@dataclass(frozen=True)
class _WalkYourself(SearchSpace):
    """A space whose ready-made walks are off limits (the exercise is to write one)."""

    def layer_specs(self, arch):
        raise AssertionError("operator_list must walk the layout itself: do not call "
                             "space.layer_specs (that is the answer)")

    def block_slots(self, r):
        raise AssertionError("operator_list must walk the layout itself: do not call "
                             "space.block_slots (use stem_width, stage_widths, stage_strides)")

    def all_layer_specs(self):
        raise AssertionError("operator_list must list one architecture's operators, not "
                             "all_layer_specs")


def _operator_spaces() -> list[SearchSpace]:
    return [SPACES["cpu"], SPACES["gpu"],
            # odd resolutions and a stride-1 first stage: out = ceil(in / stride) matters
            SearchSpace(name="odd", stem_channels=8, stage_channels=(8, 16, 24, 32),
                        stage_strides=(1, 2, 2, 2), head_channels=64, d_choices=(1, 2, 3),
                        r_choices=(27, 33))]


def _operator_mistake(got: list, expected: list[LayerSpec], space: SearchSpace, arch) -> str:
    """What the first difference between ``got`` and ``expected`` most likely means."""
    if got == expected[1:-1]:
        return "the stem and the head are missing: a network is stem + blocks + head"
    if got == expected[1:]:
        return "the stem is missing (space.stem_spec(arch.r))"
    if got == expected[:-1]:
        return "the head is missing (space.head_spec(size after the last block))"
    n_blocks = len(expected) - 2
    if len(got) == space.n_slots + 2 or len(got) == space.n_slots:
        return "slots that do not run are included: stage s runs only its first d[s] blocks"
    if len(got) != len(expected):
        return f"expected {len(expected)} operators (stem, {n_blocks} blocks, head)"
    k = next(i for i, (g, e) in enumerate(zip(got, expected)) if g != e)
    g, e = got[k], expected[k]
    where = ("the stem" if k == 0 else "the head" if k == len(expected) - 1 else
             f"operator {k} (block {k - 1} in network order)")
    if g.op != e.op:
        return f"{where} should be a {e.op!r} operator, got {g.op!r}"
    if g.stride != e.stride:
        return (f"{where}: only a stage's FIRST block has the stage's stride; the others "
                "have stride 1" if e.stride == 1 else
                f"{where}: the first block of a stage has the stage's stride "
                f"({e.stride})")
    if g.in_size != e.in_size:
        if k > 0 and g.in_size == _floor_size(space, arch, k):
            return (f"{where}: off by one at a stride; with same padding a stride-s conv "
                    "gives ceil(in / s) = (in - 1) // s + 1 pixels, not in // s")
        return (f"{where}: input size {g.in_size}, expected {e.in_size}; the size shrinks "
                "at each stride, (in - 1) // stride + 1")
    if g.cin != e.cin:
        return (f"{where}: input channels {g.cin}, expected {e.cin}; a block's input is the "
                "output of the block before (the stem's for the first block)")
    if g.cout != e.cout:
        return f"{where}: output channels {g.cout}, expected {e.cout} (the stage's width)"
    if (g.ks, g.e) != (e.ks, e.e):
        return (f"{where}: ks={g.ks}, e={g.e}, expected ks={e.ks}, e={e.e}; block i of stage s "
                "reads slot s * max_depth + i of arch.ks and arch.e")
    return f"{where}: expected {e.signature}, got {g.signature}"


def _floor_size(space: SearchSpace, arch, k: int) -> int:
    """Input size of operator ``k`` if every stride floored (in // stride)."""
    size, done = arch.r, 0
    for stage, depth in enumerate(arch.d):
        for index in range(depth):
            done += 1
            if done == k:
                return size
            size = size // (space.stage_strides[stage] if index == 0 else 1)
    return size


def check_operator_list(operator_list) -> None:
    """Exercise (notebook 01): ``operator_list(space, arch)`` returns the ``LayerSpec`` of
    every operator ``arch`` runs, in order: stem, each running block (its channels in and
    out, ``ks``, ``e``, stride and input size), head. Checked on three spaces (one with
    odd resolutions) with the space's ready-made walks hidden."""
    import random

    with exercise("operator_list"):
        rng = random.Random(0)
        count = 0
        for space in _operator_spaces():
            hidden = _WalkYourself(**space.to_dict())
            for arch in [space.smallest(), space.largest()] + [space.sample(rng) for _ in range(3)]:
                expected = space.layer_specs(arch)
                got = operator_list(hidden, arch)
                try:
                    got = list(got)
                except TypeError:
                    raise AssertionError(f"return a list of LayerSpec, got {got!r}") from None
                if not all(isinstance(g, LayerSpec) for g in got):
                    raise AssertionError("return a list of LayerSpec objects, e.g. "
                                         "LayerSpec('mbconv', cin, cout, in_size, ks, e, stride)")
                if got != expected:
                    raise AssertionError(f"space {space.name!r}, {arch}: "
                                         f"{_operator_mistake(got, expected, space, arch)}")
                count += 1
        print(f"  matched the slot layout on {count} architectures of 3 spaces "
              "(cpu, gpu, odd resolutions)")


# ----- exercise 3: the calibration fit ---------------------------------------------------------
def _calibration_data(noise: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    n = 30
    lut_sum = rng.uniform(2.0, 12.0, n)  # ms
    n_ops = rng.integers(10, 19, n).astype(float)
    measured = 0.8 * lut_sum - 0.05 * n_ops + 0.6  # scale, per-op, overhead
    if noise:  # multiplicative noise, larger on small networks: weighting matters
        measured = measured * np.exp(rng.normal(0, 0.08, n) * (12.0 / lut_sum))
    return lut_sum, n_ops, measured


def _lstsq(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.linalg.lstsq(X, y, rcond=None)[0]


def check_fit_calibration(fit_calibration) -> None:
    """Exercise (notebook 01): ``fit_calibration(lut_sum_ms, n_ops, measured_ms)`` returns
    ``(scale, per_op_ms, overhead_ms)`` minimising the squared RELATIVE errors
    ``sum_i ((scale * s_i + per_op * n_i + overhead - t_i) / t_i)^2``."""
    with exercise("fit_calibration"):
        for noise in (False, True):
            s, n, t = _calibration_data(noise)
            X = np.stack([s, n, np.ones_like(s)], axis=1)
            expected = _lstsq(X / t[:, None], np.ones_like(t))
            got = fit_calibration(s.copy(), n.copy(), t.copy())
            try:
                got = np.asarray([float(v) for v in got])
            except (TypeError, ValueError):
                raise AssertionError(f"return three numbers (scale, per_op_ms, overhead_ms), "
                                     f"got {got!r}") from None
            data = "noisy measurements" if noise else "noise-free measurements"
            if got.shape != (3,):
                raise AssertionError(f"return three numbers (scale, per_op_ms, overhead_ms), "
                                     f"got {got.size}: the overhead column (ones) or the "
                                     "operator count may be missing")
            if np.allclose(got, expected, rtol=1e-6, atol=1e-9):
                continue
            known = [
                (_lstsq(X, t), "that minimises absolute errors, so the large networks decide "
                               "the fit; divide each row of the design matrix and the target "
                               "by the measured latency t_i (target: ones)"),
                (_lstsq(X / s[:, None], t / s), "the rows are divided by the LUT sum (the "
                                                "prediction); the relative error divides by "
                                                "the MEASURED latency"),
                (np.r_[_lstsq(X[:, [0, 1]] / t[:, None], np.ones_like(t)), 0.0],
                 "the overhead column (ones) is missing: a network costs b once"),
                (np.insert(_lstsq(X[:, [0, 2]] / t[:, None], np.ones_like(t)), 1, 0.0),
                 "the operator-count column is missing"),
            ]
            hint = next((why for wrong, why in known
                         if np.allclose(got, wrong, rtol=1e-6, atol=1e-9)), None)
            if hint is None:
                for order in ([0, 2, 1], [1, 0, 2], [2, 0, 1], [1, 2, 0], [2, 1, 0]):
                    if np.allclose(got, expected[order], rtol=1e-6, atol=1e-9):
                        hint = "right numbers, wrong order: return (scale, per_op_ms, overhead_ms)"
            raise AssertionError(
                f"on {data}: expected scale {expected[0]:.4f}, per_op_ms {expected[1]:.4f}, "
                f"overhead_ms {expected[2]:.4f}; got {np.round(got, 4).tolist()}"
                + (f" ({hint})" if hint else ""))
        print("  matched the relative least-squares fit on noise-free and noisy data "
              "(true scale 0.8, per_op_ms -0.05, overhead_ms 0.6)")


# ----- exercise 4: nn-Meter's measure ----------------------------------------------------------
def check_within_pct(within_pct) -> None:
    """Exercise (notebook 01): ``within_pct(pred, meas, pct)``: share of predictions within
    +-pct % of the MEASURED value, as a fraction in [0, 1]."""
    from ..latency.noise import within_pct as reference

    with exercise("within_pct"):
        cases = [([1.2, 0.7, 1.05, 0.95], [1.0, 1.0, 1.0, 1.0], 10.0),  # +20 %, -30 %, in, in
                 ([1.05, 0.8, 2.0, 1.0], [1.0, 1.0, 2.1, 1.2], 10.0),
                 ([1.3, 0.95, 1.12], [1.2, 1.0, 1.0], 10.0),  # 8 %, 5 %, 12 %
                 ([0.905, 1.2], [1.0, 1.0], 10.0),  # 9.5 % of the measurement (10.5 % of 0.905)
                 (np.array([3.0, 3.3, 2.0]), np.array([3.1, 3.0, 2.5]), 5.0)]
        for pred, meas, pct in cases:
            p, m = np.asarray(pred, dtype=float), np.asarray(meas, dtype=float)
            expected = reference(p, m, pct)
            got = within_pct(p.copy(), m.copy(), pct)
            call = f"within_pct({p.tolist()}, {m.tolist()}, pct={pct})"
            try:
                value = float(got)
            except (TypeError, ValueError):
                raise AssertionError(f"{call} should return a number in [0, 1], got {got!r}") \
                    from None
            if abs(value - expected) <= 1e-9:
                continue
            rel = lambda err: float(np.mean(err <= pct / 100 + 1e-12))  # noqa: E731
            known = [
                (rel(np.abs(p - m) / p), "relative to the prediction; divide by the MEASURED "
                                         "latency, |pred - meas| / meas"),
                (100 * expected, "that is a percentage; return a fraction in [0, 1]"),
                (expected * len(p), "that is a count; return the share (count / n)"),
                (float(np.mean(np.abs(p - m) / m <= pct)), "pct is in percent: compare the "
                                                           "relative error with pct / 100"),
                (rel((p - m) / m), "take the absolute error: a prediction too low by 20 % "
                                   "is not within 10 %"),
            ]
            hint = next((why for wrong, why in known
                         if abs(value - wrong) <= 1e-9 and abs(wrong - expected) > 1e-9), "")
            raise AssertionError(f"{call}: expected {expected:.4g}, got {value:.4g}"
                                 + (f" ({hint})" if hint else ""))
        print(f"  matched nn-Meter's measure on {len(cases)} cases")
