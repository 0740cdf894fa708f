"""Shared fixtures: local CIFAR-10, and the environment notebooks run in under test.

Every test that needs real CIFAR-10 asks for ``cifar_root``: the folder found in
``HWNAS_DATA_DIR`` or the cache folder (nothing is downloaded in tests). Without one such
tests are skipped with the reason, unless ``HWNAS_REQUIRE_DATA=1`` (set by ``.ci/run``),
which turns every such skip into a failure. Notebook tests run every notebook with
``HWNAS_PRESET=smoke`` and a fresh cache folder for the session, so that nothing built by
an earlier run (latency tables, supernets) is silently reused.
"""

from __future__ import annotations

import os

import pytest
import torch

from hwnas_lab.config import torch_threads
from hwnas_lab.data import find_source, load_cifar10
from hwnas_lab.ofa.schedule import get_shrink_config
from hwnas_lab.ofa.shrink import train_supernet


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "notebooks: executes notebooks (slow; deselect with "
                            "-m 'not notebooks')")


@pytest.fixture(scope="session")
def cifar_root() -> str:
    """The local CIFAR-10 folder (skip, or fail under HWNAS_REQUIRE_DATA=1, if none)."""
    try:
        return str(find_source("train", download=False, progress=False).path)
    except (FileNotFoundError, ValueError) as err:
        reason = f"no local CIFAR-10 (nothing is downloaded in tests): {err}"
        if os.environ.get("HWNAS_REQUIRE_DATA") == "1":
            pytest.fail(reason + " [HWNAS_REQUIRE_DATA=1]")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def notebook_env(cifar_root: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment variables for a notebook kernel under test."""
    return {
        "HWNAS_PRESET": "smoke",
        "HWNAS_DATA_DIR": cifar_root,
        "HWNAS_CACHE_DIR": str(tmp_path_factory.mktemp("hwnas_cache")),
        "JUPYTER_PREFER_ENV_PATH": "1",  # the venv's kernel spec before one in the user's home
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",  # quiet debugger warning at kernel start
    }


@pytest.fixture
def in_notebook_env(notebook_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Apply ``notebook_env`` to this process (kernels inherit it) for one test."""
    for key, value in notebook_env.items():
        monkeypatch.setenv(key, value)
    return notebook_env


@pytest.fixture(scope="module")
def one_thread():
    """Small tensors: one intra-op thread is faster, and robust on a busy shared CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def ofa_smoke_run(cifar_root: str, tmp_path_factory: pytest.TempPathFactory):
    """A complete smoke-preset OFA run in this process, on one thread (as the subprocesses
    of the resume test, so their numbers match): ``(run folder, final checkpoint)``."""
    out = tmp_path_factory.mktemp("ofa_smoke")
    with torch_threads(1):
        final = train_supernet(get_shrink_config("smoke"), out,
                               data=load_cifar10("smoke", root=cifar_root, progress=False),
                               progress=False, log=lambda line: None)
    return out, final
