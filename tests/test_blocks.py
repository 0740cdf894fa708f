"""Static builder, FLOPs convention (2 FLOPs per multiply-add) and parameter counts."""

import pytest
import torch
from torch import nn

from hwnas_lab.blocks import MBConv, arch_flops, build_net, count_flops, count_params
from hwnas_lab.space import LayerSpec, get_space

CPU = get_space("cpu")


def test_flop_counter_counts_two_flops_per_multiply_add():
    conv = nn.Conv2d(3, 16, 3, padding=1, bias=False)
    macs = 8 * 8 * 16 * 3 * 3 * 3  # output pixels x cout x cin x k x k
    assert count_flops(conv, (1, 3, 8, 8)) == 2 * macs
    linear = nn.Linear(20, 10)
    assert count_flops(linear, (4, 20)) == 2 * 4 * 20 * 10


def test_mbconv_flops_by_hand():
    cin, cout, ks, e, stride, size = 16, 24, 5, 4, 2, 16
    hidden, out = cin * e, size // stride
    macs = size * size * cin * hidden + out * out * hidden * ks * ks + out * out * hidden * cout
    block = MBConv(cin, cout, ks, e, stride)
    assert count_flops(block, (1, cin, size, size)) == 2 * macs
    assert LayerSpec("mbconv", cin, cout, size, ks, e, stride).macs == macs


def test_mbconv_params_by_hand_and_residual():
    block = MBConv(24, 24, 3, 6, 1)
    hidden = 144
    weights = 24 * hidden + hidden * 9 + hidden * 24
    bn = 2 * (hidden + hidden + 24)
    assert count_params(block) == weights + bn
    assert block.residual and not MBConv(24, 40, 3, 6, 1).residual and not MBConv(24, 24, 3, 6, 2).residual
    x = torch.randn(2, 24, 8, 8)
    assert MBConv(24, 40, 7, 3, 2)(x).shape == (2, 40, 4, 4)


@pytest.mark.parametrize("space_name", ["cpu", "gpu"])
def test_static_net_counts_match_hand_counts(space_name):
    space = get_space(space_name)
    for arch in [space.largest(), space.smallest(), space.sample(11), space.sample(12)]:
        net = build_net(space, arch)
        assert count_flops(net, net.input_shape()) == arch_flops(space, arch)
        assert net(torch.randn(net.input_shape(2))).shape == (2, space.num_classes)
        assert len(net.blocks) == sum(arch.d)


def test_flops_grow_with_every_dimension():
    base = CPU.uniform(3, 3, 2, 24)
    for bigger in (CPU.uniform(5, 3, 2, 24), CPU.uniform(3, 4, 2, 24), CPU.uniform(3, 3, 3, 24),
                   CPU.uniform(3, 3, 2, 28)):
        assert arch_flops(CPU, bigger) > arch_flops(CPU, base)


def test_build_rejects_an_arch_of_another_space():
    gpu_arch = get_space("gpu").largest()
    with pytest.raises(ValueError, match="space 'cpu' needs 16"):
        build_net(CPU, gpu_arch)
