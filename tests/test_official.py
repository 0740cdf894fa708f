"""The official CIFAR-10 batch files: md5-verified before unpickling; broken files named."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from fake_cifar import fake_split, write_official
from hwnas_lab.data import cifar10 as D
from hwnas_lab.data import official as O


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("HWNAS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(D.DATA_ENV, raising=False)
    monkeypatch.delenv(O.TRUST_ENV, raising=False)


@pytest.fixture
def fake(tmp_path):
    """Batch files in the official format that are not the official files."""
    return write_official(tmp_path / O.OFFICIAL_DIR, fake_split(2, 1), fake_split(1, 2))


class Payload:
    """Unpickling this runs ``open(path, 'w')``: what a hostile 'CIFAR-10' folder could do."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_checksums_are_torchvisions():
    cifar = pytest.importorskip("torchvision.datasets.cifar")
    listed = dict(cifar.CIFAR10.train_list + cifar.CIFAR10.test_list)
    assert O.OFFICIAL_MD5 == listed


def test_unverified_batch_files_are_refused_with_the_opt_out_named(fake):
    with pytest.raises(ValueError, match=r"refusing to unpickle .*test_batch: its md5 is "
                       r"[0-9a-f]{32}, not the published md5 .*40351d587109b95175f43aff81a1287e.*"
                       r"HWNAS_TRUST_PICKLES=1") as err:
        D.load_split("test", root=fake)
    assert str(fake) in str(err.value)


def test_official_md5_loads_without_the_opt_out(fake, monkeypatch):
    monkeypatch.setattr(O, "OFFICIAL_MD5", {f.name: O.md5_of(f) for f in fake.iterdir()})
    data = D.load_split("test", root=fake)
    assert len(data) == 10 and data.X.shape == (10, 3, 32, 32)


def test_hostile_pickle_never_runs(fake, tmp_path, monkeypatch):
    marker = tmp_path / "code-ran"
    (fake / "test_batch").write_bytes(pickle.dumps({b"data": Payload(marker), b"labels": []}))
    with pytest.raises(ValueError, match="refusing to unpickle"):
        D.load_split("test", root=fake)
    monkeypatch.setenv(O.TRUST_ENV, "1")  # trusted by the user: still only arrays and containers
    with pytest.raises(ValueError, match=r"cannot read the CIFAR-10 batch file .*test_batch "
                       r"\(UnpicklingError: it names (builtins|io)\.open"):
        D.load_split("test", root=fake)
    assert not marker.exists()


@pytest.mark.parametrize("breakage, message", [
    ("truncated", r"cannot read the CIFAR-10 batch file .*test_batch \((EOF|Unpickling)Error"),
    ("empty", r"cannot read the CIFAR-10 batch file .*test_batch \(EOFError"),
    ("wrong shape", r"test_batch holds uint8 data of shape \(10, 100\) and 10 labels"),
    ("not a dict", r"test_batch holds a list, not a CIFAR-10 batch dict"),
    ("no labels", r"test_batch is not a CIFAR-10 batch file \(no 'data'/'labels'"),
])
def test_broken_batch_files_name_the_file(fake, monkeypatch, breakage, message):
    monkeypatch.setenv(O.TRUST_ENV, "1")  # past the checksum: what the reader itself says
    file = fake / "test_batch"
    good = file.read_bytes()
    data = np.zeros((10, 100), np.uint8)
    file.write_bytes({"truncated": good[: len(good) // 2], "empty": b"",
                      "wrong shape": pickle.dumps({b"data": data, b"labels": [0] * 10}, 2),
                      "not a dict": pickle.dumps([1, 2], 2),
                      "no labels": pickle.dumps({b"data": data}, 2)}[breakage])
    with pytest.raises(ValueError, match=message):
        D.load_split("test", root=fake)
    # and without the opt-out the checksum already names it
    monkeypatch.delenv(O.TRUST_ENV)
    with pytest.raises(ValueError, match=r"refusing to unpickle .*test_batch"):
        D.load_split("test", root=fake)
