"""Helpers several test files share: the unsolved exercise, a fake latency table, a notebook
writer, a script of scripts/ imported as a module."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path
from types import ModuleType

import nbformat

from hwnas_lab.latency.lut import LatencyTable
from hwnas_lab.space import SearchSpace, get_space


def todo(*args):
    """An exercise the learner has not written yet (the student copy's stub)."""
    raise NotImplementedError()


def run_todo(check, capsys, monkeypatch, name: str) -> None:
    """``check`` reports an unsolved exercise as TODO (outside nbgrader) instead of raising."""
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    check(todo)
    assert f"TODO  {name}" in capsys.readouterr().out


def fake_table(space: SearchSpace | None = None, seed: int = 0) -> LatencyTable:
    """A complete latency table of ``space`` (default: cpu) with random entries in 0.01-1 ms."""
    space = space or get_space("cpu")
    rng = random.Random(seed)
    return LatencyTable(space, "torch-1thread",
                        {s.signature: rng.uniform(0.01, 1.0) for s in space.all_layer_specs()})


def write_notebook(folder: Path, name: str, nb) -> Path:
    """Write ``nb`` as ``folder/name`` (folder created); return the path."""
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / name)
    return folder / name


def load_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` imported as a module (scripts/ is no package)."""
    path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
