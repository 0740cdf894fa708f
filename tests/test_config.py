"""Presets, the cache folder, atomic writes with the user's umask, the validators."""

import os
import stat

import pytest
import torch

from hwnas_lab.config import (atomic_path, cache_dir, check_int, file_lock, get_preset,
                              torch_threads)


def test_presets():
    assert get_preset("smoke").space == "cpu"
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        get_preset("huge")


def test_preset_from_environment(monkeypatch):
    monkeypatch.setenv("HWNAS_PRESET", "gpu")
    assert get_preset().name == "gpu"
    monkeypatch.setenv("HWNAS_PRESET", "nope")
    with pytest.raises(ValueError, match="HWNAS_PRESET"):
        get_preset()


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HWNAS_CACHE_DIR", str(tmp_path / "c"))
    assert cache_dir("lut") == tmp_path / "c" / "lut" and (tmp_path / "c" / "lut").is_dir()


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "sub" / "file.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("one")
    assert target.read_text() == "one"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "one" and list(target.parent.iterdir()) == [target]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_path_respects_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        with atomic_path(tmp_path / "f") as tmp:
            tmp.write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == mode


def test_check_int():
    assert check_int("n", 3) == 3 and check_int("n", 0, minimum=0) == 0
    for bad in (0, -1, 2.0, True, "3", None):
        with pytest.raises(ValueError, match=r"n must be an int >= 1, got"):
            check_int("n", bad)


def test_torch_threads_restores():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads must be an int >= 1"):
        with torch_threads(0):
            pass


def test_cache_dir_naming_a_file(tmp_path, monkeypatch):
    file = tmp_path / "cache.txt"
    file.write_text("x")
    monkeypatch.setenv("HWNAS_CACHE_DIR", str(file))
    with pytest.raises(ValueError, match=rf"HWNAS_CACHE_DIR={file}\): {file} is a file, not a "
                       "folder: move it away or set HWNAS_CACHE_DIR"):
        cache_dir("lut")
    monkeypatch.setenv("HWNAS_CACHE_DIR", str(tmp_path))
    (tmp_path / "lut").write_text("x")  # a file where a subfolder goes
    with pytest.raises(ValueError, match=rf"{tmp_path / 'lut'} is a file, not a folder"):
        cache_dir("lut")


def test_file_lock_can_be_taken_again_and_follows_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with file_lock(tmp_path / "t.json"):
            pass
        with file_lock(tmp_path / "t.json"):  # released: can be taken again
            with atomic_path(tmp_path / "t.json") as tmp:
                tmp.write_text("{}")
    finally:
        os.umask(old)
    lock = tmp_path / ".t.json.lock"
    assert stat.S_IMODE(lock.stat().st_mode) == 0o644 and (tmp_path / "t.json").read_text() == "{}"
