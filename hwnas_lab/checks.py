"""Exercise checkers: each runs the learner's function against the package's reference
and prints a verdict a learner can act on.

A check prints ``PASS`` and returns on success; on a wrong answer it raises
``AssertionError`` saying what was expected and what came back; an exercise still to
do (``NotImplementedError``) is reported as such and re-raised, so the cell shows it.
"""

from __future__ import annotations

import contextlib
from typing import Iterator


@contextlib.contextmanager
def exercise(title: str) -> Iterator[None]:
    """Wrap a check: report not-yet-implemented and wrong answers in plain words."""
    try:
        yield
    except NotImplementedError:
        print(f"TODO  {title}: not implemented yet. Replace `raise NotImplementedError` "
              "with your code and run the cell again.")
        raise
    except AssertionError as err:
        print(f"FAIL  {title}: {err}")
        raise
    print(f"PASS  {title}")


def expect_close(what: str, got: float, expected: float, rel: float = 1e-6, abs_: float = 0.0) -> None:
    """Raise AssertionError unless ``got`` is within ``rel`` (relative) or ``abs_`` of ``expected``."""
    try:
        got = float(got)
    except (TypeError, ValueError):
        raise AssertionError(f"{what} should be a number, got {got!r}") from None
    if abs(got - expected) > max(abs_, rel * abs(expected)):
        raise AssertionError(f"{what}: expected {expected:.6g}, got {got:.6g}")


def expect_equal(what: str, got: object, expected: object) -> None:
    if got != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {got!r}")


# ----- notebook 00: the search space ---------------------------------------------------
def _count_subnets_spaces() -> list:
    from .space import SPACES, SearchSpace

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
    import numbers

    import torch

    from .blocks import MBConv, count_flops

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


# ----- notebook 01: latency tables -------------------------------------------------------
def _busy_ms(duration_ms: float) -> None:
    import time

    end = time.perf_counter() + duration_ms / 1e3
    while time.perf_counter() < end:
        pass


def check_measure_median(measure_median_ms) -> None:
    """Exercise (notebook 01): ``measure_median_ms(fn, warmup, repeats)`` runs ``fn``
    ``warmup`` times untimed, then ``repeats`` times timed, and returns the median in ms."""
    with exercise("measure_median_ms"):
        calls = []

        def fn() -> None:  # slow at first (cold caches), then 1 ms, with one 25 ms hiccup
            k = len(calls)
            calls.append(k)
            _busy_ms(15.0 if k < 3 else 25.0 if k == 6 else 1.0)

        got = measure_median_ms(fn, 3, 9)
        expect_equal("calls of fn for warmup=3, repeats=9", len(calls), 12)
        try:
            got = float(got)
        except (TypeError, ValueError):
            raise AssertionError(f"return a number of milliseconds, got {got!r}") from None
        if got < 0.9:
            raise AssertionError(f"median {got:.4g}: each timed call lasts >= 1 ms; return "
                                 "milliseconds (seconds * 1e3)")
        if got > 6.0:
            raise AssertionError(f"median {got:.4g} ms is too large: leave the warm-up calls out of "
                                 "the timings and take the median, not the mean (one call took 25 ms)")
        print(f"  median {got:.3f} ms of 9 timed calls of a ~1 ms function, warm-up left out")


def check_lut_sum(predict_sum_ms) -> None:
    """Exercise (notebook 01): ``predict_sum_ms(entries, space, arch)`` sums the table
    entries of the operators ``space.layer_specs(arch)``."""
    import random

    from .lut import LatencyTable
    from .space import SPACES

    with exercise("predict_sum_ms"):
        space = SPACES["cpu"]
        rng = random.Random(1)
        entries = {s.signature: rng.uniform(0.01, 1.0) for s in space.all_layer_specs()}
        table = LatencyTable(space, "synthetic", entries)
        for arch in [space.smallest(), space.largest()] + [space.sample(rng) for _ in range(5)]:
            expect_close(f"predict_sum_ms for {arch}", predict_sum_ms(entries, space, arch),
                         table.predict(arch), rel=1e-9)
        print("  matched LatencyTable.predict on 7 architectures (inactive slots skipped)")


def check_within_pct(within_pct) -> None:
    """Exercise (notebook 01): ``within_pct(pred, meas, pct)``: share of predictions within
    +-pct % of the measurement, as a fraction in [0, 1]."""
    import numpy as np

    from .latency import within_pct as reference

    with exercise("within_pct"):
        cases = [([1.05, 0.8, 2.0, 1.0], [1.0, 1.0, 2.1, 1.2], 10.0),  # relative to measured
                 ([1.3, 0.95, 1.12], [1.2, 1.0, 1.0], 10.0),  # 8 %, 5 %, 12 %
                 ([0.905, 1.2], [1.0, 1.0], 10.0),  # 9.5 % of the measurement (10.5 % of 0.905)
                 (np.array([3.0, 3.3, 2.0]), np.array([3.1, 3.0, 2.5]), 5.0)]
        for pred, meas, pct in cases:
            expect_close(f"within_pct({list(pred)}, {list(meas)}, pct={pct})",
                         within_pct(pred, meas, pct), reference(pred, meas, pct), abs_=1e-9)
        print(f"  matched the reference on {len(cases)} cases")


# ----- notebook 05: Once-for-All ---------------------------------------------------------
def _as_tensor(what: str, got):
    import torch

    if not isinstance(got, torch.Tensor):
        raise AssertionError(f"{what} should return a torch.Tensor, got {type(got).__name__}")
    return got


def check_centre_crop(centre_crop_kernel) -> None:
    """Exercise (notebook 05): ``centre_crop_kernel(weight, ks)`` returns the centre
    ``ks x ks`` window of a ``(C, 1, K, K)`` depthwise kernel (OFA's elastic kernel, before
    the learned transformation)."""
    import torch

    from .ofa.dynamic import centre_crop

    with exercise("centre_crop_kernel"):
        g = torch.Generator().manual_seed(0)
        for channels, big, ks in ((4, 7, 5), (4, 7, 3), (2, 5, 3), (3, 7, 7), (1, 3, 1)):
            weight = torch.randn(channels, 1, big, big, generator=g)
            got = _as_tensor("centre_crop_kernel", centre_crop_kernel(weight, ks))
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
    import torch

    from .ofa.dynamic import DynamicPointConv2d

    with exercise("slice_pointwise"):
        torch.manual_seed(0)
        conv = DynamicPointConv2d(16, 96)
        for cout, cin in ((96, 16), (64, 16), (48, 12), (1, 1)):
            got = _as_tensor("slice_pointwise", slice_pointwise(conv.weight.detach(), cout, cin))
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
    import torch

    from .ofa.shrink import distillation_loss as reference

    with exercise("distillation_loss"):
        g = torch.Generator().manual_seed(0)
        s, t = torch.randn(8, 10, generator=g), torch.randn(8, 10, generator=g)
        same = _as_tensor("distillation_loss", distillation_loss(t, t.clone(), 1.0))
        expect_close("loss when the student equals the teacher", same.item(), 0.0, abs_=1e-5)
        for T in (1.0, 2.0, 4.0):
            got = _as_tensor("distillation_loss", distillation_loss(s, t, T))
            if got.dim() != 0:
                raise AssertionError(f"return one number (a 0-d tensor), got shape {tuple(got.shape)}: "
                                     "average over the batch")
            expected = reference(s, t, T).item()
            if abs(got.item() - expected / (T * T)) < 1e-5 * max(1.0, expected) and T != 1.0:
                raise AssertionError(f"T={T}: multiply by T^2 (got {got.item():.5g}, "
                                     f"expected {expected:.5g})")
            expect_close(f"distillation_loss at T={T}", got.item(), expected, rel=1e-4, abs_=1e-6)
        s_req = s.clone().requires_grad_(True)
        distillation_loss(s_req, t, 1.0).backward()
        if s_req.grad is None or not torch.isfinite(s_req.grad).all():
            raise AssertionError("the loss must be differentiable in the student's logits")
        print("  matched the reference at T = 1, 2, 4; zero when the student copies the teacher")
