"""The official CIFAR-10 python files, checked against their published checksums before use.

``cifar-10-python.tar.gz`` (Krizhevsky, 2009) unpacks to ``cifar-10-batches-py/`` with five
training batches and one test batch, each a pickled dict with ``data`` (N x 3072 uint8,
channels first) and ``labels``. Unpickling runs whatever the file says, so a folder that
only *looks* like CIFAR-10 could run code on load. Every batch file is therefore
checked against the md5 of the official file before it is unpickled; the md5 values are
those torchvision lists for ``cifar-10-python.tar.gz``'s files
(``torchvision/datasets/cifar.py``, ``CIFAR10.train_list`` and ``CIFAR10.test_list``,
torchvision 0.29.1). Any other file is refused, with the fix.

Opt-out, for batch files you made yourself (e.g. a subset in the same format): set
``HWNAS_TRUST_PICKLES=1``. Even then a file is read with a restricted unpickler that
builds only dicts, lists, strings, bytes and numpy arrays, never calls anything else.
An ImageFolder tree (:mod:`.folder`) needs no unpickling at all.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import numpy as np
import torch

from .images import IMAGE_SIZE
from .source import Source

OFFICIAL_DIR = "cifar-10-batches-py"
OFFICIAL_FILES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
OFFICIAL_MD5 = {  # torchvision/datasets/cifar.py (0.29.1): CIFAR10.train_list + test_list
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
TRUST_ENV = "HWNAS_TRUST_PICKLES"  # "1": unpickle batch files whose md5 is not the official one
REFETCH = "re-download cifar-10-python.tar.gz and extract it again, or use an ImageFolder tree"

# the only globals a CIFAR-10 batch file may name: numpy's array rebuilders (numpy 1 and 2
# spell the module differently) and the codec Python 3 uses for bytes in protocol 2
_SAFE_GLOBALS = {("numpy.core.multiarray", "_reconstruct"),
                 ("numpy._core.multiarray", "_reconstruct"),
                 ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}


class _ArraysOnly(pickle.Unpickler):
    """Unpickles containers and numpy arrays; any other global is refused."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _SAFE_GLOBALS:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which a CIFAR-10 batch "
                                         "file never does")
        return super().find_class(module, name)


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_official(path: Path) -> None:
    """``ValueError`` unless ``path`` is the official file of its name, or the opt-out is set."""
    if os.environ.get(TRUST_ENV) == "1":
        return
    expected, found = OFFICIAL_MD5.get(path.name), md5_of(path)
    if found != expected:
        raise ValueError(
            f"refusing to unpickle {path}: its md5 is {found}, not the published md5 of the "
            f"official CIFAR-10 file {path.name!r} ({expected}), so it is damaged or not the "
            "official file, and unpickling an unknown file can run code. Fix: "
            f"{REFETCH}; if you made this file yourself and trust it, set {TRUST_ENV}=1")


class OfficialSource(Source):
    """The official python version: pickled dicts with ``data`` (N, 3072) and ``labels``."""

    kind = "official CIFAR-10 python files"

    def _labels(self) -> torch.Tensor:
        self._images = []
        labels = []
        for name in OFFICIAL_FILES[self.split]:
            file = self.path / name
            batch = self._unpickle(file)
            data = batch.get(b"data", batch.get("data"))
            y = batch.get(b"labels", batch.get("labels"))
            if data is None or y is None:
                raise ValueError(f"{file} is not a CIFAR-10 batch file (no 'data'/'labels' "
                                 f"entries); {REFETCH}")
            data = np.asarray(data)
            width = 3 * IMAGE_SIZE * IMAGE_SIZE
            if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != width \
                    or len(y) != len(data):
                raise ValueError(f"{file} holds {data.dtype} data of shape {data.shape} and "
                                 f"{len(y)} labels; a CIFAR-10 batch has uint8 rows of {width} "
                                 f"values, one label each. {REFETCH}")
            labels.extend(int(label) for label in y)
            self._images.append(data.reshape(-1, 3, IMAGE_SIZE, IMAGE_SIZE))
        y = torch.tensor(labels, dtype=torch.int64)
        if len(y) and not 0 <= int(y.min()) <= int(y.max()) <= 9:
            raise ValueError(f"labels in {self.path} ({self.split}) fall outside 0..9; {REFETCH}")
        return y

    def _unpickle(self, file: Path) -> dict:
        if not file.is_file():
            raise FileNotFoundError(f"the official CIFAR-10 folder {self.path} has no "
                                    f"'{file.name}' (needed for the {self.split} split); "
                                    "re-download or re-extract cifar-10-python.tar.gz")
        check_official(file)
        try:
            with open(file, "rb") as fh:
                batch = _ArraysOnly(fh, encoding="bytes").load()
        except Exception as err:  # truncated (EOFError), not a pickle, a refused global
            raise ValueError(f"cannot read the CIFAR-10 batch file {file} ({type(err).__name__}: "
                             f"{str(err)[:200]}); {REFETCH}") from None
        if not isinstance(batch, dict):
            raise ValueError(f"{file} holds a {type(batch).__name__}, not a CIFAR-10 batch dict; "
                             + REFETCH)
        return batch

    def read(self, indices: torch.Tensor | None = None, progress: bool = True) -> torch.Tensor:
        X = torch.from_numpy(np.concatenate(self._images))
        return X if indices is None else X[indices]
