"""hwnas_lab.ofa.recipe_runs: the shipped recipe records and the ablations read from them."""

import json

import pytest

from hwnas_lab.ofa.checkpoint import SHIPPED_DIR, load_checkpoint
from hwnas_lab.ofa.recipe_catalog import LAPTOP, SHIPPED_SUPERNET
from hwnas_lab.ofa.recipe_runs import (ABLATION_REFERENCE, ABLATIONS, FULL_BUDGET_RUNS,
                                       RECIPE_LADDER, RECIPE_RUNS, SCRATCH_BASELINE, SCRATCH_FULL,
                                       ablation_runs, load_runs, require, seed_gap)
from hwnas_lab.ofa.recipe_scratch import SCRATCH


def test_the_shipped_records_hold_every_ablation():
    runs = load_runs()
    rows = ablation_runs(runs)
    assert [a.name for a, _ in rows] == [ABLATION_REFERENCE.name, *(a.name for a in ABLATIONS)]
    for ablation, row in rows:
        assert row["init"] == "L-full-res", ablation.name  # the same start for every row
        assert row["n_train"] == rows[0][1]["n_train"], ablation.name  # and the same images
        for key in ("test_acc_largest", "test_acc_smallest"):
            assert 0.1 < row[key] < 1.0, (ablation.name, key)  # better than chance
        assert row["wall_s"] > 0 and row["history"], ablation.name


def test_the_shipped_records_hold_the_recipe_ladder():
    runs = load_runs()
    rows = ablation_runs(runs, RECIPE_LADDER)
    assert [a.name for a, _ in rows] == [ABLATION_REFERENCE.name, *(a.name for a in RECIPE_LADDER)]
    for ablation, row in rows:
        assert row["n_train"] == rows[0][1]["n_train"], ablation.name  # the same images
        assert 0.1 < row["test_acc_smallest"] < row["test_acc_largest"] < 1.0, ablation.name
    for name in FULL_BUDGET_RUNS:  # recipes run on the whole training split
        full = runs[name]
        assert full["n_train"] == 45_000 and full["per_class"] is None, name
        assert [h["phase"] for h in full["history"]][-3:] == ["kernel", "depth-2", "expand-2"]
    largest, smallest = seed_gap(runs)
    assert 0 < largest < 5 and 0 < smallest < 5  # S-base against S-base-s1, points
    assert seed_gap({"S-base": {}}) is None
    elastic = rows[-1][1]["config"]["phases"][0]
    assert elastic["r"] is None and rows[-2][1]["config"]["phases"][0]["r"] == [32]


def test_the_shipped_records_hold_the_from_scratch_baselines():
    short, before, full = require(load_runs(), [SCRATCH_BASELINE, "X-scratch-full",
                                                SCRATCH_FULL])
    shipped = load_checkpoint(SHIPPED_DIR / SHIPPED_SUPERNET)
    # each full baseline trains for its supernet's total epochs: the shipped one's 26, the
    # 24 of the preset before it
    assert full["epochs"] == len(shipped["history"]) == 26
    assert before["epochs"] == sum(p.epochs for p in LAPTOP.phases) == 24
    assert [r["n_train"] for r in (short, before, full)] == [15_000, 45_000, 45_000]
    for record in (short, before, full):
        assert record["supernets"] == list(SCRATCH[record["name"]].supernets)
        assert [r["kind"] for r in record["archs"]] == ["largest", "smallest", "random-1",
                                                        "random-2"]
        for row in record["archs"]:
            assert len(row["train_loss"]) == record["epochs"], row["kind"]  # every epoch trained
            accs = [row["test_acc_alone"], *row["test_acc_supernet"].values()]
            assert all(0.1 < a < 1.0 for a in accs), row["kind"]
    # a network trained in two sessions: every epoch timed once, summed
    for record, kind, resumed_at in ((before, "largest", [18]), (full, "smallest", [12])):
        resumed = {r["kind"]: r for r in record["archs"]}[kind]
        assert len(resumed["epoch_s"]) == record["epochs"] and len(resumed["sessions"]) == 2
        assert resumed["resumed_at"] == resumed_at
        assert resumed["train_s"] == pytest.approx(sum(resumed["epoch_s"]))
    # SCRATCH_FULL measured the subnets of laptop.pt as shipped (their test accuracy in its
    # log); X-scratch-full those of the one shipped on 2026-12-01 (84.0 / 76.6 %)
    now, then = ({r["kind"]: r["test_acc_supernet"][SHIPPED_SUPERNET] for r in record["archs"]}
                 for record in (full, before))
    for kind, then_logged in (("largest", 0.8400), ("smallest", 0.7663)):
        assert now[kind] == pytest.approx(shipped[f"test_acc_{kind}"], abs=0.0005)
        assert then[kind] == pytest.approx(then_logged, abs=0.0005)
        assert then[kind] != pytest.approx(shipped[f"test_acc_{kind}"], abs=0.005)


def test_a_rerun_replaces_the_earlier_record(tmp_path):
    path = tmp_path / "runs.jsonl"
    path.write_text(json.dumps({"name": "a", "v": 1}) + "\n\n" + json.dumps({"name": "a", "v": 2})
                    + "\n" + json.dumps({"name": "b", "v": 3}) + "\n")
    assert load_runs(path) == {"a": {"name": "a", "v": 2}, "b": {"name": "b", "v": 3}}


@pytest.mark.parametrize("line", ["{not json", "[1, 2]", '{"no_name": 1}'])
def test_a_bad_line_is_named(tmp_path, line):
    path = tmp_path / "runs.jsonl"
    path.write_text(json.dumps({"name": "a"}) + "\n" + line + "\n")
    with pytest.raises(ValueError, match="runs.jsonl, line 2: not a recipe run record"):
        load_runs(path)


def test_missing_records_name_the_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="python scripts/ofa_recipe.py run NAME"):
        load_runs(tmp_path / "nope.jsonl")
    runs = {ABLATION_REFERENCE.name: {}, "S-kd0": {}}
    with pytest.raises(ValueError, match="run S-no-PS S-no-reorder S-sandwich`"):
        ablation_runs(runs)
    assert RECIPE_RUNS.name == "recipe_runs.jsonl"
