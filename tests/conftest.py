"""Shared fixtures: the environment notebooks run in under test.

Notebook tests run every notebook with ``HWNAS_PRESET=smoke`` on CIFAR-10 from
``HWNAS_DATA_DIR`` (or a copy the loader finds in the cache folder; nothing is
downloaded), with a fresh cache folder for the session so that nothing built by an
earlier run (latency tables, supernets) is silently reused. Without any local CIFAR-10
the notebook tests are skipped with the reason, unless ``HWNAS_REQUIRE_DATA=1`` (set by
``.ci/run``), which turns the skip into a failure.
"""

from __future__ import annotations

import os

import pytest
import torch


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "notebooks: executes notebooks (slow; deselect with "
                            "-m 'not notebooks')")


@pytest.fixture(scope="session")
def notebook_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment variables for a notebook kernel under test (skips if no CIFAR-10)."""
    from hwnas_lab.data import find_source

    try:
        source = find_source("train", download=False, progress=False)
    except (FileNotFoundError, ValueError) as err:
        reason = (f"no local CIFAR-10, notebook tests need it (nothing is downloaded in tests): "
                  f"{err}")
        if os.environ.get("HWNAS_REQUIRE_DATA") == "1":
            pytest.fail(reason + " [HWNAS_REQUIRE_DATA=1]")
        pytest.skip(reason)
    return {
        "HWNAS_PRESET": "smoke",
        "HWNAS_DATA_DIR": str(source.path),
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
