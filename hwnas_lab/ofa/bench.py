"""Benchmarks of OFA training: the supernet's overhead, and a preset's wall time.

``bench_step_ratio``: one SGD training step with a subnet active in the supernet
(``set_active`` included) against the same subnet extracted as a ``StaticNet``, timed in
alternating pairs so that load on a shared machine hits both alike; the ratio of each
pair, median and IQR (also of process CPU time, which load from other programs disturbs
less than wall time). ``estimate_wall_time``: times a few real training steps of every phase of
a preset (``time_phase_steps``, which ``scripts/bench_processes.py`` runs in each process)
and extrapolates to its epochs, plus evaluation. Printed by
``python -m hwnas_lab ofa bench``.
"""

from __future__ import annotations

import random
import statistics
import time

import numpy as np
import torch
from torch import nn

from ..blocks import arch_flops
from ..config import Preset, get_preset, torch_threads
from ..data import CLASSES, IMAGES_PER_CLASS, TEST_IMAGES_PER_CLASS
from ..space import get_space
from ..stats import quartiles
from ..train import make_optimizer
from .schedule import Phase, ShrinkConfig
from .shrink_step import SubnetBatch, make_teacher, progressive_step, sample_phase
from .supernet import OFASupernet


def split_sizes(preset: Preset) -> tuple[int, int, int]:
    """(train, val, test) images of CIFAR-10 under ``preset`` (without loading anything)."""
    n_classes = len(CLASSES)
    train = (IMAGES_PER_CLASS - preset.val_per_class if preset.train_per_class is None
             else preset.train_per_class) * n_classes
    test = (preset.test_per_class or TEST_IMAGES_PER_CLASS) * n_classes
    return train, preset.val_per_class * n_classes, test


def bench_step_ratio(space: str = "cpu", batch_size: int = 128, repeats: int = 15,
                     threads: int = 2, seed: int = 0) -> list[dict]:
    """Supernet-active vs static training-step time for the largest, smallest and a random arch."""
    with torch_threads(threads):
        torch.manual_seed(seed)
        sp = get_space(space)
        supernet = OFASupernet(sp).to(memory_format=torch.channels_last).train()
        criterion = nn.CrossEntropyLoss()
        rows = []
        for name, arch in (("largest", sp.largest()), ("smallest", sp.smallest()),
                           ("random", sp.sample(random.Random(seed)))):
            supernet.set_active(arch)
            static = supernet.extract().to(memory_format=torch.channels_last).train()
            X = torch.randn(batch_size, 3, arch.r, arch.r).contiguous(memory_format=torch.channels_last)
            y = torch.randint(0, sp.num_classes, (batch_size,))
            opts = {id(m): torch.optim.SGD(m.parameters(), lr=1e-3, momentum=0.9)
                    for m in (supernet, static)}

            cpu = {id(supernet): [], id(static): []}  # process CPU seconds (less hit by load)

            def step(m: nn.Module) -> float:
                c0, t0 = time.process_time(), time.perf_counter()
                if m is supernet:
                    supernet.set_active(arch)
                opt = opts[id(m)]
                opt.zero_grad(set_to_none=True)
                criterion(m(X), y).backward()
                opt.step()
                cpu[id(m)].append(time.process_time() - c0)
                return time.perf_counter() - t0

            for _ in range(2):  # warm-up (allocator, oneDNN primitives)
                step(supernet), step(static)
            sup, sta = [], []
            for i in range(repeats):  # alternate the order inside pairs
                if i % 2:
                    sup.append(step(supernet)), sta.append(step(static))
                else:
                    sta.append(step(static)), sup.append(step(supernet))
            ratios = [a / b for a, b in zip(sup, sta)]
            cpu_ratios = [a / b for a, b in zip(cpu[id(supernet)][2:], cpu[id(static)][2:])]
            q1, med, q3 = quartiles(ratios)
            rows.append({"name": name, "arch": arch.to_dict(), "supernet_ms": 1e3 * statistics.median(sup),
                         "static_ms": 1e3 * statistics.median(sta), "ratio": med, "ratio_iqr": (q1, q3),
                         "ratio_cpu": statistics.median(cpu_ratios),
                         "static_img_s": batch_size / statistics.median(sta),
                         "supernet_img_s": batch_size / statistics.median(sup)})
        return rows


def time_phase_steps(net: OFASupernet, config: ShrinkConfig, phase: Phase, batch_size: int,
                     steps: int, rng: random.Random, model: nn.Module | None = None,
                     teacher: nn.Module | None = None) -> list[float]:
    """Seconds of each of ``steps`` training steps of ``phase`` (``progressive_step``: its
    subnets, distillation when it has ``kd``, the preset's optimizer and autocast) on random
    images of ``batch_size``, at resolutions drawn from the phase's by ``rng``, after one
    warm-up step per resolution (oneDNN prepares its kernels per shape). ``model`` runs the
    subnets (None: ``SubnetBatch(net)``; or it wrapped in DDP, ``batch_size`` then per
    process). The images are made on ``net``'s device; each step ends with the loss read
    back, so on a GPU its time includes the wait for the device."""
    resolutions = phase.resolutions(config.space)
    device = next(net.parameters()).device
    X = {r: torch.randn(batch_size, 3, r, r, device=device).contiguous(
        memory_format=torch.channels_last) for r in resolutions}
    y = torch.randint(0, config.space.num_classes, (batch_size,), device=device)
    opt = make_optimizer(net, config, 1e-4)
    teacher = teacher if phase.kd > 0 else None
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    model = model if model is not None else SubnetBatch(net)
    times = []
    for i in range(len(resolutions) + steps):
        r = resolutions[i] if i < len(resolutions) else rng.choice(resolutions)
        t0 = time.perf_counter()
        progressive_step(net, teacher, opt, X[r], y, phase, rng, criterion,
                         config.kd_temperature, model, config.inplace_distillation,
                         config.autocast_dtype).item()
        if i >= len(resolutions):
            times.append(time.perf_counter() - t0)
    return times


def estimate_wall_time(config: ShrinkConfig, threads: int = 2, steps: int = 6,
                       seed: int = 0) -> dict:
    """Extrapolate ``config``'s wall time from ``steps`` timed steps per phase (random data)."""
    with torch_threads(threads):
        torch.manual_seed(seed)
        P = get_preset(config.preset)
        space = config.space
        n_train, n_val, n_test = split_sizes(P)
        steps_per_epoch = max(1, n_train // config.batch_size)
        net = OFASupernet(space).to(memory_format=torch.channels_last).train()
        teacher = make_teacher(net)
        rng = random.Random(seed)
        phases = []
        for phase in config.phases:
            times = time_phase_steps(net, config, phase, config.batch_size, steps, rng,
                                     teacher=teacher)
            q1, med, q3 = quartiles(times)
            phases.append({"phase": phase.name, "epochs": phase.epochs, "step_s": med,
                           "step_iqr_s": (q1, q3), "img_s": config.batch_size / med,
                           "train_s": med * steps_per_epoch * phase.epochs})
        # evaluation: largest + smallest on val (+ recalibration) per validation, test at the end
        net.eval()
        eval_s = {}
        with torch.inference_mode():
            for tag, arch in (("largest", space.largest()), ("smallest", space.smallest())):
                static = net.extract(arch).to(memory_format=torch.channels_last).eval()
                X = torch.randn(256, 3, arch.r, arch.r).contiguous(memory_format=torch.channels_last)
                static(X)
                t0 = time.perf_counter()
                static(X)
                eval_s[tag] = (time.perf_counter() - t0) / 256  # seconds per image
        per_image = sum(eval_s.values())
        eval_total = per_image * (config.validations() * (n_val + config.recal_batches * 256) + n_test)
        train_total = sum(p["train_s"] for p in phases)
        return {"preset": config.preset, "threads": threads, "n_train": n_train,
                "steps_per_epoch": steps_per_epoch, "phases": phases, "eval_s": eval_total,
                "total_s": train_total + eval_total}


def format_estimate(est: dict) -> str:
    lines = [f"wall-time estimate, preset {est['preset']} ({est['n_train']} training images, "
             f"{est['steps_per_epoch']} steps/epoch, {est['threads']} threads; median step over "
             "timed steps, IQR in brackets):"]
    for p in est["phases"]:
        lines.append(f"  {p['phase']:9s} {p['epochs']:3d} epochs  step {p['step_s']:.3f} s "
                     f"[{p['step_iqr_s'][0]:.3f}-{p['step_iqr_s'][1]:.3f}]  {p['img_s']:6.0f} img/s"
                     f"  -> {p['train_s'] / 60:6.1f} min")
    lines.append(f"  evaluation (validations, test at the end) -> {est['eval_s'] / 60:.1f} min")
    lines.append(f"  total ~ {est['total_s'] / 60:.0f} min")
    return "\n".join(lines)


def estimate_from_flops(config: ShrinkConfig, largest_img_s: float, n_samples: int = 300,
                        seed: int = 0) -> dict:
    """Wall time of ``config`` scaled from one figure: the training throughput of the largest
    subnet at full resolution (``largest_img_s``, e.g. measured by ``bench_step_ratio``).

    Each step's cost is taken proportional to FLOPs: the sampled subnets' training FLOPs plus
    the frozen teacher's forward pass (one third of a training step; none with in-place
    distillation), averaged over ``n_samples``
    draws of the phase's choices. FLOPs are not latency (notebook 00): small depthwise-heavy
    subnets run at fewer FLOP/s, so this is a lower bound for the shrinking phases.
    """
    P = get_preset(config.preset)
    space = config.space
    rng = random.Random(seed)
    n_train, n_val, n_test = split_sizes(P)
    steps_per_epoch = max(1, n_train // config.batch_size)
    full = arch_flops(space, space.largest())
    step_s = config.batch_size / largest_img_s  # one training step of the largest at full r
    phases = []
    for phase in config.phases:
        units = []
        for _ in range(n_samples):
            r = rng.choice(phase.resolutions(space))
            cost = sum(arch_flops(space, a) for a in sample_phase(space, phase, r, rng))
            if phase.kd > 0 and not config.inplace_distillation:
                cost += arch_flops(space, space.sample(rng, ks=(max(space.ks_choices),),
                                                      e=(max(space.e_choices),),
                                                      d=(max(space.d_choices),), r=(r,))) / 3
            units.append(cost / full)
        unit = float(np.mean(units))
        phases.append({"phase": phase.name, "epochs": phase.epochs, "step_units": unit,
                       "train_s": unit * step_s * steps_per_epoch * phase.epochs})
    train_total = sum(p["train_s"] for p in phases)
    # evaluation: forward only (a third of a step) of largest + smallest per val image and validation
    small = arch_flops(space, space.smallest()) / full
    eval_s = (1 + small) / 3 / largest_img_s * (config.validations() * (n_val + config.recal_batches * 256)
                                                + n_test)
    return {"preset": config.preset, "largest_img_s": largest_img_s, "phases": phases,
            "train_s": train_total, "eval_s": eval_s, "total_s": train_total + eval_s,
            "largest_epochs_equivalent": train_total / (step_s * steps_per_epoch)}


def format_flops_estimate(est: dict) -> str:
    lines = [f"FLOPs-scaled estimate, preset {est['preset']}, largest subnet training at "
             f"{est['largest_img_s']:.0f} img/s (r=32):"]
    for p in est["phases"]:
        lines.append(f"  {p['phase']:9s} {p['epochs']:3d} epochs  {p['step_units']:.2f} x largest step"
                     f"  -> {p['train_s'] / 60:6.1f} min")
    lines.append(f"  training = {est['largest_epochs_equivalent']:.1f} largest-net epochs; "
                 f"evaluation {est['eval_s'] / 60:.1f} min; total ~ {est['total_s'] / 60:.0f} min")
    lines.append("  (a minute's throughput: on a shared machine allow a fifth more; the shipped "
                 "laptop run took 90.8 min where this said 75-81, RECIPE.md section 5)")
    lines.append("  (for one process: on two cores, two one-thread processes under torchrun train "
                 "faster, scripts/bench_processes.py; the laptop run took 80.0 min so, RECIPE.md "
                 "section 5)")
    return "\n".join(lines)
