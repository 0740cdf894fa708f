"""One step of progressive shrinking: the distillation loss, a step that learns, the loop's
step as sampling then stepping, the sandwich subnets first, in-place distillation."""

import copy
import dataclasses
import random

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hwnas_lab.ofa import OFASupernet
from hwnas_lab.ofa.schedule import get_shrink_config
from hwnas_lab.ofa.shrink_step import (SubnetBatch, distillation_loss, make_teacher,
                                      progressive_step, sample_phase, shrink_step)
from hwnas_lab.space import get_space
from hwnas_lab.train import make_optimizer

SPACE = get_space("cpu")


def test_distillation_loss_against_formula_and_soft_cross_entropy():
    torch.manual_seed(0)
    s = torch.randn(5, 10, requires_grad=True)
    t = torch.randn(5, 10)
    assert distillation_loss(t, t).item() == pytest.approx(0.0, abs=1e-6)
    for T in (1.0, 4.0):
        p = F.softmax(t / T, 1)
        kl = (p * (p.log() - F.log_softmax(s / T, 1))).sum(1).mean() * T * T
        assert distillation_loss(s, t, T).item() == pytest.approx(kl.item(), rel=1e-5)
    # same gradient as OFA's soft-target cross-entropy (they differ by the teacher entropy)
    g_kd, = torch.autograd.grad(distillation_loss(s, t), s)
    soft_ce = -(F.softmax(t, 1) * F.log_softmax(s, 1)).sum(1).mean()
    g_ce, = torch.autograd.grad(soft_ce, s)
    assert torch.allclose(g_kd, g_ce, atol=1e-6)
    with pytest.raises(ValueError, match="same shape"):
        distillation_loss(s, t[:, :5])


def test_shrink_step_learns_a_batch(one_thread):
    """Thirty steps on one fixed batch, two random subnets of the last phase per step: the
    subnets fit the batch (far above chance). The teacher is the untrained largest net, so
    distillation is off here (kd=0): it would pull towards random logits."""
    torch.manual_seed(0)
    net = OFASupernet(SPACE).train()
    config = get_shrink_config("smoke")
    phase = dataclasses.replace(config.phases[-1], kd=0.0)
    teacher = None
    opt = make_optimizer(net, config, lr=0.05)
    X, y = torch.randn(16, 3, 24, 24), torch.arange(16) % 10
    criterion, pick, model = nn.CrossEntropyLoss(), random.Random(0), SubnetBatch(net)
    losses = []
    for _ in range(30):
        archs = [SPACE.sample(pick, r=(24,), **phase.choices()) for _ in range(2)]
        losses.append(shrink_step(model, teacher, opt, X, y, archs, phase, criterion).item())
    assert losses[-1] < 0.5 * losses[0]
    net.set_active(SPACE.smallest())  # batch statistics (train mode): no recalibration needed
    with torch.no_grad():
        assert (net(X).argmax(1) == y).float().mean() >= 0.5  # chance: 0.1


def test_progressive_step_is_sample_phase_then_shrink_step(one_thread):
    """The loop's step (also notebook 05's reference): the phase's n_subnets subnets drawn at
    the batch's resolution, then shrink_step; same loss and weights as the two by hand."""
    config = get_shrink_config("smoke")
    phase = config.phases[-1]
    X, y = torch.randn(8, 3, 28, 28), torch.arange(8) % 10

    def start():
        torch.manual_seed(0)
        net = OFASupernet(SPACE).train()
        return net, make_teacher(net), make_optimizer(net, config, lr=0.05)

    archs = sample_phase(SPACE, phase, 28, random.Random(3))
    assert len(archs) == phase.n_subnets == 2 and all(a.r == 28 for a in archs)
    assert archs[0] != archs[1]
    net_a, teacher_a, opt_a = start()
    loss_a = shrink_step(SubnetBatch(net_a), teacher_a, opt_a, X, y, archs, phase,
                         nn.CrossEntropyLoss(), 2.0)
    net_b, teacher_b, opt_b = start()
    loss_b = progressive_step(net_b, teacher_b, opt_b, X, y, phase, random.Random(3),
                              nn.CrossEntropyLoss(), 2.0)
    assert not loss_b.requires_grad and loss_b.item() == pytest.approx(loss_a.item(), rel=1e-6)
    for (name, a), b in zip(net_a.state_dict().items(), net_b.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), name


def test_sample_phase_puts_the_sandwich_subnets_first():
    phase = dataclasses.replace(get_shrink_config("laptop").phases[-1], n_subnets=2,
                                always=("largest", "smallest"))
    archs = sample_phase(SPACE, phase, 28, random.Random(0))
    assert archs[:2] == [SPACE.uniform(7, 6, 4, 28), SPACE.uniform(3, 3, 2, 28)]
    plain = dataclasses.replace(phase, always=())  # no sandwich: the draws of before
    rng_a, rng_b = random.Random(3), random.Random(3)
    assert sample_phase(SPACE, plain, 24, rng_a) == [SPACE.sample(rng_b, r=(24,)) for _ in range(2)]
    assert archs[2:] == sample_phase(SPACE, plain, 28, random.Random(0))


def test_inplace_distillation_the_largest_teaches_the_others(one_thread):
    """With ``inplace=True`` the first subnet (the largest) learns from the labels alone and
    its logits, detached, are the other subnets' teacher; the frozen teacher is never run.
    Caught: distilling from the frozen teacher, not distilling at all, a wrong weight or
    temperature, the largest's loss missing."""
    phase = dataclasses.replace(get_shrink_config("laptop").phases[-1], n_subnets=1, kd=0.7)
    X, y = torch.randn(8, 3, 24, 24), torch.arange(8) % 10
    archs = sample_phase(SPACE, phase, 24, random.Random(0))
    assert archs[0] == SPACE.uniform(7, 6, 4, 24)
    torch.manual_seed(0)
    net = OFASupernet(SPACE).train()
    by_hand = copy.deepcopy(net)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)

    outs = SubnetBatch(by_hand)(X, archs)
    soft = outs[0].detach()
    expected = criterion(outs[0], y) + sum(criterion(o, y) + 0.7 * distillation_loss(o, soft, 2.0)
                                           for o in outs[1:])
    opt_hand = torch.optim.SGD(by_hand.parameters(), lr=0.1)
    expected.backward()
    opt_hand.step()

    class Unused(nn.Module):
        def forward(self, X):
            raise AssertionError("in-place distillation ran the frozen teacher")

    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    loss = shrink_step(SubnetBatch(net), Unused(), opt, X, y, archs, phase, criterion, 2.0,
                       inplace=True)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    plain = criterion(outs[0], y) + sum(criterion(o, y) for o in outs[1:])
    assert abs(loss.item() - plain.item()) > 1e-3  # the distillation terms are in it
    for (name, a), b in zip(net.state_dict().items(), by_hand.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), name


def test_autocast_dtype_covers_the_forward_passes_not_backward_or_the_update(one_thread):
    """``autocast_dtype=torch.bfloat16``: the teacher's and the subnets' logits come out in
    bfloat16 and the loss is reduced from them; gradients, weights and momentum stay float32.
    Without it, everything is float32."""
    torch.manual_seed(0)
    net = OFASupernet(SPACE).train()
    config = get_shrink_config("smoke")
    phase = next(p for p in config.phases if p.kd > 0)
    teacher = make_teacher(net)
    X, y = torch.randn(8, 3, 24, 24), torch.arange(8) % 10
    for dtype, want in ((torch.bfloat16, torch.bfloat16), (None, torch.float32)):
        logits, autocast_in_backward = [], []

        def record(module, inputs, out):
            logits.append(out.dtype)

        def in_backward(grad):
            autocast_in_backward.append(torch.is_autocast_enabled("cpu"))

        hooks = [teacher.register_forward_hook(record), net.register_forward_hook(record)]
        weight = next(net.parameters())
        hooks.append(weight.register_hook(in_backward))
        opt = make_optimizer(net, config, lr=0.05)
        archs = [SPACE.uniform(min(SPACE.ks_choices), min(SPACE.e_choices), min(SPACE.d_choices),
                               24), SPACE.uniform(7, 6, 4, 24)]  # the smallest and the largest
        loss = shrink_step(SubnetBatch(net), teacher, opt, X, y, archs, phase,
                           nn.CrossEntropyLoss(), autocast_dtype=dtype)
        for hook in hooks:
            hook.remove()
        assert logits == [want] * 3  # teacher, then the two subnets
        assert autocast_in_backward == [False] and torch.isfinite(loss)
        assert all(p.dtype == torch.float32 for p in net.parameters())
        assert all(p.grad.dtype == torch.float32 for p in net.parameters() if p.grad is not None)
        assert all(s["momentum_buffer"].dtype == torch.float32 for s in opt.state.values())
