"""Notebook 01's exercise checks: the right answer passes, each typical mistake fails with
its own hint, an unsolved exercise reports TODO."""

import random
import time

import numpy as np
import pytest

from hwnas_lab.course import nb01_checks as ex
from hwnas_lab.space import SPACES, LayerSpec
from helpers import run_todo

CPU = SPACES["cpu"]


# ----- exercise 1: measure_median_ms ---------------------------------------------------------
def timings(fn, n, clock="perf_counter"):
    clock = getattr(time, clock)  # looked up at call time, as learner code does
    out = []
    for _ in range(n):
        start = clock()
        fn()
        out.append((clock() - start) * 1e3)
    return out


def median_ms(fn, warmup, repeats):
    for _ in range(warmup):
        fn()
    return float(np.median(timings(fn, repeats)))


def median_ms_ns(fn, warmup, repeats):  # perf_counter_ns works too
    for _ in range(warmup):
        fn()
    return float(np.median(timings(fn, repeats, "perf_counter_ns"))) / 1e9


def warm(fn, warmup):
    for _ in range(warmup):
        fn()


MEDIAN_MISTAKES = [
    (lambda fn, w, r: (warm(fn, w), float(np.mean(timings(fn, r))))[1], "the mean"),
    (lambda fn, w, r: float(np.median(timings(fn, w + r))), "warm-up calls were timed"),
    (lambda fn, w, r: float(np.mean(timings(fn, w + r))), "mean over the warm-up"),
    (lambda fn, w, r: (warm(fn, w), min(timings(fn, r)))[1], "fastest call"),
    (lambda fn, w, r: median_ms(fn, r, w), "swapped"),
    (lambda fn, w, r: median_ms(fn, w, r) / 1e3, "that is seconds"),
    (lambda fn, w, r: median_ms(fn, w, r) * 1e3, "microseconds"),
    (lambda fn, w, r: median_ms(fn, 0, r), "warm-up is missing"),
    (lambda fn, w, r: median_ms(fn, w, r - 1), "called 10 times"),
    (lambda fn, w, r: float(np.median(timings(fn, w + r, "time"))), "time.perf_counter"),
    (lambda fn, w, r: (median_ms(fn, w, r), None)[1], "return a number of milliseconds"),
]


@pytest.mark.parametrize("wrong, hint", MEDIAN_MISTAKES)
def test_measure_median_names_each_mistake(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ex.check_measure_median(wrong)
    assert time.perf_counter() > 0 and time.perf_counter is not None  # clock restored


def test_measure_median_passes_restores_the_clock_and_reports_todo(capsys, monkeypatch):
    real = time.perf_counter
    ex.check_measure_median(median_ms)
    ex.check_measure_median(median_ms_ns)
    assert capsys.readouterr().out.count("PASS  measure_median_ms") == 2
    assert time.perf_counter is real
    with pytest.raises(ZeroDivisionError):  # even when the learner's code raises
        ex.check_measure_median(lambda fn, w, r: 1 / 0)
    assert time.perf_counter is real
    run_todo(ex.check_measure_median, capsys, monkeypatch, "measure_median_ms")


# ----- exercise 2: operator_list ---------------------------------------------------------------
def operator_list(space, arch, floor=False, all_strided=False, no_chain=False, by_position=False):
    """The walk, with switches for typical mistakes."""
    ops, cin, size = [space.stem_spec(arch.r)], space.stem_width, arch.r
    D = space.max_depth
    for k, slot in enumerate(arch.active_slots()):
        stage, index = divmod(slot, D)
        stride = space.stage_strides[stage] if index == 0 or all_strided else 1
        cout = space.stage_widths[stage]
        src = k if by_position else slot
        ops.append(LayerSpec("mbconv", cout if no_chain and index == 0 else cin, cout, size,
                             arch.ks[src], arch.e[src], stride))
        cin, size = cout, size // stride if floor else (size - 1) // stride + 1
    return ops + [space.head_spec(size)]


def every_slot(space, arch):
    full = type(arch)(arch.ks, arch.e, [space.max_depth] * space.n_stages, arch.r)
    return operator_list(space, full)


OPERATOR_MISTAKES = [
    (lambda s, a: operator_list(s, a)[1:-1], "stem and the head are missing"),
    (lambda s, a: operator_list(s, a)[1:], "the stem is missing"),
    (lambda s, a: operator_list(s, a)[:-1], "the head is missing"),
    (lambda s, a: operator_list(s, a, floor=True), "off by one at a stride"),
    (lambda s, a: operator_list(s, a, all_strided=True), "only a stage's FIRST block"),
    (lambda s, a: operator_list(s, a, no_chain=True), "output of the block before"),
    (lambda s, a: operator_list(s, a, by_position=True), "reads slot s \\* max_depth \\+ i"),
    (every_slot, "slots that do not run are included"),
    (lambda s, a: s.layer_specs(a), "do not call space.layer_specs"),
    (lambda s, a: [x.signature for x in operator_list(s, a)], "list of LayerSpec"),
]


@pytest.mark.parametrize("wrong, hint", OPERATOR_MISTAKES)
def test_operator_list_names_each_mistake(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ex.check_operator_list(wrong)


def test_operator_list_passes_and_reports_todo(capsys, monkeypatch):
    ex.check_operator_list(operator_list)
    assert "PASS  operator_list" in capsys.readouterr().out
    run_todo(ex.check_operator_list, capsys, monkeypatch, "operator_list")


def test_the_walk_of_the_test_is_the_package_walk():
    rng = random.Random(0)
    for space in ex._operator_spaces():
        for arch in [space.sample(rng) for _ in range(20)]:
            assert operator_list(space, arch) == space.layer_specs(arch)


# ----- exercise 3: fit_calibration --------------------------------------------------------------
def design(s, n):
    return np.stack([s, n, np.ones_like(s)], axis=1)


def fit_calibration(s, n, t):
    return tuple(np.linalg.lstsq(design(s, n) / t[:, None], np.ones_like(t), rcond=None)[0])


def test_fit_calibration_recovers_the_truth_and_passes(capsys, monkeypatch):
    s, n, t = ex._calibration_data(noise=False)
    assert np.allclose(fit_calibration(s, n, t), (0.8, -0.05, 0.6))
    ex.check_fit_calibration(fit_calibration)
    # the package's CalibratedSum fits the same coefficients (same rule)
    ex.check_fit_calibration(lambda s, n, t: list(fit_calibration(s, n, t)))
    assert capsys.readouterr().out.count("PASS  fit_calibration") == 2
    run_todo(ex.check_fit_calibration, capsys, monkeypatch, "fit_calibration")


FIT_MISTAKES = [
    (lambda s, n, t: np.linalg.lstsq(design(s, n), t, rcond=None)[0], "absolute errors"),
    (lambda s, n, t: np.linalg.lstsq(design(s, n) / s[:, None], t / s, rcond=None)[0],
     "divided by the LUT sum"),
    (lambda s, n, t: (*np.linalg.lstsq(design(s, n)[:, :2] / t[:, None], np.ones_like(t),
                                       rcond=None)[0], 0.0), "overhead column"),
    (lambda s, n, t: np.linalg.lstsq(design(s, n)[:, :2] / t[:, None], np.ones_like(t),
                                     rcond=None)[0], "three numbers"),
    (lambda s, n, t: np.insert(np.linalg.lstsq(design(s, n)[:, [0, 2]] / t[:, None],
                                               np.ones_like(t), rcond=None)[0], 1, 0.0),
     "operator-count column"),
    (lambda s, n, t: fit_calibration(s, n, t)[::-1], "wrong order"),
    (lambda s, n, t: None, "three numbers"),
]


@pytest.mark.parametrize("wrong, hint", FIT_MISTAKES)
def test_fit_calibration_names_each_mistake(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ex.check_fit_calibration(wrong)


def test_fit_calibration_matches_the_package_predictor():
    from hwnas_lab.latency.lut import LatencyTable
    from hwnas_lab.latency.predictors import CalibratedSum

    rng = random.Random(2)
    table = LatencyTable(CPU, "torch-1thread",
                         {s.signature: rng.uniform(0.02, 0.5) for s in CPU.all_layer_specs()})
    archs = [CPU.sample(rng) for _ in range(12)]
    measured = np.array([0.9 * table.predict(a) - 0.01 * (sum(a.d) + 2) + 0.3 + rng.gauss(0, 0.05)
                         for a in archs])
    package = CalibratedSum(table).fit(archs, measured)
    mine = fit_calibration(np.array([table.predict(a) for a in archs]),
                           np.array([sum(a.d) + 2.0 for a in archs]), measured)
    assert np.allclose(mine, (package.scale, package.per_op_ms, package.overhead_ms))


# ----- exercise 4: within_pct ---------------------------------------------------------------------
def within_pct(p, m, pct):
    p, m = np.asarray(p, dtype=float), np.asarray(m, dtype=float)
    return float(np.mean(np.abs(p - m) / m <= pct / 100 + 1e-12))


WITHIN_MISTAKES = [
    (lambda p, m, pct: float(np.mean(np.abs(p - m) / p <= pct / 100)),
     "relative to the prediction"),
    (lambda p, m, pct: 100 * within_pct(p, m, pct), "percentage"),
    (lambda p, m, pct: within_pct(p, m, pct) * len(p), "that is a count"),
    (lambda p, m, pct: float(np.mean(np.abs(p - m) / m <= pct)), "pct is in percent"),
    (lambda p, m, pct: float(np.mean((p - m) / m <= pct / 100)), "absolute error"),
    (lambda p, m, pct: [within_pct(p, m, pct)], "should return a number"),
]


@pytest.mark.parametrize("wrong, hint", WITHIN_MISTAKES)
def test_within_pct_names_each_mistake(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ex.check_within_pct(wrong)


def test_within_pct_passes_and_reports_todo(capsys, monkeypatch):
    ex.check_within_pct(within_pct)
    assert "PASS  within_pct" in capsys.readouterr().out
    run_todo(ex.check_within_pct, capsys, monkeypatch, "within_pct")


def test_the_module_hands_out_no_answer():
    for name in ("within_pct", "reference", "layer_specs", "CalibratedSum", "measure_latency"):
        assert not hasattr(ex, name), name
