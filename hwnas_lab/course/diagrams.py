"""Diagrams of the architecture and of weight sharing (matplotlib; each returns its Figure).

Pictures a learner reads before the text: the MBConv block (MobileNetV2's inverted
residual, Sandler et al., CVPR 2018) with the ``Arch`` fields ``ks`` and ``e`` where they
act; the whole network, stage by stage, with ``d``, ``r`` and the block slots; and the
three kinds of weight sharing of Once-for-All (Cai et al., ICLR 2020, Figures 2-3):
the elastic kernel (centre crop, then a learned transformation), elastic width (the
first channels of a weight) and elastic depth (the first blocks of a stage).

Every function takes plain numbers or arrays, so a notebook owns what it shows (a space
and an ``Arch``, a trained supernet's weights) and this module only draws it; bad input
raises ``ValueError``. Texts drawn are plain ``Axes.text`` objects, so tests read them.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyBboxPatch, Rectangle

ACTIVE = "#4c72b0"  # a block that runs
INACTIVE = "0.85"  # a slot kept in the encoding that does not run
FIXED = "#937860"  # stem and head: not elastic


def _positive(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _box(ax, x: float, y: float, w: float, h: float, text: str, colour: str,
         fontsize: float = 8, text_colour: str = "white") -> None:
    """A rounded box centred at (x, y) with centred text."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02",
                                facecolor=colour, edgecolor="0.3", lw=0.8))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, color=text_colour)


def _arrow(ax, start: tuple[float, float], end: tuple[float, float], text: str = "",
           colour: str = "0.3", **kwargs) -> None:
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="->", color=colour, lw=1,
                                                        **kwargs))
    if text:
        ax.text((start[0] + end[0]) / 2 + 0.05, (start[1] + end[1]) / 2, text, fontsize=7,
                va="center", color="0.25")


def _blank(ax, xlim: tuple[float, float], ylim: tuple[float, float]) -> None:
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_axis_off()


def out_size(in_size: int, stride: int) -> int:
    """Output height of a same-padded conv: ceil(in / stride)."""
    return (in_size - 1) // stride + 1


# ----- the architecture ------------------------------------------------------------------
def mbconv_block(cin: int, cout: int, ks: int, e: int, stride: int = 1, in_size: int = 32,
                 title: str | None = None):
    """One MBConv block, top to bottom: expand 1x1 (``e``), depthwise ``ks x ks`` (stride),
    project 1x1, and the residual when stride is 1 and ``cin == cout``; tensor shapes on
    the arrows. FLOPs are deliberately not shown (notebook 00 asks the learner for them)."""
    cin, cout, ks, e, stride, in_size = (_positive(n, v) for n, v in (
        ("cin", cin), ("cout", cout), ("ks", ks), ("e", e), ("stride", stride),
        ("in_size", in_size)))
    if ks % 2 == 0:
        raise ValueError(f"ks must be odd (same padding), got {ks}")
    hidden, out = cin * e, out_size(in_size, stride)
    residual = stride == 1 and cin == cout
    fig, ax = plt.subplots(figsize=(5.2, 5.6))
    _blank(ax, (-1.6, 2.2), (-0.6, 5.6))
    ys = [5.0, 3.7, 2.4, 1.1]
    _box(ax, 0, ys[0], 2.6, 0.6, f"expand: 1x1 conv, {cin} -> {hidden} channels\n"
         f"e = {e}  (hidden = e x cin), BN, ReLU6", ACTIVE)
    _box(ax, 0, ys[1], 2.6, 0.6, f"depthwise: {ks}x{ks} conv, stride {stride}\n"
         f"ks = {ks}, one filter per channel, BN, ReLU6", ACTIVE)
    _box(ax, 0, ys[2], 2.6, 0.6, f"project: 1x1 conv, {hidden} -> {cout} channels\n"
         "BN, no activation (linear bottleneck)", ACTIVE)
    ax.text(0, 5.55, f"input  {cin} x {in_size} x {in_size}", ha="center", fontsize=8)
    _arrow(ax, (0, 5.45), (0, ys[0] + 0.32))
    _arrow(ax, (0, ys[0] - 0.32), (0, ys[1] + 0.32), f"{hidden} x {in_size} x {in_size}")
    _arrow(ax, (0, ys[1] - 0.32), (0, ys[2] + 0.32), f"{hidden} x {out} x {out}")
    if residual:
        _box(ax, 0, ys[3], 0.5, 0.4, "+", "0.5", fontsize=11)
        _arrow(ax, (0, ys[2] - 0.32), (0, ys[3] + 0.22), f"{cout} x {out} x {out}")
        ax.annotate("", xy=(0.26, ys[3]), xytext=(0.2, 5.45),
                    arrowprops=dict(arrowstyle="->", color="0.5", lw=1,
                                    connectionstyle="bar,fraction=-0.25"))
        ax.text(1.75, 3.2, "residual:\nstride 1 and\ncin = cout", fontsize=7, color="0.35")
        _arrow(ax, (0, ys[3] - 0.22), (0, 0.2))
    else:
        _arrow(ax, (0, ys[2] - 0.32), (0, 0.2))
        why = f"stride {stride}" if stride != 1 else f"cin {cin} != cout {cout}"
        ax.text(1.45, 1.2, f"no residual\n({why})", fontsize=7, color="0.35")
    ax.text(0, 0.0, f"output  {cout} x {out} x {out}", ha="center", fontsize=8)
    ax.set_title(title or f"MBConv block: ks = {ks}, e = {e}, stride {stride}", fontsize=10)
    return fig


def network_stages(stem_width: int, stage_widths: Sequence[int], stage_strides: Sequence[int],
                   head_width: int, ks: Sequence[int], e: Sequence[int], d: Sequence[int],
                   r: int, classes: int = 10, title: str | None = None):
    """The whole network left to right: the stem, one column of block slots per stage
    (slot ``s * D + i`` labelled; the first ``d[s]`` run, the rest are greyed), the head;
    each stage says its width, stride and feature-map size at resolution ``r``."""
    S = len(stage_widths)
    if S == 0 or len(stage_strides) != S or len(d) != S:
        raise ValueError(f"give one width, stride and depth per stage; got {len(stage_widths)} "
                         f"widths, {len(stage_strides)} strides, {len(d)} depths")
    if len(ks) != len(e) or len(ks) % S:
        raise ValueError(f"ks and e need one entry per block slot (stages x max depth); got "
                         f"{len(ks)} and {len(e)} for {S} stages")
    D = len(ks) // S
    for s, depth in enumerate(d):
        if not 0 <= depth <= D:
            raise ValueError(f"d[{s}] = {depth} must be between 0 and the {D} slots per stage")
    r = _positive("r", r)
    gap = 1.25  # distance between columns
    fig, ax = plt.subplots(figsize=(1.75 * (S + 2), 1.4 + 0.6 * D))
    top = D + 0.2
    row_y = [top - 0.75 * i - 0.5 for i in range(D)]
    _blank(ax, (-0.7, gap * (S + 1) + 0.7), (row_y[-1] - 0.9, top + 1.1))
    _box(ax, 0, row_y[0], 1.0, 0.9, f"stem 3x3 conv\n{stem_width} ch, {r}x{r}", FIXED)
    size = r
    for s in range(S):
        x = gap * (s + 1)
        out = out_size(size, stage_strides[s])
        ax.text(x, top + 0.55, f"stage {s + 1}: {stage_widths[s]} ch\nstride {stage_strides[s]}, "
                f"{size}->{out} px\nd[{s}] = {d[s]}", ha="center", va="center", fontsize=7)
        for i in range(D):
            slot = s * D + i
            runs = i < d[s]
            label = f"slot {slot}\nk{ks[slot]} e{e[slot]}" if runs else f"slot {slot}\n(not run)"
            _box(ax, x, row_y[i], 0.8, 0.6, label, ACTIVE if runs else INACTIVE, fontsize=7,
                 text_colour="white" if runs else "0.4")
        size = out
    _box(ax, gap * (S + 1), row_y[0], 1.0, 0.9,
         f"head 1x1 conv\n{head_width} ch, pool,\nlinear {classes}", FIXED)
    for k in range(S + 1):  # stem -> stage 1 -> ... -> head
        left = 0.5 if k == 0 else 0.4
        right = 0.5 if k == S else 0.4
        _arrow(ax, (gap * k + left, row_y[0]), (gap * (k + 1) - right, row_y[0]))
    ax.text(gap * (S + 1) / 2, row_y[-1] - 0.7,
            f"r = {r}: input {r}x{r} pixels; within a stage the "
            f"first d[s] slots run, top to bottom; slot s*{D}+i is block i of stage s",
            ha="center", fontsize=7, color="0.3")
    ax.set_title(title or "the network: stem, stages of MBConv slots, head", fontsize=10)
    return fig


# ----- weight sharing (Once-for-All) -------------------------------------------------------
def _square(name: str, kernel) -> np.ndarray:
    k = np.asarray(kernel, dtype=float)
    if k.ndim != 2 or k.shape[0] != k.shape[1] or k.shape[0] % 2 == 0:
        raise ValueError(f"{name} must be a square 2-d array of odd size (one filter, "
                         f"K x K), got shape {k.shape}")
    return k


def kernel_sharing(kernel, sizes: Sequence[int] = (5, 3),
                   transformed: Mapping[int, object] | None = None,
                   title: str = "elastic kernel: one K x K weight serves every kernel size"):
    """Elastic kernel: the largest filter with the centre crop of each smaller size outlined;
    with ``transformed`` ({ks: ks x ks array}), each crop beside the kernel the layer really
    uses after OFA's learned ``ks^2 x ks^2`` transformation."""
    big = _square("kernel", kernel)
    K = big.shape[0]
    sizes = [int(s) for s in sizes]
    for s in sizes:
        if s % 2 == 0 or not 1 <= s < K:
            raise ValueError(f"crop sizes must be odd and smaller than the {K}x{K} kernel, "
                             f"got {s}")
    transformed = dict(transformed or {})
    for s, t in transformed.items():
        if s not in sizes:
            raise ValueError(f"transformed kernel of size {s} has no crop in sizes {sizes}")
        if np.asarray(t).shape != (s, s):
            raise ValueError(f"transformed[{s}] must be {s}x{s}, got {np.asarray(t).shape}")
    panels = 1 + len(sizes) + len(transformed)
    fig, axs = plt.subplots(1, panels, figsize=(2.5 * panels, 2.9), squeeze=False)
    axs = axs[0]
    vmax = max([float(np.abs(big).max())] + [float(np.abs(np.asarray(t)).max())
                                              for t in transformed.values()]) or 1.0

    def show(ax, array, text):
        ax.imshow(array, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        ax.set_title(text, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])

    show(axs[0], big, f"stored {K}x{K} weight")
    for j, s in enumerate(sizes):
        start = (K - s) // 2
        axs[0].add_patch(Rectangle((start - 0.5, start - 0.5), s, s, fill=False, lw=2,
                                   edgecolor=f"C{j + 1}"))
    col = 1
    for j, s in enumerate(sizes):
        start = (K - s) // 2
        show(axs[col], big[start:start + s, start:start + s],
             f"centre crop {s}x{s}\nrows/cols {start}..{start + s - 1}")
        for side in axs[col].spines.values():
            side.set_edgecolor(f"C{j + 1}")
            side.set_linewidth(2)
        col += 1
        if s in transformed:
            show(axs[col], np.asarray(transformed[s], dtype=float),
                 f"used at ks={s}:\ncrop x learned {s * s}x{s * s} matrix")
            col += 1
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.86))
    return fig


def channel_sharing(weight, active_out: int, active_in: int, importance=None,
                    title: str = "elastic width: a smaller layer uses the FIRST channels"):
    """Elastic width: a 1x1 conv's ``(out, in)`` weight as a heat map of magnitudes with the
    block a smaller layer uses, ``weight[:active_out, :active_in]``, outlined; with
    ``importance`` (one value per output channel), a second panel of it, which OFA sorts
    in decreasing order before the width phase so the first channels are the important ones."""
    w = np.asarray(weight, dtype=float)
    if w.ndim == 4 and w.shape[2:] == (1, 1):
        w = w[:, :, 0, 0]
    if w.ndim != 2:
        raise ValueError(f"weight must be (out, in) or (out, in, 1, 1), got shape {w.shape}")
    n_out, n_in = w.shape
    for name, value, limit in (("active_out", active_out, n_out), ("active_in", active_in, n_in)):
        if _positive(name, value) > limit:
            raise ValueError(f"{name} = {value} exceeds the weight's {limit} channels")
    panels = 1 if importance is None else 2
    fig, axs = plt.subplots(1, panels, figsize=(4.2 * panels, 3.6), squeeze=False)
    ax = axs[0][0]
    ax.imshow(np.abs(w), cmap="Greys", aspect="auto")
    ax.add_patch(Rectangle((-0.5, -0.5), active_in, active_out, fill=True, alpha=0.25,
                           facecolor=ACTIVE, edgecolor=ACTIVE, lw=2))
    ax.set_xlabel(f"input channel (dim 1): first {active_in} of {n_in} used")
    ax.set_ylabel(f"output channel (dim 0): first {active_out} of {n_out} used")
    ax.set_title(f"|weight| of a 1x1 conv, {n_out} x {n_in}", fontsize=9)
    if importance is not None:
        imp = np.asarray(importance, dtype=float).ravel()
        if imp.size != n_out:
            raise ValueError(f"importance needs one value per output channel ({n_out}), "
                             f"got {imp.size}")
        ax2 = axs[0][1]
        colours = [ACTIVE if i < active_out else INACTIVE for i in range(n_out)]
        ax2.bar(np.arange(n_out), imp, color=colours)
        ax2.set_xlabel("output channel")
        ax2.set_ylabel("importance (L1 norm)")
        order = "sorted: the kept are the largest" if np.all(np.diff(imp) <= 1e-12) \
            else "unsorted: the kept are arbitrary"
        ax2.set_title(f"channel importance\n({order})", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    return fig


def depth_sharing(d_choices: Sequence[int], max_depth: int | None = None,
                  title: str = "elastic depth: a stage runs its FIRST d blocks"):
    """Elastic depth: one row per depth choice; block ``i`` has the same colour (the same
    weights) in every row, the blocks after ``d`` are skipped."""
    choices = [_positive("each depth choice", v) for v in d_choices]
    if not choices:
        raise ValueError("d_choices is empty: give the depths a stage may run, e.g. (2, 3, 4)")
    D = max(choices) if max_depth is None else _positive("max_depth", max_depth)
    if max(choices) > D:
        raise ValueError(f"depth {max(choices)} exceeds max_depth {D}")
    fig, ax = plt.subplots(figsize=(1.3 * D + 2.2, 0.8 * len(choices) + 0.9))
    _blank(ax, (-1.6, D + 0.3), (-0.7, len(choices) - 0.1))
    for row, depth in enumerate(choices):
        y = len(choices) - 1 - row
        ax.text(-1.5, y, f"d = {depth}", va="center", fontsize=9)
        for i in range(D):
            runs = i < depth
            _box(ax, i + 0.3, y, 0.8, 0.55, f"block {i + 1}" if runs else "skipped",
                 f"C{i}" if runs else INACTIVE, fontsize=7, text_colour="white" if runs else "0.4")
        if depth < D:  # the skip: the stage's output is its last run block's
            _arrow(ax, (depth - 0.1, y - 0.36), (D - 0.1 + 0.4, y - 0.36), "skip",
                   colour="0.5", linestyle=":")
    ax.text((D - 1) / 2, -0.6, "same colour = same weights, shared by every depth",
            ha="center", fontsize=7, color="0.3")
    ax.set_title(title, fontsize=10)
    return fig
