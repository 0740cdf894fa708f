"""CIFAR-10 on disk: where it is found, how it is read and cached, the course's splits.

CIFAR-10 (Krizhevsky, "Learning Multiple Layers of Features from Tiny Images", 2009):
60,000 32x32 RGB images in 10 classes, 50,000 for training and 10,000 for test.

Where the images come from, in this order (``load_split``):

1. an explicit ``root`` argument, else ``$HWNAS_DATA_DIR``; the folder holds either the
   official python files (``cifar-10-batches-py/`` inside it, or the folder itself) or
   an ImageFolder tree ``train/<class>/*.jpg``, ``test/<class>/*.jpg`` (or is the parent
   of exactly one such folder, e.g. of an unpacked ``cifar10-jpeg/``). A root given this
   way must work: it never falls back to a download;
2. without a root: CIFAR-10 already in the cache folder (a previous download, or a tree
   unpacked into ``cache_dir()``, e.g. ``~/.cache/hwnas_lab/cifar10-jpeg``);
3. the official download through torchvision into ``cache_dir("data")``.

The official files are verified against their published md5 before they are unpickled
(:mod:`.official`; opt-out ``HWNAS_TRUST_PICKLES=1``). An ImageFolder split
(:mod:`.folder`) is decoded once (PIL, a thread pool) and cached as a uint8 tensor file
in ``cache_dir("data")``, one per tree and split, valid while the tree's fingerprint
(every file's name, size and modification time) is unchanged; a small class-balanced
subset asked for before any cache exists (the smoke preset) decodes only its own files.
Subsets are chosen from the labels alone, so the same call returns the same images
whether or not the cache exists.

The in-memory side (``TensorData``, ``batches``, augmentation) is :mod:`.images`.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ..config import atomic_path, cache_dir, get_preset
from .folder import IMAGE_SUFFIXES, DataWarning, FolderSource, decode_image
from .images import CLASSES, TensorData, balanced_indices
from .official import OFFICIAL_DIR, OFFICIAL_FILES, TRUST_ENV, OfficialSource
from .source import Source

__all__ = ["CIFARSplits", "CLASSES", "DATA_ENV", "DataWarning", "FolderSource", "IMAGE_SUFFIXES",
           "OFFICIAL_DIR", "OFFICIAL_FILES", "OfficialSource", "Source", "TRUST_ENV",
           "data_status", "decode_image", "find_source", "load_cifar10", "load_split",
           "read_images"]

DATA_ENV = "HWNAS_DATA_DIR"
SPLITS = ("train", "test")
IMAGES_PER_CLASS = 5000  # in the official training split
TEST_IMAGES_PER_CLASS = 1000  # in the official test split
SUBSET_DECODE_FRACTION = 0.25  # without a cache, decode a subset alone if it is at most this share
CACHE_VERSION = 2  # bump when the cache file layout changes (2: keyed on the tree's fingerprint)
FIX_HINT = (f"Fix: set {DATA_ENV} to a folder holding '{OFFICIAL_DIR}/' (the official python "
            "version) or an ImageFolder tree 'train/<class>/*', 'test/<class>/*'; e.g. "
            "unpack the offline copy with `tar -xzf ../shared/data/cifar10-jpeg.tar.gz -C "
            "~/.cache/hwnas_lab` (found there automatically), or allow the official download "
            "(needs internet).")


# --------------------------------------------------------------------------- finding

def _find_layout(root: Path) -> tuple[type[Source], Path] | None:
    """The source class and folder for ``root``, looking one level down; None if neither."""
    def here(path: Path) -> tuple[type[Source], Path] | None:
        if (path / OFFICIAL_DIR).is_dir():
            return OfficialSource, path / OFFICIAL_DIR
        if any((path / f).is_file() for f in ("data_batch_1", "test_batch")):
            return OfficialSource, path
        if any((path / s).is_dir() for s in SPLITS):
            return FolderSource, path
        return None

    if not root.is_dir():
        return None
    found = here(root)
    if found:
        return found
    children = [p for p in root.iterdir() if p.is_dir()]
    hits = [h for h in (here(c) for c in children) if h]
    return hits[0] if len(hits) == 1 else None


def _source_from_root(root: Path, split: str) -> Source:
    layout = _find_layout(root)
    if layout is None:
        if not root.exists():
            raise FileNotFoundError(f"CIFAR-10 root {root} does not exist. {FIX_HINT}")
        listing = sorted(p.name for p in root.iterdir())[:8]
        raise FileNotFoundError(
            f"{root} holds neither the official CIFAR-10 python files ('{OFFICIAL_DIR}/' or "
            "'data_batch_1'...'test_batch') nor an ImageFolder tree ('train/<class>/*', "
            f"'test/<class>/*'), nor a single sub-folder holding one; it contains {listing}. "
            + FIX_HINT)
    cls, path = layout
    return cls(path, split)


def find_source(split: str = "train", root: str | os.PathLike | None = None,
                download: bool = True, progress: bool = True) -> Source:
    """The source of ``split`` by the search order in this module's docstring.

    Lists files and reads labels only; images are read by ``read_images``. ``progress``
    is accepted for symmetry with ``load_split`` (a download prints torchvision's own bar).
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose 'train' or 'test'")
    tried = []
    given = root if root is not None else os.environ.get(DATA_ENV) or None
    if given is not None:
        return _source_from_root(Path(given).expanduser(), split)
    tried.append(f"no root argument and {DATA_ENV} not set")
    for candidate in _cache_candidates():
        layout = _find_layout(candidate)
        if layout:
            return layout[0](layout[1], split)
    tried.append(f"no CIFAR-10 in the cache folder {cache_dir()} (or its 'data/')")
    if download:
        target = cache_dir("data")
        try:
            import torchvision

            torchvision.datasets.CIFAR10(str(target), train=(split == "train"), download=True)
            return OfficialSource(target / OFFICIAL_DIR, split)
        except Exception as err:  # offline, host moved, disk full: report, do not crash here
            tried.append(f"official download into {target} failed: {type(err).__name__}: {err}")
    else:
        tried.append("download=False, so no download was attempted")
    raise FileNotFoundError("CIFAR-10 not found. Tried: " + "; ".join(
        f"({i}) {t}" for i, t in enumerate(tried, 1)) + ". " + FIX_HINT)


def _cache_candidates() -> list[Path]:
    base = cache_dir()  # a download lands in data/; the offline tree is unpacked to cifar10-jpeg/
    return [base / "data", base / "cifar10-jpeg", base / "data" / "cifar10-jpeg"]


# --------------------------------------------------------------------------- loading

def cache_file(tree: Path, split: str) -> Path:
    """Where the decoded ``split`` of the tree at ``tree`` is cached: one file per tree and
    split (a changed tree overwrites it); the tree's fingerprint is stored inside."""
    key = f"{tree.resolve()}|{split}|v{CACHE_VERSION}"
    return cache_dir("data") / f"cifar10-{split}-{hashlib.sha1(key.encode()).hexdigest()[:16]}.pt"


def _load_cached(source: Source) -> torch.Tensor | None:
    if not isinstance(source, FolderSource):
        return None
    file = cache_file(source.path, source.split)
    if not file.is_file():
        return None
    try:
        blob = torch.load(file, weights_only=True, mmap=True)
        X = blob["X"]
        if blob.get("fingerprint") == source.fingerprint and X.shape[0] == len(source.y) \
                and torch.equal(blob["y"], source.y):
            return X
    except Exception:  # a truncated or foreign file: decode again and overwrite it
        pass
    return None  # absent, or the tree changed since (a file replaced, added or removed)


def _save_cache(source: FolderSource, X: torch.Tensor) -> None:
    with atomic_path(cache_file(source.path, source.split)) as tmp:  # never half a file
        torch.save({"X": X, "y": source.y, "source": str(source.path.resolve()),
                    "split": source.split, "fingerprint": source.fingerprint}, tmp)


def read_images(source: Source, indices: torch.Tensor | None = None,
                progress: bool = True) -> TensorData:
    """Images of ``source`` at ``indices`` (all if None), through the decode cache."""
    X = _load_cached(source)
    if X is None:
        n_all = len(source.y)
        small = indices is not None and len(indices) <= SUBSET_DECODE_FRACTION * n_all
        if small or not isinstance(source, FolderSource):
            X = source.read(indices, progress)
            return TensorData(X, source.y[indices] if indices is not None else source.y.clone())
        X = source.read(None, progress)
        _save_cache(source, X)
    if indices is None:
        return TensorData(X, source.y.clone())
    return TensorData(X[indices], source.y[indices])


def load_split(split: str, root: str | os.PathLike | None = None, download: bool = True,
               per_class: int | None = None, seed: int = 0, progress: bool = True) -> TensorData:
    """The ``split`` ("train" or "test") of CIFAR-10, or ``per_class`` images per class of it."""
    source = find_source(split, root, download, progress)
    indices = None if per_class is None else balanced_indices(source.y, per_class, seed)
    return read_images(source, indices, progress)


@dataclass
class CIFARSplits:
    """Train / validation / test sets; validation is carved from the official training split."""

    train: TensorData  # what the weights are fitted on
    val: TensorData  # what architectures and hyper-parameters are chosen on
    test: TensorData  # the official test split: reported once, never used for choices

    def __repr__(self) -> str:
        return (f"CIFARSplits(train={len(self.train)}, val={len(self.val)}, "
                f"test={len(self.test)} images)")


def load_cifar10(preset: str | None = None, root: str | os.PathLike | None = None,
                 seed: int = 0, download: bool = True, progress: bool = True) -> CIFARSplits:
    """Train/val/test sized by ``get_preset(preset)``.

    val: ``val_per_class`` images per class of the training split (seeded); train: the
    rest of the training split, or ``train_per_class`` per class of the rest; test:
    ``test_per_class`` per class of the test split, or all of it.
    """
    P = get_preset(preset)
    source = find_source("train", root, download, progress)
    val_idx = balanced_indices(source.y, P.val_per_class, seed)
    rest = torch.ones(len(source.y), dtype=torch.bool)
    rest[val_idx] = False
    rest_idx = torch.nonzero(rest).flatten()
    if P.train_per_class is None:
        train_idx = rest_idx
    else:
        train_idx = rest_idx[balanced_indices(source.y[rest_idx], P.train_per_class, seed + 1)]
    both = read_images(source, torch.cat([train_idx, val_idx]), progress)
    n = len(train_idx)
    train, val = both[:n], both[n:]
    test = load_split("test", root, download, P.test_per_class, seed, progress)
    return CIFARSplits(train, val, test)


def data_status() -> str:
    """One line: where CIFAR-10 would be loaded from and whether it is there (reads nothing)."""
    given = os.environ.get(DATA_ENV)
    if given:
        layout = _find_layout(Path(given).expanduser())
        if layout is None:
            return (f"{DATA_ENV}={given}: NOT usable (neither official files nor an "
                    "ImageFolder tree)")
        origin = f"{DATA_ENV}={given}"
    else:
        layout = next((l for l in map(_find_layout, _cache_candidates()) if l), None)
        if layout is None:
            return (f"not found; {DATA_ENV} unset and nothing in {cache_dir()}: the first load "
                    f"downloads the official files into {cache_dir('data')}")
        origin = "cache folder"
    cls, path = layout
    if cls is OfficialSource:
        return f"{OfficialSource.kind} at {path} (from {origin})"
    splits = [s for s in SPLITS if (path / s).is_dir()]
    cached = [s for s in splits if cache_file(path, s).is_file()]
    return (f"{FolderSource.kind} at {path} (from {origin}), splits {splits}; decoded caches "
            f"of this tree: {cached or 'none yet'} in {cache_dir('data')} (checked against "
            "the files' sizes and dates on load)")


