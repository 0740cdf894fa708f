"""Shared helpers of the OFA search tests (notebook 06): a synthetic latency table, a linear
accuracy predictor with a known optimum, tiny image sets, a latency model that measures nothing."""

import numpy as np
import torch

from hwnas_lab.data import TensorData
from hwnas_lab.latency.lut import LatencyTable
from hwnas_lab.ofa.efficiency import Efficiency
from hwnas_lab.ofa.search import Constraints, Objective, sample_batch
from hwnas_lab.space import SearchSpace, get_space

SPACE = get_space("cpu")
TINY = SearchSpace(name="tiny", stage_channels=(8, 16), stage_strides=(1, 2), ks_choices=(3, 5),
                   e_choices=(2, 3), d_choices=(1, 2), r_choices=(16, 24))


def synthetic_table(space=SPACE) -> LatencyTable:
    """A latency table whose entries grow with each operator's work (no measurement)."""
    entries = {s.signature: 0.01 + s.macs / 2e6 for s in space.all_layer_specs()}
    return LatencyTable(space, "synthetic", entries)


class LinearPredictor:
    """Accuracy = a fixed linear function of the features (a known optimum for the searches)."""

    def __init__(self, space=SPACE, seed=0):
        self.space = space
        self.w = np.random.default_rng(seed).normal(0, 0.01, len(space.feature_names))

    def predict(self, a):
        return 0.7 + self.space.encode_batch(a) @ self.w


def objective(limit_ms=None, memory_kb=None, flops_m=None, space=SPACE):
    return Objective(LinearPredictor(space), Efficiency(space, synthetic_table(space)),
                     Constraints(limit_ms, flops_m, memory_kb))


def tiny_data(n=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    return TensorData(torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8),
                      torch.randint(0, 10, (n,), generator=g))


def fake_latency_model(space, target, calib_archs=0, repeats=15, seed=0, progress=False, rounds=3):
    from hwnas_lab.ofa.specialise import LatencyModel

    table = synthetic_table(space)
    return LatencyModel("torch-1thread", table, table, [], np.zeros(0), 0.0)


def median_latency(n=2000):
    return float(np.median(synthetic_table().predict_batch(sample_batch(SPACE, n, np.random.default_rng(9)))))
