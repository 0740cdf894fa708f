"""scripts/ofa_recipe.py: the experiment registry, a shrinking experiment seeded from another's
weights, and the results table."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from hwnas_lab.ofa.checkpoint import FINAL, LAST, load_checkpoint
from hwnas_lab.space import get_space

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def recipe():
    spec = importlib.util.spec_from_file_location("ofa_recipe", ROOT / "scripts" / "ofa_recipe.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["ofa_recipe"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_experiments_are_well_formed(recipe):
    space = get_space("cpu")
    assert len(recipe.EXPERIMENTS) >= 10
    for name, exp in recipe.EXPERIMENTS.items():
        assert exp.config.space == space, name
        if exp.init is not None:  # seeded from a largest-phase experiment it skips
            assert exp.init in recipe.EXPERIMENTS, name
            assert exp.config.phases[0] == recipe.EXPERIMENTS[exp.init].config.phases[0], name
            assert 0 < exp.init_phases < len(exp.config.phases), name
    base, full = recipe.EXPERIMENTS["L-base"].config, recipe.EXPERIMENTS["L-full-res"].config
    assert base.phases[0].resolutions(space) == space.r_choices
    assert full.phases[0].resolutions(space) == (32,)
    sandwich = recipe.EXPERIMENTS["S-sandwich"].config.phases
    assert [p.always for p in sandwich] == [(), ()] + [("smallest",)] * 4
    with pytest.raises(ValueError, match="unknown experiment 'nope'"):
        recipe.run("nope", Path("unused"), progress=False)


def test_seeded_checkpoint_starts_after_the_skipped_phases(recipe, tmp_path, monkeypatch):
    monkeypatch.setenv("HWNAS_CACHE_DIR", str(tmp_path))
    exp = recipe.EXPERIMENTS["S-base"]
    with pytest.raises(FileNotFoundError, match="run `python scripts/ofa_recipe.py run L-full-res`"):
        recipe._seed_checkpoint(exp, tmp_path / "out")
    from hwnas_lab.ofa import OFASupernet
    from hwnas_lab.ofa.checkpoint import checkpoint, save_checkpoint

    src = tmp_path / "recipe" / exp.init
    src.mkdir(parents=True)
    net = OFASupernet(get_space("cpu"))
    source = recipe.EXPERIMENTS[exp.init].config
    save_checkpoint(checkpoint(net, source, {"phase": 1, "epoch": 0, "history": [],
                                             "elapsed_s": 1.0, "done": True}), src / FINAL)
    recipe._seed_checkpoint(exp, tmp_path / "out")
    seeded = load_checkpoint(tmp_path / "out" / LAST)
    assert seeded["phase"] == 1 and seeded["epoch"] == 0 and not seeded["done"]
    assert seeded["config"] == exp.config.to_dict()
    assert all(torch.equal(seeded["model"][k], v) for k, v in net.state_dict().items())


def test_table_reads_the_latest_result_of_each_run(recipe, tmp_path):
    base = {"description": "d", "val_acc_smallest": 0.5, "test_acc_largest": 0.8,
            "test_acc_smallest": 0.6, "wall_s": 120.0, "load_before": [0.5, 0, 0],
            "load_after": [1.5, 0, 0]}
    lines = [dict(base, name="A", val_acc_largest=0.7), dict(base, name="A", val_acc_largest=0.75),
             dict(base, name="B", val_acc_largest=0.9, val_acc_largest_raw=0.85)]
    results = tmp_path / "r.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in lines))
    rows = recipe.table(["A", "B"], results).splitlines()
    assert len(rows) == 4 and rows[2].startswith("| A | d | 75.0 | 50.0 | 80.0 | 60.0 |  | 2.0 |")
    assert "| 90.0 |" in rows[3] and "| 85.0 |" in rows[3] and "0.5-1.5" in rows[3]
    with pytest.raises(ValueError, match=r"no results yet for \['C'\]"):
        recipe.table(["C"], results)


def test_scratch_baseline_trains_each_arch_once_and_resumes(recipe, tmp_path, monkeypatch):
    from types import SimpleNamespace

    from hwnas_lab.ofa import OFASupernet
    from hwnas_lab.ofa.checkpoint import checkpoint, save_checkpoint
    from ofa_search_helpers import tiny_data

    monkeypatch.setenv("HWNAS_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(recipe, "SCRATCH", {"X-t": ("two epochs", 2, ("S-a",))})
    monkeypatch.setattr(recipe, "_proxy_data", lambda per_class: SimpleNamespace(
        train=tiny_data(16), test=tiny_data(8, seed=1)))
    with pytest.raises(FileNotFoundError, match="run `python scripts/ofa_recipe.py run S-a`"):
        recipe.run("X-t", tmp_path / "r.jsonl", progress=False)
    src = tmp_path / "recipe" / "S-a"
    src.mkdir(parents=True)
    torch.manual_seed(0)
    config = recipe.EXPERIMENTS["S-base"].config
    save_checkpoint(checkpoint(OFASupernet(get_space("cpu")), config,
                               {"phase": 6, "epoch": 0, "history": [], "elapsed_s": 1.0,
                                "done": True}), src / FINAL)
    record = recipe.run("X-t", tmp_path / "r.jsonl", progress=False)
    kinds = [row["kind"] for row in record["archs"]]
    assert kinds == ["largest", "smallest", "random-1", "random-2"]
    assert record["train_config"]["epochs"] == 2 and record["train_config"]["lr"] == 0.1
    for row in record["archs"]:
        assert len(row["train_loss"]) == 2 and 0 <= row["test_acc_alone"] <= 1
        assert set(row["test_acc_supernet"]) == {"S-a"}
        assert (tmp_path / "recipe" / "X-t" / f"{row['kind']}.json").exists()
    assert record["archs"][0]["mflops"] > record["archs"][1]["mflops"]
    import hwnas_lab.train

    def no_training(*args, **kwargs):
        raise AssertionError("a finished architecture was trained again")

    monkeypatch.setattr(hwnas_lab.train, "train", no_training)
    again = recipe.run("X-t", tmp_path / "r.jsonl", progress=False)  # every arch on disk
    assert again["archs"] == json.loads(json.dumps(record["archs"]))
    assert len((tmp_path / "r.jsonl").read_text().splitlines()) == 2
