"""Run presets (smoke / laptop / gpu), the cache folder, atomic writes, small validators.

A preset sizes every experiment of the course: the search space, the data subset,
epochs and measurement repeats. Notebooks read ``HWNAS_PRESET`` in their ``parameters``
cell; ``smoke`` is for CI (seconds, real code paths), ``laptop`` for a student's CPU
(minutes), ``gpu`` for the full experiment.

Heavy results (latency tables, trained supernets, decoded datasets) live in the cache
folder: ``HWNAS_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/hwnas_lab`` (``~/.cache/hwnas_lab``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None
    import msvcrt

PRESET_ENV = "HWNAS_PRESET"
CACHE_ENV = "HWNAS_CACHE_DIR"


@dataclass(frozen=True)
class Preset:
    """Budgets of one preset; notebooks and CLIs read these instead of literals."""

    name: str
    space: str  # search-space preset, see hwnas_lab.space.SPACES
    train_per_class: int | None  # training images per class (None: all that remain after val)
    val_per_class: int  # validation images per class, carved from the training split
    test_per_class: int | None  # test images per class (None: all 1,000)
    epochs: int  # epochs of a stand-alone training run in a notebook
    batch_size: int  # training batch size
    n_archs: int  # random subnetworks in an experiment (e.g. latency against FLOPs)
    latency_repeats: int  # timed repeats per latency measurement (median and IQR over them)


PRESETS: dict[str, Preset] = {
    "smoke": Preset("smoke", "cpu", train_per_class=20, val_per_class=10, test_per_class=10,
                    epochs=1, batch_size=64, n_archs=4, latency_repeats=5),
    "laptop": Preset("laptop", "cpu", train_per_class=None, val_per_class=500,
                     test_per_class=None, epochs=10, batch_size=128, n_archs=30,
                     latency_repeats=15),
    "gpu": Preset("gpu", "gpu", train_per_class=None, val_per_class=500, test_per_class=None,
                  epochs=100, batch_size=256, n_archs=100, latency_repeats=30),
}


def get_preset(name: str | Preset | None = None) -> Preset:
    """The preset called ``name``, or ``$HWNAS_PRESET``, or ``laptop``."""
    if isinstance(name, Preset):
        return name
    name = name or os.environ.get(PRESET_ENV) or "laptop"
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)} "
                         f"(argument or the {PRESET_ENV} environment variable)") from None


def cache_dir(sub: str = "") -> Path:
    """The cache folder (created on first use), or a subfolder of it."""
    root = os.environ.get(CACHE_ENV)
    if root:
        base, origin = Path(root).expanduser(), f"{CACHE_ENV}={root}"
    else:
        xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        base, origin = Path(xdg) / "hwnas_lab", "the default cache folder"
    path = base / sub if sub else base
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # a file where a folder should be, no permission
        blocker = next((p for p in (base, *base.parents) if p.exists() and not p.is_dir()), None)
        blocker = blocker or (path if path.exists() and not path.is_dir() else None)
        why = f"{blocker} is a file, not a folder: move it away or" if blocker else \
            f"{err.strerror};"
        raise ValueError(f"cannot use {path} as the cache folder ({origin}): {why} set "
                         f"{CACHE_ENV} to a folder you can write (it is created if missing)"
                         ) from None
    return path


def _umask() -> int:
    mask = os.umask(0)  # the only portable way to read it: set and restore at once
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary file beside ``path``; when the block succeeds, rename it over ``path``.

    A reader never sees half a file, and an interrupted write leaves the old one intact:
    ``with atomic_path(p) as tmp: torch.save(obj, tmp)``. The file gets the permissions a
    plain ``open(path, "w")`` would (0666 minus the umask), so others can read what the
    course writes in a shared class folder.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


@contextlib.contextmanager
def file_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (a hidden ``.NAME.lock`` file beside it) for the block.

    Two processes that read, merge and rewrite one file (two builds of one latency table)
    take turns inside the block. POSIX ``fcntl.flock``, Windows ``msvcrt.locking``; the lock
    goes with the process, so a killed holder never leaves it stuck.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "a+b") as fh:  # 0666 minus the umask
        if fcntl is not None:
            fcntl.flock(fh, fcntl.LOCK_EX)
        else:  # pragma: no cover - Windows: lock the first byte (retries for 10 s)
            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_LOCK, 1)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(fh, fcntl.LOCK_UN)
            else:  # pragma: no cover - Windows
                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)


def check_int(name: str, value: object, minimum: int = 1) -> int:
    """``value`` as an int if it is an integer >= ``minimum``, else a ``ValueError`` naming it."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` intra-op threads (None: leave as is), then restore."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(check_int("threads", threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)
