"""Progressive shrinking with knowledge distillation, on CIFAR-10 from scratch: the loop.

Cai et al., "Once-for-All: Train One Network and Specialize it for Efficient
Deployment", ICLR 2020 (Section 3.3). The schedule (which phase samples what) is
:mod:`hwnas_lab.ofa.schedule`, one step (sampling, distillation, one backward) is
:mod:`hwnas_lab.ofa.shrink_step`; this module runs them, phase after phase, with a
checkpoint after every epoch. We train the largest network ourselves in phase 1 and freeze
a copy of it as the teacher of the later phases (or, with ``inplace_distillation``, let the
largest subnet of each step teach the others). ``evaluate_subnet`` measures one subnet
after BN recalibration.

The optimiser, its weight-decay split and the per-step cosine schedule are
``hwnas_lab.train``'s; each phase starts a fresh schedule at its own peak learning rate.
Under ``torchrun`` each process trains on its shard of every epoch through
``DistributedDataParallel`` (gloo on CPU, nccl on GPU) with an equal share of each step's
``batch_size`` images (so the recipe does not depend on the number of processes; batch norm
sees the process's share); rank 0 evaluates and writes the checkpoints of
:mod:`hwnas_lab.ofa.checkpoint`. On a CPU, two one-thread processes train faster than one
two-thread process (``scripts/bench_processes.py``; README, "Notebook 05 and the shipped
supernet").
"""

from __future__ import annotations

import hashlib
import os
import random
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.distributed as dist
from torch import nn
from tqdm.auto import tqdm

from ..arch import Arch
from ..config import torch_threads
from ..ema import WeightEMA
from ..data import CIFARSplits, TensorData, batches, load_cifar10, resize
from ..train import epoch_steps, evaluate, make_optimizer, make_scheduler
from .checkpoint import (FINAL, LAST, LOG, checkpoint, find_supernet, load_checkpoint, read_run,
                         run_dir, save_checkpoint, supernet_from_checkpoint, write_log)
from .schedule import ShrinkConfig, get_shrink_config
from .shrink_step import SubnetBatch, make_teacher, progressive_step
from .supernet import OFASupernet, recalibrate_bn


def recalibrated_subnet(net: OFASupernet, arch: Arch, train_data: TensorData,
                        recal_batches: int = 10, batch_size: int = 256, seed: int = 0,
                        device: str | torch.device = "cpu",
                        memory_format: torch.memory_format = torch.channels_last) -> nn.Module:
    """A static copy of ``arch`` whose BN statistics are re-estimated on ``recal_batches``
    shuffled batches of ``train_data`` (0: the supernet's running statistics as they are).
    The supernet's own statistics are untouched."""
    static = net.extract(arch).to(device=device, memory_format=memory_format)
    if recal_batches > 0:
        gen = torch.Generator().manual_seed(seed)
        recalibrate_bn(static, batches(train_data, batch_size, shuffle=True, resolution=arch.r,
                                       generator=gen, device=device,
                                       channels_last=memory_format == torch.channels_last),
                       recal_batches)
    return static


def evaluate_subnet(net: OFASupernet, arch: Arch, train_data: TensorData, eval_data: TensorData,
                    recal_batches: int = 10, batch_size: int = 256, seed: int = 0,
                    device: str | torch.device = "cpu") -> float:
    """Accuracy of ``arch`` on ``eval_data`` after BN recalibration on ``train_data``
    (``recalibrated_subnet``; ``recal_batches=0`` skips it)."""
    static = recalibrated_subnet(net, arch, train_data, recal_batches, batch_size, seed, device)
    return evaluate(static, eval_data, resolution=arch.r, device=device, channels_last=True)[1]


def derive_seed(*parts: int) -> int:
    """A 63-bit seed from integers (run seed, phase, epoch, rank ...), stable across runs."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


@dataclass
class _Dist:
    rank: int = 0
    world: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        return self.rank == 0


def _setup_distributed(device: str | None) -> _Dist:
    """Join the process group when started by torchrun (``WORLD_SIZE`` > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    want_cuda = torch.cuda.is_available() if device is None else device.startswith("cuda")
    if want_cuda and not torch.cuda.is_available():
        raise ValueError(f"--device {device} asks for a GPU, but torch.cuda.is_available() is "
                         "False on this machine; use --device cpu")
    if world <= 1:
        return _Dist(0, 1, torch.device(device or ("cuda" if want_cuda else "cpu")))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if want_cuda else "gloo")
    dev = torch.device(f"cuda:{local}") if want_cuda else torch.device("cpu")
    if want_cuda:
        torch.cuda.set_device(dev)
    return _Dist(dist.get_rank(), dist.get_world_size(), dev)


def train_supernet(config: ShrinkConfig, out: str | os.PathLike, resume: bool = False,
                   data: CIFARSplits | None = None, progress: bool = True,
                   device: str | None = None, log: Callable[[str], None] = print) -> dict:
    """Run (or resume) progressive shrinking in the folder ``out``; return the final
    checkpoint dict. ``data`` defaults to ``load_cifar10(config.preset)``."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder; give a folder for the run "
                         f"({LAST}, {LOG}, {FINAL}), e.g. --out {out.with_suffix('')}-run")
    ckpt = read_run(out, resume)
    if ckpt is not None:
        saved = ShrinkConfig.from_dict(ckpt["config"])
        if saved != config:
            raise ValueError(f"{out / LAST} was made with preset {saved.preset!r}, seed "
                             f"{saved.seed} and a different config; resume with --preset "
                             f"{saved.preset} --seed {saved.seed} (same settings)")
    if ckpt is not None and ckpt.get("done") and (out / FINAL).exists():
        log(f"{out} holds a finished run ({len(config.phases)} of {len(config.phases)} phases "
            f"trained, {out / FINAL} written): nothing to resume. Evaluate it with `python -m "
            f"hwnas_lab ofa eval {out}`, or give another --out folder for a new run")
        return load_checkpoint(out / FINAL)
    ctx = _setup_distributed(device)
    with torch_threads(config.threads):
        return _Run(config, out, ctx, progress, log).train(ckpt, data)


class _Run:
    """One run of progressive shrinking: the supernet, its teacher and the bookkeeping."""

    def __init__(self, config: ShrinkConfig, out: Path, ctx: _Dist, progress: bool,
                 log: Callable[[str], None]):
        self.config, self.out, self.ctx, self.progress, self.log = config, out, ctx, progress, log
        self.space = config.space
        self.memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
        torch.manual_seed(config.seed)
        self.net = OFASupernet(self.space, config.dropout)
        self.teacher: nn.Module | None = None
        self.ema: WeightEMA | None = None
        self.state = {"phase": 0, "epoch": 0, "history": [], "elapsed_s": 0.0, "done": False}

    def train(self, ckpt: dict | None, data: CIFARSplits | None) -> dict:
        config, ctx = self.config, self.ctx
        if config.batch_size % ctx.world:
            raise ValueError(f"batch size {config.batch_size} (images per step, all processes "
                             f"together) does not split evenly over {ctx.world} processes; start "
                             f"torchrun with a --nproc-per-node that divides it")
        if ckpt is not None:
            self._resume(ckpt)
        self.data = data if data is not None else self._load_data()
        self.net.to(device=ctx.device, memory_format=self.memory_format)
        if config.ema_decay > 0:
            self.ema = WeightEMA(self.net, config.ema_decay)
            if ckpt is not None and ckpt.get("ema") is not None:
                self.ema.load_state_dict(ckpt["ema"])
        if config.bf16 and ctx.device.type == "cpu" and ctx.main:
            self.log("note: bf16 autocast on a CPU trains 1.4-1.9x slower than float32 on the "
                     "AMD EPYCs measured (RECIPE.md section 2); it is meant for a GPU")
        self.model: nn.Module = SubnetBatch(self.net)
        if ctx.world > 1:
            self.model = nn.parallel.DistributedDataParallel(self.model, find_unused_parameters=True)
            # channels_last weights of shape (C, 1, k, k) or (C, C', 1, 1) get gradients whose
            # strides differ from theirs only along dimensions of length 1: the same memory
            # layout, which DDP's literal stride check reports once per process as a warning
            # that may "impair performance". It does not; say nothing.
            warnings.filterwarnings("ignore", message="Grad strides do not match bucket view")
        self.criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        if ckpt is not None and ckpt.get("teacher") is not None:
            self.teacher = make_teacher(self.net, ckpt["teacher"], ctx.device, self.memory_format)
        self.batch_size = config.batch_size // ctx.world  # images per step in this process
        self.n_train = len(self.data.train) - len(self.data.train) % ctx.world
        self.steps, self.drop_last = epoch_steps(self.n_train // ctx.world, self.batch_size)
        if ctx.main:
            self.out.mkdir(parents=True, exist_ok=True)
        self.start = time.perf_counter() - self.state["elapsed_s"]
        for p_idx in range(self.state["phase"], len(config.phases)):
            self._phase(p_idx, ckpt if p_idx == self.state["phase"] else None)
            ckpt = None
        return self._finish()

    @property
    def best(self) -> OFASupernet:
        """The weights evaluated, distilled from and saved: the EMA's when it is on."""
        return self.net if self.ema is None else self.ema.module

    def _resume(self, ckpt: dict) -> None:
        """Continue from ``ckpt`` (its config was checked against ours by train_supernet)."""
        self.net.load_state_dict(ckpt["model"])
        self.state.update({k: ckpt[k] for k in self.state})
        if self.ctx.main:
            n = len(self.config.phases)
            where = (f"all {n} phases trained; evaluating and writing {FINAL}" if self.state["done"]
                     else f"phase {self.state['phase'] + 1}/{n}, epoch {self.state['epoch']}")
            self.log(f"resuming {self.out}: {where}")

    def _load_data(self) -> CIFARSplits:
        ctx = self.ctx  # rank 0 first: it may decode and cache the images for the others
        if ctx.world > 1 and not ctx.main:
            dist.barrier()
        data = load_cifar10(self.config.preset, progress=self.progress and ctx.main)
        if ctx.world > 1 and ctx.main:
            dist.barrier()
        return data

    def _phase(self, p_idx: int, ckpt: dict | None) -> None:
        phase = self.config.phases[p_idx]
        first_epoch = self.state["epoch"] if ckpt is not None else 0
        if first_epoch == 0 and phase.reorder:  # mid-phase checkpoints are already reordered
            self.net.reorder_channels()
            if self.ema is not None:  # the average's channels are in the old order: restart
                self.ema.reset(self.net)
        if phase.kd > 0 and self.teacher is None and not self.config.inplace_distillation:
            self.teacher = make_teacher(self.best, None, self.ctx.device, self.memory_format)
        opt = make_optimizer(self.net, self.config, phase.lr)
        sched = make_scheduler(opt, self.steps * phase.epochs,
                               round(phase.warmup_epochs * self.steps))
        if ckpt is not None and first_epoch > 0:
            opt.load_state_dict(ckpt["optimizer"])
            sched.load_state_dict(ckpt["scheduler"])
        for epoch in range(first_epoch, phase.epochs):
            row = self._epoch(p_idx, epoch, opt, sched)
            done_phase = epoch + 1 == phase.epochs
            self.state.update(phase=p_idx + 1 if done_phase else p_idx,
                              epoch=0 if done_phase else epoch + 1,
                              elapsed_s=time.perf_counter() - self.start,
                              done=done_phase and p_idx + 1 == len(self.config.phases))
            if self.ctx.main:
                self.state["history"].append(row)
                save_checkpoint(checkpoint(
                    self.net, self.config, self.state, optimizer=opt.state_dict(),
                    scheduler=sched.state_dict(),
                    teacher=None if self.teacher is None else self.teacher.state_dict(),
                    ema=None if self.ema is None else self.ema.state_dict()),
                    self.out / LAST)
                write_log(self.out / LOG, self.state["history"])
            if self.ctx.world > 1:
                dist.barrier()

    def _epoch(self, p_idx: int, epoch: int, opt, sched) -> dict:
        """One epoch; every random source is seeded from (seed, phase, epoch[, rank])."""
        config, ctx, space = self.config, self.ctx, self.space
        phase = config.phases[p_idx]
        t0 = time.perf_counter()
        shared = derive_seed(config.seed, p_idx, epoch)
        order = torch.randperm(len(self.data.train), generator=torch.Generator().manual_seed(shared))
        shard = self.data.train[order[:self.n_train][ctx.rank::ctx.world]]
        torch.manual_seed(derive_seed(config.seed, p_idx, epoch, ctx.rank))
        aug_gen = torch.Generator().manual_seed(derive_seed(config.seed, p_idx, epoch, ctx.rank, 1))
        pick = random.Random(shared)  # the same resolutions and subnets on every rank
        resolutions = phase.resolutions(space, epoch)
        self.model.train()
        loss_sum = torch.zeros((), device=ctx.device)
        seen = 0
        bar = tqdm(batches(shard, self.batch_size, shuffle=True, augment=True, generator=aug_gen,
                           drop_last=self.drop_last, device=ctx.device,
                           channels_last=config.channels_last, pad=config.crop_padding),
                   total=self.steps, leave=False, disable=not (self.progress and ctx.main),
                   desc=f"{phase.name} {epoch + 1}/{phase.epochs}", mininterval=0.5)
        for X, y in bar:
            r = pick.choice(resolutions)  # elastic resolution: one per batch (or the epoch's)
            X = resize(X, r).contiguous(memory_format=self.memory_format)
            lr = opt.param_groups[0]["lr"]
            loss = progressive_step(self.net, self.teacher, opt, X, y, phase, pick, self.criterion,
                                    config.kd_temperature, model=self.model,
                                    inplace=config.inplace_distillation,
                                    autocast_dtype=config.autocast_dtype)
            sched.step()
            if self.ema is not None:
                self.ema.update(self.net)
            loss_sum += loss * len(y) / phase.subnets_per_step
            seen += len(y)
        row = {"phase": phase.name, "phase_index": p_idx, "epoch": epoch + 1, "lr": lr,
               "train_loss": loss_sum.item() / max(1, seen), "train_s": time.perf_counter() - t0,
               "images_per_s": seen * ctx.world / (time.perf_counter() - t0)}
        if ctx.main:
            acc = ""
            if epoch + 1 == phase.epochs or (epoch + 1) % config.eval_every == 0:
                row.update({f"val_acc_{tag}": a for tag, a in self._accuracies(self.data.val).items()})
                if self.ema is not None:  # the raw weights too: what the average adds
                    row.update({f"val_acc_{tag}_raw": a for tag, a
                                in self._accuracies(self.data.val, self.net).items()})
                acc = (f"val acc largest {row['val_acc_largest']:.3f} smallest "
                       f"{row['val_acc_smallest']:.3f}  ")
            row["epoch_s"] = time.perf_counter() - t0
            self.log(f"[{phase.name} {epoch + 1}/{phase.epochs}] loss {row['train_loss']:.3f}  "
                     f"{acc}{row['images_per_s']:.0f} img/s  {row['epoch_s']:.0f} s")
        return row

    def _accuracies(self, split: TensorData, net: OFASupernet | None = None) -> dict[str, float]:
        """Largest and smallest subnets of ``net`` (default ``self.best``) on ``split``, each
        after BN recalibration. On a CPU under torchrun, rank 0 evaluates alone while the
        others wait at a barrier, so it borrows their threads."""
        space, net, ctx = self.space, self.best if net is None else net, self.ctx
        threads = torch.get_num_threads() * ctx.world if ctx.device.type == "cpu" else None
        with torch_threads(threads):
            return {tag: evaluate_subnet(net, arch, self.data.train, split,
                                         self.config.recal_batches, seed=self.config.seed,
                                         device=ctx.device)
                    for tag, arch in (("largest", space.largest()), ("smallest", space.smallest()))}

    def _finish(self) -> dict:
        final = checkpoint(self.best, self.config, self.state)
        if self.ctx.main:
            final.update({f"test_acc_{tag}": acc
                          for tag, acc in self._accuracies(self.data.test).items()})
            save_checkpoint(final, self.out / FINAL)
            self.log(f"done in {self.state['elapsed_s'] / 60:.1f} min: test acc largest "
                     f"{final['test_acc_largest']:.3f}, smallest {final['test_acc_smallest']:.3f}; "
                     f"wrote {self.out / FINAL}")
        if self.ctx.world > 1:
            dist.barrier()
        return final


def get_supernet(preset: str, data: CIFARSplits | None = None, train: bool = True,
                 progress: bool = True, log: Callable[[str], None] = print
                 ) -> tuple[OFASupernet, dict, str]:
    """``(net, checkpoint, source)``: the learner's supernet, a shipped one, or a new run.

    A new run trains ``get_shrink_config(preset)`` in ``run_dir(preset)`` and resumes an
    interrupted one found there; it then replaces any shipped checkpoint for this learner.
    """
    path, source = find_supernet(preset)
    if path is None:
        if not train:
            raise FileNotFoundError(f"no trained supernet for preset {preset!r}: run "
                                    f"`python -m hwnas_lab ofa train --preset {preset} --out "
                                    f"{run_dir(preset)}`")
        out = run_dir(preset)
        train_supernet(get_shrink_config(preset), out, resume=(out / LAST).exists(), data=data,
                       progress=progress, log=log)
        path, source = out / FINAL, "trained now"
    ckpt = load_checkpoint(path)
    return supernet_from_checkpoint(ckpt, where=f"checkpoint {path}"), ckpt, source
