"""The measurement protocol and the targets: warm-up, median/IQR, threads, ONNX Runtime."""

import time

import numpy as np
import pytest
import torch
from torch import nn

from hwnas_lab.blocks import MBConv, build_net
from hwnas_lab.latency.measure import (LatencyResult, Target, all_threads, get_target,
                                       measure_latency, onnx_session)
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
    ({"target": "torch", "threads": -1}, r"threads \(this machine has \d+ cores\) must be an int >= 1"),
    ({"target": "torch", "threads": 0}, r"threads \(this machine has \d+ cores\) must be an int >= 1"),
    ({"target": "onnxruntime-xthreads"}, "unknown target"),
])
def test_bad_targets(kwargs, match):
    with pytest.raises(ValueError, match=match):
        get_target(**kwargs)


def test_bad_measurement_arguments():
    net = build_net(CPU, CPU.smallest())
    with pytest.raises(ValueError, match=r"threads \(this machine has \d+ cores\) must be an int >= 1"):
        measure_latency(net, threads=-2)
    with pytest.raises(ValueError, match="repeats must be an int >= 1"):
        measure_latency(net, repeats=0)
    with pytest.raises(ValueError, match="give input_shape"):
        measure_latency(nn.Identity())
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="needs a GPU"):
            get_target("cuda")


