"""Metrics of predictions against hand values, and the noise floor."""

import numpy as np
import pytest

from hwnas_lab.blocks import build_net
from hwnas_lab.latency.measure import machine_info
from hwnas_lab.latency.noise import NoiseFloor, latency_metrics, noise_floor, within_pct
from hwnas_lab.space import SPACES

CPU = SPACES["cpu"]


def test_metrics_against_hand_values():
    pred, meas = [1.05, 0.8, 2.0, 1.0], [1.0, 1.0, 2.1, 1.2]
    m = latency_metrics(pred, meas)
    rel = [0.05, 0.2, 0.1 / 2.1, 0.2 / 1.2]
    assert m.mape_pct == pytest.approx(100 * np.mean(rel))
    assert m.rmse_ms == pytest.approx(np.sqrt((0.05 ** 2 + 0.2 ** 2 + 0.1 ** 2 + 0.2 ** 2) / 4))
    assert m.within5 == 0.5 and m.within10 == 0.5 and within_pct(pred, meas, 25) == 1.0
    # 6 pairs: (1,2)+ (1,3)+ (1,4)+ (2,3)- (2,4)+ (3,4)+ -> (5 - 1) / 6
    assert latency_metrics([1, 2, 3, 4], [1, 3, 2, 4]).kendall_tau == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match="equal length"):
        latency_metrics([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="positive"):
        within_pct([1.0], [0.0])


def test_noise_floor_pairs_and_metrics():
    med = np.array([[1.0, 2.0], [1.1, 2.0], [1.0, 2.2]])
    nf = NoiseFloor("torch-1thread", ["a", "b"], med, np.zeros_like(med))
    pred, meas = nf.pairs()
    assert len(pred) == 3 * 2 * 2  # ordered pairs of rounds x nets
    # by hand: net a's rounds 1.0, 1.1, 1.0 -> 1.1 vs 1.0 is +10 % (in), 1.0 vs 1.1 is -9.1 %
    # (in); net b's 2.2 vs 2.0 is +10 % (in), 2.0 vs 2.2 is -9.1 % (in): every pair within
    assert nf.metrics().within10 == 1.0
    assert nf.metrics().within5 == pytest.approx(4 / 12)  # only the pairs of equal rounds
    flat = NoiseFloor("t", ["a"], np.ones((3, 1)), np.zeros((3, 1)))
    assert flat.metrics().mape_pct == 0 and flat.rel_spread_pct == 0


def test_noise_floor_measures_interleaved_rounds():
    nets = [build_net(CPU, CPU.smallest()), build_net(CPU, CPU.sample(0))]
    nf = noise_floor(nets, rounds=2, repeats=2, warmup=1, progress=False)
    assert nf.medians_ms.shape == (2, 2) and (nf.medians_ms > 0).all()
    assert nf.info["cpu"] == machine_info()["cpu"]
    with pytest.raises(ValueError, match="rounds must be an int >= 2"):
        noise_floor(nets, rounds=1)


