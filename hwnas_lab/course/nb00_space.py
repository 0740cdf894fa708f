"""Notebook 00 (the search space): its exercise checks, its subnet panel and figures.

Exercises (each check names the typical mistakes it catches):

* ``running_slots(d, max_depth)``: which block slots of the encoding run (OFA's depth);
* ``count_subnets(space)``: distinct networks of a space, not encodings;
* ``mbconv_flops(...)``: the FLOPs of one MBConv block by hand, against ``FlopCounterMode``;
* ``kendall_tau(x, y)``: rank agreement of FLOPs and latency (Kendall, Biometrika 1938).

The panel builds the subnetwork its sliders describe and shows FLOPs, parameters and
measured latency (median and IQR, ``hwnas_lab.latency.measure_latency``); it keeps the
subnets visited as a scatter. References are imported inside the checks, so nothing in
this module's namespace hands a learner the answer.
"""

from __future__ import annotations

import html
import numbers
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ..arch import Arch
from ..blocks import MBConv, build_net, count_flops, count_params
from ..latency.measure import measure_latency
from ..space import SPACES, SearchSpace, get_space
from . import diagrams
from .checks import exercise, expect_close
from .widgets import StagePanel, stage_arch


def check_running_slots(running_slots) -> None:
    """Exercise (notebook 00): ``running_slots(d, max_depth)`` lists the slots that run,
    in network order: ``s * max_depth + i`` for every stage ``s`` and ``i < d[s]``."""
    cases = [((2, 3, 4, 2), 4), ((1, 3), 3), ((4, 4, 4, 4), 4), ((2, 2, 2, 2, 2), 4), ((1,), 1),
             ((3, 1, 2), 5)]
    with exercise("running_slots"):
        for d, D in cases:
            got = running_slots(list(d), D)
            try:
                got = [int(v) for v in got]
            except (TypeError, ValueError):
                raise AssertionError(f"running_slots({list(d)}, {D}) should return a list of "
                                     f"slot indices (ints), got {got!r}") from None
            expected = [s * D + i for s, depth in enumerate(d) for i in range(depth)]
            if got == expected:
                continue
            mistakes = {
                "you took the first sum(d) slots; each stage owns max_depth slots, so stage s "
                "starts at slot s * max_depth whatever the depths before it":
                    list(range(sum(d))),
                "off by one: stage s runs blocks i = 0 .. d[s] - 1, i.e. range(d[s])":
                    [s * D + i for s, depth in enumerate(d) for i in range(min(depth + 1, D))],
                "stage s starts at slot s * max_depth, not s * d[s]":
                    [s * depth + i for s, depth in enumerate(d) for i in range(depth)],
                "those are the slots that do NOT run":
                    [k for k in range(len(d) * D) if k not in expected],
                "slots count from 0 (slot s * max_depth + i, i from 0)":
                    [k + 1 for k in expected],
            }
            hint = next((why for why, wrong in mistakes.items()
                         if got == wrong and wrong != expected),
                        "return them in network order (stage by stage)" if sorted(got) == expected
                        else "expected s * max_depth + i for i < d[s], stage by stage")
            raise AssertionError(f"running_slots({list(d)}, max_depth={D}): expected {expected}, "
                                 f"got {got} ({hint})")
        print(f"  matched on {len(cases)} depth lists, including max_depth 1 and 5")


def _count_subnets_spaces() -> list[SearchSpace]:
    return [SPACES["cpu"], SPACES["gpu"],
            # tiny: 2 stages, one expand ratio; small enough to enumerate by hand (36 nets)
            SearchSpace(name="tiny", stage_channels=(8, 16), stage_strides=(1, 2),
                        ks_choices=(3, 5), e_choices=(2,), d_choices=(1, 2), r_choices=(32,)),
            # gappy depth choices {1, 3}: catches counting range(min, max) depths
            SearchSpace(name="gappy", stage_channels=(8, 16, 24), stage_strides=(1, 2, 2),
                        ks_choices=(3, 5, 7), e_choices=(3, 6), d_choices=(1, 3),
                        r_choices=(28, 32))]


def check_count_subnets(count_subnets) -> None:
    """Exercise (notebook 00): ``count_subnets(space)`` equals ``space.num_subnets()``."""
    with exercise("count_subnets"):
        for space in _count_subnets_spaces():
            got = count_subnets(space)
            expected = space.num_subnets()
            if got != expected:
                hint = ""
                encodings = (len(space.ks_choices) * len(space.e_choices)) ** space.n_slots \
                    * len(space.d_choices) ** space.n_stages * len(space.r_choices)
                if got == encodings:
                    hint = (" (that is the number of encodings: slots beyond a stage's depth "
                            "do not change the network, so count networks, stage by stage)")
                raise AssertionError(
                    f"space {space.name!r} ({space.n_stages} stages, ks {list(space.ks_choices)}, "
                    f"e {list(space.e_choices)}, d {list(space.d_choices)}, "
                    f"r {list(space.r_choices)}): expected {expected:,} subnetworks, "
                    f"got {got!r}{hint}")
        print(f"  matched num_subnets() on {len(_count_subnets_spaces())} spaces "
              "(cpu, gpu, tiny, gappy)")


MBCONV_CHECK_CONFIGS: tuple[tuple[int, int, int, int, int, int], ...] = (
    # (cin, cout, ks, e, stride, in_size)
    (16, 16, 3, 3, 1, 32),  # residual block: the add is not counted
    (16, 24, 5, 4, 2, 32),  # stride 2 halves the depthwise and projection outputs
    (24, 40, 7, 6, 2, 8),
    (40, 64, 3, 6, 1, 4),
    (24, 40, 5, 3, 2, 7),  # odd input: output is ceil(7 / 2) = 4 pixels (same padding)
)


def check_mbconv_flops(mbconv_flops) -> None:
    """Exercise (notebook 00): the FLOPs of one MBConv block, against ``count_flops``."""
    with exercise("mbconv_flops"):
        for cin, cout, ks, e, stride, in_size in MBCONV_CHECK_CONFIGS:
            torch.manual_seed(0)
            block = MBConv(cin, cout, ks, e, stride)
            expected = count_flops(block, (1, cin, in_size, in_size))
            got = mbconv_flops(cin, cout, ks, e, stride, in_size)
            call = (f"mbconv_flops(cin={cin}, cout={cout}, ks={ks}, e={e}, stride={stride}, "
                    f"in_size={in_size})")
            try:
                expect_close(call, got, expected, rel=0.0, abs_=0.5)
            except AssertionError as err:
                hint = ""
                if not isinstance(got, numbers.Real):
                    pass  # expect_close already said it is not a number
                elif abs(got * 2 - expected) < 0.5:
                    hint = " (FLOPs count 2 per multiply-add)"
                elif stride > 1:
                    hint = (f" (the expand conv runs at {in_size}x{in_size}; the depthwise and "
                            f"projection at the output size {(in_size - 1) // stride + 1}x"
                            f"{(in_size - 1) // stride + 1})")
                raise AssertionError(f"{err}{hint}") from None
        print(f"  matched FlopCounterMode on {len(MBCONV_CHECK_CONFIGS)} MBConv configurations")


def _pairs(x, y) -> tuple[int, int, int]:
    """(concordant, discordant, pairs) over i < j."""
    n, c, d = len(x), 0, 0
    for i in range(n):
        for j in range(i + 1, n):
            sign = (x[i] - x[j]) * (y[i] - y[j])
            c, d = c + (sign > 0), d + (sign < 0)
    return c, d, n * (n - 1) // 2


def check_kendall_tau(kendall_tau) -> None:
    """Exercise (notebook 00): ``kendall_tau(x, y)`` = (concordant - discordant) / pairs,
    over the n(n-1)/2 pairs i < j, for data without ties."""
    rng = np.random.default_rng(0)
    cases = [([1.0, 2.0, 3.0, 4.0], [10.0, 20.0, 30.0, 40.0]),  # same order: 1
             ([1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 2.0, 1.0]),  # reversed: -1
             # an outlier: every typical mistake gives its own value here
             ([0.5, 1.0, 2.0, 4.0, 8.0, 100.0], [3.0, 1.0, 2.0, 5.0, 4.0, 0.1]),
             ([1.0, 2.0, 3.0, 4.0, 5.0], [3.0, 1.0, 4.0, 2.0, 5.0]),  # 7 - 3 of 10 pairs
             (rng.permutation(12).astype(float), rng.normal(size=12))]
    with exercise("kendall_tau"):
        for x, y in cases:
            x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
            call = f"kendall_tau({np.round(x, 2).tolist()}, {np.round(y, 2).tolist()})"
            got = kendall_tau(x.copy(), y.copy())
            c, d, pairs = _pairs(x, y)
            expected = (c - d) / pairs
            try:
                expect_close(call, got, expected, abs_=1e-9)
            except AssertionError as err:
                n = len(x)
                rank = lambda v: np.argsort(np.argsort(v)).astype(float)  # noqa: E731
                mistakes = [
                    (c / pairs, "that counts only concordant pairs: subtract the discordant "
                                "ones, tau = (C - D) / pairs, from -1 to 1"),
                    (2 * expected, "each pair is counted twice: loop over i < j only"),
                    ((c - d) / (n * n), "divide by the number of pairs, n(n-1)/2"),
                    (2 * (c - d) / (n * n), "divide by the number of pairs, n(n-1)/2, and "
                                            "count each pair once (i < j)"),
                    (-expected, "wrong sign: a pair is concordant when x and y move the same "
                                "way, (x_i - x_j)(y_i - y_j) > 0"),
                    (float(np.corrcoef(x, y)[0, 1]), "that is Pearson's correlation of the "
                     "values; Kendall's tau compares the ORDER of every pair"),
                    (float(np.corrcoef(rank(x), rank(y))[0, 1]), "that is Spearman's rank "
                     "correlation; Kendall's tau counts concordant and discordant pairs"),
                ]
                try:
                    value = float(got)
                except (TypeError, ValueError):
                    raise err from None
                hint = next((why for wrong, why in mistakes
                             if abs(value - wrong) < 1e-9 and abs(wrong - expected) > 1e-9), "")
                raise AssertionError(f"{err}" + (f" ({hint})" if hint else "")) from None
        print(f"  matched (concordant - discordant) / pairs on {len(cases)} cases")


# ----- the subnet panel --------------------------------------------------------------------
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
    space = get_space(space)
    arch = stage_arch(space, d, ks, e, r)
    net = build_net(space, arch).eval()
    flops = count_flops(net, net.input_shape(1))
    latency_ms = iqr_ms = used_threads = None
    if measure:
        result = measure_latency(net, net.input_shape(1), threads=threads, repeats=repeats,
                                 warmup=warmup)
        latency_ms, iqr_ms, used_threads = result.median_ms, result.iqr_ms, result.threads
    return SubnetSummary(arch, flops / 1e6, count_params(net) / 1e3, latency_ms, iqr_ms,
                         used_threads)


class SubnetPanel(StagePanel):
    """Sliders for ``d``, ``ks``, ``e`` per stage and ``r``; shows ``subnet_summary``.

    With ``history=True`` (and ``measure``) every subnet visited is kept as a point
    (MFLOPs, measured latency); the Pareto front joins those with the most FLOPs for
    their latency: the networks that use this CPU best.
    """

    history_axes = dict(xlabel="MFLOPs", ylabel="measured latency (ms)", x_better="higher",
                        y_better="lower")

    def __init__(self, space: SearchSpace | str = "cpu", measure: bool = True, repeats: int = 15,
                 threads: int = 1, history: bool = False):
        self.measure, self.repeats, self.threads = measure, repeats, threads
        name = get_space(space).name
        super().__init__(space, f"<b>Subnet of space {name!r}</b>: per stage depth, kernel size "
                         "and expand ratio (all blocks of a stage), and the input resolution",
                         history=history)

    def compute(self, d, ks, e, r) -> SubnetSummary:
        return subnet_summary(self.space, d, ks, e, r, measure=self.measure,
                              repeats=self.repeats, threads=self.threads)

    def history_point(self, result: SubnetSummary) -> tuple[float, float] | None:
        return None if result.latency_ms is None else (result.mflops, result.latency_ms)


# ----- figures -----------------------------------------------------------------------------
def network_figure(space: SearchSpace | str, arch: Arch, title: str | None = None):
    """``diagrams.network_stages`` for ``arch`` of ``space``: stem, slots per stage, head."""
    space = get_space(space)
    arch.validate(space)
    return diagrams.network_stages(space.stem_width, space.stage_widths, space.stage_strides,
                                   space.head_width, arch.ks, arch.e, arch.d, arch.r,
                                   classes=space.num_classes, title=title)
