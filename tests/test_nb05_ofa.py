"""Notebook 05's course module: exercise checks against typical mistakes, figures, the panel."""

import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from hwnas_lab.course import nb05_ofa as nb
from hwnas_lab.data import TensorData
from hwnas_lab.ofa import OFASupernet, centre_crop
from hwnas_lab.ofa.schedule import get_shrink_config
from hwnas_lab.ofa.shrink import distillation_loss
from hwnas_lab.space import get_space

SPACE = get_space("cpu")


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_data(n: int = 16, seed: int = 0) -> TensorData:
    g = torch.Generator().manual_seed(seed)
    return TensorData(torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8),
                      torch.randint(0, 10, (n,), generator=g))


def test_checkers_accept_reference_and_reject_mistakes():
    nb.check_centre_crop(centre_crop)
    nb.check_channel_slice(lambda w, cout, cin: w[:cout, :cin])
    nb.check_distillation_loss(distillation_loss)
    with pytest.raises(AssertionError, match="top-left"):
        nb.check_centre_crop(lambda w, ks: w[..., :ks, :ks])
    with pytest.raises(AssertionError, match="first"):
        nb.check_channel_slice(lambda w, cout, cin: w[-cout:, -cin:])
    with pytest.raises(AssertionError, match="T\\^2"):
        nb.check_distillation_loss(lambda s, t, T: distillation_loss(s, t, T) / T / T)
    with pytest.raises(AssertionError):  # KL the wrong way round
        nb.check_distillation_loss(lambda s, t, T: distillation_loss(t, s, T))

    def todo(*args):
        raise NotImplementedError

    nb.check_centre_crop(todo)  # reported as TODO, not raised (see test_checks.py)


def test_figures():
    config = get_shrink_config("laptop")
    assert nb.shrink_schedule(config.phases).axes
    history = [{"phase": p.name, "phase_index": i, "val_acc_largest": 0.5 + 0.01 * i,
                "val_acc_smallest": 0.3} for i, p in enumerate(config.phases)]
    assert nb.shrink_log(history).axes
    dw = OFASupernet(SPACE).blocks[0].dw_conv
    kernels = {ks: dw.kernel(ks, 1)[0, 0].detach().numpy() for ks in SPACE.ks_choices}
    assert len(nb.elastic_kernels(kernels).axes) == 4  # three maps and a colour bar
    assert nb.accuracy_vs_mflops([1, 2], [0.1, 0.2], [0.3, 0.4], ["a", ""]).axes


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
    report = nb.ofa_subnet_report(net, d, ks, e, 28, train, val, table=table, recal_batches=1)
    assert report.arch.d == (2, 3, 2, 2) and report.arch.r == 28
    assert 0 <= report.acc <= 1 and 0 <= report.acc_before <= 1 and report.images == 8
    assert report.latency_ms == len(SPACE.layer_specs(report.arch))  # 1 ms per operator
    assert len(table.ensured) == report.latency_ms  # missing operators were measured
    assert "predicted latency" in report.html()
    with pytest.raises(ValueError, match="one value per stage"):
        nb.ofa_subnet_report(net, [2, 2], ks, e, 28, train, val)
    panel = nb.OFAPanel(net, train, val, table=None, recal_batches=1)
    assert panel.result is not None and panel.result.latency_ms is None
    panel.d[0].value = 4
    assert panel.result.arch.d[0] == 4


