"""Notebook 00 (the search space): its exercise checks, its subnet panel and summary.

Exercises: ``count_subnets`` (distinct networks of a space, not encodings) and
``mbconv_flops`` (the FLOPs of one MBConv block by hand, against ``FlopCounterMode``).
The panel builds the subnetwork its sliders describe and shows FLOPs, parameters and
measured latency (median and IQR, ``hwnas_lab.latency.measure_latency``).
"""

from __future__ import annotations

import html
import numbers
from dataclasses import dataclass
from typing import Sequence

import torch

from ..arch import Arch
from ..blocks import MBConv, build_net, count_flops, count_params
from ..latency.measure import measure_latency
from ..space import SPACES, SearchSpace, get_space
from .checks import exercise, expect_close
from .widgets import StagePanel, stage_arch


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
    """Sliders for ``d``, ``ks``, ``e`` per stage and ``r``; shows ``subnet_summary``."""

    def __init__(self, space: SearchSpace | str = "cpu", measure: bool = True, repeats: int = 15,
                 threads: int = 1):
        self.measure, self.repeats, self.threads = measure, repeats, threads
        name = get_space(space).name
        super().__init__(space, f"<b>Subnet of space {name!r}</b>: per stage depth, kernel size "
                         "and expand ratio (all blocks of a stage), and the input resolution")

    def compute(self, d, ks, e, r) -> SubnetSummary:
        return subnet_summary(self.space, d, ks, e, r, measure=self.measure,
                              repeats=self.repeats, threads=self.threads)
