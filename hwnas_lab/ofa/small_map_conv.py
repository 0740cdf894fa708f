"""Depthwise convolution with a kernel wider than its feature map, as one batched matmul.

On a 2-core x86 CPU (oneDNN in torch 2.14), the backward pass of a depthwise 5x5 or 7x7
convolution on a 4x4 map costs 40-57x its forward pass (`python scripts/ofa_recipe.py
profile`), and the CPU space's largest subnet has seven such layers. On a map of ``H x W``
pixels a depthwise convolution is, per channel, a linear map from the ``H*W`` input pixels
to the output pixels: a small matrix whose entries are kernel weights (zero where the
kernel does not reach). Building those matrices from the kernel (a gather) and applying
them with one batched matmul, forward and backward, took 6-14 ms against 47-76 ms for the
convolution (batch 128, 240 and 384 channels, `profile`); with a kernel no wider than the
map (3x3 at 4x4, anything at 8x8) the convolution stays faster and is kept. The result
equals ``F.conv2d(x, w, None, s, k // 2, 1, C)`` up to float rounding.

Used by the supernet's depthwise layers while training (gradients on); evaluation and
latency measurement keep the regular convolution, so measured latencies do not change.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

MAX_PIXELS = 64  # the matmul form only on maps this small (its matrices grow as pixels^2)


@functools.lru_cache(maxsize=64)
def _plan(h: int, w: int, k: int, stride: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(index, inside)``, both ``(h_out * w_out, h * w)``: which of the ``k * k`` kernel
    weights links output pixel ``p`` to input pixel ``q`` (padding ``k // 2``), and whether
    any does."""
    pad = k // 2
    h_out, w_out = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    oy, ox = torch.meshgrid(torch.arange(h_out), torch.arange(w_out), indexing="ij")
    iy, ix = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    dy = iy.reshape(1, -1) - (oy.reshape(-1, 1) * stride - pad)  # kernel row, may be outside
    dx = ix.reshape(1, -1) - (ox.reshape(-1, 1) * stride - pad)
    inside = (dy >= 0) & (dy < k) & (dx >= 0) & (dx < k)
    return (dy * k + dx).clamp(0, k * k - 1), inside


def depthwise_conv2d(x: torch.Tensor, weight: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """``F.conv2d(x, weight, None, stride, k // 2, 1, C)`` for a ``(C, 1, k, k)`` ``weight``
    (odd ``k``); through one batched matmul when ``k`` exceeds the map's height and width."""
    n, c, h, w = x.shape
    k = weight.shape[-1]
    if k <= max(h, w) or h * w > MAX_PIXELS:
        return F.conv2d(x, weight, None, stride, k // 2, 1, c)
    return matmul_depthwise(x, weight, stride)


def matmul_depthwise(x: torch.Tensor, weight: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """The same convolution as one batched matmul, whatever the sizes (``depthwise_conv2d``
    picks it only where it is faster)."""
    n, c, h, w = x.shape
    k = weight.shape[-1]
    index, inside = _plan(h, w, k, stride)
    index, inside = index.to(x.device), inside.to(device=x.device, dtype=x.dtype)
    matrices = weight.reshape(c, k * k)[:, index] * inside  # (C, P_out, Q_in)
    columns = x.reshape(n, c, h * w).permute(1, 2, 0)  # (C, Q_in, N)
    out = _BatchedMatmul.apply(matrices, columns)  # (C, P_out, N)
    h_out, w_out = (h - 1) // stride + 1, (w - 1) // stride + 1
    return out.permute(2, 0, 1).reshape(n, c, h_out, w_out)


class _BatchedMatmul(torch.autograd.Function):
    """``torch.bmm`` whose operands and incoming gradient are made contiguous first: on a CPU,
    bmm of the strided views above copies one matrix at a time (thousands of small copies).
    Under autocast both operands are cast to its dtype, as ``torch.bmm`` itself would be, and
    saved so: the backward, which runs outside autocast, multiplies matching dtypes."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        device = a.device.type
        if torch.is_autocast_enabled(device):
            dtype = torch.get_autocast_dtype(device)
            a, b = a.to(dtype), b.to(dtype)
        a, b = a.contiguous(), b.contiguous()
        ctx.save_for_backward(a, b)
        return torch.bmm(a, b)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = ctx.saved_tensors
        grad = grad.contiguous()
        return torch.bmm(grad, b.transpose(1, 2)), torch.bmm(a.transpose(1, 2), grad)
