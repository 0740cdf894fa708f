"""The schedule of progressive shrinking: phases, presets, config round trip, bad configs."""

import pytest

from hwnas_lab.ofa.schedule import SHRINK_PRESETS, Phase, ShrinkConfig, get_shrink_config
from hwnas_lab.space import get_space


def test_phases_follow_progressive_shrinking():
    space = get_space("cpu")
    for name in SHRINK_PRESETS:
        config = get_shrink_config(name)
        names = [p.name for p in config.phases]
        assert names == ["largest", "kernel", "depth-1", "depth-2", "expand-1", "expand-2"]
        assert all(p.epochs >= 1 and p.lr > 0 for p in config.phases)
        assert [p.kd > 0 for p in config.phases] == [False] + [True] * 5
        assert [p.reorder for p in config.phases] == [False] * 4 + [True, False]
    phases = get_shrink_config("laptop").phases
    assert phases[0].choices() == {"ks": (7,), "e": (6,), "d": (4,)}
    assert phases[1].ks == space.ks_choices and phases[1].d == (4,)
    assert phases[2].d == (3, 4) and phases[3].d == (2, 3, 4)
    assert phases[4].e == (4, 6) and phases[5].e == (3, 4, 6)
    config = get_shrink_config("laptop")
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
