"""Notebook 01 (latency lookup tables): panels, figures and the noise-floor yardstick.

The exercise checks are in ``course.nb01_checks`` (re-exported here, so the notebook
calls ``nb.check_...``). Panels: the predicted latency of a subnet by stage beside its
measurement, keeping the subnets visited (predicted against measured); one block's table
entry beside a fresh isolated measurement. ``noise_yardstick`` shows why the noise floor
is a yardstick and not a bound.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from ..arch import Arch
from ..blocks import build_net
from ..latency.lut import LatencyTable, MissingEntryError
from ..latency.measure import measure_latency, measure_layer
from .nb01_checks import (check_fit_calibration, check_measure_median,  # noqa: F401
                          check_operator_list, check_within_pct)
from .plots import axes
from .widgets import StagePanel, error_html, stage_arch


def noise_yardstick(medians_ms) -> tuple[float, float]:
    """``(repeat_rmse_ms, typical_rmse_ms)`` of repeated medians ``(rounds, networks)``.

    ``repeat``: one round scored against another (every ordered pair of rounds), what the
    noise floor reports. ``typical``: one round scored against the mean of the OTHER
    rounds, an estimate of each network's typical latency. With independent noise of
    spread sigma per round, the first is about sqrt(2) sigma, the second about
    sigma * sqrt(1 + 1 / (rounds - 1)): a predictor of the typical latency beats a
    second measurement, so the noise floor is a yardstick, not a bound.
    """
    m = np.asarray(medians_ms, dtype=float)
    if m.ndim != 2 or m.shape[0] < 3:
        raise ValueError(f"medians_ms must be (rounds >= 3, networks), got shape {m.shape}")
    rounds = m.shape[0]
    diffs = [m[a] - m[b] for a in range(rounds) for b in range(rounds) if a != b]
    others = (m.sum(0, keepdims=True) - m) / (rounds - 1)  # leave-one-out mean per round
    return float(np.sqrt(np.mean(np.square(diffs)))), float(np.sqrt(np.mean((m - others) ** 2)))


# ----- panels ------------------------------------------------------------------------------
@dataclass(frozen=True)
class LatencyBreakdown:
    """What the latency panel shows: the LUT prediction per part and the measurement."""

    arch: Arch  # the chosen subnetwork
    parts_ms: dict  # "stem", "stage1".., "head" -> predicted ms (table entries summed)
    predicted_ms: float  # sum of parts_ms
    measured_ms: float | None  # median end-to-end latency (None: not measured)
    iqr_ms: float | None  # its inter-quartile range
    target: str  # the table's target

    def html(self) -> str:
        total = max(self.predicted_ms, self.measured_ms or 0.0)
        colours = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3"]
        bars = "".join(
            f"<div title='{k}: {v:.3f} ms' style='display:inline-block;height:14px;"
            f"width:{300 * v / total:.1f}px;background:{colours[i % len(colours)]}'></div>"
            for i, (k, v) in enumerate(self.parts_ms.items()))
        rows = "".join(f"<tr><td>{k}</td><td>{v:.3f} ms</td></tr>" for k, v in self.parts_ms.items())
        out = [f"<b>{html.escape(str(self.arch))}</b> on {self.target}",
               f"<div>predicted {bars} {self.predicted_ms:.3f} ms</div>"]
        if self.measured_ms is not None:
            err = 100 * (self.predicted_ms / self.measured_ms - 1)
            out.append(f"<div>measured <div style='display:inline-block;height:14px;width:"
                       f"{300 * self.measured_ms / total:.1f}px;background:gray'></div> "
                       f"{self.measured_ms:.3f} ms (IQR {self.iqr_ms:.3f} ms); LUT sum error "
                       f"{err:+.1f} %</div>")
        return "".join(out) + f"<table>{rows}</table>"


def latency_breakdown(table, d: Sequence[int], ks: Sequence[int], e: Sequence[int], r: int,
                      measure: bool = True, repeats: int = 15, warmup: int = 3) -> LatencyBreakdown:
    """Predicted latency per stage of the subnet the sliders describe, and its measured latency
    on the table's target (the latency panel's callback, as a plain function)."""
    arch = stage_arch(table.space, d, ks, e, r)
    parts = table.breakdown(arch)
    measured = iqr = None
    if measure:
        res = measure_latency(build_net(table.space, arch), repeats=repeats, warmup=warmup,
                              target=table.target)
        measured, iqr = res.median_ms, res.iqr_ms
    return LatencyBreakdown(arch, parts, float(sum(parts.values())), measured, iqr, table.target)


class LatencyPanel(StagePanel):
    """Stage sliders showing ``latency_breakdown`` on a latency table (operators the table
    lacks are shown as an error naming them). With ``history=True`` (and ``measure``) the
    subnets visited are kept as (predicted, measured) points beside the diagonal."""

    errors = (ValueError, MissingEntryError)
    history_axes = dict(xlabel="predicted latency, LUT sum (ms)", ylabel="measured latency (ms)",
                        diagonal=True)

    def __init__(self, table: LatencyTable, measure: bool = True, repeats: int = 15,
                 history: bool = False):
        self.table, self.measure, self.repeats = table, measure, repeats
        super().__init__(table.space, f"<b>Predicted (LUT, {table.target}) against measured "
                         "latency</b>", history=history)

    def compute(self, d, ks, e, r) -> LatencyBreakdown:
        return latency_breakdown(self.table, d, ks, e, r, measure=self.measure,
                                 repeats=self.repeats)

    def history_point(self, result: LatencyBreakdown) -> tuple[float, float] | None:
        return None if result.measured_ms is None else (result.predicted_ms, result.measured_ms)


def block_entry(table, r: int, stage: int, index: int, ks: int, e: int, measure: bool = True,
                repeats: int = 15, warmup: int = 3) -> dict:
    """One block configuration: its signature, table entry and (if ``measure``) a fresh
    isolated measurement (the block panel's callback). ``stage`` counts from 1."""
    space = table.space
    if not 1 <= stage <= space.n_stages or not 0 <= index < space.max_depth:
        raise ValueError(f"stage must be 1..{space.n_stages} and index 0..{space.max_depth - 1}, "
                         f"got stage {stage}, index {index}")
    space.uniform(ks, e, max(space.d_choices), r)  # validates ks, e and r with clear messages
    spec = space.block_slots(r)[(stage - 1) * space.max_depth + index].spec(ks, e)
    out = {"signature": spec.signature, "mflops": 2 * spec.macs / 1e6,
           "entry_ms": table.entries.get(spec.signature), "measured_ms": None, "iqr_ms": None}
    if measure:
        res = measure_layer(spec, table.target, repeats=repeats, warmup=warmup)
        out["measured_ms"], out["iqr_ms"] = res.median_ms, res.iqr_ms
    return out


class BlockPanel:
    """Sliders for one block (resolution, stage, position, ks, e): its entry against a fresh
    isolated measurement. ``panel.widget`` is the box to display."""

    def __init__(self, table, measure: bool = True, repeats: int = 15):
        import ipywidgets as W

        self.table, self.measure, self.repeats = table, measure, repeats
        s = table.space
        opts = dict(continuous_update=False, layout=W.Layout(width="260px"))
        self.r = W.SelectionSlider(options=list(s.r_choices), value=max(s.r_choices),
                                   description="r", **opts)
        self.stage = W.IntSlider(value=1, min=1, max=s.n_stages, description="stage", **opts)
        self.index = W.IntSlider(value=0, min=0, max=s.max_depth - 1, description="block", **opts)
        self.ks = W.SelectionSlider(options=list(s.ks_choices), description="ks", **opts)
        self.e = W.SelectionSlider(options=list(s.e_choices), description="e", **opts)
        self.out = W.HTML()
        self.widget = W.VBox([W.HTML(f"<b>One block on {table.target}</b>"),
                              W.HBox([self.r, self.stage, self.index]), W.HBox([self.ks, self.e]),
                              self.out])
        for w in (self.r, self.stage, self.index, self.ks, self.e):
            w.observe(self.update, names="value")
        self.result: dict | None = None
        self.update()

    def update(self, change: dict | None = None) -> None:
        try:
            self.result = res = block_entry(self.table, self.r.value, self.stage.value,
                                            self.index.value, self.ks.value, self.e.value,
                                            measure=self.measure, repeats=self.repeats)
        except ValueError as err:
            self.out.value = error_html(err)
            return
        entry = "missing" if res["entry_ms"] is None else f"{res['entry_ms']:.4f} ms"
        text = f"<code>{res['signature']}</code>: {res['mflops']:.2f} MFLOPs; table entry {entry}"
        if res["measured_ms"] is not None:
            text += f"; measured now {res['measured_ms']:.4f} ms (IQR {res['iqr_ms']:.4f})"
        self.out.value = text

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)



# ----- figures -----------------------------------------------------------------------------
def pred_vs_measured(predictions_ms: dict, measured_ms: Sequence[float], noise_pct: float | None = None,
                     iqr_ms: Sequence[float] | None = None, title: str = ""):
    """One panel per predictor: predicted against measured latency, the diagonal, the
    +-10 % band (dashed) and, shaded, +-``noise_pct`` % (the measurement's own noise floor)."""
    meas = np.asarray(measured_ms, dtype=float)
    if not predictions_ms:
        raise ValueError("predictions_ms is empty: give {predictor name: predicted ms}")
    for name, p in predictions_ms.items():
        if len(p) != len(meas):
            raise ValueError(f"{name}: {len(p)} predictions but {len(meas)} measurements")
    n = len(predictions_ms)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.5), squeeze=False)
    lo = min(meas.min(), min(np.min(p) for p in predictions_ms.values())) * 0.9
    hi = max(meas.max(), max(np.max(p) for p in predictions_ms.values())) * 1.1
    line = np.array([lo, hi])
    for ax, (name, pred) in zip(axes[0], predictions_ms.items()):
        if noise_pct is not None:
            ax.fill_between(line, line * (1 - noise_pct / 100), line * (1 + noise_pct / 100),
                            color="C2", alpha=0.2, label=f"noise floor +-{noise_pct:.1f} %")
        ax.plot(line, line, color="gray", lw=1)
        ax.plot(line, line * 1.1, "--", color="gray", lw=0.8, label="+-10 %")
        ax.plot(line, line * 0.9, "--", color="gray", lw=0.8)
        xerr = None if iqr_ms is None else np.asarray(iqr_ms) / 2
        ax.errorbar(meas, pred, xerr=xerr, fmt="o", ms=3, alpha=0.7, elinewidth=0.8)
        rel = np.abs(np.asarray(pred) - meas) / meas
        ax.set_title(f"{name}\n{100 * np.mean(rel <= 0.1 + 1e-12):.0f} % within +-10 %", fontsize=9)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_xlabel("measured (ms)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("predicted (ms)")
    axes[0][0].legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def noise_floor_strip(medians_ms: np.ndarray, names: Sequence[str], ax=None, title: str = ""):
    """Each network's repeated medians (rounds) relative to their median, in percent."""
    med = np.asarray(medians_ms, dtype=float)
    if med.ndim != 2 or med.shape[1] != len(names):
        raise ValueError(f"medians_ms must be (rounds, {len(names)} networks), got {med.shape}")
    dev = 100 * (med / np.median(med, axis=0) - 1)
    fig, ax = axes(ax, (5.0, 3.0))
    for j in range(med.shape[1]):
        ax.plot(np.full(med.shape[0], j), dev[:, j], "o", alpha=0.7)
    ax.axhspan(-10, 10, color="gray", alpha=0.1, label="+-10 %")
    ax.axhline(0, color="gray", lw=1)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=30, fontsize=8)
    ax.set_ylabel("round / median - 1 (%)")
    ax.set_title(title or "Repeatability of a measurement (noise floor)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def breakdown_bars(parts_ms: dict, measured_ms: float | None = None, iqr_ms: float | None = None,
                   ax=None, title: str = "Predicted latency by stage"):
    """A stacked bar of the predicted latency per part, beside the measured one (IQR bar)."""
    if not parts_ms:
        raise ValueError("parts_ms is empty")
    fig, ax = axes(ax, (6.0, 2.2))
    left = 0.0
    for i, (name, ms) in enumerate(parts_ms.items()):
        ax.barh(1, ms, left=left, color=f"C{i}", label=name)
        left += ms
    if measured_ms is not None:
        ax.barh(0, measured_ms, color="gray", xerr=None if iqr_ms is None else iqr_ms / 2,
                capsize=3)
    ax.set_yticks([0, 1])
    ax.set_yticklabels(["measured", "predicted"])
    ax.set_xlabel("latency (ms)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, ncol=min(len(parts_ms), 6), loc="lower right")
    fig.tight_layout()
    return fig


