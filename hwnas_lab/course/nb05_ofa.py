"""Notebook 05 (Once-for-All training, Cai et al., ICLR 2020): the subnet panel and figures.

The exercise checks (``centre_crop_kernel``, ``slice_pointwise``, ``distillation_loss``,
``progressive_shrinking_step``) are in ``course.nb05_checks``, re-exported here so the
notebook calls ``nb.check_...``; they import their references inside, so nothing here
hands out an answer. The panel shows a subnet's accuracy before and after BN
recalibration and its LUT-predicted latency, and keeps the subnets visited.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from ..arch import Arch
from ..blocks import arch_flops
from ..ofa.shrink import evaluate_subnet
from .nb05_checks import (check_centre_crop, check_channel_slice,  # noqa: F401
                          check_distillation_loss, check_shrink_step)
from .plots import axes
from .widgets import StagePanel, stage_arch


# ----- the subnet panel --------------------------------------------------------------------
@dataclass(frozen=True)
class OFASubnetReport:
    """What the OFA panel shows for one choice of sliders."""

    arch: Arch  # the chosen subnetwork
    mflops: float  # FLOPs at batch 1, millions
    acc: float  # accuracy (0..1) on the evaluation set after BN recalibration
    acc_before: float  # the same with the supernet's own BN statistics
    images: int  # size of the evaluation set
    latency_ms: float | None  # latency predicted by the LUT (None: no table)
    table: str | None  # which table predicted it

    def html(self) -> str:
        rows = [("architecture", html.escape(str(self.arch))), ("FLOPs", f"{self.mflops:.2f} M"),
                ("accuracy", f"{100 * self.acc:.1f} % after BN recalibration "
                             f"({100 * self.acc_before:.1f} % before; {self.images} images)")]
        if self.latency_ms is not None:
            rows.append(("predicted latency", f"{self.latency_ms:.3f} ms ({self.table})"))
        cells = "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in rows)
        return f"<table>{cells}</table>"


def ofa_subnet_report(net, d: Sequence[int], ks: Sequence[int], e: Sequence[int], r: int,
                      train_data, eval_data, table=None, recal_batches: int = 5,
                      seed: int = 0) -> OFASubnetReport:
    """Accuracy (before/after BN recalibration) and LUT-predicted latency of a supernet subnet.

    The OFA panel's callback, as a plain function. ``net`` is a trained
    ``hwnas_lab.ofa.OFASupernet``; ``table`` a ``hwnas_lab.latency.LatencyTable`` of its space
    (missing operators are measured and added), or None for no latency.
    """
    arch = stage_arch(net.space, d, ks, e, r)
    before = evaluate_subnet(net, arch, train_data, eval_data, recal_batches=0)
    after = evaluate_subnet(net, arch, train_data, eval_data, recal_batches=recal_batches, seed=seed)
    latency_ms = name = None
    if table is not None:
        specs = net.space.layer_specs(arch)
        if table.missing(specs):
            table.ensure(specs, progress=False)
        latency_ms, name = float(table.predict(arch)), f"LUT {table.target}"
    return OFASubnetReport(arch, arch_flops(net.space, arch) / 1e6, after, before,
                           len(eval_data), latency_ms, name)


class OFAPanel(StagePanel):
    """Stage sliders showing ``ofa_subnet_report`` of a trained supernet."""

    history_axes = dict(xlabel="predicted latency (ms)", ylabel="accuracy (%)",
                        x_better="lower", y_better="higher")

    def __init__(self, net, train_data, eval_data, table=None, recal_batches: int = 5,
                 history: bool = False):
        self.net, self.train_data, self.eval_data = net, train_data, eval_data
        self.table, self.recal_batches = table, recal_batches
        super().__init__(net.space, "<b>A subnet of the trained supernet</b>: accuracy after BN "
                         "recalibration and predicted latency", history=history)

    def history_point(self, result: OFASubnetReport) -> tuple[float, float] | None:
        """(predicted latency ms, accuracy %); None without a latency table."""
        if result.latency_ms is None:
            return None
        return result.latency_ms, 100 * result.acc

    def compute(self, d, ks, e, r) -> OFASubnetReport:
        return ofa_subnet_report(self.net, d, ks, e, r, train_data=self.train_data,
                                 eval_data=self.eval_data, table=self.table,
                                 recal_batches=self.recal_batches)


# ----- figures -----------------------------------------------------------------------------
def elastic_kernels(kernels: dict, title: str = "one depthwise filter at each kernel size"):
    """Heat maps of one filter at each kernel size, e.g. ``{7: 7x7, 5: 5x5, 3: 3x3}`` arrays,
    drawn on the largest kernel's grid so that the centre crops line up."""
    sizes = sorted(kernels, reverse=True)
    big = sizes[0]
    vmax = max(float(np.abs(np.asarray(k)).max()) for k in kernels.values())
    fig, axes = plt.subplots(1, len(sizes), figsize=(2.6 * len(sizes), 2.8))
    for ax, ks in zip(np.atleast_1d(axes), sizes):
        canvas = np.full((big, big), np.nan)
        start = (big - ks) // 2
        canvas[start:start + ks, start:start + ks] = np.asarray(kernels[ks])
        im = ax.imshow(canvas, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        ax.set_title(f"{ks}x{ks}", fontsize=10)
        ax.set_xticks([]), ax.set_yticks([])
    fig.colorbar(im, ax=list(np.atleast_1d(axes)), shrink=0.8)
    fig.suptitle(title, fontsize=10)
    return fig


def shrink_schedule(phases, ax=None, title: str = "progressive shrinking: what each phase samples"):
    """The schedule as a picture: one row per elastic dimension, one column block per phase
    (width = epochs), each cell listing the choices sampled; resolution elastic throughout.
    Above each phase: its subnets per step, random ones plus L (largest) and S (smallest)
    when the sandwich rule trains them in every step."""
    fig, ax = axes(ax, figsize=(9.0, 3.0))
    rows = [("ks", "kernel size"), ("d", "depth"), ("e", "expand ratio")]
    colours = {"ks": "#4c72b0", "d": "#55a868", "e": "#c44e52"}
    x = 0.0
    full = {name: set() for name, _ in rows}
    for phase in phases:
        for name, _ in rows:
            full[name] |= set(getattr(phase, name) or ())
    for index, phase in enumerate(phases):
        for i, (name, _) in enumerate(rows):
            chosen = getattr(phase, name) or tuple(sorted(full[name]))
            elastic = len(chosen) > 1
            ax.barh(i, phase.epochs, left=x, color=colours[name], alpha=0.85 if elastic else 0.2,
                    edgecolor="white")
            ax.text(x + phase.epochs / 2, i, ",".join(map(str, chosen)), ha="center",
                    va="center", fontsize=7)
        level = len(rows) - 0.45 + 0.55 * (index % 2)  # stagger labels of short phases
        sandwich = "".join(f"+{a[0].upper()}" for a in phase.always)  # +L+S: sandwich rule
        ax.text(x + phase.epochs / 2, level, f"{phase.name}\n{phase.epochs} ep, "
                f"{phase.n_subnets}{sandwich}/step", ha="center", va="bottom", fontsize=7)
        x += phase.epochs
    ax.set_yticks(range(len(rows)), [label for _, label in rows])
    ax.set_xlabel("epoch")
    ax.set_xlim(0, x)
    ax.set_ylim(-0.6, len(rows) + 1.2)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def shrink_log(history: Sequence[dict], ax=None, title: str = "validation accuracy during training"):
    """Accuracy of the largest and smallest subnets after every epoch, phases shaded."""
    fig, ax = axes(ax, figsize=(8.0, 3.4))
    xs = np.arange(1, len(history) + 1)
    for key, label in (("val_acc_largest", "largest"), ("val_acc_smallest", "smallest")):
        ax.plot(xs, [100 * row.get(key, np.nan) for row in history], marker="o", ms=3,
                label=label)  # NaN: an epoch without validation (eval_every > 1)
    start = 0
    for i, row in enumerate(history):
        if i + 1 == len(history) or history[i + 1]["phase"] != row["phase"]:
            if row["phase_index"] % 2:
                ax.axvspan(start + 0.5, i + 1.5, color="0.92")
            ax.text((start + i + 2) / 2, 1, row["phase"], ha="center", fontsize=7,
                    transform=ax.get_xaxis_transform(), va="top")
            start = i + 1
    ax.set_xlabel("epoch (all phases)")
    ax.set_ylabel("val accuracy (%)")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def accuracy_vs_mflops(mflops: Sequence[float], acc_before: Sequence[float],
                       acc_after: Sequence[float], labels: Sequence[str] | None = None, ax=None,
                       title: str = "subnets of the supernet, no retraining"):
    """Accuracy (%) against MFLOPs, before and after batch-norm recalibration."""
    fig, ax = axes(ax, figsize=(5.5, 4.0))
    m = np.asarray(mflops)
    ax.scatter(m, 100 * np.asarray(acc_before), marker="x", color="0.5", label="supernet BN stats")
    ax.scatter(m, 100 * np.asarray(acc_after), marker="o", color="#4c72b0", label="recalibrated")
    for x, b, a in zip(m, acc_before, acc_after):
        ax.plot([x, x], [100 * b, 100 * a], color="0.8", lw=0.8, zorder=0)
    for x, a, lab in zip(m, acc_after, labels or []):
        if lab:
            ax.annotate(lab, (x, 100 * a), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("MFLOPs (batch 1)")
    ax.set_ylabel("accuracy (%)")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def ablation_bars(labels: Sequence[str], largest: Sequence[float], smallest: Sequence[float],
                  noise: tuple[float, float] | None = None,
                  title: str = "what each ingredient buys (test accuracy, BN recalibrated)"):
    """Test accuracy (%) of the largest and smallest subnets, one bar per run, the first run
    the reference (a dashed line; each other bar is labelled with its difference to it).
    ``noise``: (largest, smallest) gap between two seeds of the reference in points, shaded
    around it."""
    if not (len(labels) == len(largest) == len(smallest)) or len(labels) < 2:
        raise ValueError(f"need a reference and at least one run, with one accuracy each: got "
                         f"{len(labels)} labels, {len(largest)} largest, {len(smallest)} smallest")
    fig, axs = plt.subplots(1, 2, figsize=(10.0, 0.55 * len(labels) + 1.4), sharey=True)
    ys = np.arange(len(labels))[::-1]
    for k, (ax, accs, name) in enumerate(zip(axs, (largest, smallest), ("largest", "smallest"))):
        accs = np.asarray(accs, dtype=float)
        ref = accs[0]
        if noise is not None:
            ax.axvspan(ref - noise[k], ref + noise[k], color="0.85", label="± gap between two seeds")
        ax.barh(ys, accs, color=["0.55"] + ["#4c72b0"] * (len(accs) - 1), height=0.6)
        ax.axvline(ref, color="0.3", ls="--", lw=1)
        for y, acc in zip(ys[1:], accs[1:]):
            ax.text(acc + 0.3, y, f"{acc:.1f} ({acc - ref:+.1f})", va="center", fontsize=8)
        ax.text(ref + 0.3, ys[0], f"{ref:.1f}", va="center", fontsize=8)
        low = min(accs.min(), ref - (noise[k] if noise else 0))
        ax.set_xlim(max(0.0, low - 5), max(accs.max(), ref) + 6)
        ax.set_xlabel("test accuracy (%)")
        ax.set_title(f"{name} subnet", fontsize=10)
        if noise is not None:
            ax.legend(fontsize=7, loc="lower right")
    axs[0].set_yticks(ys, labels, fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def alone_vs_supernet(kinds: Sequence[str], alone: Sequence[float],
                      supernets: dict[str, Sequence[float]],
                      title: str = "trained alone vs taken from a supernet (test accuracy)"):
    """Accuracy (%) of each architecture trained alone beside the same subnet taken from each
    supernet (``{supernet name: accuracies in the order of kinds}``), grouped by architecture."""
    if any(len(v) != len(kinds) for v in (alone, *supernets.values())):
        raise ValueError(f"need one accuracy per architecture ({len(kinds)}) in alone and in "
                         "every supernet's list")
    fig, ax = axes(None, figsize=(7.5, 3.6))
    series = {"trained alone": alone, **supernets}
    width = 0.8 / len(series)
    x = np.arange(len(kinds))
    for i, (label, accs) in enumerate(series.items()):
        bars = ax.bar(x + (i - (len(series) - 1) / 2) * width, accs, width, label=label,
                      color="0.55" if i == 0 else None)
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(x, kinds)
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 112)  # room above the bars for the legend
    ax.set_yticks(range(0, 101, 20))
    ax.legend(fontsize=8, loc="upper center", ncol=len(series))
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
