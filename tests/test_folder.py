"""An ImageFolder tree: broken files are named, odd images converted with one warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from fake_cifar import fake_split, write_tree
from hwnas_lab.data import cifar10 as D
from hwnas_lab.data.folder import DataWarning, FolderSource


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("HWNAS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(D.DATA_ENV, raising=False)


@pytest.fixture
def tree(tmp_path):
    return write_tree(tmp_path / "tree", {"test": fake_split(3, 2)}, fmt="jpg")


@pytest.mark.parametrize("breakage", ["truncated", "zero bytes", "text"])
def test_a_broken_image_names_its_file(tree, breakage):
    file = tree / "test" / "cat" / "0010.jpg"
    good = file.read_bytes()
    file.write_bytes({"truncated": good[: len(good) // 2], "zero bytes": b"",
                      "text": b"not an image at all\n"}[breakage])
    for per_class in (None, 1):  # the whole split (cached) and a small subset (decoded alone)
        with pytest.raises(ValueError, match=rf"cannot decode image {file} \(\d+ bytes: .*\); "
                           "replace it with an intact copy"):
            D.load_split("test", root=tree, per_class=per_class, seed=0 if per_class is None else 3)


def test_a_broken_image_is_named_with_a_cifar_sized_tree(tmp_path):
    """Many images, one truncated: the error still names it (not 'image file is truncated')."""
    X, y = fake_split(120, 4)
    tree = write_tree(tmp_path / "big", {"test": (X, y)}, fmt="jpg")
    file = tree / "test" / "ship" / "0970.jpg"
    file.write_bytes(file.read_bytes()[:300])
    with pytest.raises(ValueError, match=rf"cannot decode image {file}"):
        FolderSource(tree, "test").read(progress=False)


def test_wrong_size_and_grayscale_images_are_converted_with_one_warning(tree):
    big = tree / "test" / "dog" / "0015.jpg"
    Image.fromarray(np.full((64, 48, 3), 200, np.uint8)).save(big)
    gray = tree / "test" / "frog" / "0018.jpg"
    Image.fromarray(np.full((32, 32), 90, np.uint8), mode="L").save(gray)
    with pytest.warns(DataWarning) as caught:
        data = D.load_split("test", root=tree)
    assert len([w for w in caught if w.category is DataWarning]) == 1
    message = str(caught[0].message)
    assert "2 of 30 images" in message and "were not 32x32 RGB" in message
    assert "48x64 RGB" in message
    assert data.X.shape == (30, 3, 32, 32)
    i = D.FolderSource(tree, "test").files.index("frog/0018.jpg")
    assert torch.all((data.X[i] - 90).abs() <= 2)  # gray to RGB: the same level in each channel
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        D.load_split("test", root=tree)  # from the cache now: nothing to say again
