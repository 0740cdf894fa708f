"""Accuracy data measured with a trained supernet, and the accuracy predictor OFA searches with.

Once-for-All (Cai et al., ICLR 2020, Section 3.4) replaces the evaluation of each
candidate subnet by a small MLP that predicts its accuracy from its encoding; OFA trains a
3-layer, 400-unit MLP on 16K (subnet, ImageNet validation accuracy) pairs. Here:

* **Accuracy data** (:func:`collect_accuracy`): subnets of a trained supernet evaluated on
  the validation split, each after batch-norm recalibration on training batches
  (``ofa.shrink.evaluate_subnet``): a few extremes (the uniform corner architectures) and
  random subnets. A few held-out subnets are measured a second time with other
  recalibration batches: the noise of the measurement itself (:func:`noise_yardstick`).
  Measurements are cached in the cache folder, keyed by the supernet file's digest, the
  split size and the recalibration budget; an interrupted collection resumes, a larger one
  measures only what is missing.
* **Predictor** (:class:`AccuracyPredictor`): an MLP on ``SearchSpace.encode_batch`` (of an ``ArchBatch``)
  features (one-hots of ks and e per RUNNING block slot, of d per stage and of r), fitted on
  the training pairs, scored on held-out random subnets by RMSE and Kendall's tau, beside
  the yardstick. Its forward pass is three matrix products on a whole ``ArchBatch`` batch
  (one torch thread, inference mode: no autograd).

The yardstick is not a bound: a predictor of a subnet's *mean* accuracy can beat a second
noisy measurement, as notebook 01's noise floor is for latency.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from ..config import atomic_path, cache_dir
from ..stats import kendall_tau
from ..arch import ArchBatch
from ..latency.lut import space_key
from ..latency.table_file import write_json as atomic_write_json
from ..space import Arch, SearchSpace

DATA_FORMAT = "hwnas-ofa-accuracy/1"
PREDICTOR_FORMAT = "hwnas-ofa-acc-predictor/1"


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run the block on one intra-op thread, then restore the caller's count (tiny matrices:
    on a busy 2-core machine a second thread makes a 100 x 111 matmul ~10x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def file_digest(path: str | Path) -> str:
    """Short SHA-1 of a file's bytes: a supernet's identity in cache keys."""
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()[:12]


def extreme_archs(space: SearchSpace) -> list[Arch]:
    """The uniform architectures at the corners of the space: smallest/largest ks, e, d, r."""
    corners = [(k, e, d, r) for r in (min(space.r_choices), max(space.r_choices))
               for d in (min(space.d_choices), max(space.d_choices))
               for e in (min(space.e_choices), max(space.e_choices))
               for k in (min(space.ks_choices), max(space.ks_choices))]
    ordered = [corners[0], corners[-1]] + corners[1:-1]  # smallest and largest first
    return [space.uniform(*c) for c in dict.fromkeys(ordered)]


@dataclass
class AccuracyData:
    """Measured (architecture, accuracy) pairs; see the module docstring."""

    space: SearchSpace
    archs: list[Arch]  # extremes first, then random subnets
    acc: np.ndarray  # accuracy (0..1) on the evaluation split, recalibration seed `seed`
    kinds: list[str]  # "extreme" or "random"
    n_test: int  # the last n_test random subnets are held out from predictor training
    repeat_acc: np.ndarray  # second measurement of the first len(repeat_acc) held-out subnets
    meta: dict = field(default_factory=dict)  # supernet digest, split size, budgets, timings

    @property
    def arrays(self) -> ArchBatch:
        return ArchBatch.from_archs(self.space, self.archs)

    @property
    def train_index(self) -> np.ndarray:
        return np.arange(len(self.archs) - self.n_test)

    @property
    def test_index(self) -> np.ndarray:
        return np.arange(len(self.archs) - self.n_test, len(self.archs))

    @property
    def repeat_index(self) -> np.ndarray:
        """Indices of the subnets measured twice (the first held-out ones)."""
        return self.test_index[:len(self.repeat_acc)]

    def __str__(self) -> str:
        m = self.meta
        return (f"{len(self.archs)} subnets ({self.kinds.count('extreme')} extremes, "
                f"{self.kinds.count('random')} random; {self.n_test} held out, "
                f"{len(self.repeat_acc)} measured twice) on {m.get('images')} {m.get('split')} images, "
                f"BN recalibrated on {m.get('recal_batches')} batches of {m.get('batch_size')}; "
                f"accuracy {100 * self.acc.min():.1f}-{100 * self.acc.max():.1f} %")


def accuracy_cache_path(space: SearchSpace, digest: str, split: str, images: int,
                        recal_batches: int) -> Path:
    """Where the measurements of one supernet at one budget are cached."""
    return cache_dir("ofa/search") / (f"acc-{space.name}-{space_key(space)}-{digest}-{split}{images}"
                                      f"-recal{recal_batches}.json")


def _read_cache(path: Path, space: SearchSpace, digest: str) -> tuple[dict[str, float], float]:
    """The cached measurements ``{"<arch json>|<seed>": accuracy}`` and the seconds they took."""
    if not path.exists():
        return {}, 0.0
    try:
        data = json.loads(path.read_text())
        if data.get("format") != DATA_FORMAT:
            raise ValueError(f"format {data.get('format')!r}, not {DATA_FORMAT!r}")
        found = SearchSpace.from_dict(data["space"])
        measured = {str(k): float(v) for k, v in data["measured"].items()}
        seconds = float(data.get("seconds", 0.0))
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"accuracy cache {path} is corrupt or truncated ({err}); delete it and "
                         "run again to re-measure") from None
    if found != space or data.get("supernet") != digest:
        raise ValueError(f"accuracy cache {path} belongs to supernet {data.get('supernet')!r} of space "
                         f"{found.name!r}, not to {digest!r} of space {space.name!r}; delete it")
    return measured, seconds


def collect_accuracy(net, train_data, eval_data, digest: str, n_random: int = 100,
                     n_extremes: int = 16, n_test: int = 25, n_repeats: int = 10,
                     recal_batches: int = 10, batch_size: int = 256, seed: int = 0,
                     split: str = "val", path: str | Path | None = None, save_every: int = 5,
                     progress: bool = True) -> AccuracyData:
    """Measure (or read from the cache) the accuracy of extremes and random subnets of ``net``.

    ``digest`` identifies the supernet (:func:`file_digest` of its checkpoint); ``eval_data``
    is the ``split`` the pairs are measured on (validation: the test split stays for
    re-measuring winners). The last ``n_test`` random subnets are held out; the first
    ``n_repeats`` of those are measured again with recalibration seed ``seed + 1``.
    """
    from tqdm.auto import tqdm

    from .shrink import evaluate_subnet

    space = net.space
    if n_random < 2 or not 2 <= n_test < n_random + 1 or not 0 <= n_repeats <= n_test:
        raise ValueError(f"need n_random >= 2, 2 <= n_test <= n_random and 0 <= n_repeats <= n_test; "
                         f"got n_random={n_random}, n_test={n_test}, n_repeats={n_repeats}")
    path = Path(path) if path else accuracy_cache_path(space, digest, split, len(eval_data), recal_batches)
    measured, before_s = _read_cache(path, space, digest)
    rng = random.Random(seed)
    archs = extreme_archs(space)[:n_extremes] + [space.sample(rng) for _ in range(n_random)]
    kinds = ["extreme"] * (len(archs) - n_random) + ["random"] * n_random
    first = len(archs) - n_test
    plan = [(a, seed) for a in archs] + [(a, seed + 1) for a in archs[first:first + n_repeats]]
    key = lambda arch, s: f"{arch.to_json()}|{s}"  # noqa: E731
    todo = [(a, s) for a, s in plan if key(a, s) not in measured]

    start = time.perf_counter()

    def save() -> None:
        atomic_write_json(path, {"format": DATA_FORMAT, "space": space.to_dict(), "supernet": digest,
                                 "split": split, "images": len(eval_data), "recal_batches": recal_batches,
                                 "batch_size": batch_size, "seconds": before_s + time.perf_counter() - start,
                                 "measured": measured})

    try:
        for i, (arch, s) in enumerate(tqdm(todo, desc="accuracy pairs", disable=not progress or not todo)):
            measured[key(arch, s)] = evaluate_subnet(net, arch, train_data, eval_data, recal_batches,
                                                     batch_size=batch_size, seed=s)
            if (i + 1) % save_every == 0:
                save()
    finally:
        if todo:
            save()
    seconds = time.perf_counter() - start
    meta = {"supernet": digest, "split": split, "images": len(eval_data), "recal_batches": recal_batches,
            "batch_size": batch_size, "seed": seed, "path": str(path), "measured_now": len(todo),
            "seconds_now": seconds, "s_per_eval": seconds / len(todo) if todo else None,
            "seconds_total": before_s + (seconds if todo else 0.0), "measurements": len(measured)}
    return AccuracyData(space, archs, np.array([measured[key(a, seed)] for a in archs]), kinds, n_test,
                        np.array([measured[key(a, seed + 1)] for a in archs[first:first + n_repeats]]),
                        meta)


# ----- the predictor ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Scores:
    """How well one set of accuracies matches another (in accuracy points, %)."""

    rmse_pct: float  # root mean squared difference, percentage points
    kendall_tau: float  # rank agreement, 1 = same order
    n: int

    def __str__(self) -> str:
        return f"RMSE {self.rmse_pct:.2f} points, Kendall tau {self.kendall_tau:.3f} (n={self.n})"


def scores(pred: Sequence[float], meas: Sequence[float]) -> Scores:
    p, m = np.asarray(pred, dtype=float).ravel(), np.asarray(meas, dtype=float).ravel()
    if p.shape != m.shape or p.size < 2:
        raise ValueError(f"need two equal-length lists of >= 2 accuracies, got {p.size} and {m.size}")
    return Scores(float(100 * np.sqrt(np.mean((p - m) ** 2))), kendall_tau(p, m), int(p.size))


def noise_yardstick(data: AccuracyData) -> Scores:
    """The measurement against itself: same subnets, other recalibration batches."""
    return scores(data.repeat_acc, data.acc[data.repeat_index])


class AccuracyPredictor:
    """MLP from ``SearchSpace.encode_batch`` features of an ``ArchBatch`` to accuracy (0..1)."""

    def __init__(self, space: SearchSpace, hidden: int = 128, layers: int = 2, steps: int = 1500,
                 lr: float = 3e-3, weight_decay: float = 1e-2, seed: int = 0):
        # defaults chosen by 5-fold cross-validation on the laptop preset's TRAINING pairs (held-out
        # pairs unused) among 32-400 units, 1-3 layers, decay 1e-3..1e-1; 400 x 3 (OFA's size) was
        # no better at 50x the fitting time
        self.space = space
        self.hidden = hidden  # units per hidden layer (OFA: 400, for 16K ImageNet pairs)
        self.layers = layers  # hidden layers (OFA: 3)
        self.steps = steps  # full-batch AdamW steps
        self.lr = lr  # AdamW learning rate
        self.weight_decay = weight_decay  # AdamW decoupled decay: few pairs, keep weights small
        self.seed = seed  # weight initialisation
        self.weights: list[tuple[torch.Tensor, torch.Tensor]] = []  # (W (in, out), b) per layer
        self.mean, self.std = 0.0, 1.0  # target standardisation
        self.meta: dict = {}  # what it was trained on (saved with it)
        self.path: Path | None = None  # the cache file, once saved or loaded

    def hyper(self) -> dict:
        return {k: getattr(self, k) for k in ("hidden", "layers", "steps", "lr", "weight_decay", "seed")}

    def features(self, a: ArchBatch) -> np.ndarray:
        return self.space.encode_batch(a)

    def fit(self, a: ArchBatch, acc: Sequence[float]) -> "AccuracyPredictor":
        y = np.asarray(acc, dtype=np.float64).ravel()
        if len(y) != len(a) or len(y) < 2 or not np.all(np.isfinite(y)):
            raise ValueError(f"fit needs one finite accuracy per architecture (>= 2), got {len(y)} "
                             f"for {len(a)} archs")
        self.mean, self.std = float(y.mean()), float(max(y.std(), 1e-6))
        x = torch.as_tensor(self.features(a))
        t = torch.as_tensor((y - self.mean) / self.std, dtype=torch.float32)
        with one_thread():  # tiny matrices: a second thread only adds synchronisation
            torch.manual_seed(self.seed)
            sizes = [x.shape[1]] + [self.hidden] * self.layers
            mods: list[nn.Module] = []
            for i, o in zip(sizes[:-1], sizes[1:]):
                mods += [nn.Linear(i, o), nn.ReLU()]
            net = nn.Sequential(*mods, nn.Linear(sizes[-1], 1))
            opt = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            for _ in range(self.steps):
                opt.zero_grad()
                loss = nn.functional.mse_loss(net(x).squeeze(1), t)
                loss.backward()
                opt.step()
        self.weights = [(m.weight.detach().T.contiguous(), m.bias.detach().clone())
                        for m in net if isinstance(m, nn.Linear)]
        return self

    def predict(self, a: ArchBatch) -> np.ndarray:
        """Predicted accuracy (0..1) of every architecture of the batch."""
        if not self.weights:
            raise ValueError("AccuracyPredictor.predict before fit (or load): call fit(arrays, acc)")
        h = torch.from_numpy(self.features(a))
        with one_thread(), torch.inference_mode():
            for W, b in self.weights[:-1]:
                h = torch.relu(torch.addmm(b, h, W))
            W, b = self.weights[-1]
            out = torch.addmm(b, h, W)[:, 0].numpy()
        return out.astype(np.float64) * self.std + self.mean

    # ----- files ----------------------------------------------------------------------------
    def save(self, path: str | Path, **meta) -> Path:
        path = Path(path)
        with atomic_path(path) as tmp:
            torch.save({"format": PREDICTOR_FORMAT, "space": self.space.to_dict(), "mean": self.mean,
                        "std": self.std, "hyper": self.hyper(),
                        "weights": self.weights,
                        "meta": meta}, tmp)
        return path

    @classmethod
    def load(cls, path: str | Path, space: SearchSpace | None = None) -> "AccuracyPredictor":
        """Read a saved predictor; ``ValueError`` if corrupt or made for another ``space``."""
        path = Path(path)
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
            if not isinstance(blob, dict) or blob.get("format") != PREDICTOR_FORMAT:
                raise ValueError("not an accuracy predictor file")
            saved = SearchSpace.from_dict(blob["space"])
            pred = cls(saved, **blob["hyper"])
            pred.mean, pred.std = float(blob["mean"]), float(blob["std"])
            pred.weights = [(W.float().contiguous(), b.float()) for W, b in blob["weights"]]
            pred.meta, pred.path = dict(blob.get("meta", {})), path
        except FileNotFoundError:
            raise
        except Exception as err:  # truncated, not a torch file, wrong layout
            raise ValueError(f"accuracy predictor cache {path} is corrupt or truncated "
                             f"({type(err).__name__}: {str(err)[:120]}); delete it to retrain") from None
        if space is not None and saved != space:
            raise ValueError(f"accuracy predictor {path} was trained for space {saved.name!r}, not "
                             f"{space.name!r}: delete it or pass the matching supernet")
        if pred.weights[0][0].shape[0] != len(saved.feature_names):
            raise ValueError(f"accuracy predictor {path} does not fit its space's features; delete it")
        return pred


def get_predictor(data: AccuracyData, path: str | Path | None = None, **hyper) -> AccuracyPredictor:
    """The predictor fitted on ``data``'s training pairs, cached beside the accuracy cache
    (keyed by the pairs and the effective hyper-parameters)."""
    pred = AccuracyPredictor(data.space, **hyper)
    key = hashlib.sha1(json.dumps([data.meta.get("supernet"), [a.to_json() for a in data.archs], data.n_test,
                                   data.acc.round(6).tolist(), pred.hyper()]).encode()).hexdigest()[:10]
    path = Path(path) if path else cache_dir("ofa/search") / f"predictor-{data.space.name}-{key}.pt"
    if path.exists():
        return AccuracyPredictor.load(path, data.space)
    a, idx = data.arrays, data.train_index
    pred.fit(ArchBatch(a.ks[idx], a.e[idx], a.d[idx], a.r[idx]), data.acc[idx])
    pred.meta = {"supernet": data.meta.get("supernet"), "pairs": len(idx)}
    pred.path = pred.save(path, **pred.meta)
    return pred
