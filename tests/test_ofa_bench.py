"""OFA benchmarks print real figures: step ratios and wall-time estimates."""

import pytest

from hwnas_lab.config import get_preset
from hwnas_lab.ofa.bench import (bench_step_ratio, estimate_from_flops, estimate_wall_time,
                                 format_estimate, format_flops_estimate, split_sizes)
from hwnas_lab.ofa.schedule import get_shrink_config

pytestmark = pytest.mark.usefixtures("one_thread")


def test_split_sizes_by_preset():
    assert split_sizes(get_preset("laptop")) == (45_000, 5_000, 10_000)
    assert split_sizes(get_preset("smoke")) == (200, 100, 100)


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
