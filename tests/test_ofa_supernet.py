"""The supernet: activation, depth, extraction equal to the supernet, BN recalibration."""

import random

import pytest
import torch
from torch import nn

from hwnas_lab.blocks import StaticNet, arch_flops, count_flops
from hwnas_lab.arch import Arch
from hwnas_lab.ofa import OFASupernet, recalibrate_bn
from hwnas_lab.space import get_space

SPACE = get_space("cpu")


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def trained_like_supernet():
    """A supernet whose BN statistics and transform matrices are not at their init values."""
    torch.manual_seed(0)
    net = OFASupernet(SPACE)
    with torch.no_grad():
        for block in net.blocks:
            block.dw_conv.transform_7to5.add_(0.05 * torch.randn(25, 25))
            block.dw_conv.transform_5to3.add_(0.05 * torch.randn(9, 9))
    net.train()
    for seed in range(3):
        arch = net.sample_active(seed)
        net(torch.randn(8, 3, arch.r, arch.r))
    return net.eval()


def test_set_active_rejects_arch_outside_space():
    net = OFASupernet(SPACE)
    bad = SPACE.largest().to_dict()
    bad["ks"][3] = 9
    with pytest.raises(ValueError, match=r"Arch.ks\[3\] = 9"):
        net.set_active(Arch.from_dict(bad))
    gpu_arch = get_space("gpu").largest()
    with pytest.raises(ValueError, match="needs"):
        net.set_active(gpu_arch)
    with pytest.raises(ValueError, match="needs an Arch"):
        net.set_active({"ks": [3]})


def test_sampling_respects_phase_choices():
    rng = random.Random(0)
    for _ in range(20):
        arch = SPACE.sample(rng, ks=(5, 7), e=(6,), d=(3, 4))
        assert set(arch.ks) <= {5, 7} and set(arch.e) == {6} and set(arch.d) <= {3, 4}
    with pytest.raises(ValueError, match="not allowed"):
        SPACE.sample(0, ks=(9,))


def test_elastic_depth_runs_first_blocks():
    net = OFASupernet(SPACE)
    arch = SPACE.uniform(3, 3, 2, 32)
    net.set_active(arch)
    active = net.active_blocks()
    assert len(active) == 2 * SPACE.n_stages
    assert active[0] is net.blocks[0] and active[2] is net.blocks[SPACE.max_depth]


@pytest.mark.parametrize("seed", range(6))
def test_extracted_subnet_equals_supernet(trained_like_supernet, seed):
    net = trained_like_supernet
    arch = SPACE.sample(seed) if seed > 1 else (SPACE.largest(), SPACE.smallest())[seed]
    net.set_active(arch)
    static = net.extract()
    assert isinstance(static, StaticNet) and static.arch == arch
    static.eval()
    x = torch.randn(3, 3, arch.r, arch.r)
    assert torch.allclose(net(x), static(x), atol=1e-4, rtol=1e-4)
    assert count_flops(static, static.input_shape()) == arch_flops(SPACE, arch)
    # the supernet also spends FLOPs computing its small kernels (independent of the batch):
    # hidden x 25 x 25 multiply-adds for 7->5, plus hidden x 9 x 9 for 5->3
    transform_macs = sum(block.cin * e * ((ks < 7) * 625 + (ks < 5) * 81)
                         for (s, _, ks, e), block in zip(arch.active_blocks(), net.active_blocks()))
    assert count_flops(net, net.input_shape()) == arch_flops(SPACE, arch) + 2 * transform_macs


def test_extracted_equals_supernet_after_recalibration():
    torch.manual_seed(1)
    net = OFASupernet(SPACE)
    arch = SPACE.sample(11)
    net.set_active(arch)
    batches = [(torch.randn(16, 3, 32, 32) * 2 + 1, None) for _ in range(3)]
    seen = recalibrate_bn(net, batches, n_batches=2)
    assert seen == 32 and not net.training
    stem_bn = net.stem[1]
    assert not torch.allclose(stem_bn.running_mean, torch.zeros_like(stem_bn.running_mean))
    static = net.extract().eval()
    x = torch.randn(2, 3, arch.r, arch.r)
    assert torch.allclose(net(x), static(x), atol=1e-4, rtol=1e-4)
    # recalibrating the static copy on the same batches gives the same statistics
    recalibrate_bn(static, batches, n_batches=2, resolution=arch.r)
    assert torch.allclose(static.stem[1].running_var, stem_bn.running_var, atol=1e-4, rtol=1e-4)
    assert torch.allclose(net(x), static(x), atol=1e-4, rtol=1e-4)


def test_recalibrate_bn_bad_input():
    net = OFASupernet(SPACE)
    with pytest.raises(ValueError, match="no batches"):
        recalibrate_bn(net, [], n_batches=2)
    with pytest.raises(ValueError, match="n_batches must be an int >= 1"):
        recalibrate_bn(net, [torch.zeros(2, 3, 32, 32)], n_batches=0)


def test_reorder_channels_keeps_every_subnet_output(trained_like_supernet):
    net = trained_like_supernet
    arch = SPACE.largest()
    net.set_active(arch)
    x = torch.randn(2, 3, 32, 32)
    before = net(x)
    net.reorder_channels()
    assert torch.allclose(net(x), before, atol=1e-4, rtol=1e-4)


def test_supernet_trains_a_step():
    torch.manual_seed(0)
    net = OFASupernet(SPACE).train()
    net.sample_active(3)
    x, y = torch.randn(4, 3, net.active_arch.r, net.active_arch.r), torch.randint(0, 10, (4,))
    loss = nn.functional.cross_entropy(net(x), y)
    loss.backward()
    grads = [p.grad for p in net.blocks[0].parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_blocks_follow_the_slot_layout():
    net = OFASupernet(SPACE)
    for block, slot in zip(net.blocks, SPACE.block_slots(32)):
        assert (block.cin, block.cout, block.stride) == (slot.cin, slot.cout, slot.stride)
    assert len(net.blocks) == SPACE.n_slots
