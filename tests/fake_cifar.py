"""Tiny fake CIFAR-10 sources for the data tests: an ImageFolder tree and official-format
batch files (the latter are not the official files, so their md5 differs)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from hwnas_lab.data.images import CLASSES


def fake_split(per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random distinct images grouped by class (the order an ImageFolder tree lists them)."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 256, (per_class * 10, 3, 32, 32), dtype=np.uint8)
    y = np.repeat(np.arange(10), per_class)
    return X, y


def write_tree(root: Path, splits: dict, fmt: str = "png", skip_class: str | None = None) -> Path:
    from PIL import Image

    for split, (X, y) in splits.items():
        for i, (img, label) in enumerate(zip(X, y)):
            name = CLASSES[label]
            if name == skip_class:
                continue
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img.transpose(1, 2, 0)).save(folder / f"{i:04d}.{fmt}", quality=95)
    return root


def write_official(folder: Path, train, test) -> Path:
    """Same format as cifar-10-python.tar.gz: pickled dicts with bytes keys, flat rows."""
    folder.mkdir(parents=True)
    X, y = train
    for b, part in enumerate(np.array_split(np.arange(len(y)), 5), 1):
        blob = {b"batch_label": b"fake", b"data": X[part].reshape(len(part), -1),
                b"labels": y[part].tolist()}
        (folder / f"data_batch_{b}").write_bytes(pickle.dumps(blob, protocol=2))
    X, y = test
    blob = {b"data": X.reshape(len(y), -1), b"labels": y.tolist()}
    (folder / "test_batch").write_bytes(pickle.dumps(blob, protocol=2))
    return folder
