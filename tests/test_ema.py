"""The weight EMA: the update rule by hand, warm-up, reset, state round trip, bad input."""

import pytest
import torch
from torch import nn

from hwnas_lab.ema import WeightEMA


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))


def test_update_follows_the_formula_with_warm_up():
    net = _net()
    ema = WeightEMA(net, decay=0.9)
    start = {k: v.clone() for k, v in net.state_dict().items()}
    assert ema.current_decay() == pytest.approx(1 / 10)  # (1 + 0) / (10 + 0)
    with torch.no_grad():
        net[0].weight.add_(1.0)
        net[1].running_mean.add_(2.0)
        net[1].num_batches_tracked.add_(5)
    ema.update(net)
    d = 0.1
    expect_w = d * start["0.weight"] + (1 - d) * net[0].weight
    assert torch.allclose(ema.module[0].weight, expect_w)
    assert torch.allclose(ema.module[1].running_mean, d * start["1.running_mean"]
                          + (1 - d) * net[1].running_mean)
    assert ema.module[1].num_batches_tracked.item() == 5  # integers are copied
    assert not torch.equal(ema.module[0].weight, net[0].weight)
    for _ in range(200):  # after warm-up the decay is capped at `decay`
        ema.update(net)
    assert ema.current_decay() == 0.9
    assert torch.allclose(ema.module[0].weight, net[0].weight, atol=1e-6)
    assert not ema.module[0].weight.requires_grad


def test_average_is_a_separate_copy_and_resets():
    net = _net()
    ema = WeightEMA(net, decay=0.99)
    with torch.no_grad():
        net[0].weight.mul_(3.0)
    assert not torch.equal(ema.module[0].weight, net[0].weight)
    ema.update(net)
    ema.reset(net)
    assert ema.updates == 0 and torch.equal(ema.module[0].weight, net[0].weight)


def test_state_round_trip_and_bad_input():
    net = _net()
    ema = WeightEMA(net, decay=0.99)
    ema.update(net)
    other = WeightEMA(_net(1), decay=0.99)
    other.load_state_dict(ema.state_dict())
    assert other.updates == 1 and torch.equal(other.module[0].weight, ema.module[0].weight)
    with pytest.raises(ValueError, match="decay"):
        WeightEMA(_net(1), decay=0.5).load_state_dict(ema.state_dict())
    for bad in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"in \(0, 1\)"):
            WeightEMA(net, decay=bad)
    with pytest.raises(ValueError, match="differ in their tensors"):
        ema.update(nn.Sequential(nn.Linear(3, 4)))
