"""Notebook 05's course module: exercise checks against typical mistakes, figures, the panel."""

import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from hwnas_lab.course import nb05_ofa as nb
from hwnas_lab.data import TensorData
from hwnas_lab.ofa import OFASupernet
from hwnas_lab.ofa.schedule import get_shrink_config
from hwnas_lab.space import get_space

SPACE = get_space("cpu")


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_data(n: int = 16, seed: int = 0) -> TensorData:
    g = torch.Generator().manual_seed(seed)
    return TensorData(torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8),
                      torch.randint(0, 10, (n,), generator=g))


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


def test_ablation_bars_label_each_run_against_the_reference():
    fig = nb.ablation_bars(["ref", "a", "b"], [57.4, 58.1, 57.3], [46.7, 51.0, 46.9],
                           noise=(0.4, 0.8))
    largest, smallest = fig.axes
    texts = [t.get_text() for t in largest.texts], [t.get_text() for t in smallest.texts]
    assert texts == (["58.1 (+0.7)", "57.3 (-0.1)", "57.4"], ["51.0 (+4.3)", "46.9 (+0.2)", "46.7"])
    y_of = {t.get_text(): y for t, y in zip(largest.get_yticklabels(), largest.get_yticks())}
    assert y_of["ref"] > y_of["a"] > y_of["b"]  # the reference on top, then in the given order
    with pytest.raises(ValueError, match="2 labels, 3 largest"):
        nb.ablation_bars(["ref", "a"], [1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least one run"):
        nb.ablation_bars(["ref"], [1], [1])


def test_alone_vs_supernet_draws_one_group_per_architecture():
    fig = nb.alone_vs_supernet(["largest", "smallest"], [60.0, 50.0],
                               {"S-base": [57.0, 47.0], "S-sandwich": [57.1, 52.7]})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["largest", "smallest"]
    assert len(ax.patches) == 6 and [t.get_text() for t in ax.get_legend().get_texts()] == [
        "trained alone", "S-base", "S-sandwich"]
    assert sorted(t.get_text() for t in ax.texts) == sorted(
        ["60.0", "50.0", "57.0", "47.0", "57.1", "52.7"])
    with pytest.raises(ValueError, match="one accuracy per architecture"):
        nb.alone_vs_supernet(["largest"], [60.0], {"S-base": [1.0, 2.0]})


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
    keeping = nb.OFAPanel(net, train, val, table=table, recal_batches=1, history=True)
    keeping.set_values(d, ks, e, 24)
    assert len(keeping.history) == 2  # the initial subnet and this one
    latency, acc = keeping.history_point(keeping.result)
    assert latency == keeping.result.latency_ms and acc == 100 * keeping.result.acc
