"""What every on-disk form of CIFAR-10 provides: labels up front, images read on demand.

Two forms implement it: the official python batch files (:mod:`.official`) and an
ImageFolder tree of image files (:mod:`.folder`); :mod:`.cifar10` finds one and caches
what it reads.
"""

from __future__ import annotations

import abc
from pathlib import Path

import torch


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
