"""Progressive shrinking with knowledge distillation, on CIFAR-10 from scratch.

Cai et al., "Once-for-All: Train One Network and Specialize it for Efficient
Deployment", ICLR 2020, Section 3.3 and Fig. 3: train the largest network first, then
let the supernet shrink one dimension at a time, each phase sampling random subnets
from a growing set while the largest network teaches them (Hinton et al., "Distilling
the Knowledge in a Neural Network", 2015):

    largest  ->  elastic kernel  ->  elastic depth (2 steps)  ->  elastic expand (2 steps)

with elastic resolution throughout. OFA starts from a downloaded ImageNet teacher; we
train the largest network ourselves in phase 1 and freeze a copy of it as the teacher.
Phases, epochs and learning rates are ``Phase`` rows of a ``ShrinkConfig`` per preset
(``SHRINK_PRESETS``).

A run writes, in its folder: ``last.pt`` (everything needed to resume: phase, epoch,
weights, optimiser, scheduler, random states, teacher, log; written atomically after
every epoch), ``log.jsonl`` (one line per epoch) and, when finished, ``supernet.pt``
(weights and metadata only; what notebooks load). Under ``torchrun`` each process
trains on its shard of every epoch through ``DistributedDataParallel`` (gloo on CPU,
nccl on GPU); rank 0 evaluates and writes.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from ..config import atomic_path, get_preset
from ..space import Arch, SearchSpace, get_space
from .supernet import OFASupernet, recalibrate_bn

CKPT_FORMAT = "hwnas_lab.ofa/1"  # bump when the checkpoint layout changes
LAST, FINAL, LOG = "last.pt", "supernet.pt", "log.jsonl"


# ----------------------------------------------------------------------------- config

@dataclass(frozen=True)
class Phase:
    """One phase of progressive shrinking: which choices are elastic, for how long."""

    name: str  # shown in logs and plots
    epochs: int  # passes over the training split
    lr: float  # peak learning rate; cosine decay to 0 within the phase
    ks: tuple[int, ...] | None = None  # kernel sizes sampled (None: all of the space's)
    e: tuple[int, ...] | None = None  # expand ratios sampled (None: all)
    d: tuple[int, ...] | None = None  # stage depths sampled (None: all)
    n_subnets: int = 1  # random subnets per step; their losses add up (OFA: 1, 2, 4)
    kd: float = 1.0  # weight of the distillation loss (0: no teacher, phase 1)
    reorder: bool = False  # sort hidden channels by importance before the phase
    warmup_epochs: float = 0.0  # linear learning-rate warm-up at the start of the phase

    def choices(self) -> dict:
        return {"ks": self.ks, "e": self.e, "d": self.d}


def progressive_phases(space: SearchSpace, epochs: tuple[int, int, int, int, int, int],
                       lrs: tuple[float, ...], n_subnets: tuple[int, ...] = (1, 1, 2, 2, 4, 4),
                       warmup_epochs: float = 0.0) -> tuple[Phase, ...]:
    """OFA's six phases over ``space``: largest, kernel, depth x2, expand x2.

    Depth and expand grow by one choice at a time from the largest (e.g. d {4} -> {3, 4} ->
    {2, 3, 4}); kernel opens all sizes at once, as in OFA.
    """
    ks, e, d = space.ks_choices, space.e_choices, space.d_choices
    big = lambda c: (c[-1],)  # noqa: E731
    names = ("largest", "kernel", "depth-1", "depth-2", "expand-1", "expand-2")
    sets = [(big(ks), big(e), big(d)), (ks, big(e), big(d)), (ks, big(e), d[-2:]),
            (ks, big(e), d), (ks, e[-2:], d), (ks, e, d)]
    return tuple(Phase(name, n, lr, k, x, dd, n_sub, kd=0.0 if i == 0 else 1.0,
                       reorder=name == "expand-1", warmup_epochs=warmup_epochs if i == 0 else 0.0)
                 for i, (name, n, lr, n_sub, (k, x, dd))
                 in enumerate(zip(names, epochs, lrs, n_subnets, sets)))


@dataclass(frozen=True)
class ShrinkConfig:
    """A whole progressive-shrinking run (the ``phases`` and what they share)."""

    preset: str  # data/space preset of hwnas_lab.config.PRESETS
    phases: tuple[Phase, ...]  # run in order
    batch_size: int = 128  # images per step and per process
    momentum: float = 0.9  # SGD Nesterov momentum
    weight_decay: float = 5e-4  # on conv/linear weights (not BN, not kernel transforms)
    label_smoothing: float = 0.1  # on the hard-label cross-entropy
    kd_temperature: float = 1.0  # softmax temperature of the distillation loss (OFA: 1)
    dropout: float = 0.0  # before the classifier
    recal_batches: int = 10  # training batches for BN recalibration before each evaluation
    channels_last: bool = True  # NHWC activations (faster on x86 CPUs)
    threads: int | None = None  # intra-op CPU threads per process (None: torch's default)
    seed: int = 0  # initialisation, shuffling, augmentation, subnet and resolution sampling

    @property
    def space(self) -> SearchSpace:
        return get_space(get_preset(self.preset).space)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ShrinkConfig":
        data = dict(data)
        phases = tuple(Phase(**{k: tuple(v) if isinstance(v, list) else v for k, v in p.items()})
                       for p in data.pop("phases"))
        return cls(phases=phases, **data)


def _laptop() -> ShrinkConfig:
    space = get_space(get_preset("laptop").space)
    # 38 epochs sized for <= 90 min on 2 CPU cores at ~350 img/s for the largest subnet
    # (about 45 largest-network epochs of compute; `python -m hwnas_lab ofa bench` prints
    # the estimate for your machine); 2 subnets per step in the depth and expand phases
    return ShrinkConfig("laptop", progressive_phases(
        space, epochs=(20, 5, 2, 4, 2, 5), lrs=(0.1, 0.03, 0.02, 0.03, 0.02, 0.03),
        n_subnets=(1, 1, 2, 2, 2, 2), warmup_epochs=1.0), batch_size=128)


def _gpu() -> ShrinkConfig:
    space = get_space(get_preset("gpu").space)
    # OFA's ImageNet ratios (180 / 120 / 25 + 120 / 25 + 120) scaled down for CIFAR-10
    return ShrinkConfig("gpu", progressive_phases(
        space, epochs=(100, 40, 10, 40, 10, 40), lrs=(0.2, 0.06, 0.02, 0.05, 0.02, 0.05),
        warmup_epochs=3.0), batch_size=256, recal_batches=20)


def _smoke() -> ShrinkConfig:
    space = get_space(get_preset("smoke").space)
    # one epoch per phase on 200 images: every code path in seconds
    return ShrinkConfig("smoke", progressive_phases(
        space, epochs=(1, 1, 1, 1, 1, 1), lrs=(0.05,) * 6, n_subnets=(1, 1, 2, 2, 2, 2)),
        batch_size=64, recal_batches=2,
        threads=1)  # tiny batches: a second thread only adds synchronisation (8x slower on a busy CPU)


SHRINK_PRESETS: dict[str, Callable[[], ShrinkConfig]] = {
    "smoke": _smoke, "laptop": _laptop, "gpu": _gpu}


def get_shrink_config(preset: str) -> ShrinkConfig:
    try:
        return SHRINK_PRESETS[preset]()
    except KeyError:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(SHRINK_PRESETS)}") from None


# ----------------------------------------------------------------------------- losses

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
                criterion: nn.Module, temperature: float = 1.0) -> torch.Tensor:
    """One optimiser step of progressive shrinking; returns the (detached) summed loss.

    Each subnet in ``archs`` (all at the batch's resolution) adds
    ``CE(s, y) + kd * distillation_loss(s, teacher)``; one backward through all of them.
    """
    soft = None
    if phase.kd > 0:
        if teacher is None:
            raise ValueError(f"phase {phase.name!r} distils (kd={phase.kd}) but has no teacher")
        with torch.no_grad():
            soft = teacher(X)
    outs = model(X, archs)
    loss = sum(criterion(o, y) + (phase.kd * distillation_loss(o, soft, temperature)
                                  if soft is not None else 0.0) for o in outs)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.detach()


# ----------------------------------------------------------------------------- checkpoints

def _atomic_save(obj: object, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint written by ``train_supernet`` (``last.pt`` or ``supernet.pt``)."""
    path = Path(path)
    if path.is_dir():
        for name in (FINAL, LAST):
            if (path / name).exists():
                path = path / name
                break
    if not path.is_file():
        raise FileNotFoundError(f"no OFA checkpoint at {path}: give a {FINAL} or {LAST} file "
                                "(or the --out folder of `python -m hwnas_lab ofa train`)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, not a torch file, foreign pickle
        raise ValueError(f"{path} is not a readable OFA checkpoint (corrupt or truncated? "
                         f"{type(err).__name__}: {str(err)[:200]}); retrain or resume from "
                         "another copy") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CKPT_FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(f"{path} is not an OFA checkpoint of format {CKPT_FORMAT!r} "
                         f"(found {found!r})")
    return ckpt


def load_supernet(path: str | os.PathLike, space: SearchSpace | str | None = None) -> OFASupernet:
    """The supernet saved at ``path``, in eval mode; ``space`` (optional) must match it."""
    ckpt = load_checkpoint(path)
    saved = SearchSpace.from_dict(ckpt["space"])
    if space is not None and get_space(space) != saved:
        raise ValueError(f"checkpoint {path} holds a supernet of space {saved.name!r} "
                         f"({saved.describe()}), not of {get_space(space).name!r}")
    net = OFASupernet(saved, ckpt["config"].get("dropout", 0.0))
    try:
        net.load_state_dict(ckpt["model"])
    except RuntimeError as err:
        raise ValueError(f"checkpoint {path} does not fit the supernet of its space: "
                         f"{str(err)[:300]}") from None
    return net.eval()


def _rng_state() -> dict:
    np_state = np.random.get_state()
    return {"python": list(random.getstate()[1]), "python_version": random.getstate()[0],
            "python_gauss": random.getstate()[2], "numpy": torch.from_numpy(np_state[1].copy()),
            "numpy_pos": int(np_state[2]), "torch": torch.get_rng_state()}


def _set_rng_state(state: dict) -> None:
    random.setstate((state["python_version"], tuple(state["python"]), state["python_gauss"]))
    np.random.set_state(("MT19937", state["numpy"].numpy(), state["numpy_pos"], 0, 0.0))
    torch.set_rng_state(state["torch"])


def _derive_seed(*parts: int) -> int:
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


# ----------------------------------------------------------------------------- training

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
    if world <= 1:
        return _Dist(0, 1, torch.device("cuda" if want_cuda else "cpu") if device is None
                     else torch.device(device))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if want_cuda else "gloo")
    dev = torch.device(f"cuda:{local}") if want_cuda else torch.device("cpu")
    if want_cuda:
        torch.cuda.set_device(dev)
    return _Dist(dist.get_rank(), dist.get_world_size(), dev)


def _lr_lambda(steps: int, warmup: int) -> Callable[[int], float]:
    from ..train import cosine_lr

    return lambda step: cosine_lr(step, steps, 1.0, warmup)


def _make_optimizer(net: nn.Module, config: ShrinkConfig, phase: Phase,
                    steps: int) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    decay, no_decay = [], []
    for name, p in net.named_parameters():
        (no_decay if p.dim() <= 1 or "transform_" in name else decay).append(p)
    opt = torch.optim.SGD([{"params": decay, "weight_decay": config.weight_decay},
                           {"params": no_decay, "weight_decay": 0.0}],
                          lr=phase.lr, momentum=config.momentum, nesterov=True)
    warmup = round(phase.warmup_epochs * steps / max(1, phase.epochs))
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(steps, warmup))


def evaluate_subnet(net: OFASupernet, arch: Arch, train_data, eval_data, recal_batches: int = 10,
                    batch_size: int = 256, seed: int = 0,
                    device: str | torch.device = "cpu") -> float:
    """Accuracy of ``arch`` on ``eval_data`` after BN recalibration on ``train_data``.

    Works on an extracted static copy, so the supernet's own statistics are untouched.
    ``recal_batches=0`` skips recalibration (the supernet's running statistics as they are).
    """
    from ..data import batches
    from ..train import evaluate

    static = net.extract(arch).to(device=device, memory_format=torch.channels_last)
    if recal_batches > 0:
        gen = torch.Generator().manual_seed(seed)
        recalibrate_bn(static, batches(train_data, batch_size, shuffle=True, resolution=arch.r,
                                       generator=gen, device=device, channels_last=True),
                       recal_batches)
    return evaluate(static, eval_data, resolution=arch.r, device=device, channels_last=True)[1]


def train_supernet(config: ShrinkConfig, out: str | os.PathLike, resume: bool = False,
                   data=None, progress: bool = True, device: str | None = None,
                   log: Callable[[str], None] = print) -> dict:
    """Run (or resume) progressive shrinking; return the final checkpoint dict.

    ``data``: a ``hwnas_lab.data.CIFARSplits`` (default: ``load_cifar10(config.preset)``).
    """
    out = Path(out)
    last = out / LAST
    ctx = _setup_distributed(device)
    if resume and not last.exists():
        raise FileNotFoundError(f"--resume: nothing to resume in {out} (no {LAST}); "
                                "run without --resume to start a new run there")
    if not resume and last.exists():
        raise ValueError(f"{out} already holds a run ({LAST}); add --resume to continue it "
                         "or choose another --out folder")
    space = config.space
    threads = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    try:
        return _train(config, out, resume, data, progress, log, ctx, last, space)
    finally:
        torch.set_num_threads(threads)


def _train(config: ShrinkConfig, out: Path, resume: bool, data, progress: bool,
           log: Callable[[str], None], ctx: _Dist, last: Path, space: SearchSpace) -> dict:
    from tqdm.auto import tqdm

    from ..data import batches, load_cifar10

    torch.manual_seed(config.seed)
    net = OFASupernet(space, config.dropout)
    state = {"phase": 0, "epoch": 0, "history": [], "elapsed_s": 0.0, "done": False}
    ckpt = None
    if resume:
        ckpt = load_checkpoint(last)
        saved = ShrinkConfig.from_dict(ckpt["config"])
        if saved != config:
            raise ValueError(f"{last} was made with preset {saved.preset!r} and a different "
                             f"config; resume with --preset {saved.preset} (same settings)")
        net.load_state_dict(ckpt["model"])
        state.update({k: ckpt[k] for k in state})
        if ctx.main:
            log(f"resuming {out}: phase {state['phase'] + 1}/{len(config.phases)}, "
                f"epoch {state['epoch']}")
    if data is None:  # rank 0 first: it may decode and cache the images for the others
        if ctx.world > 1 and not ctx.main:
            dist.barrier()
        data = load_cifar10(config.preset, progress=progress and ctx.main)
        if ctx.world > 1 and ctx.main:
            dist.barrier()
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    net.to(device=ctx.device, memory_format=memory_format)
    model: nn.Module = SubnetBatch(net)
    if ctx.world > 1:
        model = nn.parallel.DistributedDataParallel(model, find_unused_parameters=True)
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    teacher = None
    if ckpt is not None and ckpt.get("teacher") is not None:
        teacher = _make_teacher(net, ckpt["teacher"], ctx.device, memory_format)
    n_train = len(data.train) - len(data.train) % ctx.world
    per_rank = n_train // ctx.world
    steps_per_epoch = max(1, per_rank // config.batch_size)
    drop_last = per_rank >= config.batch_size
    if ctx.main:
        out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter() - state["elapsed_s"]
    for p_idx in range(state["phase"], len(config.phases)):
        phase = config.phases[p_idx]
        first_epoch = state["epoch"] if p_idx == state["phase"] else 0
        if first_epoch == 0 and phase.reorder:  # mid-phase checkpoints are already reordered
            net.reorder_channels()
        if phase.kd > 0 and teacher is None:
            teacher = _make_teacher(net, None, ctx.device, memory_format)
        opt, sched = _make_optimizer(net, config, phase, steps_per_epoch * phase.epochs)
        if ckpt is not None and p_idx == state["phase"] and first_epoch > 0:
            opt.load_state_dict(ckpt["optimizer"])
            sched.load_state_dict(ckpt["scheduler"])
            _set_rng_state(ckpt["rng"])
        ckpt = None
        for epoch in range(first_epoch, phase.epochs):
            t0 = time.perf_counter()
            shared = _derive_seed(config.seed, p_idx, epoch)
            order = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(shared))
            shard = data.train[order[:n_train][ctx.rank::ctx.world]]
            torch.manual_seed(_derive_seed(config.seed, p_idx, epoch, ctx.rank))
            aug_gen = torch.Generator().manual_seed(_derive_seed(config.seed, p_idx, epoch, ctx.rank, 1))
            pick = random.Random(shared)  # same subnets and resolutions on every rank
            res = {"r": 32}

            def draw_resolution() -> int:
                res["r"] = pick.choice(space.r_choices)
                return res["r"]

            model.train()
            loss_sum = torch.zeros((), device=ctx.device)
            seen = 0
            bar = tqdm(batches(shard, config.batch_size, shuffle=True, augment=True,
                               resolution=draw_resolution, generator=aug_gen, drop_last=drop_last,
                               device=ctx.device, channels_last=config.channels_last),
                       total=steps_per_epoch, leave=False, disable=not (progress and ctx.main),
                       desc=f"{phase.name} {epoch + 1}/{phase.epochs}", mininterval=0.5)
            for X, y in bar:
                archs = [space.sample(pick, r=(res["r"],), **phase.choices())
                         for _ in range(phase.n_subnets)]
                loss = shrink_step(model, teacher, opt, X, y, archs, phase, criterion,
                                   config.kd_temperature)
                sched.step()
                loss_sum += loss * len(y) / len(archs)
                seen += len(y)
            row = {"phase": phase.name, "phase_index": p_idx, "epoch": epoch + 1,
                   "lr": opt.param_groups[0]["lr"], "train_loss": loss_sum.item() / max(1, seen),
                   "train_s": time.perf_counter() - t0,
                   "images_per_s": seen * ctx.world / (time.perf_counter() - t0)}
            if ctx.main:
                for tag, arch in (("largest", space.largest()), ("smallest", space.smallest())):
                    row[f"val_acc_{tag}"] = evaluate_subnet(
                        net, arch, data.train, data.val, config.recal_batches,
                        seed=config.seed, device=ctx.device)
                row["epoch_s"] = time.perf_counter() - t0
                state["history"].append(row)
                log(f"[{phase.name} {epoch + 1}/{phase.epochs}] loss {row['train_loss']:.3f}  "
                    f"val acc largest {row['val_acc_largest']:.3f} smallest "
                    f"{row['val_acc_smallest']:.3f}  {row['images_per_s']:.0f} img/s  "
                    f"{row['epoch_s']:.0f} s")
            done_phase = epoch + 1 == phase.epochs
            state.update(phase=p_idx + 1 if done_phase else p_idx, epoch=0 if done_phase else epoch + 1,
                         elapsed_s=time.perf_counter() - start,
                         done=done_phase and p_idx + 1 == len(config.phases))
            if ctx.main:
                _atomic_save({"format": CKPT_FORMAT, "space": space.to_dict(),
                              "config": config.to_dict(), **state,
                              "model": net.state_dict(), "optimizer": opt.state_dict(),
                              "scheduler": sched.state_dict(), "rng": _rng_state(),
                              "teacher": None if teacher is None else teacher.state_dict()},
                             last)
                _write_log(out / LOG, state["history"])
            if ctx.world > 1:
                dist.barrier()
    final = {"format": CKPT_FORMAT, "space": space.to_dict(), "config": config.to_dict(),
             **state, "model": net.state_dict()}
    if ctx.main:
        final.update(_final_accuracies(net, data, config, ctx.device))
        _atomic_save(final, out / FINAL)
        log(f"done in {state['elapsed_s'] / 60:.1f} min: test acc largest "
            f"{final['test_acc_largest']:.3f}, smallest {final['test_acc_smallest']:.3f}; "
            f"wrote {out / FINAL}")
    if ctx.world > 1:
        dist.barrier()
    return final


def _make_teacher(net: OFASupernet, state: dict | None, device, memory_format) -> nn.Module:
    teacher = net.extract(net.space.largest())
    if state is not None:
        teacher.load_state_dict(state)
    teacher.to(device=device, memory_format=memory_format).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def _final_accuracies(net: OFASupernet, data, config: ShrinkConfig, device) -> dict:
    space = net.space
    return {f"test_acc_{tag}": evaluate_subnet(net, arch, data.train, data.test,
                                               config.recal_batches, seed=config.seed,
                                               device=device)
            for tag, arch in (("largest", space.largest()), ("smallest", space.smallest()))}


def _write_log(path: Path, history: list[dict]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(row) + "\n" for row in history))


# ----------------------------------------------------------------------------- for notebooks

SHIPPED_DIR = Path(__file__).resolve().parent / "weights"  # shipped supernets: <preset>.pt


def run_dir(preset: str) -> Path:
    """Where notebooks train (and look for) the learner's own supernet of ``preset``."""
    from ..config import cache_dir

    return cache_dir(f"ofa/{preset}")


def find_supernet(preset: str) -> tuple[Path | None, str]:
    """The checkpoint a notebook should use: the learner's own, else a shipped one.

    Returns ``(path, source)`` with source ``"own"`` or ``"shipped"``, or ``(None, "none")``.
    """
    own = run_dir(preset) / FINAL
    if own.exists():
        return own, "own"
    shipped = SHIPPED_DIR / f"{preset}.pt"
    if shipped.exists():
        return shipped, "shipped"
    return None, "none"


def get_supernet(preset: str, data=None, train: bool = True, progress: bool = True,
                 log: Callable[[str], None] = print) -> tuple[OFASupernet, dict, str]:
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
    return load_supernet(path), load_checkpoint(path), source
