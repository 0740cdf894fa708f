"""The schedule of progressive shrinking: phases, presets, config round trip, bad configs."""

from dataclasses import replace

import pytest

from hwnas_lab.ofa.schedule import Phase, ShrinkConfig, get_shrink_config
from hwnas_lab.space import get_space


def test_phases_follow_progressive_shrinking():
    space = get_space("cpu")
    for name in ("smoke", "gpu"):  # OFA's six phases
        config = get_shrink_config(name)
        names = [p.name for p in config.phases]
        assert names == ["largest", "kernel", "depth-1", "depth-2", "expand-1", "expand-2"]
        assert all(p.epochs >= 1 and p.lr > 0 and not p.always for p in config.phases)
        assert [p.kd > 0 for p in config.phases] == [False] + [True] * 5
        assert [p.reorder for p in config.phases] == [False] * 4 + [True, False]
        assert config.phases[2].d == (3, 4) and config.phases[3].d == (2, 3, 4)
        assert config.phases[4].e == (4, 6) and config.phases[5].e == (3, 4, 6)
    config = get_shrink_config("laptop")  # each dimension opened in one step, sandwich rule
    phases = config.phases
    assert [p.name for p in phases] == ["largest", "kernel", "depth", "expand"]
    assert [p.kd > 0 for p in phases] == [False, True, True, True]
    assert [p.reorder for p in phases] == [False, False, False, True]
    assert phases[0].choices() == {"ks": (7,), "e": (6,), "d": (4,)}
    assert phases[1].ks == space.ks_choices and phases[1].d == (4,) and phases[1].e == (6,)
    assert phases[2].d == space.d_choices and phases[2].e == (6,)
    assert phases[3].choices() == {"ks": space.ks_choices, "e": space.e_choices,
                                   "d": space.d_choices}
    assert [p.always for p in phases] == [(), ("largest",), ("largest", "smallest"),
                                          ("largest", "smallest")]
    assert [p.subnets_per_step for p in phases] == [1, 2, 4, 4]
    assert [p.epochs for p in phases] == [22, 1, 1, 2]
    assert [p.lr for p in phases] == [0.2, 0.003, 0.01, 0.01]
    assert config.crop_padding == 0 and phases[0].warmup_epochs == 1.0
    assert ShrinkConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown preset 'tiny'"):
        get_shrink_config("tiny")


def test_bad_phases_and_configs():
    with pytest.raises(ValueError, match="Phase 'x' epochs must be an int >= 1"):
        Phase("x", 0, 0.1)
    with pytest.raises(ValueError, match="lr must be > 0"):
        Phase("x", 1, 0.0)
    with pytest.raises(ValueError, match="phases is empty"):
        ShrinkConfig(preset="smoke", phases=())
    with pytest.raises(ValueError, match="unknown preset 'tiny'"):
        ShrinkConfig(preset="tiny", phases=get_shrink_config("smoke").phases)
    with pytest.raises(ValueError, match="ShrinkConfig.batch_size must be an int >= 1"):
        ShrinkConfig(preset="smoke", phases=get_shrink_config("smoke").phases, batch_size=0)


def test_always_subnets_are_the_phase_extremes():
    space = get_space("cpu")
    phase = Phase("expand", 1, 0.1, (3, 5), (4, 6), (3, 4), n_subnets=2,
                  always=("largest", "smallest"))
    big, small = phase.fixed_subnets(space, 28)
    assert big == space.uniform(5, 6, 4, 28) and small == space.uniform(3, 4, 3, 28)
    everything = Phase("all", 1, 0.1, always=["smallest"], n_subnets=0)
    assert everything.always == ("smallest",)
    assert everything.fixed_subnets(space, 24) == [space.smallest()]
    assert Phase("plain", 1, 0.1).fixed_subnets(space, 32) == []


def test_phase_resolutions():
    space = get_space("cpu")
    assert Phase("p", 1, 0.1).resolutions(space) == space.r_choices
    assert Phase("p", 1, 0.1, r=[32]).resolutions(space) == (32,)
    with pytest.raises(ValueError, match=r"resolutions \[20\] are not in the space's"):
        Phase("p", 1, 0.1, r=(20, 32)).resolutions(space)
    bad = (Phase("p", 1, 0.1, r=(20,)),)
    with pytest.raises(ValueError, match=r"resolutions \[20\]"):  # caught when the run is configured
        ShrinkConfig(preset="smoke", phases=bad)
    ramp = Phase("p", 3, 0.1, r_by_epoch=[24, 24, 32])
    assert ramp.r_by_epoch == (24, 24, 32)
    assert [ramp.resolutions(space, epoch) for epoch in range(3)] == [(24,), (24,), (32,)]
    assert ramp.resolutions(space) == (24, 24, 32)  # one per epoch: each weighed by its epochs
    assert Phase("p", 1, 0.1, r=(28, 32)).resolutions(space, 0) == (28, 32)  # per batch, as before
    with pytest.raises(ValueError, match=r"resolutions \[20\] are not in the space's"):
        Phase("p", 2, 0.1, r_by_epoch=(20, 20)).resolutions(space)


@pytest.mark.parametrize("kw, match", [
    ({"always": ("biggest",)}, "always="), ({"always": ("largest", "largest")}, "always="),
    ({"n_subnets": 0}, "train no subnet"), ({"n_subnets": -1}, "n_subnets must be an int >= 0"),
    ({"warmup_epochs": 3.0}, "warmup_epochs must be in"), ({"r": ()}, "r=\\(\\) samples nothing"),
    ({"ks": []}, "ks=\\(\\) samples nothing"), ({"kd": -1.0}, "kd >= 0"),
    ({"r_by_epoch": (24, 28, 32)}, "one resolution per epoch \\(2 epochs\\), got 3"),
    ({"r_by_epoch": (24, 32), "r": (32,)}, "not both"),
])
def test_phase_rejects_bad_knobs(kw, match):
    with pytest.raises(ValueError, match=match):
        Phase(**{"name": "p", "epochs": 2, "lr": 0.1, **kw})


@pytest.mark.parametrize("kw, match", [
    ({"ema_decay": 1.0}, "ema_decay"), ({"ema_decay": -0.5}, "ema_decay"),
    ({"eval_every": 0}, "eval_every"), ({"kd_temperature": 0.0}, "kd_temperature"),
])
def test_config_rejects_bad_knobs(kw, match):
    with pytest.raises(ValueError, match=match):
        ShrinkConfig(preset="smoke", phases=get_shrink_config("smoke").phases, **kw)


def test_inplace_distillation_needs_the_largest_first_in_every_distilling_phase():
    laptop = get_shrink_config("laptop")  # kernel: always=("largest",); depth, expand: both
    assert replace(laptop, inplace_distillation=True).inplace_distillation
    # the smoke preset's phases train no fixed subnet; the largest second is not the teacher
    for phases in (get_shrink_config("smoke").phases,
                   laptop.phases[:3] + (replace(laptop.phases[3], always=("smallest", "largest")),)):
        with pytest.raises(ValueError, match="largest subnet must be trained in every step"):
            replace(laptop, phases=phases, inplace_distillation=True)
    undistilled = tuple(replace(p, kd=0.0) for p in get_shrink_config("smoke").phases)
    ShrinkConfig(preset="smoke", phases=undistilled, inplace_distillation=True)  # no teacher needed


def test_knobs_round_trip_and_old_configs_still_load():
    phases = (Phase("largest", 3, 0.1, (7,), (6,), (4,), kd=0.0, r=(32,)),
              Phase("expand", 5, 0.05, n_subnets=1, always=("smallest",)),
              Phase("ramp", 2, 0.05, r_by_epoch=(24, 32)))
    config = ShrinkConfig(preset="smoke", phases=phases, ema_decay=0.99, eval_every=2)
    assert ShrinkConfig.from_dict(config.to_dict()) == config
    old = get_shrink_config("smoke").to_dict()  # saved before the knobs existed
    for key in ("ema_decay", "eval_every", "inplace_distillation"):
        old.pop(key)
    for phase in old["phases"]:
        phase.pop("r"), phase.pop("always"), phase.pop("r_by_epoch")
    assert ShrinkConfig.from_dict(old) == get_shrink_config("smoke")
    # validations: epochs 2 and 3 of phase 1 (phase end), 2, 4 and 5 of phase 2, 2 of phase 3;
    # x2 with EMA
    assert config.validations() == 2 * (2 + 3 + 1)
    assert get_shrink_config("laptop").validations() == 6 + 1 + 1 + 1  # every 4th epoch, phase ends
