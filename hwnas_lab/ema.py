"""An exponential moving average (EMA) of a network's weights, for evaluation.

Polyak & Juditsky, "Acceleration of Stochastic Approximation by Averaging", SIAM J.
Control Optim. 1992; the exponential form is the one of TensorFlow's
``ExponentialMovingAverage`` used by MnasNet and EfficientNet (Tan & Le, ICML 2019,
decay 0.9999 per step on ImageNet). After every optimiser step

    avg <- decay_t * avg + (1 - decay_t) * w,   decay_t = min(decay, (1 + t) / (10 + t))

where ``t`` counts the updates so far: the warm-up term lets the average follow the
weights closely at the start instead of remembering the random initialisation (with
``decay`` 0.999 the average spans about 1 / (1 - decay) = 1,000 steps). Floating-point
buffers (batch-norm running statistics) are averaged alike; integer buffers are copied.

The average is a separate copy of the module (``ema.module``), evaluated and saved in
place of the trained weights; training itself never reads it.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class WeightEMA:
    """A moving average of ``net``'s parameters and buffers; see the module docstring."""

    def __init__(self, net: nn.Module, decay: float = 0.999):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), e.g. 0.999, got {decay!r}")
        self.decay = decay
        self.updates = 0  # optimiser steps averaged so far
        self.module = copy.deepcopy(net).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    def current_decay(self) -> float:
        """The decay the next ``update`` uses (lower during the first steps)."""
        return min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))

    def _pairs(self, net: nn.Module) -> tuple[list[torch.Tensor], list[torch.Tensor],
                                                list[torch.Tensor], list[torch.Tensor]]:
        avg = dict(self.module.named_parameters()) | dict(self.module.named_buffers())
        live = dict(net.named_parameters()) | dict(net.named_buffers())
        if avg.keys() != live.keys():
            missing = sorted(set(avg) ^ set(live))[:3]
            raise ValueError(f"EMA and network differ in their tensors (e.g. {missing}): "
                             "average the network the EMA was made from")
        floats_avg, floats_live, ints_avg, ints_live = [], [], [], []
        for name, a in avg.items():
            (floats_avg if a.is_floating_point() else ints_avg).append(a)
            (floats_live if a.is_floating_point() else ints_live).append(live[name].detach())
        return floats_avg, floats_live, ints_avg, ints_live

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        """Move the average towards ``net``'s current weights (call after each step)."""
        floats_avg, floats_live, ints_avg, ints_live = self._pairs(net)
        weight = 1.0 - self.current_decay()  # lerp: avg += weight * (live - avg)
        torch._foreach_lerp_(floats_avg, floats_live, weight)
        for a, b in zip(ints_avg, ints_live):
            a.copy_(b)
        self.updates += 1

    @torch.no_grad()
    def reset(self, net: nn.Module) -> None:
        """Restart the average at ``net``'s weights (e.g. after its channels were permuted)."""
        self.module.load_state_dict(net.state_dict())
        self.updates = 0

    def state_dict(self) -> dict:
        return {"decay": self.decay, "updates": self.updates, "module": self.module.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        if state["decay"] != self.decay:
            raise ValueError(f"EMA state has decay {state['decay']}, this EMA {self.decay}")
        self.updates = int(state["updates"])
        self.module.load_state_dict(state["module"])
