"""Elastic layers: each slicing rule against a direct computation with static ops."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hwnas_lab.blocks import MBConv
from hwnas_lab.ofa.dynamic import (DynamicBatchNorm2d, DynamicDepthwiseConv2d, DynamicMBConv,
                                   DynamicPointConv2d, centre_crop)


pytestmark = pytest.mark.usefixtures("one_thread")


def randomise_bn(module: nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.weight.data = torch.rand(n, generator=g) + 0.5
            m.bias.data = torch.randn(n, generator=g)
            m.running_mean = torch.randn(n, generator=g)
            m.running_var = torch.rand(n, generator=g) + 0.5


def test_centre_crop_takes_the_middle():
    w = torch.arange(49.0).reshape(1, 1, 7, 7)
    assert torch.equal(centre_crop(w, 3), w[..., 2:5, 2:5])
    assert torch.equal(centre_crop(w, 7), w)
    with pytest.raises(ValueError, match="odd"):
        centre_crop(w, 4)
    with pytest.raises(ValueError, match="no larger"):
        centre_crop(w[..., :5, :5], 7)


def test_point_conv_uses_first_channels():
    torch.manual_seed(0)
    conv = DynamicPointConv2d(8, 12)
    conv.active_out = 5
    x = torch.randn(2, 6, 4, 4)
    expected = F.conv2d(x, conv.weight[:5, :6])
    assert torch.allclose(conv(x), expected)
    assert conv(x).shape == (2, 5, 4, 4)


def test_depthwise_largest_kernel_is_plain_conv():
    torch.manual_seed(0)
    conv = DynamicDepthwiseConv2d(6, (3, 5, 7), stride=2)
    x = torch.randn(2, 4, 9, 9)
    expected = F.conv2d(x, conv.weight[:4], None, 2, 3, 1, 4)
    assert torch.allclose(conv(x), expected, atol=1e-6)


def test_depthwise_small_kernels_crop_then_transform():
    torch.manual_seed(0)
    conv = DynamicDepthwiseConv2d(6, (3, 5, 7))
    with torch.no_grad():  # non-identity matrices, so the transform is really exercised
        conv.transform_7to5.add_(0.1 * torch.randn(25, 25))
        conv.transform_5to3.add_(0.1 * torch.randn(9, 9))
    w7 = conv.weight[:6]
    w5 = (w7[..., 1:6, 1:6].reshape(6, 25) @ conv.transform_7to5.T).reshape(6, 1, 5, 5)
    w3 = (w5[..., 1:4, 1:4].reshape(6, 9) @ conv.transform_5to3.T).reshape(6, 1, 3, 3)
    assert torch.allclose(conv.kernel(5, 6), w5, atol=1e-6)
    assert torch.allclose(conv.kernel(3, 6), w3, atol=1e-6)
    x = torch.randn(2, 6, 8, 8)
    conv.active_ks = 3
    out = conv(x)
    assert out.shape == x.shape
    assert torch.allclose(out, F.conv2d(x, w3, None, 1, 1, 1, 6), atol=1e-5)
    out.sum().backward()  # both matrices are on the 3x3 path and get gradients
    assert conv.transform_5to3.grad.abs().sum() > 0 and conv.transform_7to5.grad.abs().sum() > 0


def test_depthwise_identity_transform_is_pure_crop():
    conv = DynamicDepthwiseConv2d(3, (3, 5, 7))
    assert torch.allclose(conv.kernel(3, 3), conv.weight[:, :, 2:5, 2:5])
    with pytest.raises(ValueError, match="kernel size 4"):
        conv.kernel(4, 3)


def test_dynamic_bn_slices_and_updates_only_active_statistics():
    bn = DynamicBatchNorm2d(8)
    randomise_bn(bn)
    ref = nn.BatchNorm2d(5)
    bn.eval()
    bn.copy_to(ref)
    ref.eval()
    x = torch.randn(4, 5, 3, 3)
    assert torch.allclose(bn(x), ref(x), atol=1e-6)
    before = bn.running_mean.clone()
    bn.train()
    bn(x)
    assert not torch.allclose(bn.running_mean[:5], before[:5])
    assert torch.equal(bn.running_mean[5:], before[5:])


@pytest.mark.parametrize("stride,cin,cout", [(1, 8, 8), (2, 8, 16)])
@pytest.mark.parametrize("ks,e", [(7, 6), (5, 4), (3, 3)])
def test_mbconv_to_static_matches(stride, cin, cout, ks, e):
    torch.manual_seed(ks * 10 + e)
    block = DynamicMBConv(cin, cout, (3, 5, 7), (3, 4, 6), stride)
    randomise_bn(block)
    with torch.no_grad():
        block.dw_conv.transform_7to5.add_(0.1 * torch.randn(25, 25))
        block.dw_conv.transform_5to3.add_(0.1 * torch.randn(9, 9))
    block.set_active(ks, e)
    block.eval()
    static = block.to_static().eval()
    assert isinstance(static, MBConv) and static.residual == block.residual
    x = torch.randn(2, cin, 8, 8)
    assert torch.allclose(block(x), static(x), atol=1e-5)


def test_mbconv_rejects_choice_outside_its_set():
    block = DynamicMBConv(8, 8, (3, 5), (3, 6))
    with pytest.raises(ValueError, match="ks=7"):
        block.set_active(7, 3)


def test_reorder_channels_keeps_output_and_sorts_importance():
    torch.manual_seed(0)
    block = DynamicMBConv(8, 8, (3, 5, 7), (3, 4, 6))
    randomise_bn(block)
    block.eval()
    x = torch.randn(2, 8, 6, 6)
    before = block(x)
    order = block.reorder_channels()
    assert sorted(order.tolist()) == list(range(48)) and order.tolist() != list(range(48))
    assert torch.allclose(block(x), before, atol=1e-5)
    importance = block.project_conv.weight.abs().sum(dim=(0, 2, 3))
    assert torch.all(importance[:-1] >= importance[1:])
