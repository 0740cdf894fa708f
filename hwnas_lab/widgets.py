"""Interactive panels (ipywidgets) for the notebooks.

Each panel is a thin shell around a plain function that does the work, so the function
is unit-tested and a notebook without a widget frontend can call it directly.

Subnet panel (notebook 00): sliders choose, per stage, the depth ``d``, the kernel size
``ks`` and the expand ratio ``e`` (applied to every block of the stage), and the input
resolution ``r``; the panel shows the subnetwork's FLOPs, parameters and measured
latency (median and IQR, ``hwnas_lab.latency.measure_latency``). The encoding is
Once-for-All's (Cai et al., ICLR 2020); see ``hwnas_lab.space``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Sequence

from .space import Arch, SearchSpace, get_space


def stage_arch(space: SearchSpace | str, d: Sequence[int], ks: Sequence[int], e: Sequence[int],
               r: int) -> Arch:
    """The ``Arch`` with per-stage depth ``d``, and ``ks[s]``, ``e[s]`` in every slot of stage s."""
    space = get_space(space)
    for name, values in (("d", d), ("ks", ks), ("e", e)):
        if len(values) != space.n_stages:
            raise ValueError(f"{name} needs one value per stage ({space.n_stages} for space "
                             f"{space.name!r}), got {list(values)}")
    D = space.max_depth
    return Arch(ks=[k for k in ks for _ in range(D)], e=[x for x in e for _ in range(D)],
                d=list(d), r=r).validate(space)


@dataclass(frozen=True)
class SubnetSummary:
    """What the subnet panel shows for one choice of sliders."""

    arch: Arch  # the chosen subnetwork
    mflops: float  # FLOPs of one forward pass at batch 1, millions (2 per multiply-add)
    params_k: float  # parameters, thousands
    latency_ms: float | None  # median latency, batch 1 (None: not measured)
    iqr_ms: float | None  # inter-quartile range of the latency samples
    threads: int | None  # intra-op threads of the measurement

    def html(self) -> str:
        rows = [("architecture", html.escape(str(self.arch))),
                ("FLOPs", f"{self.mflops:.2f} M"), ("parameters", f"{self.params_k:.1f} k")]
        if self.latency_ms is not None:
            rows.append(("latency", f"{self.latency_ms:.3f} ms (IQR {self.iqr_ms:.3f} ms, "
                                    f"batch 1, {self.threads} thread(s))"))
            rows.append(("latency per MFLOP", f"{1e3 * self.latency_ms / self.mflops:.1f} us"))
        cells = "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in rows)
        return f"<table>{cells}</table>"


def subnet_summary(space: SearchSpace | str, d: Sequence[int], ks: Sequence[int],
                   e: Sequence[int], r: int, measure: bool = True, repeats: int = 15,
                   warmup: int = 3, threads: int = 1) -> SubnetSummary:
    """FLOPs, parameters and (if ``measure``) latency of the subnet the sliders describe.

    This is the subnet panel's callback, as a plain function.
    """
    from .blocks import build_net, count_flops, count_params

    space = get_space(space)
    arch = stage_arch(space, d, ks, e, r)
    net = build_net(space, arch).eval()
    flops = count_flops(net, net.input_shape(1))
    latency_ms = iqr_ms = used_threads = None
    if measure:
        from .latency import measure_latency

        result = measure_latency(net, net.input_shape(1), threads=threads, repeats=repeats,
                                 warmup=warmup)
        latency_ms, iqr_ms, used_threads = result.median_ms, result.iqr_ms, result.threads
    return SubnetSummary(arch, flops / 1e6, count_params(net) / 1e3, latency_ms, iqr_ms,
                         used_threads)


class SubnetPanel:
    """Sliders for ``d``, ``ks``, ``e`` per stage and ``r``; shows ``subnet_summary``.

    ``panel.widget`` is the ipywidgets box to display; ``panel.summary`` the last result.
    Sliders update on release (not while dragging), as each update measures latency.
    """

    def __init__(self, space: SearchSpace | str = "cpu", measure: bool = True, repeats: int = 15,
                 threads: int = 1, title: str | None = None):
        import ipywidgets as W

        self.space = get_space(space)
        self.measure, self.repeats, self.threads = measure, repeats, threads
        s = self.space

        def slider(label: str, choices: Sequence[int], value: int) -> "W.SelectionSlider":
            return W.SelectionSlider(options=list(choices), value=value, description=label,
                                     continuous_update=False,
                                     layout=W.Layout(width="220px"),
                                     style={"description_width": "60px"})

        mid = lambda choices: choices[len(choices) // 2]  # noqa: E731 - start in the middle
        self.d = [slider(f"stage {i} d", s.d_choices, mid(s.d_choices)) for i in range(s.n_stages)]
        self.ks = [slider("ks", s.ks_choices, mid(s.ks_choices)) for _ in range(s.n_stages)]
        self.e = [slider("e", s.e_choices, mid(s.e_choices)) for _ in range(s.n_stages)]
        self.r = slider("r", s.r_choices, max(s.r_choices))
        self.out = W.HTML()
        rows = [W.HBox([self.d[i], self.ks[i], self.e[i]]) for i in range(s.n_stages)]
        title = title or (f"<b>Subnet of space {s.name!r}</b>: per stage depth, kernel size and "
                          "expand ratio (all blocks of a stage), and the input resolution")
        self.widget = W.VBox([W.HTML(title), *rows, self.r, self.out])
        for w in (*self.d, *self.ks, *self.e, self.r):
            w.observe(self.update, names="value")
        self.summary: SubnetSummary | None = None
        self.update()

    def values(self) -> dict:
        """The slider values as keyword arguments of ``subnet_summary``."""
        return {"d": [w.value for w in self.d], "ks": [w.value for w in self.ks],
                "e": [w.value for w in self.e], "r": self.r.value}

    def update(self, change: dict | None = None) -> None:
        """Recompute and show the summary (the sliders' callback)."""
        try:
            self.summary = subnet_summary(self.space, **self.values(), measure=self.measure,
                                          repeats=self.repeats, threads=self.threads)
            self.out.value = self.summary.html()
        except ValueError as err:  # shown in the panel rather than lost in a callback
            self.out.value = f"<span style='color:#b00'>{html.escape(str(err))}</span>"

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


# ----- notebook 01: predicted latency broken down by stage, beside the measured one -----------
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
        from .blocks import build_net
        from .latency import measure_latency

        res = measure_latency(build_net(table.space, arch), repeats=repeats, warmup=warmup,
                              target=table.target)
        measured, iqr = res.median_ms, res.iqr_ms
    return LatencyBreakdown(arch, parts, float(sum(parts.values())), measured, iqr, table.target)


class LatencyPanel(SubnetPanel):
    """The subnet sliders of notebook 00, showing ``latency_breakdown`` on a latency table.

    ``table`` is a ``hwnas_lab.lut.LatencyTable`` covering the space (missing operators
    are shown as an error naming them).
    """

    def __init__(self, table, measure: bool = True, repeats: int = 15):
        self.table = table
        self.result: LatencyBreakdown | None = None
        super().__init__(table.space, measure=measure, repeats=repeats,
                         title=f"<b>Predicted (LUT, {table.target}) against measured latency</b>")

    def update(self, change: dict | None = None) -> None:
        from .lut import MissingEntryError

        try:
            self.result = latency_breakdown(self.table, **self.values(), measure=self.measure,
                                            repeats=self.repeats)
            self.out.value = self.result.html()
        except (ValueError, MissingEntryError) as err:
            self.out.value = f"<span style='color:#b00'>{html.escape(str(err))}</span>"


def block_entry(table, r: int, stage: int, index: int, ks: int, e: int, measure: bool = True,
                repeats: int = 15, warmup: int = 3) -> dict:
    """One block configuration: its signature, table entry and (if ``measure``) a fresh
    isolated measurement (the block panel's callback). ``stage`` counts from 1."""
    space = table.space
    if not 1 <= stage <= space.n_stages or not 0 <= index < space.max_depth:
        raise ValueError(f"stage must be 1..{space.n_stages} and index 0..{space.max_depth - 1}, "
                         f"got stage {stage}, index {index}")
    arch = space.uniform(ks, e, max(space.d_choices), r)  # validates ks, e, r
    spec = [s for (st, i, *_), s in zip(arch.active_blocks(), space.layer_specs(arch)[1:-1])
            if st == stage - 1 and i == index][0]
    out = {"signature": spec.signature, "mflops": 2 * spec.macs / 1e6,
           "entry_ms": table.entries.get(spec.signature), "measured_ms": None, "iqr_ms": None}
    if measure:
        from .latency import measure_layer

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
            self.out.value = f"<span style='color:#b00'>{html.escape(str(err))}</span>"
            return
        entry = "missing" if res["entry_ms"] is None else f"{res['entry_ms']:.4f} ms"
        text = f"<code>{res['signature']}</code>: {res['mflops']:.2f} MFLOPs; table entry {entry}"
        if res["measured_ms"] is not None:
            text += f"; measured now {res['measured_ms']:.4f} ms (IQR {res['iqr_ms']:.4f})"
        self.out.value = text

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


# ----- notebook 05: a subnet of the trained supernet: accuracy and predicted latency --------
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
    ``hwnas_lab.ofa.OFASupernet``; ``table`` a ``hwnas_lab.lut.LatencyTable`` of its space
    (missing operators are measured and added), or None for no latency.
    """
    from .blocks import arch_flops
    from .ofa.shrink import evaluate_subnet

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


class OFAPanel(SubnetPanel):
    """The subnet sliders of notebook 00, showing ``ofa_subnet_report`` of a trained supernet."""

    def __init__(self, net, train_data, eval_data, table=None, recal_batches: int = 5):
        self.net, self.train_data, self.eval_data = net, train_data, eval_data
        self.table, self.recal_batches = table, recal_batches
        self.report: OFASubnetReport | None = None
        super().__init__(net.space, measure=False)

    def update(self, change: dict | None = None) -> None:
        try:
            self.report = ofa_subnet_report(self.net, **self.values(), train_data=self.train_data,
                                            eval_data=self.eval_data, table=self.table,
                                            recal_batches=self.recal_batches)
            self.out.value = self.report.html()
        except ValueError as err:
            self.out.value = f"<span style='color:#b00'>{html.escape(str(err))}</span>"
