"""ProxylessNAS: mixed network, expected latency and its gradient, binary gates, derived Arch,
memory accounting, gradient estimators, latency losses and the search loop."""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hwnas_lab.blocks import build_net
from hwnas_lab.data import TensorData
from hwnas_lab.latency.lut import LatencyTable, MissingEntryError
from hwnas_lab.proxyless import ProxylessSupernet, init_from_ofa
from hwnas_lab.proxyless_latency import (candidate_latency_ms, candidate_mask, candidate_specs,
                                         expected_latency_grad, expected_latency_ms, masked_probs,
                                         needed_specs, slot_candidates)
from hwnas_lab.proxyless_memory import saved_tensor_bytes, step_memory
from hwnas_lab.proxyless_estimators import (GatedToy, binary_gate_samples, exact_gradient,
                                            reinforce_samples, relaxed_gradient)
from hwnas_lab.proxyless_search import (SearchConfig, latency_loss, latency_matched_random, search,
                                        sweep, warm_up)
from hwnas_lab.arch import Arch
from hwnas_lab.space import SPACES, SearchSpace

CPU = SPACES["cpu"]
# 2 stages x 3 slots, 2 kernels x 1 expand ratio, depths 1-3: quick to build and run
TINY = SearchSpace(name="tiny", stem_channels=8, stage_channels=(8, 16), stage_strides=(1, 2),
                   head_channels=32, ks_choices=(3, 5), e_choices=(2,), d_choices=(1, 2, 3),
                   r_choices=(16,))


def fake_table(space, r, seed=0):
    """A table with random entries for every operator the mixed network at r can use."""
    rng = np.random.default_rng(seed)
    return LatencyTable(space, "synthetic", {s.signature: float(rng.uniform(0.1, 1.0))
                                             for s in needed_specs(space, r)})


@pytest.fixture(scope="module")
def tiny_net(one_thread):
    torch.manual_seed(0)
    return ProxylessSupernet(TINY).attach_latency(fake_table(TINY, 16))


# ----- layout -------------------------------------------------------------------------------
def test_cpu_layout_nine_candidates_and_zero_only_where_a_stage_may_end():
    mask = candidate_mask(CPU)
    assert len(slot_candidates(CPU)) == 9 and mask.shape == (16, 10)
    # depths {2, 3, 4}: slots 2 and 3 of each stage may be skipped, slots 0 and 1 may not
    assert mask[:, 9].tolist() == [False, False, True, True] * 4
    assert mask[:, :9].all()


def test_candidates_have_their_own_weights(tiny_net):
    op = tiny_net.slots[1]
    first, second = op.candidates[0], op.candidates[1]
    assert first.depthwise[0].weight.data_ptr() != second.depthwise[0].weight.data_ptr()
    assert first.depthwise[0].kernel_size == (3, 3) and second.depthwise[0].kernel_size == (5, 5)


def test_rejects_gappy_depths_and_foreign_resolution():
    with pytest.raises(ValueError, match="consecutive depths"):
        ProxylessSupernet(SearchSpace(name="gappy", d_choices=(1, 3)))
    with pytest.raises(ValueError, match="r=30"):
        ProxylessSupernet(TINY, r=30)


# ----- expected latency -------------------------------------------------------------------------
def test_expected_latency_equals_mean_over_enumerated_paths(tiny_net):
    """E[Lat] from the matrix equals sum_path P(path) * LUT.predict(path_to_arch(path))."""
    table = fake_table(TINY, 16)
    torch.manual_seed(1)
    tiny_net.set_alpha(torch.randn(tiny_net.alpha.shape))
    p = tiny_net.probs().detach().double()
    rows = [torch.nonzero(tiny_net.mask[s]).flatten().tolist() for s in range(TINY.n_slots)]
    total = 0.0
    for path in itertools.product(*rows):
        prob = float(np.prod([p[s, i] for s, i in enumerate(path)]))
        total += prob * table.predict(tiny_net.path_to_arch(path))
    assert tiny_net.expected_latency_ms().item() == pytest.approx(total, rel=1e-6)  # float32 p


def test_path_latency_is_the_luts_prediction_of_the_derived_arch(tiny_net):
    table = fake_table(TINY, 16)
    paths = tiny_net.sample_paths(50, torch.Generator().manual_seed(0))
    archs = [tiny_net.path_to_arch(p) for p in paths]
    np.testing.assert_allclose(tiny_net.path_latency_ms(paths).numpy(), table.predict_batch(archs))


def test_expected_latency_gradient_closed_form_autograd_and_finite_differences():
    torch.manual_seed(0)
    mask = candidate_mask(CPU)
    alpha = torch.randn(mask.shape, dtype=torch.float64)
    lat = torch.rand(mask.shape, dtype=torch.float64)
    a = alpha.clone().requires_grad_(True)
    (auto,) = torch.autograd.grad(expected_latency_ms(a, lat, mask, 1.0), a)
    closed = expected_latency_grad(alpha, lat, mask)
    torch.testing.assert_close(closed, auto, rtol=1e-10, atol=1e-12)
    eps, fd = 1e-6, torch.zeros_like(alpha)
    for idx in np.ndindex(*alpha.shape):
        up, down = alpha.clone(), alpha.clone()
        up[idx] += eps
        down[idx] -= eps
        fd[idx] = (expected_latency_ms(up, lat, mask) - expected_latency_ms(down, lat, mask)) / (2 * eps)
    torch.testing.assert_close(closed, fd, rtol=0, atol=1e-8)
    assert closed[~mask].abs().max() == 0  # absent candidates get no gradient


def test_alpha_of_the_wrong_shape_is_refused(tiny_net):
    with pytest.raises(ValueError, match=r"alpha has shape \(3, 4\).*\(6, 3\)"):
        tiny_net.set_alpha(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="one logit per candidate"):
        masked_probs(torch.zeros(16, 9), candidate_mask(CPU))


def test_missing_operator_names_it_and_the_fix():
    table = fake_table(TINY, 16)
    missing = needed_specs(TINY, 16)[3].signature
    del table.entries[missing]
    with pytest.raises(MissingEntryError, match=f"{missing}.*get_lut"):  # a custom space: no CLI name
        candidate_latency_ms(table, TINY, 16)
    cpu = fake_table(CPU, 32)  # a preset space: the fix is the `lut build` command
    missing = needed_specs(CPU, 32)[5].signature
    del cpu.entries[missing]
    with pytest.raises(MissingEntryError, match=f"{missing}.*lut build --space cpu"):
        candidate_latency_ms(cpu, CPU, 32)
    with pytest.raises(ValueError, match="attach_latency"):
        ProxylessSupernet(TINY).expected_latency_ms()


def test_cpu_space_latency_matrix_from_a_table():
    table = fake_table(CPU, 32)
    fixed, lat = candidate_latency_ms(table, CPU, 32)
    assert lat.shape == (16, 10) and (lat[:, 9] == 0).all()
    assert fixed == pytest.approx(table.entries[CPU.stem_spec(32).signature]
                                  + table.entries[CPU.head_spec(4).signature])
    assert len(needed_specs(CPU, 32)) == 2 + 4 * 2 * 9  # stem, head, 9 candidates x 2 shapes per stage


# ----- derived architectures -------------------------------------------------------------------
def test_derived_arch_is_valid_and_zero_candidates_make_a_stage_shallower(tiny_net):
    n = len(tiny_net.candidates)  # zero candidate index
    alpha = torch.zeros(tiny_net.alpha.shape)
    alpha[0, 1] = alpha[1, 0] = alpha[2, n] = 5.0  # stage 0: k5, k3, zero -> depth 2
    alpha[3, 0] = alpha[4, n] = alpha[5, 1] = 5.0  # stage 1: k3, zero, k5 -> k3 k5, depth 2
    tiny_net.set_alpha(alpha)
    arch = tiny_net.derive_arch()
    assert arch == arch.validate(TINY)
    assert arch.d == (2, 2) and arch.ks[:2] == (5, 3) and arch.ks[3:5] == (3, 5)
    # the compacted network runs exactly the operators the mixed network chose
    chosen = [candidate_specs(TINY, 16)[slot][i].signature for slot, i in ((0, 1), (1, 0), (3, 0), (5, 1))]
    assert [s.signature for s in TINY.layer_specs(arch)[1:-1]] == chosen


def test_every_sampled_path_is_an_arch_of_the_cpu_space():
    torch.manual_seed(0)
    net = ProxylessSupernet(CPU)
    net.set_alpha(torch.randn(net.alpha.shape) * 2)
    for path in net.sample_paths(200):
        arch = net.path_to_arch(path)
        assert arch.validate(CPU).r == 32
        assert all(d in CPU.d_choices for d in arch.d)
    built = build_net(CPU, net.derive_arch())
    assert built(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_bad_paths_are_refused(tiny_net):
    with pytest.raises(ValueError, match="one candidate per slot"):
        tiny_net.path_to_arch([0, 1])
    n = len(tiny_net.candidates)
    with pytest.raises(ValueError, match="lack"):
        tiny_net.path_to_arch([n, 0, 0, 0, 0, 0])  # zero in a stage's first slot
    with pytest.raises(ValueError, match="does not have"):
        tiny_net(torch.randn(2, 3, 16, 16), "path", torch.tensor([n, 0, 0, 0, 0, 0]))
    with pytest.raises(ValueError, match="unknown mode"):
        tiny_net(torch.randn(2, 3, 16, 16), "dense")
    with pytest.raises(ValueError, match=r"shape \(6, 2\)"):
        tiny_net(torch.randn(2, 3, 16, 16), "two", torch.zeros(6, dtype=torch.long))


# ----- binary gates ----------------------------------------------------------------------------
def test_modes_agree_in_value_when_gates_are_one_hot(tiny_net):
    tiny_net.eval()
    X = torch.randn(4, 3, 16, 16)
    path = tiny_net.sample_paths(generator=torch.Generator().manual_seed(3))
    pair = torch.stack([path, (path + 1) % len(tiny_net.candidates)], 1)
    with torch.no_grad():
        ref = tiny_net(X, "path", path)
        torch.testing.assert_close(tiny_net(X, "one", path), ref)
        torch.testing.assert_close(tiny_net(X, "two", pair), ref)
    tiny_net.train()


def test_binary_gate_gradient_is_the_papers_formula(tiny_net):
    """d/dalpha through straight-through gates equals sum_j dL/dg_j p_j (delta_ij - p_i),
    with dL/dg_j = <dL/dy, o_j> computed by running every candidate explicitly."""
    torch.manual_seed(4)
    tiny_net.set_alpha(torch.randn(tiny_net.alpha.shape))
    tiny_net.eval()  # BN in eval: recomputed outputs equal the forward's
    X, y = torch.randn(4, 3, 16, 16), torch.randint(0, 10, (4,))
    path = tiny_net.sample_paths(generator=torch.Generator().manual_seed(5))
    tiny_net.zero_grad()
    F.cross_entropy(tiny_net(X, "one", path), y).backward()
    got = tiny_net.alpha.grad.clone()
    # explicit: gates as a leaf, every candidate output kept
    p = tiny_net.probs().detach()
    gates = F.one_hot(path, p.shape[1]).float().requires_grad_(True)
    h = tiny_net.stem(X)
    for s, op in enumerate(tiny_net.slots):
        h = sum(gates[s, k] * cand(h) for k, cand in enumerate(op.candidates))
    (G,) = torch.autograd.grad(F.cross_entropy(tiny_net.head(h), y), gates)
    expected = p * (G - (p * G).sum(1, keepdim=True))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-6)
    tiny_net.train()


def test_two_path_touches_only_the_pair_and_rescaling_keeps_other_probabilities(tiny_net):
    torch.manual_seed(6)
    tiny_net.set_alpha(torch.randn(tiny_net.alpha.shape))
    pair = tiny_net.sample_pairs(torch.Generator().manual_seed(1))
    assert (pair[:, 0] != pair[:, 1]).all()
    tiny_net.zero_grad()
    F.cross_entropy(tiny_net(torch.randn(4, 3, 16, 16), "two", pair), torch.randint(0, 10, (4,))).backward()
    grad = tiny_net.alpha.grad
    involved = torch.zeros_like(grad, dtype=torch.bool).scatter_(1, pair, True)
    assert (grad[~involved] == 0).all() and (grad[involved] != 0).any()
    old = tiny_net.alpha.detach().clone()
    p_old = tiny_net.probs().detach()
    with torch.no_grad():
        tiny_net.alpha -= 0.5 * grad  # any update of the pair
    tiny_net.rescale_pair(pair, old)
    p_new = tiny_net.probs().detach()
    torch.testing.assert_close(p_new[~involved & tiny_net.mask], p_old[~involved & tiny_net.mask])
    torch.testing.assert_close(p_new.sum(1), torch.ones(p_new.shape[0]))
    assert not torch.allclose(p_new[involved], p_old[involved])


def test_sampled_paths_follow_the_probabilities(tiny_net):
    torch.manual_seed(7)
    tiny_net.set_alpha(torch.randn(tiny_net.alpha.shape))
    paths = tiny_net.sample_paths(20000, torch.Generator().manual_seed(0))
    freq = F.one_hot(paths, tiny_net.alpha.shape[1]).float().mean(0)
    p = tiny_net.probs().detach()
    assert (freq - p).abs().max() < 0.02
    assert freq[~tiny_net.mask].sum() == 0


# ----- memory ----------------------------------------------------------------------------------
def test_saved_bytes_count_activations_not_parameters():
    lin = torch.nn.Linear(100, 50)
    x = torch.randn(8, 100, requires_grad=True)
    _, with_params = saved_tensor_bytes(lambda: lin(x))
    _, without = saved_tensor_bytes(lambda: lin(x), exclude=list(lin.parameters()))
    assert without == 8 * 100 * 4  # the input, kept for the weight's gradient
    assert with_params == without + 50 * 100 * 4


def test_one_path_saves_far_less_than_all_paths(tiny_net):
    X, y = torch.randn(8, 3, 16, 16), torch.randint(0, 10, (8,))
    path = tiny_net.sample_paths(generator=torch.Generator().manual_seed(0))
    mem = {m: step_memory(tiny_net, X, y, m, path) for m in ("all", "one", "two")}
    assert mem["one"]["weights"] == mem["two"]["weights"]  # the same single path
    assert mem["all"]["weights"][0] > 2 * mem["one"]["weights"][0]
    assert mem["one"]["alpha"][0] < mem["two"]["alpha"][0] < mem["all"]["alpha"][0]
    assert mem["one"]["alpha"][1] is None  # no CUDA here
    assert all(p.grad is None for p in tiny_net.parameters())  # the steps leave no gradients
    with pytest.raises(ValueError, match="unknown method"):
        step_memory(tiny_net, X, y, "three")


# ----- what the binary-gate estimator estimates ---------------------------------------------------
def test_exact_gradient_matches_finite_differences():
    toy = GatedToy(n_slots=2, n_cand=3, seed=1)
    alpha = torch.randn(2, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    _, grad = exact_gradient(toy.losses, alpha)
    eps, fd = 1e-6, torch.zeros_like(alpha)
    for idx in np.ndindex(2, 3):
        up, down = alpha.clone(), alpha.clone()
        up[idx] += eps
        down[idx] -= eps
        fd[idx] = (exact_gradient(toy.losses, up)[0] - exact_gradient(toy.losses, down)[0]) / (2 * eps)
    torch.testing.assert_close(grad, fd, rtol=0, atol=1e-8)


def test_reinforce_is_unbiased_and_binary_gates_are_not():
    toy = GatedToy(seed=0)
    alpha = 0.8 * torch.randn(3, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    _, exact = exact_gradient(toy.losses, alpha)
    n = 4000
    gen = torch.Generator().manual_seed(1)
    z = {}
    for name, s in (("bg", binary_gate_samples(toy.losses, alpha, n, gen)),
                    ("rf", reinforce_samples(toy.losses, alpha, n, gen))):
        z[name] = ((s.mean(0) - exact) / (s.std(0) / n ** 0.5)).abs()
    assert z["rf"].max() < 4.5  # within sampling error everywhere
    assert z["bg"].max() > 10  # far outside it somewhere: a bias, not noise


def test_binary_gates_are_exact_when_the_loss_is_linear_in_the_gates():
    c = torch.tensor([[0.3, 1.2, -0.4], [2.0, 0.1, 0.5]], dtype=torch.float64)
    linear = lambda g: (g * c).sum((1, 2))  # noqa: E731
    alpha = torch.tensor([[0.2, -0.5, 1.0], [0.0, 0.7, -0.3]], dtype=torch.float64)
    _, exact = exact_gradient(linear, alpha)
    bg = binary_gate_samples(linear, alpha, 10)
    torch.testing.assert_close(bg, exact.expand_as(bg))  # every single sample is exact
    torch.testing.assert_close(relaxed_gradient(linear, alpha), exact)


def test_estimators_refuse_bad_input():
    toy = GatedToy(n_slots=2, n_cand=2)
    with pytest.raises(ValueError, match="shape"):
        toy.losses(torch.zeros(2, 2))
    with pytest.raises(ValueError, match="too many"):
        exact_gradient(toy.losses, torch.zeros(2, 2), max_paths=3)
    with pytest.raises(ValueError, match="n >= 2"):
        reinforce_samples(toy.losses, torch.zeros(2, 2), 1)


# ----- latency losses ----------------------------------------------------------------------------
def test_latency_loss_forms():
    ce, E = torch.tensor(2.0), torch.tensor(6.0)
    assert latency_loss(ce, E, 4.0, "add", 0.1).item() == pytest.approx(2.0 + 0.1 * 0.5)
    assert latency_loss(ce, E, 4.0, "mul", 0.6).item() == pytest.approx(2.0 * 1.5 ** 0.6)
    assert latency_loss(ce, E, 4.0, "log", 0.3).item() == pytest.approx(
        2.0 * (np.log(6.0) / np.log(4.0)) ** 0.3)
    assert latency_loss(ce, E, 4.0, "hinge", 2.0).item() == pytest.approx(2.0 + 2.0 * 0.5)
    assert latency_loss(ce, E, 8.0, "hinge", 2.0).item() == pytest.approx(2.0)  # below target: CE
    for form in ("add", "mul", "log", "hinge"):  # coefficient 0: the plain cross-entropy (value)
        assert latency_loss(ce, E, 4.0, form, 0.0).item() == pytest.approx(2.0)


def test_target_is_only_a_scale_in_the_multiplicative_forms():
    """Gradient directions w.r.t. alpha at two targets: equal for mul and log (T scales the
    whole loss), different for hinge (T decides whether latency is penalised at all)."""
    torch.manual_seed(0)
    mask = candidate_mask(CPU)
    alpha = torch.randn(mask.shape, requires_grad=True)
    lat = torch.rand(mask.shape, dtype=torch.float64)
    ce = (alpha ** 2).sum() * 1e-3 + 1.0  # a stand-in accuracy term that depends on alpha

    def direction(T, form, coef):
        (g,) = torch.autograd.grad(latency_loss(ce, expected_latency_ms(alpha, lat, mask, 1.0), T, form,
                                                coef), alpha, retain_graph=True)
        return g / g.norm()

    E = expected_latency_ms(alpha, lat, mask, 1.0).item()
    for form, coef in (("mul", 0.6), ("log", 0.3)):
        torch.testing.assert_close(direction(0.8 * E, form, coef), direction(1.5 * E, form, coef))
    assert not torch.allclose(direction(0.8 * E, "hinge", 2.0), direction(1.5 * E, "hinge", 2.0))


def test_latency_loss_rejects_bad_input():
    ce, E = torch.tensor(1.0), torch.tensor(2.0)
    for target in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="positive number of ms"):
            latency_loss(ce, E, target)
    with pytest.raises(ValueError, match="lambda must be >= 0"):
        latency_loss(ce, E, 2.0, "add", -0.1)
    with pytest.raises(ValueError, match="beta must be >= 0"):
        latency_loss(ce, E, 2.0, "mul", -1.0)
    with pytest.raises(ValueError, match="log T <= 0"):
        latency_loss(ce, E, 0.8, "log", 0.3)
    with pytest.raises(ValueError, match="unknown latency-loss form"):
        latency_loss(ce, E, 2.0, "exp", 0.3)
    with pytest.raises(ValueError, match="beta must be >= 0"):
        SearchConfig(target_ms=2.0, coef=-0.5)
    with pytest.raises(ValueError, match="positive number"):
        SearchConfig(target_ms=0)
    with pytest.raises(ValueError, match="binary_mode"):
        SearchConfig(target_ms=2.0, binary_mode="three")


# ----- the search loop -------------------------------------------------------------------------
def tiny_data(n, seed):
    g = torch.Generator().manual_seed(seed)
    return TensorData(torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g),
                      torch.randint(0, 10, (n,), generator=g))


def test_search_moves_expected_latency_toward_a_low_target(tiny_net):
    torch.manual_seed(0)
    net = ProxylessSupernet(TINY).attach_latency(fake_table(TINY, 16))
    train, val = tiny_data(64, 0), tiny_data(32, 1)
    start_ms = net.expected_latency_ms().item()
    warm_up(net, train, 2, batch_size=16, progress=False)
    assert (net.alpha == 0).all()  # warm-up leaves alpha alone
    low = net.fixed_ms + float(sum(row[m].min() for row, m in zip(net.lat_ms, net.mask)))
    cfg = SearchConfig(target_ms=low, steps=30, batch_size=16, arch_lr=0.1, coef=2.0, record_every=5)
    res = search(net, train, val, cfg, progress=False)
    assert res.expected_ms < start_ms - 0.3 * (start_ms - low)
    assert len(res.probs) == len(res.steps) == len(res.expected_hist_ms) == 6
    assert res.arch.validate(TINY) and res.arch_ms == pytest.approx(
        fake_table(TINY, 16).predict(res.arch))
    np.testing.assert_allclose(np.nansum(res.probs[-1], 1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("mode", ["one", "all"])
def test_search_runs_in_every_binary_mode(mode):
    torch.manual_seed(0)
    net = ProxylessSupernet(TINY).attach_latency(fake_table(TINY, 16))
    res = search(net, tiny_data(32, 0), tiny_data(16, 1),
                 SearchConfig(target_ms=2.0, steps=3, batch_size=16, binary_mode=mode, form="add",
                              coef=0.2), progress=False)
    assert not torch.equal(net.alpha.detach(), torch.zeros_like(net.alpha))
    assert res.arch.validate(TINY)


def test_sweep_starts_each_search_from_the_same_weights():
    torch.manual_seed(0)
    net = ProxylessSupernet(TINY).attach_latency(fake_table(TINY, 16))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    out = sweep(net, tiny_data(32, 0), tiny_data(16, 1), [1.5, 3.0],
                SearchConfig(target_ms=9.0, steps=2, batch_size=16), progress=False)
    assert [r.config.target_ms for r in out] == [1.5, 3.0]
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())


def test_search_needs_a_table():
    net = ProxylessSupernet(TINY)
    with pytest.raises(ValueError, match="attach a latency table"):
        search(net, tiny_data(16, 0), tiny_data(16, 1), SearchConfig(target_ms=1.0, steps=1))


def test_calibrated_expected_latency_is_the_expected_calibrated_prediction(tiny_net):
    from hwnas_lab.latency.predictors import CalibratedSum

    table = fake_table(TINY, 16)
    cal = CalibratedSum(table)
    cal.scale, cal.per_op_ms, cal.overhead_ms = 1.3, -0.05, 0.4
    net = ProxylessSupernet(TINY).attach_latency(table, calibration=cal)
    paths = net.sample_paths(40, torch.Generator().manual_seed(2))
    archs = [net.path_to_arch(p) for p in paths]
    np.testing.assert_allclose(net.path_latency_ms(paths).numpy(), cal.predict(archs))
    torch.manual_seed(3)
    net.set_alpha(torch.randn(net.alpha.shape))
    p = net.probs().detach().double()
    rows = [torch.nonzero(net.mask[s]).flatten().tolist() for s in range(TINY.n_slots)]
    all_paths = list(itertools.product(*rows))
    probs = [float(np.prod([p[s, i] for s, i in enumerate(path)])) for path in all_paths]
    pred = cal.predict([net.path_to_arch(path) for path in all_paths])
    assert net.expected_latency_ms().item() == pytest.approx(float(np.dot(probs, pred)), rel=1e-6)
    with pytest.raises(ValueError, match="another space"):
        ProxylessSupernet(CPU).attach_latency(fake_table(CPU, 32), calibration=cal)
    for scale in (-1.12, 0.0):  # a falling line (a few noisy networks can fit one) is refused
        cal.scale = scale
        with pytest.raises(ValueError, match="scale is .*slower networks"):
            ProxylessSupernet(TINY).attach_latency(table, calibration=cal)
    # a rising line that still predicts a non-positive latency for the fastest path (the smoke
    # run's failure: a negative overhead fitted on 3 networks) is refused as well
    cal.scale, cal.per_op_ms = 1.0, 0.0
    lo = ProxylessSupernet(TINY).attach_latency(table).latency_range_ms()[0]
    cal.overhead_ms = -lo
    with pytest.raises(ValueError, match="fastest path: no latency model"):
        ProxylessSupernet(TINY).attach_latency(table, calibration=cal)
    cal.overhead_ms = -0.5 * lo  # still positive everywhere: accepted
    assert ProxylessSupernet(TINY).attach_latency(table, calibration=cal).latency_range_ms()[0] > 0


def test_latency_matched_random_archs_are_within_tolerance():
    table = fake_table(CPU, 32)
    archs = latency_matched_random(CPU, table.predict_batch, 6.0, n=5, r=32, tol=0.03, pool=500, seed=0)
    assert 0 < len(archs) <= 5
    assert all(a.r == 32 for a in archs)
    assert np.all(np.abs(table.predict_batch(archs) / 6.0 - 1) <= 0.03)


def test_init_from_ofa_copies_the_subnet_weights():
    from hwnas_lab.ofa import OFASupernet

    torch.manual_seed(0)
    ofa = OFASupernet(TINY).eval()
    net = init_from_ofa(ProxylessSupernet(TINY), ofa).eval()
    X = torch.randn(2, 3, 16, 16)
    arch = Arch(ks=[5, 3, 3, 3, 5, 3], e=[2] * 6, d=[3, 2], r=16)  # unused slot: alpha's argmax
    path = [1, 0, 0, 0, 1, len(net.candidates)]
    assert net.path_to_arch(path) == arch
    with torch.no_grad():
        torch.testing.assert_close(net(X, "path", torch.tensor(path)), ofa.set_active(arch)(X))
    with pytest.raises(ValueError, match="space"):
        init_from_ofa(ProxylessSupernet(TINY), OFASupernet(CPU))


def test_pair_with_keeps_the_path_active_and_draws_another_candidate(tiny_net):
    path = tiny_net.sample_paths(generator=torch.Generator().manual_seed(0))
    for seed in range(20):
        pair = tiny_net.pair_with(path, torch.Generator().manual_seed(seed))
        assert torch.equal(pair[:, 0], path) and (pair[:, 1] != path).all()
        assert tiny_net.mask.gather(1, pair).all()


def test_gpu_space_constructs_and_takes_a_search_step():
    """The gpu preset's space: 20 slots, the same candidates; one weight + alpha step runs."""
    gpu = SPACES["gpu"]
    torch.manual_seed(0)
    net = ProxylessSupernet(gpu).attach_latency(fake_table(gpu, 32))
    assert net.alpha.shape == (gpu.n_slots, 10) and net.derive_arch().validate(gpu)
    res = search(net, tiny_data(4, 0), tiny_data(4, 1),
                 SearchConfig(target_ms=5.0, steps=1, batch_size=2), progress=False)
    assert res.arch.validate(gpu) and len(res.probs) == 1


def test_latency_range_brackets_every_path(tiny_net):
    lo, hi = tiny_net.latency_range_ms()
    lat = tiny_net.path_latency_ms(tiny_net.sample_paths(500, torch.Generator().manual_seed(0)))
    assert lo <= lat.min().item() and lat.max().item() <= hi and lo < hi
