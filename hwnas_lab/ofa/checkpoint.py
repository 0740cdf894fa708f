"""Checkpoints of progressive shrinking, and finding the supernet a notebook should use.

A run folder (``python -m hwnas_lab ofa train --out DIR``) holds:

    last.pt       everything needed to resume: phase, epoch, weights, optimiser, scheduler,
                  teacher, log; written atomically at the end of every epoch
    log.jsonl     one line per epoch
    supernet.pt   when finished: weights and metadata only (what notebooks load)

Checkpoints are written only at epoch ends and every epoch reseeds all its random
sources from (seed, phase, epoch), so no random-generator state needs saving: a run
killed at any moment and resumed repeats the interrupted epoch exactly. Files are read
with ``torch.load(weights_only=True)``, which unpickles tensors and plain containers only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import torch

from ..config import atomic_path, cache_dir
from ..space import SearchSpace, get_space
from .schedule import ShrinkConfig
from .supernet import OFASupernet

CKPT_FORMAT = "hwnas_lab.ofa/1"  # bump when the checkpoint layout changes
LAST, FINAL, LOG = "last.pt", "supernet.pt", "log.jsonl"
SHIPPED_DIR = Path(__file__).resolve().parent / "weights"  # shipped supernets: <preset>.pt


def checkpoint(net: OFASupernet, config: ShrinkConfig, state: dict, **extra) -> dict:
    """The dict a checkpoint file holds: format, space, config, run ``state``, weights, ``extra``."""
    return {"format": CKPT_FORMAT, "space": net.space.to_dict(), "config": config.to_dict(),
            **state, "model": net.state_dict(), **extra}


def save_checkpoint(ckpt: dict, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(ckpt, tmp)


def write_log(path: Path, history: list[dict]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(row) + "\n" for row in history))


def load_checkpoint(path: str | os.PathLike,
                    fix: str = "retrain, or use an intact copy of the file") -> dict:
    """Read a checkpoint written by ``train_supernet`` (``last.pt`` or ``supernet.pt``, or a
    run folder holding one); a ``ValueError`` (ending in ``fix``) if it is unreadable."""
    path = Path(path)
    if path.is_dir():
        for name in (FINAL, LAST):
            if (path / name).exists():
                path = path / name
                break
    if not path.is_file():
        raise FileNotFoundError(f"no OFA checkpoint at {path}: give a {FINAL} or {LAST} file "
                                "(or the --out folder of `python -m hwnas_lab ofa train`)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, not a torch file, foreign pickle
        raise ValueError(f"{path} is not a readable OFA checkpoint (corrupt or truncated? "
                         f"{type(err).__name__}: {str(err)[:200]}); {fix}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CKPT_FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(f"{path} is not an OFA checkpoint of format {CKPT_FORMAT!r} "
                         f"(found {found!r}); {fix}")
    return ckpt


def read_run(out: Path, resume: bool) -> dict | None:
    """The checkpoint a run in folder ``out`` resumes from (None: start a new one there).

    Every refusal names the file in the way and what to do with it, so the messages of
    ``--resume`` and of a plain run never send the user back and forth.
    """
    last, final = out / LAST, out / FINAL
    if not last.exists():
        if resume:
            raise FileNotFoundError(f"--resume: nothing to resume in {out} (no {LAST}); "
                                    "run without --resume to start a new run there")
        if final.exists():
            raise ValueError(f"{out} holds a finished supernet ({final}) but no {LAST}; give "
                             "another --out folder for a new run, or move that file away")
        return None
    ckpt = load_checkpoint(last, fix=(
        f"this run cannot {'resume' if resume else 'start'} while it is there. Move it away "
        f"(e.g. `mv {last} {last}.broken`) and run again without --resume to start over in "
        f"{out}, or put an intact copy of {LAST} back and add --resume"))
    if not resume:
        if ckpt.get("done") and final.exists():
            raise ValueError(f"{out} holds a finished run ({final}); give another --out folder "
                             f"for a new run, or evaluate this one with `python -m hwnas_lab ofa "
                             f"eval {out}`")
        raise ValueError(f"{out} already holds an unfinished run ({last}); add --resume to "
                         "continue it, or choose another --out folder")
    return ckpt


def supernet_from_checkpoint(ckpt: dict, space: SearchSpace | str | None = None,
                             where: str = "checkpoint") -> OFASupernet:
    """The supernet a loaded checkpoint holds, in eval mode; ``space`` (optional) must match."""
    saved = SearchSpace.from_dict(ckpt["space"])
    if space is not None and get_space(space) != saved:
        raise ValueError(f"{where} holds a supernet of space {saved.name!r} "
                         f"({saved.describe()}), not of {get_space(space).name!r}")
    net = OFASupernet(saved, ckpt["config"].get("dropout", 0.0))
    try:
        net.load_state_dict(ckpt["model"])
    except RuntimeError as err:
        raise ValueError(f"{where} does not fit the supernet of its space: "
                         f"{str(err)[:300]}") from None
    return net.eval()


def load_supernet(path: str | os.PathLike, space: SearchSpace | str | None = None) -> OFASupernet:
    """The supernet saved at ``path``, in eval mode; ``space`` (optional) must match it."""
    return supernet_from_checkpoint(load_checkpoint(path), space, where=f"checkpoint {path}")


def run_dir(preset: str) -> Path:
    """Where notebooks train (and look for) the learner's own supernet of ``preset``."""
    return cache_dir(f"ofa/{preset}")


def find_supernet(preset: str) -> tuple[Path | None, str]:
    """The checkpoint a notebook should use: the learner's own, else a shipped one.

    Returns ``(path, source)`` with source ``"own"`` or ``"shipped"``, or ``(None, "none")``.
    """
    own = run_dir(preset) / FINAL
    if own.exists():
        return own, "own"
    shipped = SHIPPED_DIR / f"{preset}.pt"
    if shipped.exists():
        return shipped, "shipped"
    return None, "none"
