"""CIFAR-10 as an ImageFolder tree: ``<root>/<split>/<class>/<image>``, read with PIL.

The layout ``torchvision.datasets.ImageFolder`` reads (one folder per class, classes in
CIFAR-10's label order, which is also alphabetical). Files are listed in sorted order;
their names, sizes and modification times make the tree's ``fingerprint``, which keys
the decoded-image cache (:mod:`.cifar10`), so replacing one image invalidates it.

Decoding runs in a thread pool (PIL releases the GIL). A file that cannot be decoded
(truncated, empty, not an image) raises a ``ValueError`` naming it; images that are not
32x32 RGB are converted, and one ``DataWarning`` says how many there were.
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from .images import CLASSES, IMAGE_SIZE
from .source import Source

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp")


class DataWarning(UserWarning):
    """The data was usable but not as expected (e.g. images converted to 32x32 RGB)."""


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
        digest = hashlib.sha1(f"{self.path.resolve()}|{self.split}".encode())
        for c, name in enumerate(CLASSES):
            with os.scandir(folder / name) as entries:
                files = sorted((e.name, e.stat()) for e in entries
                               if e.is_file() and e.name.lower().endswith(IMAGE_SUFFIXES))
            if not files:
                raise FileNotFoundError(f"class folder {folder / name} holds no images "
                                        f"({', '.join(IMAGE_SUFFIXES)})")
            for file, st in files:
                digest.update(f"{name}/{file}|{st.st_size}|{st.st_mtime_ns}\n".encode())
            self.files.extend(os.path.join(name, f) for f, _ in files)
            labels.extend([c] * len(files))
        self.fingerprint = digest.hexdigest()  # names, sizes and mtimes of every image
        return torch.tensor(labels, dtype=torch.int64)

    def read(self, indices: torch.Tensor | None = None, progress: bool = True) -> torch.Tensor:
        order = range(len(self.files)) if indices is None else torch.as_tensor(indices).tolist()
        folder = self.path / self.split
        paths = [folder / self.files[i] for i in order]
        X = torch.empty(len(paths), 3, IMAGE_SIZE, IMAGE_SIZE, dtype=torch.uint8)
        Xhwc = X.permute(0, 2, 3, 1)  # a view: decoded HWC arrays are written straight in
        converted: list[str] = []  # "path (WxH MODE)" of images that were not 32x32 RGB
        lock = threading.Lock()

        def decode(item: tuple[int, Path]) -> None:
            i, path = item
            pixels, original = decode_image(path)
            Xhwc[i] = torch.from_numpy(pixels)
            if original:
                with lock:
                    converted.append(f"{path} ({original})")

        workers = min(8, (os.cpu_count() or 1) + 2)  # decoding releases the GIL; I/O overlaps
        with ThreadPoolExecutor(workers) as pool:
            jobs = pool.map(decode, enumerate(paths), chunksize=256)
            for _ in tqdm(jobs, total=len(paths), desc=f"decode {self.split}", unit="img",
                          disable=not progress or len(paths) < 1000, mininterval=0.5):
                pass
        if converted:
            warnings.warn(f"{len(converted)} of {len(paths)} images in {folder} were not "
                          f"{IMAGE_SIZE}x{IMAGE_SIZE} RGB and were converted to it (e.g. "
                          f"{min(converted)}); CIFAR-10 images are {IMAGE_SIZE}x{IMAGE_SIZE} RGB",
                          DataWarning, stacklevel=2)
        return X


def decode_image(path: Path) -> tuple[np.ndarray, str]:
    """``(pixels, original)``: (32, 32, 3) uint8, and ``"WxH MODE"`` if it had to be converted
    (else ``""``). A file PIL cannot decode gives a ``ValueError`` naming it."""
    try:
        with Image.open(path) as im:
            original = "" if im.size == (IMAGE_SIZE, IMAGE_SIZE) and im.mode == "RGB" \
                else f"{im.size[0]}x{im.size[1]} {im.mode}"
            im = im.convert("RGB")
            if im.size != (IMAGE_SIZE, IMAGE_SIZE):
                im = im.resize((IMAGE_SIZE, IMAGE_SIZE), Image.BILINEAR)
            return np.array(im), original  # a writable copy (H, W, 3)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        size = path.stat().st_size if path.exists() else 0
        raise ValueError(f"cannot decode image {path} ({size} bytes: {type(err).__name__}: "
                         f"{err}); replace it with an intact copy (e.g. unpack the archive "
                         "again) or delete it") from None
