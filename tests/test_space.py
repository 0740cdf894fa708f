"""SearchSpace and presets: counts against brute force, the slot layout, operators, sampling."""

import itertools
import json
import random
import re

import numpy as np
import pytest

from hwnas_lab.arch import Arch
from hwnas_lab.space import SPACES, SearchSpace, get_space

CPU = get_space("cpu")
TINY = SearchSpace(name="tiny", stem_channels=8, stage_channels=(8, 16), stage_strides=(1, 2),
                   head_channels=16, ks_choices=(3, 5), e_choices=(1, 2), d_choices=(1, 2),
                   r_choices=(8, 16))


def test_num_subnets_matches_brute_force_on_a_tiny_space():
    seen = set()
    for ks, e, d, r in itertools.product(
            itertools.product(TINY.ks_choices, repeat=TINY.n_slots),
            itertools.product(TINY.e_choices, repeat=TINY.n_slots),
            itertools.product(TINY.d_choices, repeat=TINY.n_stages), TINY.r_choices):
        arch = Arch(ks, e, d, r)
        seen.add((tuple(arch.active_blocks()), r))  # the network, inactive slots ignored
    assert TINY.num_subnets() == len(seen) == (4 + 16) ** 2 * 2


def test_num_subnets_of_presets_by_formula():
    per_stage = 9 ** 2 + 9 ** 3 + 9 ** 4
    assert CPU.num_subnets() == per_stage ** 4 * 3
    assert get_space("gpu").num_subnets() == per_stage ** 5 * 3


def test_space_dict_round_trip_and_unknown_fields():
    for space in SPACES.values():
        assert SearchSpace.from_dict(json.loads(json.dumps(space.to_dict()))) == space
    with pytest.raises(ValueError, match="unknown SearchSpace fields"):
        SearchSpace.from_dict({"depths": [2]})


def test_bad_space_definitions_and_names():
    with pytest.raises(ValueError, match="unknown search space 'tpu'"):
        get_space("tpu")
    with pytest.raises(ValueError, match="stage_strides has 3"):
        SearchSpace(stage_channels=(8, 16), stage_strides=(1, 2, 2))
    with pytest.raises(ValueError, match="ks_choices must be odd"):
        SearchSpace(ks_choices=(3, 4))
    with pytest.raises(ValueError, match="increasing order"):
        SearchSpace(e_choices=(6, 3))


def test_sampling_is_valid_and_seeded():
    archs = [CPU.sample(random.Random(7)) for _ in range(2)]
    assert archs[0] == archs[1]
    rng = random.Random(0)
    samples = [CPU.sample(rng).validate(CPU) for _ in range(200)]
    assert len(set(samples)) == 200
    assert {a.r for a in samples} == set(CPU.r_choices)


def test_mutation_and_crossover():
    parent = CPU.sample(1)
    assert CPU.mutate(parent, prob=0.0, rng=3) == parent
    children = [CPU.mutate(parent, prob=1.0, rng=seed).validate(CPU) for seed in range(20)]
    assert any(child != parent for child in children)
    with pytest.raises(ValueError, match="mutation prob"):
        CPU.mutate(parent, prob=1.5)
    a, b = CPU.smallest(), CPU.largest()
    child = CPU.crossover(a, b, rng=0).validate(CPU)
    for field in ("ks", "e", "d"):
        for got, x, y in zip(getattr(child, field), getattr(a, field), getattr(b, field)):
            assert got in (x, y)
    mixed = {CPU.crossover(a, b, rng=seed).ks for seed in range(10)}
    assert len(mixed) > 1


def test_encoding_ignores_inactive_slots_and_batches():
    arch = CPU.uniform(5, 4, 2, 28)
    ks = list(arch.ks)
    ks[3] = 7  # slot 3 of stage 0 does not run at depth 2
    twin = Arch(ks, arch.e, arch.d, arch.r)
    assert twin != arch
    np.testing.assert_array_equal(CPU.encode(arch), CPU.encode(twin))
    batch = [CPU.sample(seed) for seed in range(30)]
    X = CPU.encode_batch(batch)
    assert X.shape == (30, len(CPU.feature_names)) and X.dtype == np.float32
    np.testing.assert_array_equal(X[4], CPU.encode(batch[4]))
    n_ks = len(CPU.ks_choices) * CPU.n_slots
    for row, a in zip(X, batch):  # one ks one-hot per active block, one d per stage, one r
        assert row[:n_ks].sum() == sum(a.d)
        assert row[-len(CPU.r_choices):].sum() == 1
        assert CPU.feature_names[int(np.argmax(row[-3:])) + len(row) - 3] == f"r={a.r}"


def test_block_slots_by_hand():
    # cpu space: stem 16, stages 16/24/40/64 with strides 2/2/2/1, 4 slots per stage
    slots = CPU.block_slots(32)
    assert len(slots) == 16 and [s.slot for s in slots] == list(range(16))
    first = [(s.stage, s.cin, s.cout, s.stride, s.in_size) for s in slots if s.index == 0]
    assert first == [(0, 16, 16, 2, 32), (1, 16, 24, 2, 16), (2, 24, 40, 2, 8), (3, 40, 64, 1, 4)]
    rest = [(s.cin, s.cout, s.stride, s.in_size) for s in slots if s.stage == 1 and s.index > 0]
    assert rest == [(24, 24, 1, 8)] * 3
    assert [s.in_size for s in CPU.block_slots(28) if s.index == 0] == [28, 14, 7, 4]  # ceil
    assert CPU.block_slots(28)[-1].out_size == 4
    assert slots[5].spec(5, 6).signature == "mbconv-cin24-cout24-k5-e6-s1-in8"


def test_layer_specs_follow_the_arch():
    arch = CPU.sample(5)
    specs = CPU.layer_specs(arch)
    assert [s.op for s in specs] == ["stem"] + ["mbconv"] * sum(arch.d) + ["head"]
    mbconvs = specs[1:-1]
    assert [(s.ks, s.e) for s in mbconvs] == [(k, e) for _, _, k, e in arch.active_blocks()]
    assert sum(s.stride == 2 for s in mbconvs) == sum(st == 2 for st in CPU.stage_strides)
    for before, after in zip(specs, specs[1:]):
        assert after.cin == before.cout and after.in_size == before.out_size
    assert specs[0].signature == "stem-cin3-cout16-k3-s1-in%d" % arch.r
    everything = {s.signature for s in CPU.all_layer_specs()}
    for seed in range(50):
        assert {s.signature for s in CPU.layer_specs(CPU.sample(seed))} <= everything


@pytest.mark.parametrize("field, value, message", [
    ("ks_choices", (3.5,), r"SearchSpace.ks_choices\[0\] must be an int >= 1, got 3.5"),
    ("ks_choices", ("3", "5"), r"SearchSpace.ks_choices\[0\] must be an int >= 1, got '3'"),
    ("e_choices", (), r"SearchSpace.e_choices is empty"),
    ("r_choices", 32, r"SearchSpace.r_choices must be a sequence of ints, got 32"),
    ("d_choices", "234", r"SearchSpace.d_choices must be a sequence of ints, got '234'"),
    ("stage_strides", (0, 2, 2, 1), r"SearchSpace.stage_strides\[0\] must be an int >= 1, got 0"),
    ("width_mult", 0, r"SearchSpace.width_mult must be a number > 0, got 0"),
    ("width_mult", -1.0, r"SearchSpace.width_mult must be a number > 0, got -1.0"),
    ("width_mult", "1", r"SearchSpace.width_mult must be a number > 0, got '1'"),
    ("stage_channels", (16, 0, 40, 64),
     r"SearchSpace.stage_channels\[1\] must be an int >= 1, got 0"),
    ("stem_channels", -8, r"SearchSpace.stem_channels must be an int >= 1, got -8"),
    ("head_channels", 256.0, r"SearchSpace.head_channels must be an int >= 1, got 256.0"),
    ("num_classes", True, r"SearchSpace.num_classes must be an int >= 1, got True"),
    ("name", "", r"SearchSpace.name must be a non-empty string"),
])
def test_space_fields_are_checked_at_construction(field, value, message):
    """Each of these used to pass and fail later (largest(), sorting, a division by zero) or
    silently become 8 channels."""
    with pytest.raises(ValueError, match=message):
        SearchSpace(**{field: value})


def test_numpy_values_become_plain_ints_and_the_dict_needs_every_field():
    space = SearchSpace(ks_choices=np.array([3, 5]), stem_channels=np.int64(16),
                        width_mult=np.float32(1.5))
    assert json.loads(json.dumps(space.to_dict()))["ks_choices"] == [3, 5]
    assert type(space.stem_channels) is int and space.width_mult == 1.5
    with pytest.raises(ValueError, match=r"SearchSpace fields \[.*'ks_choices'.*\] are missing"):
        SearchSpace.from_dict({})
    with pytest.raises(ValueError, match="a SearchSpace is an object"):
        SearchSpace.from_dict("cpu")


@pytest.mark.parametrize("kwargs", [dict(ks=[]), dict(e=[5]), dict(d=())])
def test_sample_subset_must_be_a_nonempty_part_of_the_choices(kwargs):
    (name, subset), = kwargs.items()
    with pytest.raises(ValueError, match=re.escape(f"sample({name}={subset!r}): ")) as err:
        CPU.sample(0, **kwargs)
    assert "give a non-empty subset" in str(err.value)
    assert CPU.sample(0, ks=[5]).ks == (5,) * CPU.n_slots
