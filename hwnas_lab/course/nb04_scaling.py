"""Notebook 04 (compound scaling, EfficientNet): its figures and panel; the exercise checks
are in ``course.nb04_checks``, re-exported here so the notebook calls ``nb.check_...``.

The algorithms live in ``hwnas_lab.scaling`` (Tan & Le, ICML 2019); this module draws
what the notebook shows. Figures are functions of plain arrays and return their
``Figure``; the panel is a shell around ``scaling_summary``, a plain function.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .nb04_checks import check_refined_flops, check_scale_dims, check_solve_gamma  # noqa: F401
from .. import scaling
from ..scaling import ScaledNet, scale
from ..scaling_search import operator_latency_ms
from ..arch import Arch
from ..space import SearchSpace


# ----- figures -----------------------------------------------------------------------------
def _as_1d(name: str, values, n: int | None = None) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or (n is not None and len(arr) != n):
        raise ValueError(f"{name} must be a 1-d array" + (f" of {n} values" if n else "")
                         + f", got shape {arr.shape}")
    return arr


def flops_law_plot(phi, panels: dict, title: str = "FLOPs law against the rounded networks"):
    """One panel per scaling rule: ``panels[name] = {"law": .., "refined": .., "measured": ..}``,
    FLOPs ratios to the baseline over ``phi`` (log scale)."""
    import matplotlib.pyplot as plt

    phi = _as_1d("phi", phi)
    if not panels:
        raise ValueError("panels is empty: give {name: {'law', 'refined', 'measured'}}")
    fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 3.3), sharey=True,
                             squeeze=False)
    styles = {"law": dict(ls="--", color="0.4", label="law (a b^2 g^2)^phi"),
              "refined": dict(ls=":", color="C1", lw=2, label="refined law (by part)"),
              "measured": dict(drawstyle="steps-post", color="C0", label="rounded network")}
    for ax, (name, curves) in zip(axes[0], panels.items()):
        missing = {"law", "measured"} - set(curves)
        if missing:
            raise ValueError(f"panel {name!r} lacks {sorted(missing)}")
        for key, style in styles.items():
            if key in curves:
                ax.plot(phi, _as_1d(f"{name}/{key}", curves[key], len(phi)), **style)
        ax.set_yscale("log", base=2)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("phi")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("FLOPs / baseline FLOPs")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def grid_plot(flops_ratio, acc_mean, acc_std, labels: Sequence[str], reference: int | None = None,
              title: str = "grid search at phi = 1"):
    """Validation accuracy (%) of each distinct network against its FLOPs ratio; error bars
    (one standard deviation over seeds) where several seeds ran; ``reference`` circled."""
    x = _as_1d("flops_ratio", flops_ratio)
    m, s = _as_1d("acc_mean", acc_mean, len(x)), _as_1d("acc_std", acc_std, len(x))
    if len(labels) != len(x):
        raise ValueError(f"{len(labels)} labels for {len(x)} networks")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    ax.scatter(x, 100 * m, s=18, color="C0", label="seed 0")
    spread = ~np.isnan(s)
    ax.errorbar(x[spread], 100 * m[spread], yerr=100 * s[spread], fmt="o", color="C3", capsize=3,
                label="mean +- std over seeds")
    for xi, mi, lab in zip(x, m, labels):
        ax.annotate(lab, (xi, 100 * mi), fontsize=6, xytext=(3, 2), textcoords="offset points")
    if reference is not None:
        ax.plot(x[reference], 100 * m[reference], "o", ms=13, mfc="none", mec="k",
                label="EfficientNet (1.2, 1.1, 1.15)")
    ax.set_xlabel("FLOPs / baseline FLOPs (after rounding)")
    ax.set_ylabel("val accuracy (%)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def methods_plot(results: dict, title: str = "compound against one dimension"):
    """Accuracy (%) against MFLOPs and against latency (ms), one line per method:
    ``results[method] = {"mflops": [...], "latency_ms": [...], "acc": [...], "acc_std": [...]}``."""
    import matplotlib.pyplot as plt

    if not results:
        raise ValueError("results is empty: give {method: {'mflops', 'latency_ms', 'acc'}}")
    fig, axes = plt.subplots(1, 2, figsize=(10.0, 3.8), sharey=True)
    for i, (name, r) in enumerate(results.items()):
        acc = 100 * _as_1d(f"{name}/acc", r["acc"])
        std = 100 * _as_1d(f"{name}/acc_std", r.get("acc_std", np.full(len(acc), np.nan)), len(acc))
        for ax, key in zip(axes, ("mflops", "latency_ms")):
            x = _as_1d(f"{name}/{key}", r[key], len(acc))
            ax.errorbar(x, acc, yerr=np.where(np.isnan(std), 0, std), marker="o", ms=4, capsize=2,
                        color=f"C{i}", label=name)
    axes[0].set_xlabel("MFLOPs (batch 1)")
    axes[1].set_xlabel("latency (ms, batch 1)")
    axes[0].set_ylabel("val accuracy (%)")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def family_plot(phi, ratio, own_law, names: Sequence[str],
                title: str = "torchvision EfficientNet-B0..B7: FLOPs against 2^phi"):
    """Each model's FLOPs ratio to B0 against phi, beside ``2 ** phi`` and the ratio its own
    multipliers predict (``depth * width^2 * resolution^2``)."""
    import matplotlib.pyplot as plt

    phi = _as_1d("phi", phi)
    ratio, own = _as_1d("ratio", ratio, len(phi)), _as_1d("own_law", own_law, len(phi))
    if len(names) != len(phi):
        raise ValueError(f"{len(names)} names for {len(phi)} models")
    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    ax.plot(phi, 2.0 ** (phi - phi[0]), "--", color="0.4", label="2^phi")
    ax.plot(phi, own, ":", color="C1", lw=2, label="d w^2 r^2 (its multipliers)")
    ax.plot(phi, ratio, "o-", color="C0", label="counted FLOPs")
    for p, y, n in zip(phi, ratio, names):
        ax.annotate(n.replace("efficientnet_", ""), (p, y), fontsize=7, xytext=(3, -9),
                    textcoords="offset points")
    ax.set_yscale("log", base=2)
    ax.set_xlabel("phi (N of BN)")
    ax.set_ylabel("FLOPs / B0 FLOPs")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


# ----- the scaling panel ---------------------------------------------------------------------
@dataclass(frozen=True)
class ScalingSummary:
    """What the scaling panel shows for one position of its sliders."""

    net: ScaledNet
    params_k: float  # parameters of the scaled network, thousands
    base_params_k: float
    latency_ms: float | None  # predicted: table entries + operators measured alone
    base_latency_ms: float | None
    measured_now: int  # operators the table lacked, measured for this update

    def html(self) -> str:
        n, s = self.net, self.net.space
        rows = [("coefficients", f"{n.coefficients}, product {n.coefficients.product:.3f}, "
                                 f"phi {n.phi:.2f}"),
                ("depth per stage", f"{list(n.base_arch.d)} &rarr; {list(n.arch.d)}"),
                ("widths (stem / stages / head)",
                 f"{s.stem_width} / {list(s.stage_widths)} / {s.head_width} "
                 f"(width_mult {s.width_mult:.3f})"),
                ("resolution", f"{n.base_arch.r} &rarr; {n.arch.r} px"),
                ("FLOPs", f"{n.mflops:.2f} M: x{n.flops_ratio:.2f} the baseline; "
                          f"the law says x{n.law_ratio:.2f}"),
                ("parameters", f"{self.params_k:.1f} k (x{self.params_k / self.base_params_k:.2f})")]
        if self.latency_ms is not None:
            rows.append(("predicted latency",
                         f"{self.latency_ms:.3f} ms: x{self.latency_ms / self.base_latency_ms:.2f} "
                         f"the baseline ({self.measured_now} operators measured now)"))
        cells = "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in rows)
        return f"<table>{cells}</table>"


def scaling_summary(space: SearchSpace, arch: Arch, alpha: float, beta: float, gamma: float,
                    phi: float, table=None, measured: dict | None = None,
                    repeats: int = 5) -> ScalingSummary:
    """The scaled network of the sliders, its FLOPs against the law, its parameters and
    (with a latency ``table``) its predicted latency; the panel's callback."""
    net = scale(space, arch, (alpha, beta, gamma), phi)
    base = scale(space, arch, (alpha, beta, gamma), 0.0)
    latency = base_latency = None
    fresh = 0
    if table is not None:
        measured = {} if measured is None else measured
        latency, fresh = operator_latency_ms(net.space, net.arch, table, measured, repeats)
        base_latency, more = operator_latency_ms(space, arch, table, measured, repeats)
        fresh += more
    return ScalingSummary(net, net.params / 1e3, base.params / 1e3, latency, base_latency, fresh)


class ScalingPanel:
    """Sliders for phi and for alpha, beta, gamma (or gamma solved from the constraint);
    shows ``scaling_summary``. ``panel.widget`` is the box; ``panel.summary`` the last result."""

    def __init__(self, space: SearchSpace, arch: Arch, table=None, repeats: int = 5,
                 phi_max: float = 4.0):
        import ipywidgets as W

        self.space, self.arch, self.table, self.repeats = space, arch, table, repeats
        self.measured: dict[str, float] = {}  # operators outside the table, measured once
        opts = dict(continuous_update=False, readout_format=".2f", layout=W.Layout(width="330px"))
        self.phi = W.FloatSlider(value=1.0, min=0.0, max=phi_max, step=0.1, description="phi", **opts)
        self.alpha = W.FloatSlider(value=1.2, min=1.0, max=2.0, step=0.05, description="alpha", **opts)
        self.beta = W.FloatSlider(value=1.1, min=1.0, max=1.5, step=0.05, description="beta", **opts)
        self.gamma = W.FloatSlider(value=1.15, min=1.0, max=1.5, step=0.05, description="gamma", **opts)
        self.solve = W.Checkbox(value=False, description="gamma from alpha beta^2 gamma^2 = 2")
        self.out = W.HTML()
        self.widget = W.VBox([W.HTML("<b>Compound scaling of the baseline</b>"),
                              W.HBox([self.phi, self.solve]), W.HBox([self.alpha, self.beta]),
                              self.gamma, self.out])
        for w in (self.phi, self.alpha, self.beta, self.gamma, self.solve):
            w.observe(self.update, names="value")
        self.summary: ScalingSummary | None = None
        self._busy = False  # setting gamma from the constraint fires its observer: skip that
        self.update()

    def update(self, change: dict | None = None) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            self.gamma.disabled = self.solve.value
            if self.solve.value:
                self.gamma.value = round(scaling.solve_gamma(self.alpha.value, self.beta.value), 4)
            self.summary = scaling_summary(self.space, self.arch, self.alpha.value, self.beta.value,
                                           self.gamma.value, self.phi.value, self.table,
                                           self.measured, self.repeats)
            self.out.value = self.summary.html()
        except ValueError as err:  # shown in the panel rather than lost in a callback
            self.out.value = f"<span style='color:#b00'>{html.escape(str(err))}</span>"
        finally:
            self._busy = False

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
