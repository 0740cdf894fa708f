"""Notebook 04 (compound scaling, EfficientNet): its exercise checks, figures and panel.

The algorithms live in ``hwnas_lab.scaling`` (Tan & Le, ICML 2019); this module checks a
learner's versions against them and draws what the notebook shows. Figures are functions
of plain arrays and return their ``Figure``; the panel is a shell around
``scaling_summary``, a plain function.
"""

from __future__ import annotations

import html
import math
import numbers
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .checks import exercise, expect_close
from .. import scaling
from ..scaling import Coefficients, ScaledNet, scale
from ..scaling_search import operator_latency_ms
from ..arch import Arch
from ..space import SPACES, SearchSpace


# ----- exercise 1: scaling a network ---------------------------------------------------------
SCALE_CASES = (  # (depths, width_mult, resolution, alpha, beta, gamma, phi)
    ((2, 2, 2, 2), 1.0, 24, 1.2, 1.1, 1.15, 1.0),  # depth 2.4 -> 3; 27.6 px -> 28
    ((2, 3, 4, 2), 1.0, 32, 1.2, 1.1, 1.15, 3.0),  # 48.7 px -> 48, not 49
    ((2, 2, 2, 2), 1.0, 24, 2.0, 1.0, 1.0, 1.5),  # 5.66 -> 6 blocks: past the space's 4
    ((3, 3, 3, 3), 1.25, 28, 1.2, 1.1, 1.15, 2.5),  # a baseline already at width 1.25
    ((1, 2, 2, 3), 0.75, 24, 1.3, 1.2, 1.1, 0.0),  # phi = 0: the baseline itself
    ((2, 2, 2, 2), 1.0, 24, 1.0, 1.0, 1.4, 1.0),  # 33.6 px -> 34
)


def _depth_hint(depths: Sequence[int], got: Sequence[int], mult: float, alpha: float, phi: float) -> str:
    exact = [d * mult for d in depths]
    down, nearest = (list(got) == [f(x) for x in exact] for f in (math.floor, round))
    if down or nearest:
        how = ("down (or to the nearest int)" if down and nearest else "down" if down
               else "to the nearest int")
        return f"you rounded depth {how}; EfficientNet rounds up (ceil), so any growth adds a block"
    if list(got) == [math.ceil(d * alpha * phi) for d in depths] and phi not in (0, 1):
        return "the multiplier is alpha ** phi (a power), not alpha * phi"
    largest = SPACES["cpu"].max_depth
    if max(got) <= largest < max(math.ceil(round(x, 9)) for x in exact):
        return "do not cap depth at the space's largest choice: a scaled network may be deeper"
    return "depth per stage is ceil(d * alpha ** phi)"


def _width_hint(width: float, got: float, beta: float, phi: float) -> str:
    if math.isclose(got, beta ** phi, rel_tol=1e-6) and width != 1:
        return "multiply the baseline's width_mult by beta ** phi (it is not always 1)"
    if math.isclose(got, width * beta ** (2 * phi), rel_tol=1e-6):
        return "width grows by beta ** phi; beta counts twice only in the FLOPs, not in the channels"
    if got % 8 == 0 or abs(got - round(got)) < 1e-9:
        return "keep width_mult continuous: the space rounds each channel count to a multiple of 8"
    return "width_mult is the baseline's times beta ** phi"


def _resolution_hint(r: int, got: int, mult: float) -> str:
    if isinstance(got, numbers.Integral) and got % 2:
        return f"{got} px is odd: round r * gamma ** phi = {r * mult:.2f} to the nearest even number"
    if got == 2 * math.floor(r * mult / 2):
        return f"round {r * mult:.2f} px to the nearest even number, not down"
    return "resolution is r * gamma ** phi rounded to the nearest even number of pixels"


def check_scale_dims(fn: Callable) -> None:
    """Exercise: ``scale_dims(depths, width_mult, resolution, alpha, beta, gamma, phi)``
    returns ``(depths, width_mult, resolution)`` as ``hwnas_lab.scaling.scale_dims`` does."""
    from ..scaling import scale_dims  # the reference, imported here: not in the module's namespace

    with exercise("scale_dims"):
        for depths, width, r, alpha, beta, gamma, phi in SCALE_CASES:
            call = (f"scale_dims({depths}, width_mult={width}, resolution={r}, alpha={alpha}, "
                    f"beta={beta}, gamma={gamma}, phi={phi})")
            got = fn(depths, width, r, alpha, beta, gamma, phi)
            want_d, want_w, want_r = scale_dims(depths, width, r, alpha, beta, gamma, phi)
            try:
                got_d, got_w, got_r = got
                got_d = tuple(int(d) for d in got_d)
            except (TypeError, ValueError):
                raise AssertionError(f"{call} should return (depths, width_mult, resolution), "
                                     f"got {got!r}") from None
            d_mult, _, r_mult = Coefficients(alpha, beta, gamma).multipliers(phi)
            if got_d != want_d:
                raise AssertionError(f"{call}: depths {got_d}, expected {want_d} - "
                                     + _depth_hint(depths, got_d, d_mult, alpha, phi))
            try:
                expect_close(f"{call}: width_mult", got_w, want_w, rel=1e-6)
            except AssertionError as err:
                hint = _width_hint(width, got_w, beta, phi) if isinstance(got_w, numbers.Real) else ""
                raise AssertionError(f"{err} - {hint}" if hint else str(err)) from None
            if got_r != want_r:
                raise AssertionError(f"{call}: resolution {got_r!r}, expected {want_r} - "
                                     + _resolution_hint(r, got_r, r_mult))
        print(f"  matched the reference on {len(SCALE_CASES)} cases (ceil depth, continuous width, "
              "even resolution, phi = 0)")


# ----- exercise 2: meeting the constraint ----------------------------------------------------
GAMMA_CASES = ((1.2, 1.1, 2.0), (1.0, 1.0, 2.0), (1.5, 1.05, 2.0), (1.0, 1.3, 2.0), (1.2, 1.1, 4.0))


def check_solve_gamma(fn: Callable) -> None:
    """Exercise: ``solve_gamma(alpha, beta, constraint)`` is the gamma >= 1 with
    ``alpha * beta**2 * gamma**2 == constraint``."""
    from ..scaling import solve_gamma

    with exercise("solve_gamma"):
        for alpha, beta, constraint in GAMMA_CASES:
            call = f"solve_gamma(alpha={alpha}, beta={beta}, constraint={constraint})"
            got = fn(alpha, beta, constraint)
            want = solve_gamma(alpha, beta, constraint)
            try:
                expect_close(call, got, want, rel=1e-6)
            except AssertionError as err:
                hint = ""
                if isinstance(got, numbers.Real):
                    if math.isclose(got, constraint / (alpha * beta ** 2), rel_tol=1e-6):
                        hint = (" - resolution counts twice in the FLOPs (gamma^2: height and width "
                                "both grow), so take the square root")
                    elif math.isclose(got, math.sqrt(constraint / (alpha * beta)), rel_tol=1e-6):
                        hint = " - width counts twice too: divide by beta ** 2"
                    elif math.isclose(got, math.sqrt(2.0 / (alpha * beta ** 2)), rel_tol=1e-6):
                        hint = " - use the constraint argument instead of 2"
                raise AssertionError(f"{err}{hint}") from None
            product = alpha * beta ** 2 * float(got) ** 2
            expect_close(f"alpha * beta^2 * gamma^2 for {call}", product, constraint, rel=1e-6)
        print(f"  alpha * beta^2 * gamma^2 hits the constraint in {len(GAMMA_CASES)} cases, "
              f"e.g. gamma = {solve_gamma(1.2, 1.1):.4f} for EfficientNet's alpha, beta")


# ----- exercise 3: the FLOPs law, part by part -----------------------------------------------
PART_SCALING = {  # part: (exponent of d, of w, of r), and why
    "stem": ((0, 1, 2), "the stem reads the 3 RGB channels, so only its output channels grow "
                        "(w, not w^2), and it is not repeated with depth"),
    "pointwise": ((1, 2, 2), "a 1x1 conv grows with input and output channels (w^2), output "
                             "pixels (r^2) and the number of blocks (d)"),
    "depthwise": ((1, 1, 2), "a depthwise conv has one input channel per filter, so it grows "
                             "as w, not w^2"),
    "head": ((0, 2, 2), "the head conv is not repeated with depth"),
    "classifier": ((0, 1, 0), "after global pooling the classifier sees one pixel, and its 10 "
                              "outputs are fixed: it grows as w only"),
}
PROBE_DWR = (2.0, 3.0, 5.0)  # primes: a ratio 2^a 3^b 5^c reveals the exponents a, b, c


def _exponents(ratio: float) -> tuple[int, int, int] | None:
    for a in range(4):
        for b in range(4):
            for c in range(4):
                if math.isclose(ratio, 2.0 ** a * 3.0 ** b * 5.0 ** c, rel_tol=1e-9):
                    return a, b, c
    return None


def check_refined_flops(fn: Callable) -> None:
    """Exercise: ``refined_flops(parts, d, w, r)``: the baseline's FLOPs per part scaled
    by how each part grows (``hwnas_lab.scaling.refined_flops``)."""
    from ..scaling import refined_flops

    with exercise("refined_flops"):
        d, w, r = PROBE_DWR
        for part, (expected, why) in PART_SCALING.items():
            parts = {p: (1000.0 if p == part else 0.0) for p in PART_SCALING}
            got = fn(parts, d, w, r)
            if not isinstance(got, numbers.Real):
                raise AssertionError(f"refined_flops should return a number, got {got!r}")
            if math.isclose(got, 1000.0 * 2 ** expected[0] * 3 ** expected[1] * 5 ** expected[2]):
                continue
            found = _exponents(got / 1000.0)
            shown = "" if found is None else f" (you scaled it as d^{found[0]} w^{found[1]} r^{found[2]})"
            raise AssertionError(f"part {part!r} should scale as d^{expected[0]} w^{expected[1]} "
                                 f"r^{expected[2]}{shown}: {why}")
        cases = (({"stem": 0.3e6, "pointwise": 5.1e6, "depthwise": 1.2e6, "head": 1.9e6,
                   "classifier": 5120.0}, 1.2, 1.1, 1.15),
                 ({"stem": 1.0, "pointwise": 2.0, "depthwise": 3.0, "head": 4.0, "classifier": 5.0},
                  1.0, 1.0, 1.0))
        for parts, d, w, r in cases:
            expect_close(f"refined_flops(parts, d={d}, w={w}, r={r})", fn(parts, d, w, r),
                         refined_flops(parts, d, w, r), rel=1e-9)
        print("  each of stem, pointwise, depthwise, head and classifier scales correctly")


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
