"""A small training loop: SGD (Nesterov) or AdamW, cosine learning rate, label smoothing.

One training stack for the course: ``OptimConfig`` (what every run shares), the
optimiser with its weight-decay split, ``cosine_lr`` as a per-step scheduler and the
epoch bookkeeping are used by ``train`` here and by OFA's progressive shrinking
(``hwnas_lab.ofa.shrink``).

The recipe is the standard one for small CIFAR-10 networks: SGD with Nesterov momentum
(Sutskever et al., ICML 2013), a cosine learning-rate schedule with optional linear
warm-up (Loshchilov & Hutter, "SGDR", ICLR 2017), label smoothing (Szegedy et al.,
"Rethinking the Inception Architecture", CVPR 2016), weight decay on conv/linear weights
only, and crop+flip augmentation from ``hwnas_lab.data.batches``.

``train`` returns a ``History`` (one entry per epoch); ``evaluate`` returns
``(loss, accuracy)`` in eval mode. ``seed_everything`` seeds python, numpy and torch.

Speed on a CPU (scripts/bench_foundation.py): channels_last activations train the CPU
space's subnets 1.5-3x faster than NCHW. On a machine busier than its core count, start
Python with ``OMP_WAIT_POLICY=PASSIVE``: spinning OpenMP threads otherwise slow every
multi-threaded op down several-fold.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .config import atomic_path, check_int
from .data import TensorData, batches


def seed_everything(seed: int) -> torch.Generator:
    """Seed python's, numpy's and torch's global RNGs; return a torch Generator seeded alike."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)


@dataclass(frozen=True, kw_only=True)
class OptimConfig:
    """What every training run of the course shares (``TrainConfig`` and OFA's
    ``ShrinkConfig`` extend it); defaults suit a small MBConv net on CIFAR-10."""

    batch_size: int = 128  # images per step (OFA under torchrun: all processes together)
    optimizer: str = "sgd"  # "sgd" (Nesterov momentum) or "adamw"
    momentum: float = 0.9  # SGD momentum (AdamW: beta1)
    weight_decay: float = 5e-4  # L2 on conv/linear weights; BN, biases and no_weight_decay() excluded
    label_smoothing: float = 0.1  # share of the target spread uniformly over the classes
    channels_last: bool = True  # NHWC activations: faster convolutions on x86 CPUs (measured)
    crop_padding: int = 4  # zero padding of the random-crop augmentation, pixels (0: flip only)
    seed: int = 0  # seeds shuffling, augmentation and (with seed_everything) initialisation

    def __post_init__(self) -> None:
        if self.optimizer not in ("sgd", "adamw"):
            raise ValueError(f"{type(self).__name__}.optimizer must be 'sgd' or 'adamw', "
                             f"got {self.optimizer!r}")
        check_int(f"{type(self).__name__}.batch_size", self.batch_size)
        check_int(f"{type(self).__name__}.crop_padding", self.crop_padding, minimum=0)
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"{type(self).__name__}.label_smoothing must be in [0, 1), "
                             f"got {self.label_smoothing!r}")
        if not self.weight_decay >= 0:
            raise ValueError(f"{type(self).__name__}.weight_decay must be >= 0, "
                             f"got {self.weight_decay!r}")


@dataclass(frozen=True, kw_only=True)
class TrainConfig(OptimConfig):
    """Hyper-parameters of ``train``: one network, one cosine schedule."""

    epochs: int = 10  # passes over the training set
    lr: float = 0.1  # peak learning rate (after warm-up); for AdamW try 2e-3
    warmup_epochs: float = 0.0  # linear warm-up from 0 to lr over this many epochs
    min_lr: float = 0.0  # learning rate at the end of the cosine
    resolution: int = 32  # input size in pixels (CIFAR-10 images resized when not 32)
    augment: bool = True  # random crop (crop_padding) + horizontal flip

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("TrainConfig.epochs", self.epochs)
        check_int("TrainConfig.resolution", self.resolution)
        if not self.lr > 0:
            raise ValueError(f"TrainConfig.lr must be > 0, got {self.lr!r}")


@dataclass
class History:
    """Per-epoch record of a run (val_* are NaN when no validation set was given)."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)  # learning rate at the epoch's last step
    seconds: list[float] = field(default_factory=list)  # epoch wall time, validation included
    resumed_at: list[int] = field(default_factory=list)  # epochs done at each resume from a checkpoint

    def as_dict(self) -> dict[str, list[float]]:
        return asdict(self)

    def __len__(self) -> int:
        return len(self.train_loss)


def cosine_lr(step: int, total_steps: int, base_lr: float, warmup_steps: int = 0,
              min_lr: float = 0.0) -> float:
    """Learning rate at ``step`` (0-based): linear warm-up, then cosine from base_lr to min_lr.

    Warm-up: ``base_lr * (step + 1) / warmup_steps``; after it, with
    ``t = (step - warmup) / (total - warmup)``:
    ``min_lr + (base_lr - min_lr) * (1 + cos(pi t)) / 2``.
    """
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    t = min(1.0, (step - warmup_steps) / span)
    return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * t))


def epoch_steps(n_images: int, batch_size: int) -> tuple[int, bool]:
    """``(steps per epoch, drop_last)``: the last partial batch is dropped, unless the set is
    smaller than one batch (then it is the only step)."""
    return max(1, n_images // batch_size), n_images >= batch_size


def make_optimizer(net: nn.Module, config: OptimConfig, lr: float) -> torch.optim.Optimizer:
    """SGD-Nesterov or AdamW at ``lr``; weight decay on weights with more than one dimension,
    except those a submodule lists in its ``no_weight_decay()`` (names local to it)."""
    excluded = {id(getattr(module, name)) for module in net.modules()
                if hasattr(module, "no_weight_decay") for name in module.no_weight_decay()}
    params = [p for p in net.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() > 1 and id(p) not in excluded]
    no_decay = [p for p in params if p.dim() <= 1 or id(p) in excluded]
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=config.momentum, nesterov=True)
    return torch.optim.AdamW(groups, lr=lr, betas=(config.momentum, 0.999))


def make_scheduler(optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int = 0,
                   min_lr: float = 0.0) -> torch.optim.lr_scheduler.LambdaLR:
    """``cosine_lr`` per step, relative to the optimiser's learning rate (``scheduler.step()``
    after every optimiser step); ``min_lr`` is absolute, like the peak."""
    base = optimizer.param_groups[0]["lr"]
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: cosine_lr(step, total_steps, 1.0, warmup_steps, min_lr / base))


@torch.inference_mode()
def evaluate(net: nn.Module, data: TensorData, batch_size: int = 512,
             resolution: int = 32, device: str | torch.device = "cpu",
             channels_last: bool = False) -> tuple[float, float]:
    """Mean cross-entropy and accuracy (0..1) of ``net`` on ``data``, in eval mode.

    The net's train/eval mode is restored afterwards.
    """
    was_training = net.training
    net.eval()
    loss_sum, correct = 0.0, 0
    try:
        for X, y in batches(data, batch_size, shuffle=False, resolution=resolution,
                            device=device, channels_last=channels_last):
            logits = net(X)
            loss_sum += nn.functional.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
    finally:
        net.train(was_training)
    return loss_sum / len(data), correct / len(data)


def train(net: nn.Module, train_data: TensorData, val_data: TensorData | None = None,
          config: TrainConfig | None = None, progress: bool = True,
          device: str | torch.device = "cpu", checkpoint: str | Path | None = None) -> History:
    """Train ``net`` in place on ``train_data``; evaluate on ``val_data`` after every epoch.

    ``config`` defaults to ``TrainConfig()``; the learning rate follows ``cosine_lr`` per
    step; steps drop the last partial batch (``epoch_steps``).
    ``checkpoint``: a file written atomically after every epoch (weights, optimiser, schedule,
    random-number states, history). If it exists, training resumes after its last epoch and
    continues as the uninterrupted run would have (same config required); an interruption
    loses at most the epoch in progress. The caller deletes it when done with it.
    """
    config = TrainConfig() if config is None else config
    device = torch.device(device)
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    net.to(device=device, memory_format=memory_format)
    optimizer = make_optimizer(net, config, config.lr)
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    generator = torch.Generator().manual_seed(config.seed)
    steps_per_epoch, drop_last = epoch_steps(len(train_data), config.batch_size)
    scheduler = make_scheduler(optimizer, steps_per_epoch * config.epochs,
                               round(config.warmup_epochs * steps_per_epoch), config.min_lr)
    history = History()
    first_epoch = 0
    if checkpoint is not None and Path(checkpoint).exists():
        first_epoch = _resume(checkpoint, config, net, optimizer, scheduler, generator, history)
    epochs = tqdm(range(first_epoch, config.epochs), desc="train", unit="epoch",
                  disable=not progress, initial=first_epoch, total=config.epochs)
    for epoch in epochs:
        start = time.perf_counter()
        net.train()
        loss_sum = torch.zeros((), device=device)  # summed on device: no sync per step
        correct = torch.zeros((), dtype=torch.int64, device=device)
        seen = 0
        bar = tqdm(batches(train_data, config.batch_size, shuffle=True, augment=config.augment,
                           resolution=config.resolution, generator=generator,
                           drop_last=drop_last, device=device,
                           channels_last=config.channels_last, pad=config.crop_padding),
                   total=steps_per_epoch, desc=f"epoch {epoch + 1}", leave=False,
                   disable=not progress, mininterval=0.5)
        for X, y in bar:
            lr = optimizer.param_groups[0]["lr"]
            logits = net(X)
            loss = criterion(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_sum += loss.detach() * len(y)
            correct += (logits.detach().argmax(1) == y).sum()
            seen += len(y)
        history.train_loss.append(loss_sum.item() / seen)
        history.train_acc.append(correct.item() / seen)
        history.lr.append(lr)
        if val_data is not None:
            vloss, vacc = evaluate(net, val_data, resolution=config.resolution, device=device,
                                   channels_last=config.channels_last)
        else:
            vloss, vacc = float("nan"), float("nan")
        history.val_loss.append(vloss)
        history.val_acc.append(vacc)
        history.seconds.append(time.perf_counter() - start)
        epochs.set_postfix(loss=f"{history.train_loss[-1]:.3f}",
                           acc=f"{history.train_acc[-1]:.3f}",
                           val_acc=f"{vacc:.3f}")
        if checkpoint is not None:
            with atomic_path(checkpoint) as tmp:
                torch.save({"config": asdict(config), "epoch": epoch + 1, "net": net.state_dict(),
                            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                            "generator": generator.get_state(), "torch_rng": torch.get_rng_state(),
                            "history": history.as_dict()}, tmp)
    return history


def _resume(path: str | Path, config: TrainConfig, net: nn.Module, optimizer, scheduler,
            generator: torch.Generator, history: History) -> int:
    """Load ``train``'s checkpoint into the fresh objects; return the number of epochs done."""
    state, wanted = torch.load(path, map_location="cpu", weights_only=False), asdict(config)
    differ = sorted(k for k in set(state["config"]) | set(wanted)
                    if state["config"].get(k) != wanted.get(k))
    if differ:
        raise ValueError(f"training checkpoint {path} was written with another config (it differs "
                         f"in {', '.join(differ)}): delete the file to start over, or train with "
                         "the config it was made with")
    net.load_state_dict(state["net"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    for key, values in state["history"].items():
        getattr(history, key).extend(values)
    history.resumed_at.append(state["epoch"])
    print(f"resuming {path} after epoch {state['epoch']} of {config.epochs}")
    return state["epoch"]
