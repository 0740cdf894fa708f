"""Notebook 04's figures (they draw what they are given, bad input raises) and the scaling
panel (the exercise checks: test_nb04_checks.py)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from hwnas_lab import scaling as S  # noqa: E402
from hwnas_lab.course import nb04_scaling as nb  # noqa: E402
from hwnas_lab.latency.lut import LatencyTable  # noqa: E402
from hwnas_lab.space import SPACES  # noqa: E402

CPU = SPACES["cpu"]
BASE = CPU.uniform(3, 3, 2, 24)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# ----- figures ----------------------------------------------------------------------------
def test_flops_law_plot_draws_each_panel_and_rejects_bad_input():
    phi = np.linspace(0, 3, 7)
    panels = {"depth": {"law": 2 ** phi, "refined": 1.8 ** phi, "measured": 1.7 ** phi},
              "width": {"law": 2 ** phi, "measured": 1.6 ** phi}}
    fig = nb.flops_law_plot(phi, panels)
    assert [ax.get_title() for ax in fig.axes] == ["depth", "width"]
    assert np.allclose(fig.axes[1].lines[-1].get_ydata(), 1.6 ** phi)
    with pytest.raises(ValueError, match="lacks"):
        nb.flops_law_plot(phi, {"depth": {"law": 2 ** phi}})
    with pytest.raises(ValueError, match="of 7 values"):
        nb.flops_law_plot(phi, {"depth": {"law": 2 ** phi, "measured": phi[:3]}})
    with pytest.raises(ValueError, match="empty"):
        nb.flops_law_plot(phi, {})


def test_grid_plot():
    fig = nb.grid_plot([2.0, 2.3, 1.9], [0.5, 0.52, 0.49], [np.nan, 0.01, 0.02], ["a", "b", "c"],
                       reference=1)
    ax = fig.axes[0]
    assert len(ax.texts) == 3 and ax.get_ylabel() == "val accuracy (%)"
    with pytest.raises(ValueError, match="2 labels for 3"):
        nb.grid_plot([2.0, 2.3, 1.9], [0.5, 0.52, 0.49], [np.nan] * 3, ["a", "b"])
    with pytest.raises(ValueError, match="acc_mean"):
        nb.grid_plot([2.0, 2.3], [0.5], [np.nan, np.nan], ["a", "b"])


def test_methods_plot_one_line_per_method():
    results = {"compound": {"mflops": [4, 9, 17], "latency_ms": [1, 2, 3], "acc": [0.5, 0.55, 0.6]},
               "depth": {"mflops": [4, 9, 16], "latency_ms": [1, 2.5, 4], "acc": [0.5, 0.52, 0.53],
                         "acc_std": [0.01, np.nan, 0.02]}}
    fig = nb.methods_plot(results)
    assert len(fig.axes) == 2
    assert fig.axes[0].get_legend_handles_labels()[1] == ["compound", "depth"]
    with pytest.raises(ValueError, match="empty"):
        nb.methods_plot({})
    with pytest.raises(ValueError, match="depth/latency_ms"):
        nb.methods_plot({"depth": {"mflops": [1, 2], "latency_ms": [1], "acc": [0.1, 0.2]}})


def test_family_plot():
    phi = np.arange(3)
    fig = nb.family_plot(phi, [1, 1.8, 2.8], [1, 1.7, 2.9], ["efficientnet_b0", "b1", "b2"])
    assert np.allclose(fig.axes[0].lines[0].get_ydata(), [1, 2, 4])
    with pytest.raises(ValueError, match="2 names for 3"):
        nb.family_plot(phi, [1, 1.8, 2.8], [1, 1.7, 2.9], ["a", "b"])


# ----- the panel --------------------------------------------------------------------------
def test_scaling_summary_numbers(one_thread):
    entries = {s.signature: 0.25 for s in CPU.layer_specs(BASE)}
    table = LatencyTable(CPU, "torch-1thread", entries)
    measured = {}
    s = nb.scaling_summary(CPU, BASE, 1.2, 1.1, 1.15, 1.0, table, measured, repeats=1)
    net = S.scale(CPU, BASE, S.EFFICIENTNET, 1.0)
    assert s.net.arch == net.arch and s.params_k == pytest.approx(net.params / 1e3)
    assert s.base_latency_ms == pytest.approx(0.25 * len(entries))
    assert s.measured_now == len(measured) > 0  # the scaled operators are not in the table
    again = nb.scaling_summary(CPU, BASE, 1.2, 1.1, 1.15, 1.0, table, measured, repeats=1)
    assert again.measured_now == 0 and again.latency_ms == s.latency_ms
    text = s.html()
    assert "[2, 2, 2, 2] &rarr; [3, 3, 3, 3]" in text and "the law says x1.92" in text
    plain = nb.scaling_summary(CPU, BASE, 1.2, 1.1, 1.15, 0.0)
    assert plain.latency_ms is None and "predicted latency" not in plain.html()


def test_scaling_panel_updates_and_solves_gamma():
    panel = nb.ScalingPanel(CPU, BASE)
    assert panel.summary.net.arch.d == (3, 3, 3, 3)
    panel.phi.value = 2.0
    assert panel.summary.net.phi == 2.0
    panel.solve.value = True
    assert panel.gamma.disabled
    assert panel.gamma.value == pytest.approx(S.solve_gamma(1.2, 1.1), abs=1e-4)
    assert panel.summary.net.coefficients.product == pytest.approx(2.0, rel=1e-3)
    panel.alpha.value = 1.5
    assert panel.gamma.value == pytest.approx(S.solve_gamma(1.5, 1.1), abs=1e-4)
    panel.alpha.value = 2.0  # 2 * 1.1^2 > 2: no gamma >= 1 meets it; the panel says so
    assert "already exceeds 2" in panel.out.value


def test_check_module_holds_no_reference_answer():
    """The references are imported inside the checks, so the module's namespace gives none away."""
    from hwnas_lab.course import nb04_checks

    for module in (nb, nb04_checks):
        for name in ("scale_dims", "solve_gamma", "refined_flops"):
            assert not hasattr(module, name), f"{module.__name__} exposes the reference {name}"
