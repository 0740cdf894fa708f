"""The Once-for-All supernet over a ``SearchSpace``.

Cai et al., "Once-for-All: Train One Network and Specialize it for Efficient
Deployment", ICLR 2020. One network holds every subnetwork of the space: each block
slot is a ``DynamicMBConv`` holding its largest kernel and expand ratio, each stage holds
``max(d)`` slots. ``set_active(arch)`` selects a subnetwork:

* kernel and expand ratio: per block, by slicing (``hwnas_lab.ofa.dynamic``);
* depth: stage ``s`` runs its FIRST ``d_s`` slots (OFA keeps the first layers, Fig. 3);
* resolution: the network is fully convolutional; each batch is resized to ``arch.r``
  by ``hwnas_lab.data.resize`` before the forward pass (elastic resolution is per batch).

Which slot has which channels and stride is the space's slot layout
(``SearchSpace.block_slots``); which slots run is ``Arch.active_slots``.

The stem and head have fixed widths in our spaces, so they are ordinary modules, built
by ``hwnas_lab.blocks`` exactly as in a static net; ``extract`` copies the weights of
the active subnetwork into a ``hwnas_lab.blocks.StaticNet`` whose output equals the
supernet's in eval mode.
"""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

from ..arch import Arch
from ..blocks import Head, StaticNet, build_net, conv_bn
from ..config import check_int
from ..data import resize
from ..space import Rng, SearchSpace, get_space
from .dynamic import DynamicMBConv


class OFASupernet(nn.Module):
    """Every subnetwork of ``space`` in one module; see the module docstring."""

    def __init__(self, space: SearchSpace | str = "cpu", dropout: float = 0.0):
        super().__init__()
        self.space = space = get_space(space)
        self.dropout = dropout
        self.stem = conv_bn(3, space.stem_width, 3)  # same module as blocks.build_layer(stem)
        slots = space.block_slots(max(space.r_choices))  # channels and strides do not depend on r
        self.blocks = nn.ModuleList(  # blocks[slot]: one per slot of the encoding
            DynamicMBConv(s.cin, s.cout, space.ks_choices, space.e_choices, s.stride) for s in slots)
        self.head = Head(slots[-1].cout, space.head_width, space.num_classes, dropout)
        self.active_arch: Arch = space.largest()
        self.set_active(self.active_arch)

    # ----- choosing the subnetwork -------------------------------------------------
    def set_active(self, arch: Arch) -> "OFASupernet":
        """Run ``arch`` from now on (raises ``ValueError`` if it is not in the space)."""
        if not isinstance(arch, Arch):
            raise ValueError(f"set_active needs an Arch, got {type(arch).__name__}")
        arch.validate(self.space)
        for block, ks, e in zip(self.blocks, arch.ks, arch.e):
            block.set_active(ks, e)
        self.active_arch = arch
        return self

    def sample_active(self, rng: Rng = None, **choices: Iterable[int]) -> Arch:
        """Activate a random subnetwork (``choices`` restrict ks/e/d/r as in ``SearchSpace.sample``)."""
        arch = self.space.sample(rng, **choices)
        self.set_active(arch)
        return arch

    def active_blocks(self) -> list[DynamicMBConv]:
        return [self.blocks[slot] for slot in self.active_arch.active_slots()]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.active_blocks():
            x = block(x)
        return self.head(x)

    def input_shape(self, batch: int = 1) -> tuple[int, int, int, int]:
        return (batch, 3, self.active_arch.r, self.active_arch.r)

    # ----- width phase and deployment ---------------------------------------------
    @torch.no_grad()
    def reorder_channels(self) -> None:
        """Sort every block's hidden channels by importance (before the expand-ratio phase)."""
        for block in self.blocks:
            block.reorder_channels()

    @torch.no_grad()
    def extract(self, arch: Arch | None = None) -> StaticNet:
        """A standalone ``StaticNet`` of ``arch`` (default: the active one) with copied weights.

        In eval mode its output equals the supernet's with ``arch`` active (the BN statistics
        copied are whatever the supernet holds: recalibrate first, see ``recalibrate_bn``).
        """
        arch = self.active_arch if arch is None else arch
        arch.validate(self.space)
        net = build_net(self.space, arch, self.dropout)
        net.stem.load_state_dict(self.stem.state_dict())
        for j, slot in enumerate(arch.active_slots()):
            static = self.blocks[slot].to_static(arch.ks[slot], arch.e[slot])
            net.blocks[j].load_state_dict(static.state_dict())
        net.head.load_state_dict(self.head.state_dict())
        net.train(self.training)
        return net


def bn_modules(net: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def recalibrate_bn(net: nn.Module, batches: Iterable[torch.Tensor | tuple], n_batches: int = 10,
                   resolution: int | None = None) -> int:
    """Re-estimate batch-norm statistics of ``net`` (e.g. a supernet with a subnet active).

    Why: the running statistics a supernet holds were averaged over many different
    subnetworks; a given subnet's activations have other means and variances (OFA, and its
    issues #15, #60). The fix: reset the statistics and average them exactly (momentum None:
    cumulative mean) over ``n_batches`` training batches run in train mode without gradients.
    ``batches`` yields ``X`` or ``(X, y)``; ``X`` is resized to ``resolution`` (default: the
    supernet's active ``r`` if it has one). Returns the number of images used. The network is
    left in eval mode, ready to evaluate.
    """
    check_int("n_batches", n_batches)
    if resolution is None and isinstance(net, OFASupernet):
        resolution = net.active_arch.r
    bns = bn_modules(net)
    saved = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    net.train()
    seen = 0
    try:
        for i, batch in enumerate(batches):
            if i >= n_batches:
                break
            X = batch[0] if isinstance(batch, (tuple, list)) else batch
            if resolution is not None:
                X = resize(X, resolution)
            net(X)
            seen += X.shape[0]
    finally:
        for bn, momentum in zip(bns, saved):
            bn.momentum = momentum
        net.eval()
    if seen == 0:
        raise ValueError("recalibrate_bn got no batches: pass an iterable of training batches")
    return seen
