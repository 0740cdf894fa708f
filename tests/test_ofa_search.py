"""OFA search (notebook 06): efficiency models, accuracy data and predictor, evolution and random
search, specialisation helpers, the ``ofa search`` command and its bad-input messages."""

import itertools
import json

import numpy as np
import pytest
import torch

from hwnas_lab.blocks import arch_flops
from hwnas_lab.data import TensorData
from hwnas_lab.arch import ArchBatch
from hwnas_lab.latency.lut import LatencyTable
from hwnas_lab.ofa import OFASupernet
from hwnas_lab.ofa.accuracy import (AccuracyPredictor, collect_accuracy, extreme_archs, get_predictor,
                                    noise_yardstick, scores)
from hwnas_lab.ofa.efficiency import (Efficiency, SlotTable, measured_peak_kb, memory_table, mflops_table,
                                      peak_elements)
from hwnas_lab.ofa.search import (Constraints, EvolutionConfig, Genes, InfeasibleError, Objective,
                                  check_constraints, crossover_batch, evolution_search, feasible, mutate_batch,
                                  random_search, sample_batch, to_archs)
from hwnas_lab.ofa.search_loop import evolution_search_loop
from hwnas_lab.ofa.specialise import (cost_table, find_search_supernet, get_budget, training_costs)
from hwnas_lab.space import Arch, SearchSpace, get_space

SPACE = get_space("cpu")
TINY = SearchSpace(name="tiny", stage_channels=(8, 16), stage_strides=(1, 2), ks_choices=(3, 5),
                   e_choices=(2, 3), d_choices=(1, 2), r_choices=(16, 24))

pytestmark = pytest.mark.usefixtures("one_thread")


def synthetic_table(space=SPACE) -> LatencyTable:
    """A latency table whose entries grow with each operator's work (no measurement)."""
    entries = {s.signature: 0.01 + s.macs / 2e6 for s in space.all_layer_specs()}
    return LatencyTable(space, "synthetic", entries)


class LinearPredictor:
    """Accuracy = a fixed linear function of the features (a known optimum for the searches)."""

    def __init__(self, space=SPACE, seed=0):
        self.space = space
        self.w = np.random.default_rng(seed).normal(0, 0.01, len(space.feature_names))

    def predict(self, a):
        return 0.7 + self.space.encode_batch(a) @ self.w


def objective(limit_ms=None, memory_kb=None, flops_m=None, space=SPACE):
    return Objective(LinearPredictor(space), Efficiency(space, synthetic_table(space)),
                     Constraints(limit_ms, flops_m, memory_kb))


# ----- populations as arrays ------------------------------------------------------------------
def test_sample_mutate_crossover_give_valid_archs_and_keep_skipped_slots():
    rng = np.random.default_rng(0)
    pop = sample_batch(SPACE, 500, rng)
    for batch in (pop, mutate_batch(SPACE, pop, 1.0, 1.0, rng),
                  crossover_batch(SPACE, pop, sample_batch(SPACE, 500, rng), rng)):
        ArchBatch.from_archs(SPACE, to_archs(batch))  # raises on any invalid value
    assert set(np.unique(pop.ks)) == set(SPACE.ks_choices) and set(np.unique(pop.r)) == set(SPACE.r_choices)
    # every slot, running or skipped, is redrawn at the same rate (prob * (1 - 1/3) = 1/3 changed)
    shallow = ArchBatch.from_archs(SPACE, [SPACE.uniform(7, 6, 2, 32)] * 2000)
    child = mutate_batch(SPACE, shallow, 0.5, 0.5, rng)
    changed = child.ks != shallow.ks
    D = SPACE.max_depth
    skipped = np.arange(SPACE.n_slots) % D >= 2
    assert abs(changed[:, skipped].mean() - 1 / 3) < 0.03 and abs(changed[:, ~skipped].mean() - 1 / 3) < 0.03
    assert abs((child.d != shallow.d).mean() - 1 / 3) < 0.03
    assert abs((child.r != shallow.r).mean() - 1 / 3) < 0.05
    assert np.array_equal(mutate_batch(SPACE, shallow, 0.0, 0.0, rng).ks, shallow.ks)
    # the resolution has its own probability (OFA: 0.5 against 0.1)
    only_r = mutate_batch(SPACE, shallow, 0.0, 1.0, rng)
    assert np.array_equal(only_r.ks, shallow.ks) and (only_r.r != 32).mean() > 0.6


def test_crossover_takes_each_value_from_a_parent_at_the_same_position():
    rng = np.random.default_rng(1)
    a = ArchBatch.from_archs(SPACE, [SPACE.uniform(3, 3, 2, 24)] * 1000)
    b = ArchBatch.from_archs(SPACE, [SPACE.uniform(7, 6, 4, 32)] * 1000)
    c = crossover_batch(SPACE, a, b, rng)
    assert np.isin(c.ks, (3, 7)).all() and np.isin(c.d, (2, 4)).all() and np.isin(c.r, (24, 32)).all()
    assert abs((c.ks == 3).mean() - 0.5) < 0.02 and abs((c.r == 24).mean() - 0.5) < 0.05
    assert (c.ks == 3).all(1).mean() < 0.01  # values mixed within a child, not whole fields


def test_genes_round_trip():
    genes = Genes(SPACE)
    a = sample_batch(SPACE, 7, np.random.default_rng(0))
    back = genes.arrays(genes.of(a))
    assert all(np.array_equal(getattr(a, f), getattr(back, f)) for f in ("ks", "e", "d", "r"))


# ----- efficiency models --------------------------------------------------------------------------
def test_slot_tables_match_per_arch_computations():
    archs = [SPACE.smallest(), SPACE.largest()] + [SPACE.sample(i) for i in range(30)]
    a = ArchBatch.from_archs(SPACE, archs)
    assert np.allclose(mflops_table(SPACE).total(a), [arch_flops(SPACE, x) / 1e6 for x in archs])
    table = synthetic_table()
    assert np.allclose(SlotTable.build(SPACE, table.lookup).total(a), table.predict_batch(a))
    mem = memory_table(SPACE).peak(a)
    by_hand = [max(peak_elements(s) for s in SPACE.layer_specs(x)) * 4 / 1024 for x in archs]
    assert np.allclose(mem, by_hand)


def test_peak_memory_by_hand_for_the_smallest_subnet():
    # r24: stem 16x24x24; block 1 (stride 2, e3): expand keeps x (16*576) and h (48*576) live
    expected_kb = (16 * 576 + 48 * 576) * 4 / 1024
    assert memory_table(SPACE).peak(ArchBatch.from_archs(SPACE, [SPACE.smallest()]))[0] == expected_kb


@pytest.mark.parametrize("space_name", ["cpu", "gpu"])
def test_memory_model_against_measured_peak(space_name):
    space = get_space(space_name)
    archs = [space.smallest(), space.largest(), space.sample(3), space.sample(4)]
    model = memory_table(space).peak(ArchBatch.from_archs(space, archs))
    for arch, kb in zip(archs, model):
        measured = measured_peak_kb(space, arch)
        assert measured["lean_kb"] == pytest.approx(kb, rel=1e-9)  # the same live set, on real tensors
        assert measured["eager_kb"] > measured["lean_kb"]  # eager PyTorch keeps more alive


def test_residual_input_is_counted_where_it_must_be_kept():
    from hwnas_lab.space import LayerSpec

    res = LayerSpec("mbconv", 16, 16, 8, 3, 6, 1)  # residual: x stays live until the add
    plain = LayerSpec("mbconv", 16, 24, 8, 3, 6, 1)  # no residual (channels change)
    x, h = 16 * 64, 96 * 64
    assert peak_elements(res) == h + h + x
    assert peak_elements(plain) == max(x + h, 2 * h, h + 24 * 64)


def test_minimum_is_exact_on_an_enumerable_space():
    table = synthetic_table(TINY)
    eff = Efficiency(TINY, table)
    every = []
    for d in itertools.product(TINY.d_choices, repeat=TINY.n_stages):
        for ks in itertools.product(TINY.ks_choices, repeat=TINY.n_slots):
            for e in itertools.product(TINY.e_choices, repeat=TINY.n_slots):
                every += [Arch(ks, e, d, r) for r in TINY.r_choices]
    a = ArchBatch.from_archs(TINY, every)
    for metric, values in (("latency_ms", table.predict_batch(a)), ("mflops", eff.mflops(a)),
                           ("memory_kb", eff.memory_kb(a))):
        low, arch = eff.minimum(metric)
        assert low == pytest.approx(values.min())
        one = ArchBatch.from_archs(TINY, [arch])
        assert {"latency_ms": table.predict_batch, "mflops": eff.mflops, "memory_kb": eff.memory_kb}[metric](
            one)[0] == pytest.approx(low)


def test_minimum_of_a_calibrated_sum():
    from hwnas_lab.latency.predictors import CalibratedSum

    table = synthetic_table()
    cal = CalibratedSum(table)
    cal.scale, cal.per_op_ms, cal.overhead_ms = 1.3, -0.01, 0.2
    low, arch = Efficiency(SPACE, cal).minimum("latency_ms")
    assert low == pytest.approx(cal.predict([arch])[0])
    samples = cal.predict(sample_batch(SPACE, 3000, np.random.default_rng(0)))
    assert low <= samples.min()


def test_efficiency_refuses_a_table_of_another_space():
    with pytest.raises(ValueError, match="space"):
        Efficiency(SPACE, synthetic_table(get_space("gpu")))


# ----- constraints and the feasibility filter ---------------------------------------------------------
def test_feasible_combines_every_given_limit_inclusively():
    lat, mfl, mem = np.array([1.0, 2.0, 3.0]), np.array([5.0, 50.0, 5.0]), np.array([10.0, 10.0, 99.0])
    assert feasible(lat, mfl, mem, Constraints(latency_ms=2.0)).tolist() == [True, True, False]
    assert feasible(lat, mfl, mem, Constraints(latency_ms=3.0, flops_m=5.0)).tolist() == [True, False, True]
    both = Constraints(memory_kb=10.0, latency_ms=9.0)
    assert feasible(lat, mfl, mem, both).tolist() == [True, True, False]
    assert feasible(lat, mfl, mem, Constraints()).all()
    with pytest.raises(ValueError, match="no memory_kb values"):
        feasible(lat, mfl, None, Constraints(memory_kb=10.0))


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), "2", True])
def test_constraints_reject_bad_numbers(bad):
    with pytest.raises(ValueError, match="positive number"):
        Constraints(latency_ms=bad)


def test_infeasible_limit_names_the_smallest_feasible_value():
    eff = Efficiency(SPACE, synthetic_table())
    low_ms = synthetic_table().predict(SPACE.smallest())
    with pytest.raises(InfeasibleError, match=f"smallest feasible value is {low_ms:.4g} ms") as err:
        objective(limit_ms=low_ms * 0.5)
    assert "latency limit" in str(err.value) and "synthetic" in str(err.value)
    low_kb = memory_table(SPACE).peak(ArchBatch.from_archs(SPACE, [SPACE.smallest()]))[0]
    with pytest.raises(InfeasibleError, match=f"peak memory limit 100 kB .* {low_kb:.4g} kB"):
        check_constraints(eff, Constraints(memory_kb=100.0))
    check_constraints(eff, Constraints(latency_ms=low_ms, memory_kb=low_kb))  # exactly the minimum: fine


def test_objective_refuses_a_predictor_of_another_space():
    with pytest.raises(ValueError, match="one supernet's space"):
        Objective(LinearPredictor(get_space("gpu")), Efficiency(SPACE, synthetic_table()), Constraints())


# ----- searches ---------------------------------------------------------------------------------------
def median_latency(n=2000):
    return float(np.median(synthetic_table().predict_batch(sample_batch(SPACE, n, np.random.default_rng(9)))))


def test_evolution_counts_evaluations_keeps_feasible_and_beats_random_search():
    obj = objective(limit_ms=median_latency())
    config = EvolutionConfig(population=40, generations=30)
    evo = evolution_search(obj, config, seed=0, keep_pool=True)
    assert evo.n_evals == 40 + 30 * 40 and evo.curve_evals[-1] == evo.n_evals
    assert np.all(np.diff(evo.curve_best) >= 0)
    assert evo.best_metrics["latency_ms"] <= obj.constraints.latency_ms
    pool = evo.pool
    assert len(pool["acc"]) == evo.n_evals and np.all(pool["latency_ms"] <= obj.constraints.latency_ms)
    assert evo.best_acc == pytest.approx(pool["acc"].max())
    best = ArchBatch.from_archs(SPACE, [evo.best])
    assert obj.predictor.predict(best)[0] == pytest.approx(evo.best_acc)
    rand = random_search(obj, evo.n_evals, seed=0)
    assert rand.n_evals == evo.n_evals and rand.best_metrics["latency_ms"] <= obj.constraints.latency_ms
    assert evo.best_acc > rand.best_acc
    assert evo.n_drawn >= evo.n_evals and rand.n_drawn > rand.n_evals  # infeasible draws were rejected


def test_loop_version_is_the_same_search():
    obj = objective(limit_ms=median_latency(), memory_kb=300.0)
    config = EvolutionConfig(population=20, generations=15)
    fast, slow = evolution_search(obj, config, seed=1), evolution_search_loop(obj, config, seed=1)
    assert slow.n_evals == fast.n_evals
    for r in (fast, slow):
        assert r.best_metrics["latency_ms"] <= obj.constraints.latency_ms
        assert r.best_metrics["memory_kb"] <= 300
    start = random_search(obj, 20, seed=1).best_acc
    assert fast.best_acc > start and slow.best_acc > start


def test_search_without_limits_finds_the_predictors_optimum():
    obj = objective()
    evo = evolution_search(obj, EvolutionConfig(population=20, generations=10), seed=0)
    assert evo.n_evals == 220 and set(evo.best_metrics) == {"latency_ms", "flops_m", "memory_kb"}
    assert random_search(obj, 50, seed=0).n_evals == 50


def test_tight_limit_still_finds_the_few_feasible_subnets():
    low, _ = Efficiency(SPACE, synthetic_table()).minimum("latency_ms")
    obj = objective(limit_ms=low * 1.02)  # random draws almost never meet it
    evo = evolution_search(obj, EvolutionConfig(population=10, generations=5), seed=0)
    assert evo.best_metrics["latency_ms"] <= low * 1.02


def test_search_is_reproducible_and_config_is_checked():
    obj = objective(limit_ms=median_latency())
    c = EvolutionConfig(population=16, generations=5)
    assert evolution_search(obj, c, seed=3).best == evolution_search(obj, c, seed=3).best
    with pytest.raises(ValueError, match="parent_ratio"):
        EvolutionConfig(parent_ratio=1.5)
    with pytest.raises(ValueError, match="n_evals"):
        random_search(obj, 0)


# ----- accuracy predictor ----------------------------------------------------------------------------
def synthetic_pairs(n=200, noise=0.003, seed=0):
    rng = np.random.default_rng(seed)
    a = sample_batch(SPACE, n, rng)
    truth = LinearPredictor(SPACE, seed=5).predict(a)
    return a, truth, truth + rng.normal(0, noise, n)


def test_predictor_learns_and_ranks_held_out_subnets():
    a, truth, noisy = synthetic_pairs()
    train, test = np.arange(160), np.arange(160, 200)
    take = lambda idx: ArchBatch(a.ks[idx], a.e[idx], a.d[idx], a.r[idx])  # noqa: E731
    pred = AccuracyPredictor(SPACE, steps=600).fit(take(train), noisy[train])
    s = scores(pred.predict(take(test)), truth[test])
    constant = scores(np.full(40, noisy[train].mean()) + 1e-9 * np.arange(40), truth[test])
    assert s.kendall_tau > 0.6 and s.rmse_pct < 0.3 * constant.rmse_pct  # far better than a constant guess


def test_predictor_save_load_and_bad_files(tmp_path):
    a, _, noisy = synthetic_pairs(60)
    pred = AccuracyPredictor(SPACE, steps=50).fit(a, noisy)
    path = pred.save(tmp_path / "p.pt")
    assert np.allclose(AccuracyPredictor.load(path, SPACE).predict(a), pred.predict(a))
    with pytest.raises(ValueError, match="trained for space 'cpu', not 'gpu'"):
        AccuracyPredictor.load(path, get_space("gpu"))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="corrupt or truncated.*delete it"):
        AccuracyPredictor.load(bad)
    with pytest.raises(ValueError, match="before fit"):
        AccuracyPredictor(SPACE).predict(a)
    with pytest.raises(ValueError, match="one finite accuracy"):
        AccuracyPredictor(SPACE).fit(a, noisy[:-1])


def tiny_data(n=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    return TensorData(torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8),
                      torch.randint(0, 10, (n,), generator=g))


def test_collect_accuracy_caches_resumes_and_refuses_foreign_caches(tmp_path):
    torch.manual_seed(0)
    net = OFASupernet(SPACE).eval()
    train, val = tiny_data(64), tiny_data(20, 1)
    path = tmp_path / "acc.json"
    kw = dict(n_extremes=2, n_test=3, n_repeats=2, recal_batches=1, batch_size=16, path=path, progress=False)
    first = collect_accuracy(net, train, val, "abc", n_random=5, **kw)
    assert len(first.archs) == 7 and first.kinds[:2] == ["extreme"] * 2 and first.meta["measured_now"] == 9
    assert first.archs[0] == SPACE.smallest() and first.archs[1] == SPACE.largest()
    assert len(first.repeat_acc) == 2 and list(first.repeat_index) == [4, 5]
    again = collect_accuracy(net, train, val, "abc", n_random=5, **kw)
    assert again.meta["measured_now"] == 0 and np.array_equal(again.acc, first.acc)
    more = collect_accuracy(net, train, val, "abc", n_random=7, **kw)  # 2 more random + their repeats
    assert more.archs[:6] == first.archs[:6] and more.meta["measured_now"] == 4
    assert np.isfinite(noise_yardstick(more).rmse_pct)
    with pytest.raises(ValueError, match="belongs to supernet 'abc'"):
        collect_accuracy(net, train, val, "other", n_random=5, **kw)
    path.write_text(json.dumps({"format": "hwnas-ofa-accuracy/1", "space": SPACE.to_dict()})[:40])
    with pytest.raises(ValueError, match="corrupt or truncated.*delete it"):
        collect_accuracy(net, train, val, "abc", n_random=5, **kw)
    with pytest.raises(ValueError, match="n_repeats"):
        collect_accuracy(net, train, val, "abc", n_random=5, **{**kw, "n_repeats": 9})


def test_get_predictor_caches_by_data(tmp_path, monkeypatch):
    monkeypatch.setenv("HWNAS_CACHE_DIR", str(tmp_path))
    torch.manual_seed(0)
    net = OFASupernet(SPACE).eval()
    data = collect_accuracy(net, tiny_data(64), tiny_data(20, 1), "abc", n_random=6, n_extremes=2, n_test=2,
                            n_repeats=0, recal_batches=1, batch_size=16, progress=False)
    p1 = get_predictor(data, steps=20)
    p2 = get_predictor(data, steps=20)
    assert p1.path == p2.path and p2.path.exists()
    assert np.allclose(p1.predict(data.arrays), p2.predict(data.arrays))
    p2.path.write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="accuracy predictor cache .* corrupt"):
        get_predictor(data, steps=20)


def test_extremes_are_the_uniform_corners():
    corners = extreme_archs(SPACE)
    assert len(corners) == 16 and corners[0] == SPACE.smallest() and corners[1] == SPACE.largest()
    assert len(set(corners)) == 16


# ----- specialisation helpers --------------------------------------------------------------------------
def test_cost_table_and_training_costs():
    rows = cost_table(1000.0, 300.0, 100.0, 10.0, ns=(1, 10))
    assert rows == [(1, 1110.0, 300.0), (10, 1200.0, 3000.0)]
    with pytest.raises(ValueError, match="per_target_s"):
        cost_table(1.0, 1.0, 1.0, float("nan"))
    ckpt = {"elapsed_s": 50.0, "history": [{"phase_index": 0, "epoch_s": 10.0},
                                          {"phase_index": 0, "epoch_s": 12.0},
                                          {"phase_index": 1, "epoch_s": 9.0}]}
    assert training_costs(ckpt) == {"supernet_s": 50.0, "single_s": 22.0, "single_epochs": 2}
    with pytest.raises(ValueError, match="no training log"):
        training_costs({"history": []})


def test_budgets_and_a_missing_gpu_supernet(tmp_path, monkeypatch):
    assert get_budget("laptop").n_random > get_budget("smoke").n_random
    with pytest.raises(ValueError, match="unknown preset"):
        get_budget("huge")
    monkeypatch.setenv("HWNAS_CACHE_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="ofa train --preset gpu"):
        find_search_supernet("gpu")
    path, source = find_search_supernet("smoke")  # smoke searches the (shipped) laptop supernet
    assert source == "shipped" and path.name == "laptop.pt"


# ----- the command ----------------------------------------------------------------------------------
def fake_latency_model(space, target, calib_archs=0, repeats=15, seed=0, progress=False, rounds=3):
    from hwnas_lab.ofa.specialise import LatencyModel

    table = synthetic_table(space)
    return LatencyModel("torch-1thread", table, table, [], np.zeros(0), 0.0)


def test_command_explains_an_infeasible_limit(monkeypatch, capsys):
    from hwnas_lab import cli
    from hwnas_lab.ofa import specialise

    monkeypatch.setattr(specialise, "latency_model", fake_latency_model)
    low = synthetic_table().predict(SPACE.smallest())
    code = cli.main(["ofa", "search", "--target", "torch-1thread", "--latency-ms", f"{low / 3:.4f}"])
    err = capsys.readouterr().err
    assert code == 2 and f"smallest feasible value is {low:.4g} ms" in err
    code = cli.main(["ofa", "search", "--latency-ms", "-1"])
    assert code == 2 and "positive number" in capsys.readouterr().err


def test_command_refuses_a_corrupt_supernet(tmp_path, capsys):
    from hwnas_lab import cli

    bad = tmp_path / "supernet.pt"
    bad.write_bytes(b"garbage")
    assert cli.main(["ofa", "search", "--supernet", str(bad), "--latency-ms", "5"]) == 2
    assert "not a readable OFA checkpoint" in capsys.readouterr().err


def test_command_runs_a_smoke_search(notebook_env, monkeypatch, capsys, tmp_path):
    from hwnas_lab import cli
    from hwnas_lab.ofa import specialise

    for key, value in notebook_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(specialise, "latency_model", fake_latency_model)
    low = synthetic_table().predict(SPACE.smallest())
    code = cli.main(["ofa", "search", "--preset", "smoke", "--latency-ms", f"{2 * low:.3f}",
                     "--memory-kb", "300", "--generations", "10", "--population", "20", "--json",
                     "--no-progress"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and out["predicted"]["latency_ms"] <= 2 * low and out["predicted"]["memory_kb"] <= 300
    arch = Arch.from_dict(out["arch"]).validate(SPACE)
    assert out["evaluations"] == 20 + 10 * 20 and 0 <= out["measured_acc"] <= 1 and out["measured_ms"] > 0
    assert arch_flops(SPACE, arch) > 0


def test_the_gpu_space_searches_too(tmp_path):
    gpu = get_space("gpu")
    obj = Objective(LinearPredictor(gpu), Efficiency(gpu, synthetic_table(gpu)),
                    Constraints(memory_kb=1500.0))
    evo = evolution_search(obj, EvolutionConfig(population=16, generations=5), seed=0)
    assert evo.best.validate(gpu) and evo.best_metrics["memory_kb"] <= 1500.0
    torch.manual_seed(0)
    data = collect_accuracy(OFASupernet(gpu).eval(), tiny_data(32), tiny_data(8, 1), "g", n_random=3,
                            n_extremes=1, n_test=2, n_repeats=0, recal_batches=1, batch_size=16,
                            progress=False, path=tmp_path / "gpu.json")
    assert len(data.archs) == 4 and data.archs[0] == gpu.smallest()


def test_robust_calibration_ignores_an_outlier():
    from hwnas_lab.ofa.specialise import robust_calibration
    from hwnas_lab.latency.predictors import CalibratedSum

    table = synthetic_table()
    archs = [SPACE.sample(i) for i in range(12)]
    ms = 1.5 * table.predict_batch(archs) + 0.3
    ms[3] *= 3  # one measurement hit by another job
    cal = robust_calibration(CalibratedSum(table), archs, ms)
    assert cal.scale == pytest.approx(1.5) and cal.overhead_ms == pytest.approx(0.3)
    assert cal.predict(archs)[0] == pytest.approx(ms[0])


def test_remeasure_many_groups_targets_and_keeps_the_least_disturbed_round():
    from hwnas_lab.ofa.specialise import measure_least_disturbed, remeasure_many

    torch.manual_seed(0)
    net = OFASupernet(SPACE).eval()
    archs = [SPACE.smallest(), SPACE.sample(1)]
    ms, iqr = measure_least_disturbed(SPACE, archs, "torch-1thread", rounds=2, repeats=3)
    assert ms.shape == (2,) and np.all(ms > 0) and np.all(iqr >= 0)
    items = [(archs[0], "torch-1thread", 0.7, 1.0, 2.0), (archs[1], "torch", 0.72, 3.0, None)]
    out = remeasure_many(net, items, tiny_data(32), tiny_data(8, 1), recal_batches=1, repeats=3, rounds=2,
                         val_data=tiny_data(8, 2))
    assert [m.target for m in out] == ["torch-1thread", "torch-1thread"] and out[1].limit_ms is None
    assert all(0 <= m.measured_acc <= 1 and 0 <= m.val_acc <= 1 and m.measured_ms > 0 for m in out)
    assert out[1].meets_limit and out[0].predicted_ms == 1.0 and out[0].images == 8
