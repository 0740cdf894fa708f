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

An ImageFolder split is decoded once (PIL, a thread pool) and cached as a uint8 tensor
file in ``cache_dir("data")``; a small class-balanced subset asked for before any cache
exists (the smoke preset) decodes only its own files. Subsets are chosen from the labels
alone, so the same call returns the same images whether or not the cache exists.

The in-memory side (``TensorData``, ``batches``, augmentation) is :mod:`.images`.
"""

from __future__ import annotations

import abc
import hashlib
import os
import pickle
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from ..config import atomic_path, cache_dir, get_preset
from .images import CLASSES, IMAGE_SIZE, TensorData, balanced_indices

DATA_ENV = "HWNAS_DATA_DIR"
SPLITS = ("train", "test")
IMAGES_PER_CLASS = 5000  # in the official training split
TEST_IMAGES_PER_CLASS = 1000  # in the official test split
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp")
OFFICIAL_DIR = "cifar-10-batches-py"
OFFICIAL_FILES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
SUBSET_DECODE_FRACTION = 0.25  # without a cache, decode a subset alone if it is at most this share
CACHE_VERSION = 1  # bump when the cache file layout changes
FIX_HINT = (f"Fix: set {DATA_ENV} to a folder holding '{OFFICIAL_DIR}/' (the official python "
            "version) or an ImageFolder tree 'train/<class>/*', 'test/<class>/*'; e.g. "
            "unpack the offline copy with `tar -xzf ../shared/data/cifar10-jpeg.tar.gz -C "
            "~/.cache/hwnas_lab` (found there automatically), or allow the official download "
            "(needs internet).")


# --------------------------------------------------------------------------- sources

class Source(abc.ABC):
    """A split on disk: labels known up front, images read on demand."""

    kind = "?"

    def __init__(self, path: Path, split: str):
        self.path, self.split = path, split
        self.y = self._labels()

    @abc.abstractmethod
    def _labels(self) -> torch.Tensor:
        """int64 labels of every image, in the source's canonical order."""

    @abc.abstractmethod
    def read(self, indices: torch.Tensor | None = None, progress: bool = True) -> torch.Tensor:
        """uint8 images (len(indices), 3, 32, 32); all of them when ``indices`` is None."""

    def __repr__(self) -> str:
        return f"{self.kind} {self.split} split at {self.path}"


class OfficialSource(Source):
    """The official python version: pickled dicts with ``data`` (N, 3072) and ``labels``."""

    kind = "official CIFAR-10 python files"

    def _labels(self) -> torch.Tensor:
        self._images = []
        labels = []
        for name in OFFICIAL_FILES[self.split]:
            batch = self._unpickle(self.path / name)
            data = batch.get(b"data", batch.get("data"))
            y = batch.get(b"labels", batch.get("labels"))
            if data is None or y is None:
                raise ValueError(f"{self.path / name} is not a CIFAR-10 batch file "
                                 "(no 'data'/'labels' entries)")
            data = np.asarray(data, dtype=np.uint8)
            self._images.append(data.reshape(-1, 3, IMAGE_SIZE, IMAGE_SIZE))
            labels.extend(y)
        return torch.tensor(labels, dtype=torch.int64)

    def _unpickle(self, file: Path) -> dict:
        if not file.is_file():
            raise FileNotFoundError(f"the official CIFAR-10 folder {self.path} has no "
                                    f"'{file.name}' (needed for the {self.split} split); "
                                    "re-download or re-extract cifar-10-python.tar.gz")
        with open(file, "rb") as fh:
            return pickle.load(fh, encoding="bytes")

    def read(self, indices: torch.Tensor | None = None, progress: bool = True) -> torch.Tensor:
        X = torch.from_numpy(np.concatenate(self._images))
        return X if indices is None else X[indices]


class FolderSource(Source):
    """An ImageFolder tree ``<root>/<split>/<class>/<image>``; files in sorted order."""

    kind = "ImageFolder tree"

    def _labels(self) -> torch.Tensor:
        folder = self.path / self.split
        if not folder.is_dir():
            raise FileNotFoundError(f"the ImageFolder tree at {self.path} has no '{self.split}' "
                                    f"folder; expected {self.path}/{self.split}/<class>/*.jpg")
        found = sorted(p.name for p in folder.iterdir() if p.is_dir())
        missing = [c for c in CLASSES if c not in found]
        if missing:
            raise FileNotFoundError(f"{folder} lacks class folder(s) {missing}; a CIFAR-10 tree "
                                    f"has one folder per class: {list(CLASSES)}")
        extra = [c for c in found if c not in CLASSES]
        if extra:
            raise ValueError(f"{folder} has folder(s) {extra} that are not CIFAR-10 classes "
                             f"{list(CLASSES)}; remove or rename them")
        self.files: list[str] = []
        labels = []
        for c, name in enumerate(CLASSES):
            with os.scandir(folder / name) as entries:
                files = sorted(e.name for e in entries
                               if e.is_file() and e.name.lower().endswith(IMAGE_SUFFIXES))
            if not files:
                raise FileNotFoundError(f"class folder {folder / name} holds no images "
                                        f"({', '.join(IMAGE_SUFFIXES)})")
            self.files.extend(os.path.join(name, f) for f in files)
            labels.extend([c] * len(files))
        return torch.tensor(labels, dtype=torch.int64)

    def cache_file(self) -> Path:
        """Where the decoded split is cached, keyed by the tree's path and file count."""
        key = f"{self.path.resolve()}|{self.split}|{len(self.files)}|v{CACHE_VERSION}"
        digest = hashlib.sha1(key.encode()).hexdigest()[:16]
        return cache_dir("data") / f"cifar10-{self.split}-{digest}.pt"

    def read(self, indices: torch.Tensor | None = None, progress: bool = True) -> torch.Tensor:
        order = range(len(self.files)) if indices is None else torch.as_tensor(indices).tolist()
        folder = self.path / self.split
        paths = [folder / self.files[i] for i in order]
        X = torch.empty(len(paths), 3, IMAGE_SIZE, IMAGE_SIZE, dtype=torch.uint8)
        Xhwc = X.permute(0, 2, 3, 1)  # a view: decoded HWC arrays are written straight in

        def decode(item: tuple[int, Path]) -> None:
            i, path = item
            Xhwc[i] = torch.from_numpy(_decode_image(path))

        workers = min(8, (os.cpu_count() or 1) + 2)  # decoding releases the GIL; I/O overlaps
        with ThreadPoolExecutor(workers) as pool:
            jobs = pool.map(decode, enumerate(paths), chunksize=256)
            for _ in tqdm(jobs, total=len(paths), desc=f"decode {self.split}", unit="img",
                          disable=not progress or len(paths) < 1000, mininterval=0.5):
                pass
        return X


def _decode_image(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        im = im.convert("RGB")
        if im.size != (IMAGE_SIZE, IMAGE_SIZE):
            im = im.resize((IMAGE_SIZE, IMAGE_SIZE), Image.BILINEAR)
        return np.array(im)  # writable copy (H, W, 3) uint8


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

def _load_cached(source: Source) -> torch.Tensor | None:
    if not isinstance(source, FolderSource):
        return None
    file = source.cache_file()
    if not file.is_file():
        return None
    try:
        blob = torch.load(file, weights_only=True, mmap=True)
        X = blob["X"]
        if X.shape[0] == len(source.y) and torch.equal(blob["y"], source.y):
            return X
    except Exception:  # a truncated or foreign file: decode again and overwrite it
        pass
    return None


def _save_cache(source: FolderSource, X: torch.Tensor) -> None:
    file = source.cache_file()
    with atomic_path(file) as tmp:  # a reader never sees half a file
        torch.save({"X": X, "y": source.y, "source": str(source.path.resolve()),
                    "split": source.split}, tmp)


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
    cached = [f.name.split("-")[1] for f in cache_dir("data").glob("cifar10-*-*.pt")]
    return (f"{FolderSource.kind} at {path} (from {origin}), splits {splits}; decoded caches "
            f"present: {sorted(set(cached)) or 'none yet'}")


