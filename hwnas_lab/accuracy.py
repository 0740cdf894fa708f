"""Accuracy signals for an architecture search, each honest about what it is.

A search needs ``ACC(m)`` for many architectures ``m``; training each one properly is
what it cannot afford. Three stand-ins, in falling cost:

* :class:`ProxyAccuracy`, **measured** the way MnasNet does it (Tan et al., CVPR 2019,
  Section 4: each sampled model is trained briefly on a proxy task): a few epochs of
  ``hwnas_lab.train.train`` from scratch on a class-balanced subset, then the validation
  accuracy. Minutes per architecture on a CPU.
* :class:`SupernetAccuracy`, from a trained Once-for-All **supernet** (Cai et al., ICLR
  2020): the subnet's validation accuracy after batch-norm recalibration
  (``hwnas_lab.ofa.shrink.evaluate_subnet``). Seconds per architecture.
* :class:`AccuracyPredictor`, **predicted**: ridge regression on the one-hot encoding
  (``SearchSpace.encode_batch``) fitted on pairs from a source above. Microseconds.

Every source takes a list of ``Arch`` or an ``ArchBatch`` batch and returns accuracies in
[0, 1]. The two evaluating sources cache their results per network in one JSON file in
the cache folder (``cache_dir("mnas")``), written atomically after each new evaluation,
so a rerun costs nothing; the file name carries a hash of everything the number depends
on (space, settings, data, and for the supernet its weights: a retrained checkpoint gets a
fresh cache).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .config import atomic_path, cache_dir
from .arch import Arch, ArchBatch
from .latency.lut import space_key
from .mnas import arch_keys
from .space import SearchSpace, get_space

CACHE_FORMAT = "hwnas-mnas-accuracy/1"


def fingerprint(*parts) -> str:
    """Short SHA-1 of tensors, arrays, bytes or JSON-able values, in order."""
    h = hashlib.sha1()
    for part in parts:
        if isinstance(part, torch.Tensor):
            part = part.detach().cpu().contiguous().numpy()
        if isinstance(part, np.ndarray):
            h.update(str((part.dtype, part.shape)).encode())
            h.update(np.ascontiguousarray(part).tobytes())
        elif isinstance(part, bytes):
            h.update(part)
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
    return h.hexdigest()[:12]


def data_fingerprint(data) -> str:
    """Fingerprint of a ``TensorData`` (its images and labels)."""
    return fingerprint(data.X, data.y)


class AccuracySource:
    """Base of the evaluating sources: batch in, accuracies out, each network evaluated once."""

    kind = "?"  # "measured (proxy training)", "supernet", ...

    def __init__(self, space: SearchSpace, name: str, meta: dict, cache: bool = True,
                 progress: bool = False):
        self.space, self.progress = space, progress
        self.meta = {"format": CACHE_FORMAT, "kind": self.kind, "space": space.name,
                     "space_key": space_key(space), **meta}
        self.path: Path | None = (cache_dir("mnas") / f"{name}-{space.name}-{fingerprint(self.meta)}.json"
                                  if cache else None)
        self.acc: dict[str, float] = {}  # network key (mnas.arch_keys) -> accuracy
        self.seconds: dict[str, float] = {}  # network key -> seconds its evaluation took
        self.hits = self.evaluations = 0  # answers without a new evaluation; evaluations run here
        if self.path is not None and self.path.exists():
            self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text())
            if data["meta"] != self.meta:
                raise ValueError("its settings differ from this source's")
            entries = data["entries"]
            self.acc = {k: float(v["acc"]) for k, v in entries.items()}
            self.seconds = {k: float(v["seconds"]) for k, v in entries.items()}
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise ValueError(f"{self.path} is not a valid accuracy cache ({err}); delete it and "
                             "the accuracies will be evaluated again") from None

    def save(self) -> None:
        if self.path is None:
            return
        entries = {k: {"acc": a, "seconds": self.seconds.get(k, 0.0)} for k, a in self.acc.items()}
        with atomic_path(self.path) as tmp:
            tmp.write_text(json.dumps({"meta": self.meta, "entries": entries}, indent=0))

    def __call__(self, archs: "Sequence[Arch] | ArchBatch") -> np.ndarray:
        """Accuracies (0..1) of ``archs``; networks not yet known are evaluated (and saved)."""
        from tqdm.auto import tqdm

        arrays = archs if isinstance(archs, ArchBatch) else ArchBatch.from_archs(self.space, archs)
        keys = arch_keys(self.space, arrays)
        todo = {k: i for i, k in enumerate(keys) if k not in self.acc}
        self.hits += len(keys) - len(todo)
        for key, i in tqdm(todo.items(), desc=self.kind, disable=not self.progress or not todo,
                           leave=False):
            start = time.perf_counter()
            self.acc[key] = float(self._evaluate(arrays[i].validate(self.space)))
            self.seconds[key] = time.perf_counter() - start
            self.evaluations += 1
            self.save()  # after each one: an interrupted run keeps what it paid for
        return np.array([self.acc[k] for k in keys])

    def known(self, archs: "Sequence[Arch] | ArchBatch") -> np.ndarray:
        """Whether each architecture already has a cached accuracy (nothing is evaluated)."""
        return np.array([k in self.acc for k in arch_keys(self.space, archs)], dtype=bool)

    def _evaluate(self, arch: Arch) -> float:
        raise NotImplementedError


@dataclass(frozen=True)
class ProxyConfig:
    """The short training of ``ProxyAccuracy`` (MnasNet trained each sample 5 epochs on a proxy)."""

    epochs: int = 3  # passes over the proxy training subset
    lr: float = 0.1  # SGD-Nesterov peak learning rate, cosine to 0
    batch_size: int = 64  # small subsets: more steps per epoch
    augment: bool = False  # crop + flip; off: a few epochs do not overfit, and it slows early
    #                        progress (4 epochs on 2,000 CIFAR images, 3 subnets: 37-39 % without,
    #                        about 33 % with it at lr 0.05; notebook 03's laptop settings)
    seed: int = 0  # initialisation and shuffling


class ProxyAccuracy(AccuracySource):
    """Validation accuracy after ``config.epochs`` epochs of training from scratch."""

    kind = "measured (proxy training)"

    def __init__(self, space: SearchSpace | str, train_data, val_data,
                 config: ProxyConfig = ProxyConfig(), device: str | torch.device = "cpu",
                 cache: bool = True, progress: bool = False):
        space = get_space(space)
        self.train_data, self.val_data, self.config, self.device = train_data, val_data, config, device
        super().__init__(space, "proxy", {"config": asdict(config),
                                          "train": data_fingerprint(train_data),
                                          "val": data_fingerprint(val_data)}, cache, progress)

    def _evaluate(self, arch: Arch) -> float:
        from .blocks import build_net
        from .train import TrainConfig, evaluate, seed_everything, train

        seed_everything(self.config.seed)
        net = build_net(self.space, arch)
        cfg = TrainConfig(epochs=self.config.epochs, lr=self.config.lr, batch_size=self.config.batch_size,
                          resolution=arch.r, augment=self.config.augment, seed=self.config.seed)
        train(net, self.train_data, None, cfg, progress=False, device=self.device)
        return evaluate(net, self.val_data, resolution=arch.r, device=self.device)[1]


class SupernetAccuracy(AccuracySource):
    """A trained supernet's subnet accuracy on ``val_data`` after BN recalibration on
    ``recal_batches`` batches of ``train_data`` (``evaluate_subnet``)."""

    kind = "supernet"

    def __init__(self, net, train_data, val_data, recal_batches: int = 10, batch_size: int = 256,
                 seed: int = 0, device: str | torch.device = "cpu", cache: bool = True,
                 progress: bool = False):
        if recal_batches < 1:
            raise ValueError(f"recal_batches must be >= 1 (BN statistics of a subnet must be "
                             f"re-estimated), got {recal_batches}")
        self.net, self.train_data, self.val_data = net, train_data, val_data
        self.recal_batches, self.batch_size, self.seed, self.device = recal_batches, batch_size, seed, device
        weights = [t for _, t in sorted(net.state_dict().items())]
        super().__init__(net.space, "supernet", {
            "weights": fingerprint(*weights), "train": data_fingerprint(train_data),
            "val": data_fingerprint(val_data), "recal_batches": recal_batches,
            "batch_size": batch_size, "seed": seed}, cache, progress)

    def _evaluate(self, arch: Arch) -> float:
        from .ofa.shrink import evaluate_subnet

        return evaluate_subnet(self.net, arch, self.train_data, self.val_data, self.recal_batches,
                               self.batch_size, self.seed, self.device)


class AccuracyPredictor:
    """Ridge regression of accuracy on ``SearchSpace.encode_batch`` features (plus a bias).

    Linear in the one-hot choices: each kernel size, expand ratio, depth and resolution adds
    its own amount. Predictions are clipped to [0, 1].
    """

    kind = "predicted"

    # l2: ridge penalty per pair. On 100 supernet pairs of the cpu space (notebook 03, laptop),
    # 5-fold Kendall tau was 0.28 at 1e-3, 0.50 at 0.1, 0.51 at 0.3, 0.48 at 3: strong shrinkage
    # also keeps a search from exploiting wild extrapolations.
    def __init__(self, space: SearchSpace | str, l2: float = 0.3):
        if not l2 > 0:
            raise ValueError(f"l2 must be > 0 (the ridge penalty), got {l2!r}")
        self.space, self.l2 = get_space(space), l2
        self.weights: np.ndarray | None = None  # features + 1 (bias last)
        self.n_fit = 0  # pairs it was fitted on

    def _features(self, archs: "Sequence[Arch] | ArchBatch") -> np.ndarray:
        X = self.space.encode_batch(archs).astype(np.float64)
        return np.concatenate([X, np.ones((len(X), 1))], axis=1)

    def fit(self, archs: "Sequence[Arch] | ArchBatch", acc: Sequence[float]) -> "AccuracyPredictor":
        X, y = self._features(archs), np.asarray(acc, dtype=np.float64).ravel()
        if len(X) != len(y) or len(y) < 2:
            raise ValueError(f"fit needs >= 2 architectures and one accuracy each; got "
                             f"{len(X)} architectures and {len(y)} accuracies")
        if not np.isfinite(y).all() or y.min() < 0 or y.max() > 1:
            raise ValueError("accuracies must be finite fractions in [0, 1]")
        mean = y.mean()  # fit around the mean: the penalty then shrinks towards it, not to 0
        penalty = self.l2 * len(y) * np.eye(X.shape[1])
        penalty[-1, -1] = 0.0  # the bias is not penalised
        self.weights = np.linalg.solve(X.T @ X + penalty, X.T @ (y - mean))
        self.weights[-1] += mean
        self.n_fit = len(y)
        return self

    def __call__(self, archs: "Sequence[Arch] | ArchBatch") -> np.ndarray:
        if self.weights is None:
            raise ValueError("the predictor is not fitted: call fit(archs, accuracies) first")
        return np.clip(self._features(archs) @ self.weights, 0.0, 1.0)
