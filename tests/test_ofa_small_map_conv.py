"""The depthwise convolution of a kernel wider than its map, as a batched matmul: equal to
F.conv2d forward and backward, the path chosen only where it is faster, gradcheck."""

import pytest
import torch
import torch.nn.functional as F

from hwnas_lab.ofa import OFASupernet, dynamic
from hwnas_lab.ofa import small_map_conv as smc
from hwnas_lab.space import get_space


@pytest.mark.parametrize("k, size, stride", [(5, 4, 1), (7, 4, 1), (7, 3, 1), (7, 6, 1),
                                             (5, 2, 1), (7, 5, 2), (7, 4, 2), (9, 8, 2),
                                             (3, 4, 1), (3, 8, 2), (5, 8, 1)])
@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("conv", [smc.depthwise_conv2d, smc.matmul_depthwise])
def test_equals_conv2d_forward_and_backward(k, size, stride, channels_last, conv):
    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(6, 5, size, size).contiguous(memory_format=fmt).requires_grad_()
    w = torch.randn(5, 1, k, k, requires_grad=True)
    x_ref, w_ref = x.detach().clone().requires_grad_(), w.detach().clone().requires_grad_()
    out = conv(x, w, stride)
    ref = F.conv2d(x_ref, w_ref, None, stride, k // 2, 1, 5)
    assert out.shape == ref.shape
    assert torch.allclose(out, ref, atol=1e-5)
    g = torch.randn_like(ref)
    out.backward(g)
    ref.backward(g)
    assert torch.allclose(x.grad, x_ref.grad, atol=1e-5)
    assert torch.allclose(w.grad, w_ref.grad, atol=1e-4)


def test_under_bfloat16_autocast_with_backward_outside_it():
    """The forward under autocast, as a training step runs it, and the backward after it (as
    autocast's documentation asks): the result in bfloat16 near F.conv2d's, float32 gradients."""
    torch.manual_seed(0)
    x = torch.randn(6, 5, 4, 4, requires_grad=True)  # a float32 activation ...
    w = torch.randn(5, 1, 7, 7, requires_grad=True)  # ... and float32 weights
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = smc.matmul_depthwise(x.to(torch.bfloat16), w)  # mixed, as in a network
    ref = F.conv2d(x.detach(), w.detach(), None, 1, 3, 1, 5)
    assert out.dtype == torch.bfloat16
    assert torch.allclose(out.float(), ref, atol=0.1 * ref.abs().max().item())
    out.float().sum().backward()
    assert x.grad.dtype == w.grad.dtype == torch.float32
    assert torch.isfinite(x.grad).all() and torch.isfinite(w.grad).all()


def test_gradcheck_in_float64():
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 1, 7, 7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: smc.depthwise_conv2d(a, b, 1), (x, w))


def test_the_matmul_path_only_where_the_kernel_is_wider_than_the_map(monkeypatch):
    calls = []
    monkeypatch.setattr(smc._BatchedMatmul, "apply", lambda a, b: calls.append(1) or torch.bmm(a, b))
    for k, size, used in [(7, 4, True), (5, 4, True), (3, 4, False), (7, 8, False), (7, 7, False),
                          (9, 12, False)]:
        calls.clear()
        smc.depthwise_conv2d(torch.randn(2, 3, size, size), torch.randn(3, 1, k, k), 1)
        assert bool(calls) == used, (k, size)
    calls.clear()  # a kernel wider than a map of more than MAX_PIXELS pixels: the convolution
    smc.depthwise_conv2d(torch.randn(1, 2, 9, 9), torch.randn(2, 1, 11, 11), 1)
    assert not calls


def test_supernet_gradients_equal_those_of_the_plain_convolution(monkeypatch):
    """The largest subnet's loss gradients with the fast path (used: seven layers at 4x4 px)
    equal those with F.conv2d everywhere, so the path changes speed only."""
    space = get_space("cpu")
    torch.manual_seed(0)
    net = OFASupernet(space).train()
    net.set_active(space.largest())
    X, y = torch.randn(4, 3, 32, 32), torch.arange(4)

    def gradients() -> dict:
        net.zero_grad()
        F.cross_entropy(net(X), y).backward()
        return {n: p.grad.clone() for n, p in net.named_parameters() if p.grad is not None}

    calls = []
    monkeypatch.setattr(smc._BatchedMatmul, "apply",
                        lambda a, b: calls.append(1) or torch.bmm(a, b))
    fast = gradients()
    assert len(calls) == 7  # stages 3 and 4 (4 blocks each at 4 px) minus stage 3's strided first
    monkeypatch.setattr(dynamic, "depthwise_conv2d",
                        lambda x, w, s: F.conv2d(x, w, None, s, w.shape[-1] // 2, 1, x.size(1)))
    plain = gradients()
    assert fast.keys() == plain.keys()
    for name, grad in fast.items():
        assert torch.allclose(grad, plain[name], atol=1e-5, rtol=1e-4), name
