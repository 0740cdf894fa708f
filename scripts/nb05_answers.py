"""Figures for notebook 05's answers, from the shipped laptop supernet (validation split).

Q1: the smallest and largest subnets with their learned kernel transformations and with
the transformation matrices reset to the identity (plain centre crops). Q3: accuracy after
BN recalibration on 0, 1, 2, 5, 10, 20 batches of 256 training images.

    flock /tmp/hwnas-heavy.lock python scripts/nb05_answers.py
"""

from __future__ import annotations

import copy
import time

import torch

from hwnas_lab.data import load_cifar10
from hwnas_lab.ofa.checkpoint import SHIPPED_DIR, load_checkpoint, supernet_from_checkpoint
from hwnas_lab.ofa.shrink import evaluate_subnet


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
    print(f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
