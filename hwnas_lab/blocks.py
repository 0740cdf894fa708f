"""Static building blocks and the builder from an ``Arch`` to an ``nn.Module``.

MBConv is MobileNetV2's inverted residual (Sandler et al., CVPR 2018): a 1x1 expand
conv to ``e * cin`` channels, a ``ks x ks`` depthwise conv (carrying the stride), a 1x1
linear projection, with a residual connection when shape allows. Every conv is
followed by batch norm; activations are ReLU6 except after the projection.

FLOPs convention: ``count_flops`` uses ``torch.utils.flop_counter.FlopCounterMode``,
which counts 2 FLOPs per multiply-add of convolutions and matrix products and nothing
for batch norm, activations, pooling or additions (``LayerSpec.macs`` is the same count
by hand, in multiply-adds).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .arch import Arch
from .space import LayerSpec, SearchSpace


def conv_bn(cin: int, cout: int, ks: int, stride: int = 1, groups: int = 1,
            act: bool = True) -> nn.Sequential:
    """Conv (same padding, no bias) -> BatchNorm -> ReLU6 (optional)."""
    layers = [nn.Conv2d(cin, cout, ks, stride, ks // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class MBConv(nn.Module):
    """Inverted residual block: expand 1x1, depthwise ks x ks (stride), project 1x1."""

    def __init__(self, cin: int, cout: int, ks: int, e: int, stride: int = 1):
        super().__init__()
        hidden = cin * e
        self.expand = conv_bn(cin, hidden, 1) if e != 1 else nn.Identity()
        self.depthwise = conv_bn(hidden, hidden, ks, stride, groups=hidden)
        self.project = conv_bn(hidden, cout, 1, act=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.depthwise(self.expand(x)))
        return x + out if self.residual else out


class Head(nn.Module):
    """1x1 conv -> global average pool -> dropout -> linear classifier."""

    def __init__(self, cin: int, width: int, classes: int, dropout: float = 0.0):
        super().__init__()
        self.conv = conv_bn(cin, width, 1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x).mean(dim=(2, 3))
        return self.classifier(self.dropout(x))


def build_layer(spec: LayerSpec) -> nn.Module:
    """The module for one operator of the search space (as keyed in a latency table)."""
    if spec.op == "stem":
        return conv_bn(spec.cin, spec.cout, spec.ks, spec.stride)
    if spec.op == "mbconv":
        return MBConv(spec.cin, spec.cout, spec.ks, spec.e, spec.stride)
    if spec.op == "head":
        return Head(spec.cin, spec.cout, spec.classes)
    raise ValueError(f"unknown operator {spec.op!r}; expected stem, mbconv or head")


class StaticNet(nn.Module):
    """A fixed subnetwork of a ``SearchSpace``: stem, MBConv blocks, head.

    The network is fully convolutional; ``arch.r`` is the resolution its inputs should
    have (resizing is the data pipeline's job). ``net.specs`` lists its operators.
    """

    def __init__(self, space: SearchSpace, arch: Arch, dropout: float = 0.0):
        super().__init__()
        self.space, self.arch = space, arch
        self.specs = space.layer_specs(arch)  # validates arch
        self.stem = build_layer(self.specs[0])
        self.blocks = nn.Sequential(*(build_layer(s) for s in self.specs[1:-1]))
        head = self.specs[-1]
        self.head = Head(head.cin, head.cout, head.classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))

    def input_shape(self, batch: int = 1) -> tuple[int, int, int, int]:
        return (batch, 3, self.arch.r, self.arch.r)


def build_net(space: SearchSpace, arch: Arch, dropout: float = 0.0) -> StaticNet:
    """Build the static network of ``arch`` (raises ``ValueError`` if it is not in ``space``)."""
    return StaticNet(space, arch, dropout)


def count_flops(net: nn.Module, input_shape: tuple[int, ...]) -> int:
    """FLOPs of one forward pass (2 per multiply-add; convs and matmuls only)."""
    was_training = net.training
    net.eval()
    try:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            net(torch.zeros(input_shape))
    finally:
        net.train(was_training)
    return int(counter.get_total_flops())


def count_params(net: nn.Module) -> int:
    """Number of parameters (weights and biases, batch-norm affine included)."""
    return sum(p.numel() for p in net.parameters())


def arch_flops(space: SearchSpace, arch: Arch) -> int:
    """FLOPs of ``arch`` at batch 1 by the hand count (2 * ``LayerSpec.macs``), no model built."""
    return 2 * sum(spec.macs for spec in space.layer_specs(arch))
