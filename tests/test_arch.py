"""Arch and ArchBatch: validation messages, round trips, the text forms, the batch form."""

import json

import numpy as np
import pytest

from hwnas_lab.arch import Arch, ArchBatch
from hwnas_lab.space import get_space

CPU = get_space("cpu")


@pytest.mark.parametrize("field, position, value, fragment", [
    ("ks", 5, 4, "Arch.ks[5] = 4 is not allowed"),
    ("e", 0, 5, "Arch.e[0] = 5 is not allowed"),
    ("d", 3, 1, "Arch.d[3] = 1 is not allowed"),
])
def test_validate_names_field_position_and_allowed_values(field, position, value, fragment):
    values = list(getattr(CPU.largest(), field))
    values[position] = value
    arch = Arch(**{**CPU.largest().to_dict(), field: values})
    with pytest.raises(ValueError) as err:
        arch.validate(CPU)
    assert fragment in str(err.value)
    allowed = {"ks": CPU.ks_choices, "e": CPU.e_choices, "d": CPU.d_choices}[field]
    assert str(list(allowed)) in str(err.value)


@pytest.mark.parametrize("field, position, value, fragment", [
    ("ks", 2, 3.0, "Arch.ks[2] = 3.0 is a float"),
    ("e", 1, True, "Arch.e[1] = True is a bool"),
    ("d", 0, "2", "Arch.d[0] = '2' is a str"),
])
def test_non_integers_are_refused_at_construction(field, position, value, fragment):
    values = list(getattr(CPU.largest(), field))
    values[position] = value
    with pytest.raises(ValueError) as err:
        Arch(**{**CPU.largest().to_dict(), field: values})
    assert fragment in str(err.value)


def test_validate_resolution_and_lengths():
    with pytest.raises(ValueError, match=r"Arch.r = 30 is not allowed.*\[24, 28, 32\]"):
        Arch(**{**CPU.largest().to_dict(), "r": 30}).validate(CPU)
    short = Arch(ks=[3] * 12, e=[3] * 12, d=[2] * 3, r=32)
    with pytest.raises(ValueError, match=r"Arch.ks has 12 entries but space 'cpu' needs 16"):
        short.validate(CPU)
    with pytest.raises(ValueError, match="Arch.r = 32.0 is a float"):
        Arch(ks=[3] * 16, e=[3] * 16, d=[2] * 4, r=32.0)


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(ks=[3] * 16, e=[3] * 15, d=[2] * 4, r=32), "Arch.ks has 16 entries but Arch.e has 15"),
    (dict(ks=[3] * 15, e=[3] * 15, d=[2] * 4, r=32), "not a multiple of the 4 stages"),
    (dict(ks=[3] * 16, e=[3] * 16, d=[], r=32), "Arch.d is empty"),
    (dict(ks="3333", e=[3] * 4, d=[2], r=32), "Arch.ks must be a sequence of ints"),
    (dict(ks=3, e=[3] * 4, d=[2], r=32), "Arch.ks must be a sequence of ints"),
])
def test_malformed_arch_is_rejected_at_construction(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        Arch(**kwargs)


def test_numpy_integers_become_ints_and_serialise():
    arch = Arch(np.array([3] * 16), np.array([4] * 16), np.array([2] * 4), np.int64(32))
    assert all(type(v) is int for v in (*arch.ks, *arch.e, *arch.d, arch.r))
    assert Arch.from_json(arch.to_json()) == arch == CPU.uniform(3, 4, 2, 32)


def test_json_and_dict_round_trip():
    for seed in range(20):
        arch = CPU.sample(seed)
        assert Arch.from_json(arch.to_json()) == arch
        assert Arch.from_dict(json.loads(json.dumps(arch.to_dict()))) == arch
        assert hash(Arch.from_dict(arch.to_dict())) == hash(arch)
    with pytest.raises(ValueError, match="missing"):
        Arch.from_dict({"ks": [3], "e": [3]})
    with pytest.raises(ValueError, match="not a JSON Arch"):
        Arch.from_json("{ks: 3")
    with pytest.raises(ValueError, match="JSON object with keys ks, e, d, r"):
        Arch.from_json("null")


def test_active_slots_follow_the_depths():
    arch = Arch(ks=list(range(16)), e=[3] * 16, d=[2, 4, 3, 2], r=32)
    assert arch.active_slots() == [0, 1, 4, 5, 6, 7, 8, 9, 10, 12, 13]  # D = 4 slots per stage
    assert list(arch.active_blocks())[:3] == [(0, 0, 0, 3), (0, 1, 1, 3), (1, 0, 4, 3)]
    assert str(CPU.uniform(3, 4, 2, 24)) == "r24 | k3e4 k3e4 | k3e4 k3e4 | k3e4 k3e4 | k3e4 k3e4"


def test_parse_names_json_and_files(tmp_path):
    assert Arch.parse("largest", CPU) == CPU.largest()
    assert Arch.parse(" smallest ", CPU) == CPU.smallest()
    assert Arch.parse("random", CPU, seed=3) == Arch.parse("random", CPU, seed=3)
    arch = CPU.sample(4)
    assert Arch.parse(arch.to_json(), CPU) == arch
    path = tmp_path / "arch.json"
    path.write_text(arch.to_json())
    assert Arch.parse(str(path), CPU) == arch
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Arch.parse(str(tmp_path / "missing.json"), CPU)
    with pytest.raises(ValueError, match="give largest, smallest, random"):
        Arch.parse("biggest", CPU)
    with pytest.raises(ValueError, match=r"Arch.r = 30 is not allowed"):
        Arch.parse(json.dumps({**arch.to_dict(), "r": 30}), CPU)


def test_batch_round_trip_and_active_mask():
    archs = [CPU.sample(seed) for seed in range(25)]
    batch = ArchBatch.from_archs(CPU, archs)
    assert len(batch) == 25 and batch.to_archs() == archs
    assert batch.ks.shape == (25, 16) and batch.d.shape == (25, 4) and batch.r.dtype == np.int64
    for row, arch in zip(batch.active, archs):
        assert np.flatnonzero(row).tolist() == arch.active_slots()
    assert ArchBatch.from_archs(CPU, batch) is batch


def test_batch_reports_the_first_bad_arch():
    good = CPU.sample(0)
    bad = Arch(**{**good.to_dict(), "r": 30})
    with pytest.raises(ValueError, match="Arch.r = 30 is not allowed"):
        ArchBatch.from_archs(CPU, [good, bad])
    with pytest.raises(ValueError, match="Arch.ks has 12 entries"):
        ArchBatch.from_archs(CPU, [good, Arch([3] * 12, [3] * 12, [2] * 3, 32)])
    with pytest.raises(ValueError, match="expected Arch objects"):
        ArchBatch.from_archs(CPU, [good.to_dict()])
    with pytest.raises(ValueError, match="ArchBatch arrays must be"):
        ArchBatch(np.zeros((2, 16), int), np.zeros((2, 16), int), np.zeros((3, 4), int),
                  np.zeros(2, int))
