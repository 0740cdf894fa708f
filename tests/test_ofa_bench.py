"""OFA benchmarks print real figures: step ratios and wall-time estimates."""

import random

import pytest
import torch

from hwnas_lab.config import get_preset
from hwnas_lab.ofa.bench import (bench_step_ratio, estimate_from_flops, estimate_wall_time,
                                 format_estimate, format_flops_estimate, split_sizes,
                                 time_phase_steps)
from hwnas_lab.ofa.schedule import get_shrink_config
from hwnas_lab.ofa.shrink_step import make_teacher
from hwnas_lab.ofa.supernet import OFASupernet

pytestmark = pytest.mark.usefixtures("one_thread")


def test_split_sizes_by_preset():
    assert split_sizes(get_preset("laptop")) == (45_000, 5_000, 10_000)
    assert split_sizes(get_preset("smoke")) == (200, 100, 100)


def test_time_phase_steps_trains_for_real_and_times_each_step():
    config = get_shrink_config("smoke")
    depth = next(p for p in config.phases if p.name == "depth-1")  # distils: needs the teacher
    net = OFASupernet(config.space)
    before = [p.detach().clone() for p in net.parameters()]
    with pytest.raises(ValueError, match="has no teacher"):
        time_phase_steps(net, config, depth, 4, 2, random.Random(0))
    times = time_phase_steps(net, config, depth, 4, 3, random.Random(0), teacher=make_teacher(net))
    assert len(times) == 3 and all(t > 0 for t in times)  # warm-up steps not counted
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters()))  # it trained


def test_benchmarks_report_figures():
    rows = bench_step_ratio(batch_size=4, repeats=2, threads=1)
    assert [r["name"] for r in rows] == ["largest", "smallest", "random"]
    assert all(r["ratio"] > 0 and r["static_ms"] > 0 for r in rows)
    est = estimate_wall_time(get_shrink_config("smoke"), threads=1, steps=1)
    assert len(est["phases"]) == 6 and est["total_s"] > 0
    assert "total" in format_estimate(est)
    laptop = get_shrink_config("laptop")
    slow, fast = estimate_from_flops(laptop, 100.0), estimate_from_flops(laptop, 400.0)
    assert slow["train_s"] == pytest.approx(4 * fast["train_s"])  # linear in the throughput
    units = {p["phase"]: p["step_units"] for p in fast["phases"]}
    assert units["largest"] < 1.0  # elastic resolution: mean cost below the r=32 step
    assert units["depth"] > units["kernel"]  # four subnets per step plus the teacher
    assert "total" in format_flops_estimate(fast)
