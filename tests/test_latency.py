"""Measurement protocol, targets, metrics, noise floor and the notebook-01 checkers."""

import time

import numpy as np
import pytest
import torch
from torch import nn

from hwnas_lab import checks
from hwnas_lab.blocks import MBConv, build_net
from hwnas_lab.latency import (LatencyResult, NoiseFloor, Target, all_threads, get_target,
                               kendall_tau, latency_metrics, machine_info, measure_latency,
                               noise_floor, onnx_session, within_pct)
from hwnas_lab.space import SPACES

CPU = SPACES["cpu"]


class Probe(nn.Module):
    """Records how it is called: count, training flag, inference mode, threads."""

    def __init__(self, busy_ms: float = 0.0):
        super().__init__()
        self.busy_ms, self.calls, self.seen = busy_ms, 0, set()

    def forward(self, x):
        self.calls += 1
        self.seen.add((self.training, torch.is_inference_mode_enabled(), torch.get_num_threads()))
        end = time.perf_counter() + self.busy_ms / 1e3
        while time.perf_counter() < end:
            pass
        return x


def test_measure_latency_protocol():
    probe = Probe().train()
    res = measure_latency(probe, (1, 3, 8, 8), repeats=4, warmup=3)
    assert isinstance(res, LatencyResult)
    assert len(res.samples_ms) == 4 and res.threads == 1 and res.target == "torch-1thread"
    assert res.batch == 1
    assert min(res.samples_ms) <= res.median_ms <= max(res.samples_ms) and res.iqr_ms >= 0
    assert probe.calls >= 3 + 4 * res.number  # warm-up + every timed call
    assert probe.seen == {(False, True, 1)}  # eval(), inference_mode, 1 thread


def test_measure_latency_threads_and_default_input_shape():
    net = build_net(CPU, CPU.smallest())
    res = measure_latency(net, repeats=2, warmup=1, target="torch-allthreads")
    assert res.threads == all_threads() and res.median_ms > 0
    probe = Probe()
    measure_latency(probe, (2, 3, 4, 4), threads=2, repeats=2, warmup=1)
    assert {s[2] for s in probe.seen} == {2}
    before = torch.get_num_threads()
    measure_latency(Probe(), (1, 1), threads=1, repeats=1, warmup=0)
    assert torch.get_num_threads() == before


def test_measure_latency_times_a_known_duration():
    res = measure_latency(Probe(busy_ms=2.0), (1, 1), repeats=3, warmup=1)
    assert res.median_ms >= 1.95  # a 2 ms busy loop cannot be measured faster
    assert res.number == 1  # one call already exceeds the 0.2 ms sample floor


def test_onnxruntime_target_matches_torch_output():
    torch.manual_seed(0)
    block = MBConv(16, 24, 5, 4, 2).eval()
    x = torch.randn(1, 16, 16, 16)
    session = onnx_session(block, x, threads=1)
    (y,) = session.run(None, {"x": x.numpy()})
    with torch.no_grad():
        np.testing.assert_allclose(y, block(x).numpy(), rtol=1e-4, atol=1e-5)
    res = measure_latency(block, (1, 16, 16, 16), repeats=2, warmup=1, target="onnxruntime")
    assert res.target == "onnxruntime-1thread" and res.median_ms > 0


def test_target_names_round_trip():
    assert get_target("torch-1thread") == Target("torch", 1)
    assert get_target("torch-allthreads").threads == all_threads()
    assert get_target("ort", 2) == Target("onnxruntime", 2)
    for t in (Target("torch", 1), Target("onnxruntime", 3)):
        assert get_target(t.name) == t
    assert get_target(Target("torch", 1), threads=2).threads == 2


@pytest.mark.parametrize("kwargs, match", [
    ({"target": "tpu"}, "unknown target"),
    ({"target": "torch", "threads": -1}, "threads must be a positive int"),
    ({"target": "torch", "threads": 0}, "threads must be a positive int"),
    ({"target": "onnxruntime-xthreads"}, "unknown target"),
])
def test_bad_targets(kwargs, match):
    with pytest.raises(ValueError, match=match):
        get_target(**kwargs)


def test_bad_measurement_arguments():
    net = build_net(CPU, CPU.smallest())
    with pytest.raises(ValueError, match="threads must be a positive int"):
        measure_latency(net, threads=-2)
    with pytest.raises(ValueError, match="repeats must be an int >= 1"):
        measure_latency(net, repeats=0)
    with pytest.raises(ValueError, match="give input_shape"):
        measure_latency(nn.Identity())
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="needs a GPU"):
            get_target("cuda")


def test_metrics_against_hand_values():
    pred, meas = [1.05, 0.8, 2.0, 1.0], [1.0, 1.0, 2.1, 1.2]
    m = latency_metrics(pred, meas)
    rel = [0.05, 0.2, 0.1 / 2.1, 0.2 / 1.2]
    assert m.mape_pct == pytest.approx(100 * np.mean(rel))
    assert m.rmse_ms == pytest.approx(np.sqrt((0.05 ** 2 + 0.2 ** 2 + 0.1 ** 2 + 0.2 ** 2) / 4))
    assert m.within5 == 0.5 and m.within10 == 0.5 and within_pct(pred, meas, 25) == 1.0
    assert kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # 6 pairs: (1,2)+ (1,3)+ (1,4)+ (2,3)- (2,4)+ (3,4)+ -> (5 - 1) / 6
    assert kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match="equal length"):
        latency_metrics([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="positive"):
        within_pct([1.0], [0.0])


def test_noise_floor_pairs_and_metrics():
    med = np.array([[1.0, 2.0], [1.1, 2.0], [1.0, 2.2]])
    nf = NoiseFloor("torch-1thread", ["a", "b"], med, np.zeros_like(med))
    pred, meas = nf.pairs()
    assert len(pred) == 3 * 2 * 2  # ordered pairs of rounds x nets
    assert nf.metrics().within10 == pytest.approx(np.mean(np.abs(pred - meas) / meas <= 0.1 + 1e-12))
    flat = NoiseFloor("t", ["a"], np.ones((3, 1)), np.zeros((3, 1)))
    assert flat.metrics().mape_pct == 0 and flat.rel_spread_pct == 0


def test_noise_floor_measures_interleaved_rounds():
    nets = [build_net(CPU, CPU.smallest()), build_net(CPU, CPU.sample(0))]
    nf = noise_floor(nets, rounds=2, repeats=2, warmup=1, progress=False)
    assert nf.medians_ms.shape == (2, 2) and (nf.medians_ms > 0).all()
    assert nf.info["cpu"] == machine_info()["cpu"]
    with pytest.raises(ValueError, match="rounds must be an int >= 2"):
        noise_floor(nets, rounds=1)


# ----- the checkers of notebook 01: pass the reference, fail wrong answers ------------------
def _median_loop(fn, warmup, repeats):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times))


def _mean_with_warmup(fn, warmup, repeats):
    times = []
    for _ in range(warmup + repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.mean(times))


def test_check_measure_median():
    checks.check_measure_median(_median_loop)
    with pytest.raises(AssertionError, match="too large"):
        checks.check_measure_median(_mean_with_warmup)
    with pytest.raises(AssertionError, match="milliseconds"):
        checks.check_measure_median(lambda fn, w, r: _median_loop(fn, w, r) / 1e3)
    with pytest.raises(AssertionError, match="calls of fn"):
        checks.check_measure_median(lambda fn, w, r: _median_loop(fn, 0, r))
    with pytest.raises(NotImplementedError):
        checks.check_measure_median(lambda fn, w, r: (_ for _ in ()).throw(NotImplementedError()))


def test_check_lut_sum():
    checks.check_lut_sum(lambda entries, space, arch:
                         sum(entries[s.signature] for s in space.layer_specs(arch)))
    with pytest.raises(AssertionError, match="predict_sum_ms"):  # forgets the head
        checks.check_lut_sum(lambda entries, space, arch:
                             sum(entries[s.signature] for s in space.layer_specs(arch)[:-1]))


def test_check_within_pct():
    checks.check_within_pct(lambda p, m, pct: float(np.mean(
        np.abs(np.asarray(p) - m) / np.asarray(m) <= pct / 100)))
    with pytest.raises(AssertionError, match="within_pct"):  # divides by the prediction
        checks.check_within_pct(lambda p, m, pct: float(np.mean(
            np.abs(np.asarray(p) - m) / np.asarray(p) <= pct / 100)))
