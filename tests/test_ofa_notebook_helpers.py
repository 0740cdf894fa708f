"""Notebook 05's helpers: exercise checkers, figures, the OFA panel, finding a supernet, benches."""

import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from hwnas_lab import checks, plots
from hwnas_lab.data import TensorData
from hwnas_lab.ofa import OFASupernet, centre_crop
from hwnas_lab.ofa.bench import (bench_step_ratio, estimate_from_flops, estimate_wall_time,
                                 format_estimate, format_flops_estimate)
from hwnas_lab.ofa.shrink import (FINAL, CKPT_FORMAT, distillation_loss, find_supernet,
                                  get_shrink_config, get_supernet, run_dir)
from hwnas_lab.space import get_space
from hwnas_lab.widgets import OFAPanel, ofa_subnet_report

SPACE = get_space("cpu")


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_data(n: int = 16, seed: int = 0) -> TensorData:
    g = torch.Generator().manual_seed(seed)
    return TensorData(torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8),
                      torch.randint(0, 10, (n,), generator=g))


def test_checkers_accept_reference_and_reject_mistakes():
    checks.check_centre_crop(centre_crop)
    checks.check_channel_slice(lambda w, cout, cin: w[:cout, :cin])
    checks.check_distillation_loss(distillation_loss)
    with pytest.raises(AssertionError, match="top-left"):
        checks.check_centre_crop(lambda w, ks: w[..., :ks, :ks])
    with pytest.raises(AssertionError, match="first"):
        checks.check_channel_slice(lambda w, cout, cin: w[-cout:, -cin:])
    with pytest.raises(AssertionError, match="T\\^2"):
        checks.check_distillation_loss(lambda s, t, T: distillation_loss(s, t, T) / T / T)
    with pytest.raises(AssertionError):  # KL the wrong way round
        checks.check_distillation_loss(lambda s, t, T: distillation_loss(t, s, T))

    def todo(*args):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        checks.check_centre_crop(todo)


def test_figures():
    config = get_shrink_config("laptop")
    assert plots.shrink_schedule(config.phases).axes
    history = [{"phase": p.name, "phase_index": i, "val_acc_largest": 0.5 + 0.01 * i,
                "val_acc_smallest": 0.3} for i, p in enumerate(config.phases)]
    assert plots.shrink_log(history).axes
    dw = OFASupernet(SPACE).blocks[0].dw_conv
    kernels = {ks: dw.kernel(ks, 1)[0, 0].detach().numpy() for ks in SPACE.ks_choices}
    assert len(plots.elastic_kernels(kernels).axes) == 4  # three maps and a colour bar
    assert plots.accuracy_vs_mflops([1, 2], [0.1, 0.2], [0.3, 0.4], ["a", ""]).axes


class CountingTable:
    """A latency table that predicts 1 ms per operator and records what it was asked to add."""

    target = "fake"

    def __init__(self):
        self.entries, self.ensured = {}, []

    def missing(self, specs):
        return [s for s in specs if s.signature not in self.entries]

    def ensure(self, specs, progress=True):
        self.ensured += [s.signature for s in self.missing(specs)]
        self.entries.update({s.signature: 1.0 for s in specs})

    def predict(self, arch):
        return float(sum(self.entries[s.signature] for s in SPACE.layer_specs(arch)))


def test_ofa_subnet_report_and_panel():
    torch.manual_seed(0)
    net = OFASupernet(SPACE).eval()
    train, val = tiny_data(32), tiny_data(8, seed=1)
    table = CountingTable()
    d, ks, e = [2, 3, 2, 2], [3, 5, 7, 3], [3, 4, 6, 3]
    report = ofa_subnet_report(net, d, ks, e, 28, train, val, table=table, recal_batches=1)
    assert report.arch.d == (2, 3, 2, 2) and report.arch.r == 28
    assert 0 <= report.acc <= 1 and 0 <= report.acc_before <= 1 and report.images == 8
    assert report.latency_ms == len(SPACE.layer_specs(report.arch))  # 1 ms per operator
    assert len(table.ensured) == report.latency_ms  # missing operators were measured
    assert "predicted latency" in report.html()
    with pytest.raises(ValueError, match="one value per stage"):
        ofa_subnet_report(net, [2, 2], ks, e, 28, train, val)
    panel = OFAPanel(net, train, val, table=None, recal_batches=1)
    assert panel.report is not None and panel.report.latency_ms is None
    panel.d[0].value = 4
    assert panel.report.arch.d[0] == 4


def test_find_supernet_prefers_the_learners_own(tmp_path, monkeypatch):
    monkeypatch.setenv("HWNAS_CACHE_DIR", str(tmp_path))
    assert find_supernet("smoke") == (None, "none")
    with pytest.raises(FileNotFoundError, match="ofa train --preset smoke"):
        get_supernet("smoke", train=False)
    net = OFASupernet(SPACE)
    torch.save({"format": CKPT_FORMAT, "space": SPACE.to_dict(),
                "config": get_shrink_config("smoke").to_dict(), "model": net.state_dict()},
               run_dir("smoke") / FINAL)
    path, source = find_supernet("smoke")
    assert source == "own" and path == tmp_path / "ofa" / "smoke" / FINAL
    loaded, ckpt, source = get_supernet("smoke", train=False)
    assert source == "own" and isinstance(loaded, OFASupernet)


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
    assert units["depth-1"] > units["kernel"]  # two subnets per step plus the teacher
    assert "total" in format_flops_estimate(fast)
