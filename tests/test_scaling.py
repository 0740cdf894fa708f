"""Compound scaling: rounding rules, validity of the scaled network, the FLOPs law against
the counter, and torchvision's EfficientNets."""

import dataclasses
import math

import pytest
import torch

from hwnas_lab import scaling as S
from hwnas_lab.blocks import arch_flops, build_net, count_flops, count_params
from hwnas_lab.arch import Arch
from hwnas_lab.space import SPACES, make_divisible

CPU = SPACES["cpu"]
BASE = CPU.uniform(3, 3, 2, 24)  # the notebook's baseline
MIXED = Arch(ks=[3, 5, 7, 7, 5, 3, 3, 3, 7, 7, 5, 3, 3, 5, 5, 5],  # per-block choices differ
             e=[3, 4, 6, 6, 6, 4, 3, 3, 3, 3, 6, 6, 4, 6, 6, 6], d=[3, 2, 4, 2], r=28)


# ----- coefficients -------------------------------------------------------------------------
def test_coefficients_product_and_multipliers():
    c = S.EFFICIENTNET
    assert c.product == pytest.approx(1.2 * 1.1 ** 2 * 1.15 ** 2)
    assert c.multipliers(2.0) == pytest.approx((1.44, 1.21, 1.3225))
    assert c.multipliers(0) == (1.0, 1.0, 1.0)
    for name, method in S.METHODS.items():  # about 2 per unit of phi; single dims exactly
        assert method.product == pytest.approx(2.0, rel=0.05 if name == "compound" else 1e-9)


@pytest.mark.parametrize("bad, match", [((0.9, 1.1, 1.15), "alpha = 0.9 is below 1"),
                                        ((1.2, 0.5, 1.15), "beta = 0.5 is below 1"),
                                        ((1.2, 1.1, float("nan")), "gamma must be a finite"),
                                        ((1.2, True, 1.1), "beta must be a finite")])
def test_coefficients_below_one_or_not_numbers_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        S.Coefficients(*bad)


@pytest.mark.parametrize("phi, match", [(-1, "negative"), (float("inf"), "finite"), ("1", "finite")])
def test_bad_phi_is_refused(phi, match):
    with pytest.raises(ValueError, match=match):
        S.EFFICIENTNET.multipliers(phi)
    with pytest.raises(ValueError, match=match):
        S.scale(CPU, BASE, S.EFFICIENTNET, phi)


def test_constraint_is_checked_only_when_asked():
    far = S.Coefficients(1.5, 1.3, 1.3)  # product 4.28
    assert S.scale(CPU, BASE, far, 1.0).coefficients == far  # not asked: allowed
    with pytest.raises(ValueError, match=r"4\.28\d* is not within 5 % of 2; lower alpha or beta"):
        S.scale(CPU, BASE, far, 1.0, constraint=2.0)
    near_miss = S.Coefficients(1.2, 1.1, 1.3)  # 2.45: gamma can be fixed
    with pytest.raises(ValueError, match=r"gamma = 1\.1736"):
        near_miss.check()
    assert S.EFFICIENTNET.check(2.0, tolerance=0.05) is S.EFFICIENTNET  # 1.92: 4 % off
    with pytest.raises(ValueError, match="not within 1 %"):
        S.EFFICIENTNET.check(2.0, tolerance=0.01)


def test_solve_gamma_meets_the_constraint():
    for alpha, beta, target in ((1.2, 1.1, 2.0), (1.0, 1.0, 2.0), (1.3, 1.05, 4.0)):
        gamma = S.solve_gamma(alpha, beta, target)
        assert alpha * beta ** 2 * gamma ** 2 == pytest.approx(target)
    assert S.solve_gamma(1.2, 1.1) == pytest.approx(1.1736, abs=1e-4)  # EfficientNet took 1.15
    with pytest.raises(ValueError, match="already exceeds 2"):
        S.solve_gamma(1.8, 1.2)


# ----- rounding rules -----------------------------------------------------------------------
def test_depth_rounds_up_even_past_the_largest_choice():
    assert S.scale_depth(2, 1.2) == 3  # 2.4: ceil, not round (2) or floor (2)
    assert S.scale_depth(2, 1.0) == 2
    assert S.scale_depth(5, 1.2) == 6  # exactly 6: float error must not make it 7
    assert S.scale_depth(25, 1.2 ** 2) == 36
    assert S.scale_depth(2, 2.0 ** 1.5) == 6  # beyond the cpu space's largest depth, 4
    net = S.scale(CPU, BASE, S.METHODS["depth"], 1.5)
    assert net.arch.d == (6, 6, 6, 6) and net.space.max_depth == 6
    assert len(list(net.arch.active_blocks())) == 24


def test_resolution_rounds_to_an_even_number():
    assert S.scale_resolution(24, 1.15) == 28  # 27.6
    assert S.scale_resolution(32, 1.15 ** 3) == 48  # 48.67: nearest even, not 49
    assert S.scale_resolution(24, 1.4) == 34  # 33.6
    assert S.scale_resolution(25, 1.0) == 25  # a multiplier of 1 keeps the baseline
    for mult in (1.01, 1.1, 1.37, 2.0, 3.3):
        assert S.scale_resolution(24, mult) % 2 == 0


def test_channels_round_to_multiples_of_eight_with_make_divisible():
    net = S.scale(CPU, BASE, S.METHODS["width"], 1.0)  # width sqrt(2)
    w = math.sqrt(2.0)
    assert net.space.width_mult == pytest.approx(w)
    assert net.space.stage_widths == tuple(make_divisible(c * w) for c in CPU.stage_channels)
    assert all(c % 8 == 0 for c in (net.space.stem_width, *net.space.stage_widths, net.space.head_width))
    assert S.scale(CPU, BASE, (1.0, 1.2, 1.0), 1.0).space.stem_width == 24  # 19.2 -> 24 (90 % rule)


@pytest.mark.parametrize("coefficients, phi, counter", [
    (S.EFFICIENTNET, 1.0, "cpu"), (S.METHODS["depth"], 1.5, "meta"),
    (S.METHODS["width"], 2.0, "cpu"), (S.METHODS["resolution"], 2.0, "meta")])
def test_scaled_network_is_a_space_and_arch_that_builds_and_counts(coefficients, phi, counter, one_thread):
    net = S.scale(CPU, BASE, coefficients, phi)
    net.arch.validate(net.space)
    assert net.base_space is CPU and net.base_arch == BASE
    model = build_net(net.space, net.arch)
    shape = (1, 3, net.arch.r, net.arch.r)
    with torch.no_grad():
        assert model.eval()(torch.zeros(2, 3, net.arch.r, net.arch.r)).shape == (2, 10)
    flops = arch_flops(net.space, net.arch)
    if counter == "cpu":  # the hand count equals FlopCounterMode, on real tensors ...
        assert count_flops(model, shape) == flops
    else:  # ... and on the meta device
        assert S.meta_flops(net.build, shape) == flops
    assert net.params == count_params(model)
    assert net.mflops == pytest.approx(flops / 1e6)


def test_new_blocks_repeat_the_stage_last_block():
    net = S.scale(CPU, MIXED, S.METHODS["depth"], 1.0)  # depth x2
    assert net.arch.d == (6, 4, 8, 4)
    old = list(MIXED.active_blocks())
    new = list(net.arch.active_blocks())
    for stage in range(CPU.n_stages):
        before = [(k, e) for s, _, k, e in old if s == stage]
        after = [(k, e) for s, _, k, e in new if s == stage]
        assert after[:len(before)] == before
        assert after[len(before):] == [before[-1]] * (len(after) - len(before))


def test_phi_zero_is_the_baseline():
    net = S.scale(CPU, MIXED, S.EFFICIENTNET, 0.0)
    assert net.space.layer_specs(net.arch) == CPU.layer_specs(MIXED)
    assert net.flops_ratio == pytest.approx(1.0)


def test_resolution_below_the_total_stride_is_refused():
    assert S.total_stride(CPU) == 8
    with pytest.raises(ValueError, match="below the network's total stride 8"):
        S.apply_dims(CPU, BASE, BASE.d, 1.0, 6)
    tiny = dataclasses.replace(CPU, r_choices=(4, 24))
    with pytest.raises(ValueError, match="resolution 4 px is below"):
        S.scale(tiny, tiny.uniform(3, 3, 2, 4), S.EFFICIENTNET, 0.0)


def test_apply_dims_rejects_bad_depths_and_widths():
    with pytest.raises(ValueError, match="4 positive ints"):
        S.apply_dims(CPU, BASE, (2, 2), 1.0, 24)
    with pytest.raises(ValueError, match="4 positive ints"):
        S.apply_dims(CPU, BASE, (2, 0, 2, 2), 1.0, 24)
    with pytest.raises(ValueError, match="width_mult must be > 0"):
        S.apply_dims(CPU, BASE, BASE.d, 0.0, 24)


def test_scale_to_flops_lands_next_to_the_budget():
    for name, coefficients in S.METHODS.items():
        for budget in (2.0, 4.0):
            net = S.scale_to_flops(CPU, BASE, coefficients, budget)
            assert 0.75 < net.flops_ratio / budget < 1.33, (name, budget, net.describe())
            # no other phi on a grid of 0.025 lands closer
            best = min(abs(math.log(S.scale(CPU, BASE, coefficients, p / 40).flops_ratio / budget))
                       for p in range(0, 121))
            assert abs(math.log(net.flops_ratio / budget)) <= best + 1e-9
    with pytest.raises(ValueError, match="do not grow"):
        S.scale_to_flops(CPU, BASE, (1.0, 1.0, 1.0), 2.0)
    with pytest.raises(ValueError, match=">= 1"):
        S.scale_to_flops(CPU, BASE, S.EFFICIENTNET, 0.5)


# ----- the FLOPs law ------------------------------------------------------------------------
def test_part_flops_add_up_to_the_hand_count():
    for arch in (BASE, MIXED, CPU.largest()):
        parts = S.part_flops(CPU, arch)
        assert sum(parts.values()) == arch_flops(CPU, arch)
        assert parts["classifier"] == 2 * CPU.head_width * 10


def test_refined_law_is_exact_where_nothing_rounds():
    parts = S.part_flops(CPU, BASE)
    base = arch_flops(CPU, BASE)
    # width x2: every channel count stays a multiple of 8; resolution x2: every stride divides
    for coefficients in ((1.0, 2.0, 1.0), (1.0, 1.0, 2.0), (1.0, 2.0, 2.0)):
        net = S.scale(CPU, BASE, coefficients, 1.0)
        assert arch_flops(net.space, net.arch) == pytest.approx(S.refined_flops(parts, *coefficients))
    # the plain law is off even then: depthwise convs and the stem grow as w, not w^2
    net = S.scale(CPU, BASE, (1.0, 2.0, 1.0), 1.0)
    assert net.flops_ratio < 0.95 * 4.0
    assert S.refined_flops(parts, 1, 1, 1) == base


def test_flops_law_against_the_counter_and_where_rounding_bends_it():
    phis = [0.0, 0.5, 1.0, 2.0]
    law = S.flops_law(CPU, BASE, S.EFFICIENTNET, phis, counter=True)  # FlopCounterMode, meta
    hand = S.flops_law(CPU, BASE, S.EFFICIENTNET, phis)
    assert law.measured == pytest.approx(hand.measured)  # FlopCounterMode == hand count
    assert law.law == pytest.approx([S.EFFICIENTNET.product ** p for p in phis])
    assert law.measured[0] == pytest.approx(1.0) and law.refined[0] == pytest.approx(1.0)
    # phi = 1: ceil turns 2.4 blocks into 3 (x1.5, not x1.2): more FLOPs than the law
    assert law.nets[2].arch.d == (3, 3, 3, 3)
    assert law.measured[2] > 1.1 * law.law[2]
    # depth alone: the stem and head do not repeat, so 2x blocks give less than 2x FLOPs
    depth = S.flops_law(CPU, BASE, (2.0, 1.0, 1.0), [1.0])
    assert depth.nets[0].arch.d == (4, 4, 4, 4) and depth.measured[0] < 0.9 * depth.law[0]


# ----- torchvision's family -----------------------------------------------------------------
class _Captured(Exception):
    pass


def test_family_multipliers_are_torchvisions(monkeypatch):
    import torchvision
    from torchvision.models import efficientnet as tv

    seen = {}

    def spy(arch, **kwargs):  # record what the builder passes, then stop before building
        seen[arch] = (kwargs["width_mult"], kwargs["depth_mult"])
        raise _Captured

    monkeypatch.setattr(tv, "_efficientnet_conf", spy)
    for name in S.TORCHVISION_FAMILY:
        with pytest.raises(_Captured):
            getattr(torchvision.models, name)()
    assert seen == S.TORCHVISION_FAMILY
    assert [S.torchvision_resolution(n) for n in S.TORCHVISION_FAMILY] == \
        [224, 240, 288, 300, 380, 456, 528, 600]


def test_family_flops_match_torchvision_published_counts():
    from torchvision.models import get_model_weights

    rows = S.efficientnet_family(["efficientnet_b0", "efficientnet_b3", "efficientnet_b7"])  # ~5 s
    for row in rows:
        meta = get_model_weights(row["name"]).IMAGENET1K_V1.meta
        assert row["gflops"] / 2 == pytest.approx(meta["_ops"], abs=6e-4)  # _ops: GMACs
        assert row["params_m"] * 1e6 == meta["num_params"]
    assert rows[0]["ratio"] == 1.0 and rows[2]["law"] == 2.0 ** 7
    assert rows[2]["own_law"] == pytest.approx(3.1 * 2.0 ** 2 * (600 / 224) ** 2)
    assert rows[2]["implied_phi"] == pytest.approx(math.log2(rows[2]["ratio"]))
    with pytest.raises(ValueError, match="unknown model"):
        S.efficientnet_family(["resnet18"])


def test_networks_that_round_alike_share_a_key():
    a = S.scale(CPU, BASE, (1.0, 1.01, 1.0), 1.0)  # width 1.01: every channel rounds back
    b = S.scale(CPU, BASE, (1.0, 1.0, 1.0), 1.0)
    assert a.space.width_mult != b.space.width_mult
    assert a.space.layer_specs(a.arch) == b.space.layer_specs(b.arch) and a.key == b.key
    assert S.scale(CPU, BASE, (1.0, 1.1, 1.0), 1.0).key != b.key  # 40 -> 48 channels
