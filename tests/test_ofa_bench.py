"""OFA benchmarks print real figures: step ratios and wall-time estimates."""

import json
import random

import pytest
import torch

from hwnas_lab.config import get_preset
from hwnas_lab.data import CIFARSplits
from hwnas_lab.ofa.bench import (bench_step_ratio, estimate_from_flops, estimate_wall_time,
                                 format_estimate, format_flops_estimate, split_sizes,
                                 time_phase_steps)
from hwnas_lab.ofa.schedule import get_shrink_config
from hwnas_lab.ofa.shrink_step import make_teacher
from hwnas_lab.ofa.supernet import OFASupernet
from helpers import load_script
from ofa_search_helpers import tiny_data

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


def test_preset_estimate_from_one_measured_epoch_per_phase(tmp_path, monkeypatch, capsys):
    """scripts/time_preset_epochs.py: each phase's last epoch times its epochs in the preset,
    plus the preset's validations at the median measured one and the rest of the run."""
    bench = load_script("time_preset_epochs")
    config = get_shrink_config("smoke")  # 6 phases: 3 epochs of phase 1, then 1 each
    cut = bench.cut_phases(config, 2)
    assert [p.epochs for p in cut.phases] == [2] * 6 and cut.phases[0].warmup_epochs <= 1
    history = [{"phase": p.name, "train_s": 10.0 * (i + 1), "epoch_s": 10.0 * (i + 1) + 2 + i,
                "images_per_s": 100.0} for i, p in enumerate(config.phases)]
    est = bench.extrapolate(config, [dict(history[0], train_s=99.0)] + history, finish_s=5.0)
    assert [p["train_s"] for p in est["phases"]] == [30.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    assert est["validation_s"] == 5.0  # median of 2..7 s (the upper of the middle two)
    assert est["total_s"] == 230.0 + 5.0 * config.validations() + 5.0
    assert "total ~ " in bench.format_extrapolation(est)

    monkeypatch.setattr(bench, "load_cifar10", lambda preset, progress: CIFARSplits(
        tiny_data(32, 0), tiny_data(16, 1), tiny_data(16, 2)))
    assert bench.main(["--preset", "smoke", "--device", "cpu", "--out", str(tmp_path / "r")]) == 0
    saved = json.loads((tmp_path / "r" / "estimate.json").read_text())
    assert [p["epochs"] for p in saved["phases"]] == [p.epochs for p in config.phases]
    assert all(p["epoch_s"] > 0 for p in saved["phases"]) and saved["total_s"] > 0
    assert "preset smoke, from one measured epoch per phase" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # a used folder is refused
        bench.main(["--preset", "smoke", "--out", str(tmp_path / "r")])
