"""hwnas_lab.data.cifar10 on tiny fake CIFAR-10 sources built in tmp_path, and on the real one."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from fake_cifar import fake_split, write_official, write_tree
from hwnas_lab.config import Preset
from hwnas_lab.data import cifar10 as D
from hwnas_lab.data import folder as F

N_TRAIN, N_TEST = 6, 3  # images per class in the fake sources


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Private cache folder, no HWNAS_DATA_DIR: each test sees only what it builds."""
    monkeypatch.setenv("HWNAS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(D.DATA_ENV, raising=False)


@pytest.fixture
def splits():
    return {"train": fake_split(N_TRAIN, 1), "test": fake_split(N_TEST, 2)}


@pytest.fixture
def tree(tmp_path, splits):
    return write_tree(tmp_path / "tree", splits)


@pytest.fixture
def official(tmp_path, splits, monkeypatch):
    monkeypatch.setenv(D.TRUST_ENV, "1")  # fake batch files: not the official md5 (test_official.py)
    return write_official(tmp_path / "off" / D.OFFICIAL_DIR, splits["train"], splits["test"])


# ------------------------------------------------------------------ sources and layouts

def test_imagefolder_and_official_load_the_same_tensors(tree, official, splits):
    for split, (X, y) in splits.items():
        a = D.load_split(split, root=tree)
        b = D.load_split(split, root=official.parent)
        for got in (a, b):
            assert got.X.dtype == torch.uint8 and got.X.shape == (len(y), 3, 32, 32)
            assert got.y.dtype == torch.int64 and len(got) == len(y)
            assert torch.equal(got.X, torch.from_numpy(X))  # PNG is lossless
            assert torch.equal(got.y, torch.from_numpy(y))


def test_root_variants_and_env(tmp_path, tree, official, monkeypatch):
    ref = D.load_split("test", root=official.parent)
    assert torch.equal(D.load_split("test", root=official).X, ref.X)  # the folder itself
    wrapper = tmp_path / "wrap"
    wrapper.mkdir()
    os.symlink(tree, wrapper / "cifar10-jpeg")  # parent of a single tree
    assert torch.equal(D.load_split("test", root=wrapper).X, ref.X)
    monkeypatch.setenv(D.DATA_ENV, str(tree))
    assert torch.equal(D.load_split("test").X, ref.X)
    assert "ImageFolder" in D.data_status() and str(tree) in D.data_status()


def test_tree_in_cache_folder_is_found_without_root(tmp_path, splits):
    write_tree(tmp_path / "cache" / "cifar10-jpeg", splits)
    assert "not found" not in D.data_status()
    assert len(D.load_split("test", download=False)) == 10 * N_TEST


def test_jpeg_tree_decodes_close_to_the_originals(tmp_path):
    # flat 8x8 blocks (JPEG's own block size) survive compression almost unchanged
    rng = np.random.default_rng(3)
    X = rng.integers(0, 256, (20, 3, 4, 4), dtype=np.uint8).repeat(8, 2).repeat(8, 3)
    y = np.repeat(np.arange(10), 2)
    tree = write_tree(tmp_path / "jpg", {"test": (X, y)}, fmt="jpg")
    got = D.load_split("test", root=tree)
    assert got.X.shape == (20, 3, 32, 32) and torch.equal(got.y, torch.from_numpy(y))
    err = (got.X.float() - torch.from_numpy(X).float()).abs().mean().item()
    assert err < 12  # mean absolute error in 0..255 levels; a wrong image is ~85 off


def test_decode_cache_is_written_once_and_reused(tree, monkeypatch):
    full = D.load_split("train", root=tree)
    files = list((Path(os.environ["HWNAS_CACHE_DIR"]) / "data").glob("cifar10-train-*.pt"))
    assert len(files) == 1

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again although a cache exists")

    monkeypatch.setattr(D.FolderSource, "read", no_decoding)
    again = D.load_split("train", root=tree)
    assert torch.equal(again.X, full.X) and torch.equal(again.y, full.y)
    sub = D.load_split("train", root=tree, per_class=2, seed=3)
    assert torch.equal(sub.X, full.subset(2, seed=3).X)


def test_small_subset_without_cache_decodes_only_its_files(tree, monkeypatch):
    decoded = []
    real = F.decode_image
    monkeypatch.setattr(F, "decode_image", lambda p: decoded.append(p) or real(p))
    sub = D.load_split("train", root=tree, per_class=1, seed=5)
    assert len(decoded) == 10 and len(sub) == 10
    assert not list((Path(os.environ["HWNAS_CACHE_DIR"]) / "data").glob("*.pt"))
    full = D.load_split("train", root=tree)  # the same choice as from the full split
    assert torch.equal(sub.X, full.subset(1, seed=5).X)


# ------------------------------------------------------------------ subsets and splits

def test_load_cifar10_val_is_disjoint_and_sized_by_preset(tmp_path, monkeypatch):
    monkeypatch.setenv(D.TRUST_ENV, "1")
    train, test = fake_split(40, 7), fake_split(12, 8)
    root = write_official(tmp_path / "o" / D.OFFICIAL_DIR, train, test).parent
    s = D.load_cifar10("smoke", root=root, seed=0)  # 20 train, 10 val, 10 test per class
    assert (len(s.train), len(s.val), len(s.test)) == (200, 100, 100)
    assert s.train.class_counts() == [20] * 10 and s.val.class_counts() == [10] * 10
    rows = lambda d: {bytes(x.numpy().tobytes()) for x in d.X}  # noqa: E731
    assert not rows(s.train) & rows(s.val)
    assert rows(s.test) <= {x.tobytes() for x in test[0]}
    again = D.load_cifar10("smoke", root=root, seed=0)
    assert torch.equal(again.val.X, s.val.X) and torch.equal(again.train.X, s.train.X)
    everything = D.load_cifar10(Preset("t", "cpu", None, 5, None, 1, 8, 1, 1), root=root)
    assert (len(everything.train), len(everything.val), len(everything.test)) == (350, 50, 120)
    assert not rows(everything.train) & rows(everything.val)
    with pytest.raises(ValueError, match="unknown preset"):
        D.load_cifar10("nope", root=root)


# ------------------------------------------------------------------ errors

def test_root_with_neither_layout(tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "readme.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match="neither") as err:
        D.load_split("train", root=tmp_path / "junk")
    assert D.DATA_ENV in str(err.value)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        D.load_split("train", root=tmp_path / "missing")


def test_tree_missing_a_class_or_a_split(tmp_path, splits):
    root = write_tree(tmp_path / "t", {"train": splits["train"]}, skip_class="horse")
    with pytest.raises(FileNotFoundError, match="horse"):
        D.load_split("train", root=root)
    with pytest.raises(FileNotFoundError, match="no 'test' folder"):
        D.load_split("test", root=root)
    with pytest.raises(ValueError, match="unknown split"):
        D.load_split("valid", root=root)


def test_official_missing_batch_file(official):
    (official / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        D.load_split("train", root=official)


def test_nothing_found_gives_one_error_listing_what_was_tried(monkeypatch):
    import torchvision

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    with pytest.raises(FileNotFoundError) as err:
        D.load_split("train")
    msg = str(err.value)
    assert "network unreachable" in msg and D.DATA_ENV in msg and "(3)" in msg
    with pytest.raises(FileNotFoundError, match="download=False"):
        D.load_split("train", download=False)
    assert D.data_status().startswith("not found")


def test_status_with_a_bad_env_root_does_not_raise(tmp_path, monkeypatch):
    monkeypatch.setenv(D.DATA_ENV, str(tmp_path / "nowhere"))
    assert "NOT usable" in D.data_status()


# ------------------------------------------------------------------ the real data (conftest: cifar_root)

def test_real_cifar10_small_subset(cifar_root):
    data = D.load_split("test", root=cifar_root, per_class=3, seed=0, progress=False)
    assert data.X.shape == (30, 3, 32, 32) and data.class_counts() == [3] * 10
    assert 60 < data.X.float().mean().item() < 200  # real photographs, not blank files


def test_cache_follows_a_replaced_image(tree):
    """The cache was keyed on the folder and file count: a replaced image kept old pixels."""
    first = D.load_split("train", root=tree)
    file = tree / "train" / "bird" / "0013.png"
    i = D.FolderSource(tree, "train").files.index("bird/0013.png")
    new = np.full((32, 32, 3), 7, np.uint8)
    from PIL import Image

    Image.fromarray(new).save(file)  # same name, same number of files
    again = D.load_split("train", root=tree)
    assert torch.equal(again.X[i], torch.from_numpy(new).permute(2, 0, 1))
    assert not torch.equal(again.X[i], first.X[i])
    caches = list((Path(os.environ["HWNAS_CACHE_DIR"]) / "data").glob("cifar10-train-*.pt"))
    assert len(caches) == 1  # rewritten in place, not one more file per change


def test_status_lists_only_this_trees_caches(tmp_path, tree, splits, monkeypatch):
    other = write_tree(tmp_path / "other", splits)
    D.load_split("test", root=other)  # a cache of another tree
    monkeypatch.setenv(D.DATA_ENV, str(tree))
    assert "decoded caches of this tree: none yet" in D.data_status()
    D.load_split("test")
    assert "decoded caches of this tree: ['test']" in D.data_status()


def test_decoded_cache_mode_follows_the_umask(tree):
    import stat

    old = os.umask(0o022)
    try:
        D.load_split("test", root=tree)
    finally:
        os.umask(old)
    cache, = (Path(os.environ["HWNAS_CACHE_DIR"]) / "data").glob("cifar10-test-*.pt")
    assert stat.S_IMODE(cache.stat().st_mode) == 0o644
