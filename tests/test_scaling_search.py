"""Searching coefficients by training: cached runs, the grid search, the equal-FLOPs
comparison, and the latency of scaled networks (table where it has the operator)."""

import dataclasses
import json
import math

import pytest
import torch

from hwnas_lab import scaling as S
from hwnas_lab import scaling_search as G
from hwnas_lab.data import TensorData
from hwnas_lab.latency.lut import LatencyTable
from hwnas_lab.space import SPACES
from hwnas_lab.train import TrainConfig

CPU = SPACES["cpu"]
BASE = CPU.uniform(3, 3, 2, 24)


# ----- training runs, cached ----------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_data():
    g = torch.Generator().manual_seed(0)
    X = torch.randint(0, 256, (40, 3, 32, 32), dtype=torch.uint8, generator=g)
    y = torch.arange(40) % 10
    return TensorData(X, y), TensorData(X[:20].clone(), y[:20].clone())


TINY = TrainConfig(epochs=1, batch_size=20, lr=0.05)


def test_train_scaled_caches_each_run_atomically(tiny_data, tmp_path, one_thread):
    train, val = tiny_data
    net = S.scale(CPU, BASE, S.EFFICIENTNET, 0.0)
    first = G.train_scaled(net, train, val, TINY, cache=tmp_path)
    assert not first["cached"] and 0.0 <= first["val_acc"] <= 1.0
    files = list(tmp_path.glob("run-*.json"))
    assert len(files) == 1 and not list(tmp_path.glob(".*.tmp"))
    again = G.train_scaled(net, train, val, TINY, cache=tmp_path)
    assert again["cached"] and again["val_acc"] == first["val_acc"]
    other_seed = G.train_scaled(net, train, val, dataclasses.replace(TINY, seed=1), cache=tmp_path)
    assert not other_seed["cached"] and len(list(tmp_path.glob("run-*.json"))) == 2
    files[0].write_text("{truncated")  # a damaged entry is trained again and rewritten
    redone = G.train_scaled(net, train, val, TINY, cache=tmp_path)
    assert not redone["cached"] and json.loads(files[0].read_text())["val_acc"] == redone["val_acc"]
    assert redone["val_acc"] == first["val_acc"]  # same seed: same run


def test_grid_candidates_respect_the_tolerance():
    grid = [1.0, 1.1, 1.2, 1.3, 1.4]
    cands = G.grid_candidates(grid, grid, grid, tolerance=0.05)
    assert cands and all(abs(c.product / 2 - 1) <= 0.05 for c in cands)
    assert S.Coefficients(1.0, 1.4, 1.0) in cands and S.Coefficients(1.2, 1.1, 1.2) in cands
    with pytest.raises(ValueError, match="widen the grid"):
        G.grid_candidates([1.0], [1.0], [1.0])


def test_grid_search_trains_each_distinct_network_once(tiny_data, tmp_path, one_thread):
    train, val = tiny_data
    same_a, same_b = S.Coefficients(1.1, 1.0, 1.3), S.Coefficients(1.4, 1.0, 1.3)  # d 3, r 32 both
    assert S.scale(CPU, BASE, same_a).key == S.scale(CPU, BASE, same_b).key
    other = S.Coefficients(1.0, 1.4, 1.0)
    result = G.grid_search(CPU, BASE, [same_a, same_b, other], train, val, TINY, seeds=(0, 1),
                           top_k=1, cache=tmp_path, progress=False)
    assert result.candidates[-1] == S.EFFICIENTNET  # the reference joins the grid
    assert len(result.trials) == 3  # three distinct networks for four candidates
    assert result.net_of[0] == result.net_of[1]
    ref = result.trial_of(S.EFFICIENTNET)
    multi = [t for t in result.trials.values() if len(t.accs) == 2]  # the best other one + ref
    assert len(multi) == 2 and ref in multi
    assert sum(len(t.accs) for t in result.trials.values()) == 5
    assert result.coefficients_of(result.trial_of(same_a)) == [same_a, same_b]
    assert len(list(tmp_path.glob("run-*.json"))) == sum(len(t.accs) for t in result.trials.values())


def test_compare_methods_scales_each_method_to_each_budget(tiny_data, tmp_path, one_thread):
    train, val = tiny_data
    methods = {k: S.METHODS[k] for k in ("depth", "resolution")}
    out = G.compare_methods(CPU, BASE, train, val, TINY, budgets=(2.0,), methods=methods,
                            cache=tmp_path, progress=False)
    assert list(out) == ["depth", "resolution"]
    for name, trials in out.items():
        assert [t.label for t in trials] == ["baseline", f"{name} x2"]
        assert trials[0].net.flops_ratio == pytest.approx(1.0)
        assert 1.5 < trials[1].net.flops_ratio < 2.7
        assert set(trials[1].accs) == {0} and math.isnan(trials[1].std)
    assert out["depth"][0].accs == out["resolution"][0].accs  # one baseline run, shared
    assert len(list(tmp_path.glob("run-*.json"))) == 3


# ----- latency ------------------------------------------------------------------------------
def test_operator_latency_uses_the_table_and_measures_the_rest(one_thread):
    entries = {s.signature: 0.5 for s in CPU.layer_specs(BASE)}
    table = LatencyTable(CPU, "torch-1thread", entries)
    measured = {}
    ms, fresh = G.operator_latency_ms(CPU, BASE, table, measured, repeats=1)
    assert ms == pytest.approx(0.5 * len(entries)) and fresh == 0 and not measured
    net = S.scale(CPU, BASE, S.METHODS["width"], 1.0)  # every operator is new
    ms, fresh = G.operator_latency_ms(net.space, net.arch, table, measured, repeats=1)
    specs = net.space.layer_specs(net.arch)
    assert fresh == len({s.signature for s in specs}) == len(measured)
    assert ms == pytest.approx(sum(measured[s.signature] for s in specs))
    assert G.operator_latency_ms(net.space, net.arch, table, measured, repeats=1) == (ms, 0)


def test_cache_true_uses_the_cache_folder_and_false_writes_nothing(tiny_data, tmp_path, monkeypatch,
                                                                   one_thread):
    train, val = tiny_data
    monkeypatch.setenv("HWNAS_CACHE_DIR", str(tmp_path))
    net = S.scale(CPU, BASE, S.EFFICIENTNET, 0.0)
    assert not G.train_scaled(net, train, val, TINY, cache=False)["cached"]
    assert not list(tmp_path.rglob("run-*.json"))
    G.train_scaled(net, train, val, TINY)  # cache=True: cache_dir("scaling")
    assert len(list((tmp_path / "scaling").glob("run-*.json"))) == 1
    assert G.train_scaled(net, train, val, TINY)["cached"]


def test_grid_search_gives_every_seed_to_the_top_k_besides_the_reference(monkeypatch, tiny_data):
    train, val = tiny_data
    ref_key = S.scale(CPU, BASE, S.EFFICIENTNET).key

    def fake_run(net, train_data, val_data, config, cache=True, progress=False, device="cpu",
                 fingerprints=None):  # the reference wins seed 0; the rest by FLOPs
        acc = 0.9 if net.key == ref_key else net.flops_ratio / 10
        return {"val_acc": acc + config.seed / 100, "train_s": 0.0, "cached": False}

    monkeypatch.setattr(G, "train_scaled", fake_run)
    grid = S.Coefficients
    cands = [grid(1.0, 1.4, 1.0), grid(1.0, 1.2, 1.2), grid(2.0, 1.0, 1.0), grid(1.0, 1.0, 1.4)]
    result = G.grid_search(CPU, BASE, cands, train, val, TINY, seeds=(0, 1, 2), top_k=2, progress=False)
    ranked_others = sorted((t for t in result.trials.values() if t.net.key != ref_key),
                           key=lambda t: -t.accs[0])
    for t in result.trials.values():
        expected = 3 if t.net.key == ref_key or t in ranked_others[:2] else 1
        assert len(t.accs) == expected, (t.label, t.accs)
