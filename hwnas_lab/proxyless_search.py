"""The ProxylessNAS search loop: latency losses, weight warm-up, alternating updates, sweeps.

Cai, Zhu and Han, "ProxylessNAS: Direct Neural Architecture Search on Target Task and
Hardware", ICLR 2019, Section 3 and Appendix; defaults follow the authors' public code
(mit-han-lab/proxylessnas, ``search/``) where they carry over to CIFAR-10:

* weights (SGD, Nesterov momentum, cosine learning rate, label smoothing 0.1) and
  ``alpha`` (Adam with ``beta1 = 0``, so that an ``alpha`` without gradient in a step
  does not move) are two parameter groups with two optimisers;
* the weights are warmed up first (paths drawn uniformly, ``alpha`` still), then each
  step trains the weights on a training batch through one sampled path and ``alpha`` on
  a **validation** batch through binary gates (``binary_mode``);
* the latency term uses the LUT's expected latency ``E[Lat]`` and a target ``T``:

      add   CE + lambda * (E[Lat] - T) / T    (the authors' "add#linear"; the constant
                                              -lambda does not change any gradient)
      mul   CE * (E[Lat] / T) ** beta          (the paper's multiplicative form)
      log   CE * (log E[Lat] / log T) ** beta  (the authors' "mul#log"; ms, needs T > 1 ms)
      hinge CE + lambda * max(0, E[Lat] / T - 1)  (not from the paper: a constraint-style
                                              penalty, zero below the target)

In "mul" and "log", T only multiplies the whole loss by a constant (T ** -beta, or
(log T) ** -beta): it sets a scale, not a target, and Adam, which normalises the size of
each gradient, follows the same path whatever T is. In "add", T only rescales lambda. Only
"hinge" makes T a target: latency is pushed down only while E[Lat] is above it.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .data import TensorData, batches
from .proxyless import METHODS, ProxylessSupernet, frozen, np_probs
from .arch import Arch
from .space import SearchSpace, make_rng
from .train import OptimConfig, cosine_lr, make_optimizer

LOSS_FORMS = ("add", "mul", "log", "hinge")
BINARY_MODES = tuple(METHODS)  # "all" (DARTS), "one", "two"


def check_loss_args(target_ms: float, form: str, coef: float) -> None:
    """Raise ``ValueError`` for a non-positive target, a negative lambda/beta or an unknown form."""
    if form not in LOSS_FORMS:
        raise ValueError(f"unknown latency-loss form {form!r}; choose one of {list(LOSS_FORMS)}")
    if not isinstance(target_ms, (int, float)) or not math.isfinite(target_ms) or target_ms <= 0:
        raise ValueError(f"the latency target must be a positive number of ms, got {target_ms!r}")
    name = "lambda" if form in ("add", "hinge") else "beta"
    if not isinstance(coef, (int, float)) or not math.isfinite(coef) or coef < 0:
        raise ValueError(f"{name} must be >= 0 (0 switches the latency term off), got {coef!r}; "
                         "a negative value would reward slower networks")
    if form == "log" and target_ms <= 1.0:
        raise ValueError(f"the log form divides by log(T); T = {target_ms} ms gives log T <= 0 and "
                         "turns the loss around; use form 'mul' (or express latency in microseconds)")


def latency_loss(ce: torch.Tensor, expected_ms: torch.Tensor, target_ms: float, form: str = "mul",
                 coef: float = 0.6) -> torch.Tensor:
    """The cross-entropy combined with the expected latency (see the module docstring)."""
    check_loss_args(target_ms, form, coef)
    if form == "add":
        return ce + coef * (expected_ms - target_ms) / target_ms
    if form == "mul":
        return ce * (expected_ms / target_ms) ** coef
    if form == "hinge":
        return ce + coef * torch.clamp(expected_ms / target_ms - 1, min=0.0)
    return ce * (torch.log(expected_ms) / math.log(target_ms)) ** coef


@dataclass
class SearchConfig:
    """One search after warm-up; defaults suit the cpu space on a CIFAR-10 subset."""

    target_ms: float  # latency target T on the LUT's target (ms)
    form: str = "mul"  # latency loss: "add", "mul", "log" or "hinge" (module docstring)
    coef: float = 0.6  # lambda (add, hinge) or beta (mul, log); the authors use 0.1-0.2 / 0.3-0.6
    steps: int = 200  # alternating steps: one weight step, then (every arch_every) one alpha step
    batch_size: int = 64  # images per weight step and per alpha step
    weight_lr: float = 0.05  # peak SGD learning rate of the weights (cosine to 0 over steps)
    weight_decay: float = 4e-5  # the authors' value for the search
    arch_lr: float = 0.05  # Adam learning rate of alpha (authors: 1e-3 over 80 ImageNet epochs)
    arch_every: int = 1  # an alpha step after every this many weight steps (authors: 5)
    binary_mode: str = "two"  # "two" (fast), "one" (every gate) or "all" (DARTS: both steps dense)
    record_every: int = 5  # snapshot path probabilities after every this many alpha steps
    seed: int = 0  # seeds batches and path draws

    def __post_init__(self) -> None:
        check_loss_args(self.target_ms, self.form, self.coef)
        if self.binary_mode not in BINARY_MODES:
            raise ValueError(f"binary_mode must be one of {list(BINARY_MODES)}, got {self.binary_mode!r}")
        for name in ("steps", "batch_size", "arch_every", "record_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"SearchConfig.{name} must be a positive int, got {value!r}")
        if not self.weight_lr > 0 or not self.arch_lr > 0:
            raise ValueError("SearchConfig.weight_lr and arch_lr must be > 0")


@dataclass
class SearchResult:
    """What a search leaves: the derived architecture and how it got there."""

    arch: Arch  # argmax path, validated against the space
    expected_ms: float  # E[Lat] at the end (the network's latency model: LUT, maybe calibrated)
    arch_ms: float  # the same model's latency of the derived architecture
    config: SearchConfig
    steps: list[int] = field(default_factory=list)  # weight steps at each snapshot
    probs: list[np.ndarray] = field(default_factory=list)  # (slots, candidates) per snapshot
    expected_hist_ms: list[float] = field(default_factory=list)  # E[Lat] per snapshot
    val_ce: list[float] = field(default_factory=list)  # CE of the alpha step per snapshot
    train_loss: list[float] = field(default_factory=list)  # mean weight loss since last snapshot
    seconds: float = 0.0  # wall time of the search


def endless_batches(data: TensorData, batch_size: int, r: int, generator: torch.Generator,
                    device: str | torch.device = "cpu", augment: bool = True) -> Iterator:
    """Shuffled, augmented batches at resolution ``r``, epoch after epoch."""
    while True:
        yield from batches(data, batch_size, shuffle=True, augment=augment, resolution=r,
                           generator=generator, drop_last=len(data) >= batch_size, device=device,
                           channels_last=True)


def _weight_optimizer(net: ProxylessSupernet, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """The course's SGD-Nesterov (``train.make_optimizer``) over the weights only: ``alpha``
    has its own Adam."""
    with frozen([net.alpha]):
        return make_optimizer(net, OptimConfig(weight_decay=weight_decay), lr)


def weight_step(net: ProxylessSupernet, opt: torch.optim.Optimizer, X: torch.Tensor,
                y: torch.Tensor, generator: torch.Generator | None = None, mode: str = "path") -> float:
    """One SGD step of the weights: through one path drawn from ``p`` (only it runs), or
    with ``mode="all"`` through the p-weighted sum of every path (DARTS)."""
    paths = None if mode == "all" else net.sample_paths(generator=generator)
    loss = F.cross_entropy(net(X, mode, paths), y, label_smoothing=0.1)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


def arch_step(net: ProxylessSupernet, opt: torch.optim.Optimizer, X: torch.Tensor, y: torch.Tensor,
              config: SearchConfig, generator: torch.Generator | None = None) -> tuple[float, float]:
    """One Adam step of ``alpha`` on a validation batch; returns ``(CE, E[Lat] ms)``."""
    mode = config.binary_mode
    paths = (net.sample_pairs(generator) if mode == "two" else
             net.sample_paths(generator=generator) if mode == "one" else None)
    old = net.alpha.detach().clone()
    with frozen(net.weight_parameters()):
        ce = F.cross_entropy(net(X, mode, paths), y)
        expected = net.expected_latency_ms()
        loss = latency_loss(ce, expected, config.target_ms, config.form, config.coef)
        opt.zero_grad(set_to_none=True)
        loss.backward()
    opt.step()
    if mode == "two":
        net.rescale_pair(paths, old)
    return ce.item(), expected.item()


def warm_up(net: ProxylessSupernet, train: TensorData, steps: int, batch_size: int = 64,
            lr: float = 0.05, weight_decay: float = 4e-5, seed: int = 0, progress: bool = True,
            device: str | torch.device = "cpu") -> list[float]:
    """Train the weights alone for ``steps`` steps (paths drawn from ``p``, uniform while
    ``alpha`` is zero), so that ``alpha`` later compares trained candidates. Returns losses."""
    from tqdm.auto import tqdm

    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"warm-up steps must be an int >= 0, got {steps!r}")
    net.to(device=device, memory_format=torch.channels_last).train()
    opt = _weight_optimizer(net, lr, weight_decay)
    gen = torch.Generator().manual_seed(seed)
    data = endless_batches(train, batch_size, net.r, gen, device)
    losses = []
    for step in tqdm(range(steps), desc="warm-up", disable=not progress, leave=False):
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, steps, lr)
        losses.append(weight_step(net, opt, *next(data), generator=gen))
    return losses


def search(net: ProxylessSupernet, train: TensorData, val: TensorData, config: SearchConfig,
           progress: bool = True, device: str | torch.device = "cpu") -> SearchResult:
    """Alternate weight steps (training batches) and ``alpha`` steps (validation batches);
    ``net`` needs a latency table (``net.attach_latency``)."""
    from tqdm.auto import tqdm

    if net.fixed_ms is None:
        raise ValueError("attach a latency table first: net.attach_latency(table)")
    start = time.perf_counter()
    net.to(device=device, memory_format=torch.channels_last).train()
    w_opt = _weight_optimizer(net, config.weight_lr, config.weight_decay)
    a_opt = torch.optim.Adam([net.alpha], lr=config.arch_lr, betas=(0.0, 0.999), eps=1e-8)
    gen = torch.Generator().manual_seed(config.seed)
    train_it = endless_batches(train, config.batch_size, net.r, gen, device)
    val_it = endless_batches(val, config.batch_size, net.r, gen, device, augment=False)
    out = SearchResult(net.derive_arch(), 0.0, 0.0, config)
    losses, n_arch = [], 0
    weight_mode = METHODS[config.binary_mode][0]
    bar = tqdm(range(config.steps), desc=f"search T={config.target_ms:.2f} ms", disable=not progress,
               leave=False)
    for step in bar:
        for group in w_opt.param_groups:
            group["lr"] = cosine_lr(step, config.steps, config.weight_lr)
        losses.append(weight_step(net, w_opt, *next(train_it), generator=gen, mode=weight_mode))
        if (step + 1) % config.arch_every:
            continue
        ce, expected = arch_step(net, a_opt, *next(val_it), config, generator=gen)
        n_arch += 1
        if n_arch % config.record_every == 0 or step + 1 == config.steps:
            out.steps.append(step + 1)
            out.probs.append(np_probs(net))
            out.expected_hist_ms.append(expected)
            out.val_ce.append(ce)
            out.train_loss.append(float(np.mean(losses)))
            losses = []
            bar.set_postfix(E=f"{expected:.2f}ms", ce=f"{ce:.2f}")
    out.arch = net.derive_arch()
    out.expected_ms = net.expected_latency_ms().item()
    with torch.no_grad():
        out.arch_ms = net.path_latency_ms(net.probs().argmax(1).cpu()).item()
    out.seconds = time.perf_counter() - start
    return out


def sweep(warmed: ProxylessSupernet, train: TensorData, val: TensorData, targets_ms: Sequence[float],
          base: SearchConfig, progress: bool = True, device: str | torch.device = "cpu") -> list[SearchResult]:
    """One search per target, each from a copy of the same warmed-up network."""
    results = []
    for target in targets_ms:
        net = copy.deepcopy(warmed)
        cfg = dataclasses.replace(base, target_ms=float(target))
        results.append(search(net, train, val, cfg, progress, device))
    return results


def latency_matched_random(space: SearchSpace, predict: Callable[[list[Arch]], np.ndarray],
                           target_ms: float, n: int, r: int, tol: float = 0.05, pool: int = 4000,
                           seed: int = 0) -> list[Arch]:
    """Up to ``n`` random architectures at resolution ``r`` whose predicted latency
    (``predict``: e.g. ``table.predict_batch`` or a fitted ``CalibratedSum().predict``) is within
    ``tol`` (relative) of ``target_ms``, closest first; one vectorised prediction for the pool."""
    if not target_ms > 0 or not 0 < tol < 1:
        raise ValueError(f"need target_ms > 0 and 0 < tol < 1, got {target_ms}, {tol}")
    rng = make_rng(seed)
    archs = [space.sample(rng, r=[r]) for _ in range(pool)]
    gap = np.abs(np.asarray(predict(archs)) / target_ms - 1)
    order = [i for i in np.argsort(gap) if gap[i] <= tol][:n]
    return [archs[i] for i in order]
