"""Notebook 04's exercise checks: each runs the learner's function against the package's
reference (:mod:`hwnas_lab.scaling`, Tan & Le, ICML 2019) and names the likely mistake
when they differ.

Exercises: ``scale_dims`` (depth, width and resolution of a scaled network),
``solve_gamma`` (meeting ``alpha * beta^2 * gamma^2 = 2``) and ``refined_flops`` (the
FLOPs law, part by part). References are imported inside the checks, so that the
notebook's namespace (``nb.``) holds no answer before its exercise.
"""

from __future__ import annotations

import math
import numbers
from typing import Callable, Sequence

from .checks import exercise, expect_close
from ..scaling import Coefficients
from ..space import SPACES


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
