"""Elastic (dynamic) layers of a Once-for-All supernet.

Cai, Gan, Wang, Zhang, Han: "Once-for-All: Train One Network and Specialize it for
Efficient Deployment", ICLR 2020 (Sections 3.2 and 3.3, Figures 2-3).

Every layer keeps the weights of its LARGEST configuration plus ``active_*`` fields and
serves a smaller configuration by slicing in ``forward``. The slicing rules, which the
extraction of a static subnet (``supernet.OFASupernet.extract``) repeats exactly:

``DynamicPointConv2d`` (1x1 conv, weight ``(out_max, in_max, 1, 1)``)
    uses ``weight[:active_out, :in]``: the FIRST output channels and the first ``in``
    input channels, where ``in`` is the channel count of the input tensor.
``DynamicDepthwiseConv2d`` (weight ``(c_max, 1, k_max, k_max)``)
    channels: the first ``c`` filters, ``c`` = channels of the input tensor.
    kernel: ``k_max`` uses the weight as is; a smaller ``k`` starts from the next larger
    kernel's (already transformed) ``k' x k'`` weight, takes its centre ``k x k`` crop
    and multiplies the flattened crop by a learned ``k^2 x k^2`` matrix
    (``transform_{k'}to{k}``, one per layer, shared by all channels, identity at init):
    7x7 --crop--> 5x5 --x M_7to5--> 5x5 --crop--> 3x3 --x M_5to3--> 3x3.
    Padding is ``k // 2`` (same size output).
``DynamicBatchNorm2d`` (a ``BatchNorm2d`` of ``c_max`` features)
    normalises ``c`` channels with the first ``c`` entries of weight, bias,
    running mean and running variance (in training the running statistics of those
    ``c`` channels are updated in place, the others are left alone).
``DynamicMBConv``
    the inverted residual of ``hwnas_lab.blocks.MBConv`` with elastic kernel ``ks`` and
    expand ratio ``e``: hidden channels ``cin * e`` are the first ``cin * e`` of the
    ``cin * max(e)`` the block holds; input and output widths are fixed by the space.
    Before the width phase the hidden channels are sorted by importance
    (``reorder_channels``) so that the first channels are the most important ones.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..blocks import MBConv
from .small_map_conv import depthwise_conv2d


def centre_crop(weight: torch.Tensor, ks: int) -> torch.Tensor:
    """The centre ``ks x ks`` window of a ``(..., K, K)`` kernel (``K`` and ``ks`` odd)."""
    big = weight.shape[-1]
    if ks > big or ks % 2 == 0 or big % 2 == 0:
        raise ValueError(f"cannot crop a {big}x{big} kernel to {ks}x{ks}: "
                         "both must be odd and the crop no larger than the kernel")
    start = (big - ks) // 2
    return weight[..., start:start + ks, start:start + ks]


class DynamicPointConv2d(nn.Conv2d):
    """1x1 convolution without bias; serves ``weight[:active_out, :in]`` (see module doc)."""

    def __init__(self, in_max: int, out_max: int):
        super().__init__(in_max, out_max, 1, bias=False)
        self.active_out = out_max  # output channels in use

    def active_weight(self, cin: int) -> torch.Tensor:
        return self.weight[:self.active_out, :cin]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.active_weight(x.size(1)))


class DynamicDepthwiseConv2d(nn.Conv2d):
    """Depthwise ``k x k`` convolution with elastic kernel (centre crop + transform)."""

    def __init__(self, channels_max: int, ks_choices: Sequence[int], stride: int = 1):
        self.ks_choices = tuple(sorted(ks_choices))
        k_max = self.ks_choices[-1]
        super().__init__(channels_max, channels_max, k_max, stride, k_max // 2,
                         groups=channels_max, bias=False)
        # one learned (k^2 x k^2) matrix per step down, e.g. transform_7to5, transform_5to3
        for big, small in zip(self.ks_choices[::-1], self.ks_choices[-2::-1]):
            self.register_parameter(f"transform_{big}to{small}",
                                    nn.Parameter(torch.eye(small * small)))
        self.active_ks = k_max  # kernel size in use

    def no_weight_decay(self) -> list[str]:
        """The kernel transformations are not regularised (OFA): identity is their start."""
        return [name for name, _ in self.named_parameters() if name.startswith("transform_")]

    def kernel(self, ks: int, channels: int) -> torch.Tensor:
        """The ``(channels, 1, ks, ks)`` kernel that ``forward`` uses at kernel size ``ks``."""
        if ks not in self.ks_choices:
            raise ValueError(f"kernel size {ks} is not one of this layer's {self.ks_choices}")
        weight = self.weight[:channels]
        for big, small in zip(self.ks_choices[::-1], self.ks_choices[-2::-1]):
            if big <= ks:
                break
            crop = centre_crop(weight, small).reshape(channels, small * small)
            matrix = getattr(self, f"transform_{big}to{small}")
            weight = F.linear(crop, matrix).reshape(channels, 1, small, small)
        return weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels, ks = x.size(1), self.active_ks
        weight = self.kernel(ks, channels)
        if torch.is_grad_enabled():  # training: a kernel wider than the map as a matmul (faster)
            return depthwise_conv2d(x, weight, self.stride[0])
        return F.conv2d(x, weight, None, self.stride, ks // 2, 1, channels)


class DynamicBatchNorm2d(nn.BatchNorm2d):
    """Batch norm over the first ``c`` of its ``c_max`` channels, ``c`` from the input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.size(1)
        if c == self.num_features:
            return super().forward(x)
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            factor = (1.0 / float(self.num_batches_tracked) if self.momentum is None
                      else self.momentum)
        else:
            factor = 0.0
        use_batch_stats = self.training or not self.track_running_stats
        # slices of a 1-d buffer are views: F.batch_norm updates the first c entries in place
        return F.batch_norm(x, self.running_mean[:c], self.running_var[:c], self.weight[:c],
                            self.bias[:c], use_batch_stats, factor, self.eps)

    def copy_to(self, bn: nn.BatchNorm2d) -> None:
        """Copy the parameters and statistics of the first ``bn.num_features`` channels."""
        c = bn.num_features
        with torch.no_grad():
            bn.weight.copy_(self.weight[:c])
            bn.bias.copy_(self.bias[:c])
            bn.running_mean.copy_(self.running_mean[:c])
            bn.running_var.copy_(self.running_var[:c])
            bn.num_batches_tracked.copy_(self.num_batches_tracked)
        bn.eps, bn.momentum = self.eps, self.momentum


class DynamicMBConv(nn.Module):
    """Inverted residual with elastic kernel and expand ratio (see the module docstring)."""

    def __init__(self, cin: int, cout: int, ks_choices: Sequence[int],
                 e_choices: Sequence[int], stride: int = 1):
        super().__init__()
        self.cin, self.cout, self.stride = cin, cout, stride
        self.ks_choices, self.e_choices = tuple(sorted(ks_choices)), tuple(sorted(e_choices))
        hidden_max = cin * self.e_choices[-1]
        self.expand_conv = DynamicPointConv2d(cin, hidden_max)
        self.expand_bn = DynamicBatchNorm2d(hidden_max)
        self.dw_conv = DynamicDepthwiseConv2d(hidden_max, self.ks_choices, stride)
        self.dw_bn = DynamicBatchNorm2d(hidden_max)
        self.project_conv = DynamicPointConv2d(hidden_max, cout)
        self.project_bn = nn.BatchNorm2d(cout)
        self.residual = stride == 1 and cin == cout
        self.active_ks, self.active_e = self.ks_choices[-1], self.e_choices[-1]

    def set_active(self, ks: int, e: int) -> None:
        if ks not in self.ks_choices or e not in self.e_choices:
            raise ValueError(f"block cannot run ks={ks}, e={e}; allowed ks {self.ks_choices}, "
                             f"e {self.e_choices}")
        self.active_ks, self.active_e = ks, e
        self.dw_conv.active_ks = ks
        self.expand_conv.active_out = self.cin * e

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        if self.active_e != 1:  # static MBConv has no expand conv at e = 1
            out = F.relu6(self.expand_bn(self.expand_conv(out)))
        out = F.relu6(self.dw_bn(self.dw_conv(out)))
        out = self.project_bn(self.project_conv(out))
        return x + out if self.residual else out

    @torch.no_grad()
    def to_static(self, ks: int | None = None, e: int | None = None) -> MBConv:
        """A ``blocks.MBConv`` with this block's weights at ``(ks, e)`` (default: active)."""
        ks = self.active_ks if ks is None else ks
        e = self.active_e if e is None else e
        hidden = self.cin * e
        block = MBConv(self.cin, self.cout, ks, e, self.stride)
        if e != 1:
            block.expand[0].weight.copy_(self.expand_conv.weight[:hidden])
            self.expand_bn.copy_to(block.expand[1])
        block.depthwise[0].weight.copy_(self.dw_conv.kernel(ks, hidden))
        self.dw_bn.copy_to(block.depthwise[1])
        block.project[0].weight.copy_(self.project_conv.weight[:, :hidden])
        block.project[1].load_state_dict(self.project_bn.state_dict())
        return block

    @torch.no_grad()
    def reorder_channels(self) -> torch.Tensor:
        """Sort hidden channels by importance, most important first; the output is unchanged.

        Importance of hidden channel j is the L1 norm of the projection weights that read
        it, ``|W_project[:, j]|_1`` (OFA's rule). The same permutation is applied to the
        expand conv's outputs and BN, the depthwise filters and BN, and the projection's
        inputs. Returns the permutation.
        """
        importance = self.project_conv.weight.abs().sum(dim=(0, 2, 3))
        order = torch.argsort(importance, descending=True)
        self.project_conv.weight.copy_(self.project_conv.weight[:, order])
        self.dw_conv.weight.copy_(self.dw_conv.weight[order])
        self.expand_conv.weight.copy_(self.expand_conv.weight[order])
        for bn in (self.expand_bn, self.dw_bn):
            for tensor in (bn.weight, bn.bias, bn.running_mean, bn.running_var):
                tensor.copy_(tensor[order])
        return order
