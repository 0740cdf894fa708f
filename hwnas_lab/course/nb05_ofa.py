"""Notebook 05 (Once-for-All training): exercise checks, the subnet panel and figures.

Exercises: ``centre_crop_kernel`` (elastic kernel), ``slice_pointwise`` (elastic width)
and ``distillation_loss`` (KL(teacher || student) with temperature). The panel shows a
subnet's accuracy before and after BN recalibration and its LUT-predicted latency.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..arch import Arch
from ..blocks import arch_flops
from ..ofa.dynamic import DynamicPointConv2d, centre_crop
from ..ofa.shrink import distillation_loss as reference_distillation
from ..ofa.shrink import evaluate_subnet
from .checks import exercise, expect_close, expect_equal, expect_tensor
from .plots import axes
from .widgets import StagePanel, stage_arch


def check_centre_crop(centre_crop_kernel) -> None:
    """Exercise (notebook 05): ``centre_crop_kernel(weight, ks)`` returns the centre
    ``ks x ks`` window of a ``(C, 1, K, K)`` depthwise kernel (OFA's elastic kernel, before
    the learned transformation)."""
    with exercise("centre_crop_kernel"):
        g = torch.Generator().manual_seed(0)
        for channels, big, ks in ((4, 7, 5), (4, 7, 3), (2, 5, 3), (3, 7, 7), (1, 3, 1)):
            weight = torch.randn(channels, 1, big, big, generator=g)
            got = expect_tensor("centre_crop_kernel", centre_crop_kernel(weight, ks))
            expected = centre_crop(weight, ks)
            expect_equal(f"shape of centre_crop_kernel(weight {tuple(weight.shape)}, {ks})",
                         tuple(got.shape), tuple(expected.shape))
            if not torch.equal(got, expected):
                corner = weight[0, 0, :ks, :ks]
                hint = (" - you took the top-left corner, not the centre" if torch.equal(got[0, 0], corner)
                        else " - the window must start at (K - ks) // 2 in both axes")
                raise AssertionError(f"wrong values for K={big}, ks={ks}{hint}")
        print("  matched on 5 kernels (7->5, 7->3, 5->3, 7->7, 3->1)")


def check_channel_slice(slice_pointwise) -> None:
    """Exercise (notebook 05): ``slice_pointwise(weight, cout, cin)`` returns the weight a
    1x1 conv uses with ``cout`` output and ``cin`` input channels: the FIRST of each."""
    with exercise("slice_pointwise"):
        torch.manual_seed(0)
        conv = DynamicPointConv2d(16, 96)
        for cout, cin in ((96, 16), (64, 16), (48, 12), (1, 1)):
            got = expect_tensor("slice_pointwise", slice_pointwise(conv.weight.detach(), cout, cin))
            conv.active_out = cout
            expected = conv.active_weight(cin).detach()
            expect_equal(f"shape for cout={cout}, cin={cin}", tuple(got.shape), tuple(expected.shape))
            if not torch.equal(got, expected):
                raise AssertionError(f"wrong values for cout={cout}, cin={cin}: keep the first "
                                     "cout output channels (dim 0) and first cin inputs (dim 1)")
            x = torch.randn(2, cin, 4, 4)
            if not torch.allclose(torch.nn.functional.conv2d(x, got), conv(x), atol=1e-6):
                raise AssertionError("a conv with your weight differs from the elastic layer")
        print("  matched the elastic 1x1 conv at 4 widths")


def check_distillation_loss(distillation_loss) -> None:
    """Exercise (notebook 05): ``distillation_loss(student_logits, teacher_logits, T)`` is
    ``T^2 * KL(softmax(t/T) || softmax(s/T))``, averaged over the batch."""
    with exercise("distillation_loss"):
        g = torch.Generator().manual_seed(0)
        s, t = torch.randn(8, 10, generator=g), torch.randn(8, 10, generator=g)
        same = expect_tensor("distillation_loss", distillation_loss(t, t.clone(), 1.0))
        expect_close("loss when the student equals the teacher", same.item(), 0.0, abs_=1e-5)
        for T in (1.0, 2.0, 4.0):
            got = expect_tensor("distillation_loss", distillation_loss(s, t, T))
            if got.dim() != 0:
                raise AssertionError(f"return one number (a 0-d tensor), got shape {tuple(got.shape)}: "
                                     "average over the batch")
            expected = reference_distillation(s, t, T).item()
            if abs(got.item() - expected / (T * T)) < 1e-5 * max(1.0, expected) and T != 1.0:
                raise AssertionError(f"T={T}: multiply by T^2 (got {got.item():.5g}, "
                                     f"expected {expected:.5g})")
            expect_close(f"distillation_loss at T={T}", got.item(), expected, rel=1e-4, abs_=1e-6)
        s_req = s.clone().requires_grad_(True)
        distillation_loss(s_req, t, 1.0).backward()
        if s_req.grad is None or not torch.isfinite(s_req.grad).all():
            raise AssertionError("the loss must be differentiable in the student's logits")
        print("  matched the reference at T = 1, 2, 4; zero when the student copies the teacher")

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

    def __init__(self, net, train_data, eval_data, table=None, recal_batches: int = 5):
        self.net, self.train_data, self.eval_data = net, train_data, eval_data
        self.table, self.recal_batches = table, recal_batches
        super().__init__(net.space, "<b>A subnet of the trained supernet</b>: accuracy after BN "
                         "recalibration and predicted latency")

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
    (width = epochs), each cell listing the choices sampled; resolution elastic throughout."""
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
        ax.text(x + phase.epochs / 2, level, f"{phase.name}\n{phase.epochs} ep, "
                f"{phase.n_subnets}/step", ha="center", va="bottom", fontsize=7)
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
        ax.plot(xs, [100 * row[key] for row in history], marker="o", ms=3, label=label)
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
