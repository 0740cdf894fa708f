"""One step of progressive shrinking: the subnets it samples, distillation, one backward.

Cai et al., "Once-for-All", ICLR 2020 (Section 3.3); distillation after Hinton et al.,
"Distilling the Knowledge in a Neural Network", 2015. A step (``shrink_step``) runs
``n_subnets`` subnets of the phase at the batch's resolution (``SubnetBatch``: one forward
call, so DDP's gradient reduction stays correct), adds up
``CE(s, y) + kd * KL(teacher || s)`` and takes one optimiser step. ``progressive_step`` is
that step with its sampling (``sample_phase``): the loop's (:mod:`hwnas_lab.ofa.shrink`)
and notebook 05's reference. The teacher (``make_teacher``) is a frozen copy of the largest
network, trained in phase 1 (OFA starts from a downloaded ImageNet teacher). With
``inplace=True`` there is no frozen teacher: the step's first subnet, the largest, learns from
the labels alone and its detached logits teach the others (in-place distillation: Yu &
Huang, "Universally Slimmable Networks", ICCV 2019; BigNAS, ECCV 2020), which saves the
teacher's forward pass.
"""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F
from torch import nn

from ..arch import Arch
from ..space import SearchSpace
from .schedule import Phase
from .supernet import OFASupernet


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                      temperature: float = 1.0) -> torch.Tensor:
    """Hinton's distillation loss, averaged over the batch.

    ``T^2 * KL(softmax(t / T) || softmax(s / T))``: zero when the student matches the
    teacher; the ``T^2`` keeps gradient sizes comparable across temperatures. Its gradient
    equals that of OFA's soft-target cross-entropy (they differ by the teacher's entropy).
    """
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"student logits {tuple(student_logits.shape)} and teacher logits "
                         f"{tuple(teacher_logits.shape)} must have the same shape")
    T = temperature
    log_p_student = F.log_softmax(student_logits / T, dim=1)
    log_p_teacher = F.log_softmax(teacher_logits.detach() / T, dim=1)
    return T * T * F.kl_div(log_p_student, log_p_teacher, reduction="batchmean", log_target=True)


class SubnetBatch(nn.Module):
    """Runs several subnets of a supernet on one batch in ONE forward call.

    Wrapped in ``DistributedDataParallel``, one forward + one backward per step keeps
    DDP's gradient reduction correct while each subnet leaves different weights unused.
    """

    def __init__(self, supernet: OFASupernet):
        super().__init__()
        self.supernet = supernet

    def forward(self, X: torch.Tensor, archs: list[Arch]) -> list[torch.Tensor]:
        outs = []
        for arch in archs:
            self.supernet.set_active(arch)
            outs.append(self.supernet(X))
        return outs


def shrink_step(model: nn.Module, teacher: nn.Module | None, opt: torch.optim.Optimizer,
                X: torch.Tensor, y: torch.Tensor, archs: list[Arch], phase: Phase,
                criterion: nn.Module, temperature: float = 1.0,
                inplace: bool = False, autocast_dtype: torch.dtype | None = None) -> torch.Tensor:
    """One optimiser step of progressive shrinking; returns the (detached) summed loss.

    Each subnet in ``archs`` (all at the batch's resolution) adds
    ``CE(s, y) + kd * distillation_loss(s, teacher)``; one backward through all of them.
    ``inplace``: ``archs[0]`` (the largest) adds ``CE`` only and its detached logits are
    the teacher of the rest; ``teacher`` is not used. ``autocast_dtype`` (e.g.
    ``torch.bfloat16``): the forward passes and the loss run under autocast to it.
    """
    with torch.autocast(X.device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
        soft = None
        if phase.kd > 0 and not inplace:
            if teacher is None:
                raise ValueError(f"phase {phase.name!r} distils (kd={phase.kd}) but has no "
                                 "teacher")
            with torch.no_grad():
                soft = teacher(X)
        outs = model(X, archs)
        first_student = 0  # outs[:first_student] learn from the labels alone
        if phase.kd > 0 and inplace:
            soft, first_student = outs[0].detach(), 1
        loss = sum(criterion(o, y) + (phase.kd * distillation_loss(o, soft, temperature)
                                      if soft is not None and i >= first_student else 0.0)
                   for i, o in enumerate(outs))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.detach()


def sample_phase(space: SearchSpace, phase: Phase, r: int, rng: random.Random) -> list[Arch]:
    """The subnets of one step, all at resolution ``r``: the phase's ``always`` subnets
    (sandwich rule), then ``phase.n_subnets`` random ones."""
    return phase.fixed_subnets(space, r) + [space.sample(rng, r=(r,), **phase.choices())
                                            for _ in range(phase.n_subnets)]


def progressive_step(net: OFASupernet, teacher: nn.Module | None, opt: torch.optim.Optimizer,
                     X: torch.Tensor, y: torch.Tensor, phase: Phase, rng: random.Random,
                     criterion: nn.Module, temperature: float = 1.0,
                     model: nn.Module | None = None, inplace: bool = False,
                     autocast_dtype: torch.dtype | None = None) -> torch.Tensor:
    """One step of progressive shrinking on a batch ``X`` already at its resolution:
    ``sample_phase`` at ``X``'s size, then ``shrink_step``; returns the detached summed loss.

    ``model`` runs the subnets (``SubnetBatch(net)``, or it wrapped in DDP); None: a
    ``SubnetBatch`` of ``net``. The loop and notebook 05's check both call this function.
    """
    archs = sample_phase(net.space, phase, X.shape[-1], rng)
    return shrink_step(model if model is not None else SubnetBatch(net), teacher, opt, X, y,
                       archs, phase, criterion, temperature, inplace, autocast_dtype)


def make_teacher(net: OFASupernet, state: dict | None = None, device: str | torch.device = "cpu",
                 memory_format: torch.memory_format = torch.channels_last) -> nn.Module:
    """A frozen static copy of the supernet's largest network (or ``state`` loaded into one)."""
    teacher = net.extract(net.space.largest())
    if state is not None:
        teacher.load_state_dict(state)
    teacher.to(device=device, memory_format=memory_format).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher
