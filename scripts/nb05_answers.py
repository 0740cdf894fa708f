"""Figures for notebook 05's answers, from the shipped laptop supernet (validation split).

Q1: the smallest and largest subnets with their learned kernel transformations and with
the transformation matrices reset to the identity (plain centre crops). Q3: accuracy after
BN recalibration on 0, 1, 2, 5, 10, 20 batches of 256 training images (and the seconds
each evaluation takes: a search's cost per candidate). Step: the notebook's short phase,
20 steps of the package's progressive_step on a copy of the supernet (laptop batch size).

    flock /tmp/hwnas-heavy.lock python scripts/nb05_answers.py
"""

from __future__ import annotations

import copy
import random
import time

import numpy as np
import torch

from hwnas_lab.data import batches, resize
from hwnas_lab.ofa.shrink_step import make_teacher, progressive_step
from hwnas_lab.train import make_optimizer

from hwnas_lab.data import load_cifar10
from hwnas_lab.ofa.checkpoint import SHIPPED_DIR, load_checkpoint, supernet_from_checkpoint
from hwnas_lab.ofa.schedule import get_shrink_config
from hwnas_lab.ofa.shrink import evaluate_subnet, recalibrated_subnet


def identity_transforms(net):
    """A copy of ``net`` whose kernel transformation matrices are the identity."""
    plain = copy.deepcopy(net)
    n = 0
    with torch.no_grad():
        for name, p in plain.named_parameters():
            if p.dim() == 2 and p.shape[0] == p.shape[1] and "dw_conv" in name:
                p.copy_(torch.eye(p.shape[0]))
                n += 1
    return plain, n


def main() -> None:
    t0 = time.perf_counter()
    data = load_cifar10("laptop", seed=0)
    net = supernet_from_checkpoint(load_checkpoint(SHIPPED_DIR / "laptop.pt")).eval()
    space = net.space
    plain, n = identity_transforms(net)
    print(f"threads {torch.get_num_threads()}; {len(data.val)} val images; {n} matrices reset")
    for tag, arch in (("smallest", space.smallest()), ("largest", space.largest())):
        learned = evaluate_subnet(net, arch, data.train, data.val, 10, seed=0)
        crop = evaluate_subnet(plain, arch, data.train, data.val, 10, seed=0)
        print(f"Q1 {tag}: learned transforms {100 * learned:.1f} %, identity {100 * crop:.1f} %")
    for tag, arch in (("smallest", space.smallest()), ("largest", space.largest())):
        accs, secs = {}, {}
        for b in (0, 1, 2, 5, 10, 20):
            t = time.perf_counter()
            accs[b] = evaluate_subnet(net, arch, data.train, data.val, b, seed=0)
            secs[b] = time.perf_counter() - t
        print(f"Q3 {tag}: " + ", ".join(f"{b} batches {100 * a:.1f} %" for b, a in accs.items()))
        print("   seconds per evaluation: " + ", ".join(f"{b}: {s:.1f}" for b, s in secs.items()))
    config = get_shrink_config("laptop")  # the notebook's "your step, for a short phase"
    phase = config.phases[-1]
    mine = copy.deepcopy(net).train()
    own_bn = recalibrated_subnet(mine, space.largest(), data.train, 10, seed=0,
                                 memory_format=torch.contiguous_format)
    teacher = make_teacher(mine, own_bn.state_dict(), memory_format=torch.contiguous_format)
    opt = make_optimizer(mine, config, phase.lr * 0.1)
    criterion = torch.nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    pick, gen = random.Random(0), torch.Generator().manual_seed(0)
    losses, t = [], time.perf_counter()
    for i, (X, y) in enumerate(batches(data.train, config.batch_size, augment=True, generator=gen,
                                         pad=config.crop_padding)):
        if i == 20:
            break
        X = resize(X, pick.choice(space.r_choices))
        losses.append(progressive_step(mine, teacher, opt, X, y, phase, pick, criterion,
                                       config.kd_temperature).item())
    print(f"step: {(time.perf_counter() - t) / len(losses):.2f} s per step; summed losses "
          + " ".join(f"{v:.2f}" for v in losses) + f"; mean per subnet "
          f"{np.mean(losses) / phase.subnets_per_step:.3f}")
    print(f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
