"""hwnas_lab.ofa.recipe_experiments (the experiment registry, a shrinking experiment seeded
from another's weights, the subnets trained alone, running what is missing in order) and
scripts/ofa_recipe.py's results table."""

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from hwnas_lab.ofa import recipe_experiments as rx
from hwnas_lab.ofa.checkpoint import FINAL, LAST, load_checkpoint
from hwnas_lab.ofa.recipe_catalog import LAPTOP, LAPTOP_22EP, SHIPPED_SUPERNET
from hwnas_lab.ofa.recipe_scratch import Scratch
from hwnas_lab.ofa.recipe_runs import SHOWN_RUNS, load_runs
from hwnas_lab.ofa.schedule import get_shrink_config
from hwnas_lab.space import get_space
from helpers import load_script


@pytest.fixture(scope="module")
def recipe():
    return load_script("ofa_recipe")


def test_experiments_are_well_formed():
    space = get_space("cpu")
    assert len(rx.EXPERIMENTS) >= 10
    for name, exp in rx.EXPERIMENTS.items():
        assert exp.config.space == space, name
        if exp.init is not None:  # seeded from the phases of a run it skips
            start = LAPTOP if exp.init == SHIPPED_SUPERNET else rx.EXPERIMENTS[exp.init].config
            assert exp.config.phases[:exp.init_phases] == start.phases[:exp.init_phases], name
            assert 0 < exp.init_phases < len(exp.config.phases), name
    base, full = rx.EXPERIMENTS["L-base"].config, rx.EXPERIMENTS["L-full-res"].config
    assert base.phases[0].resolutions(space) == space.r_choices
    assert full.phases[0].resolutions(space) == (32,)
    sandwich = rx.EXPERIMENTS["S-sandwich"].config.phases
    assert [p.always for p in sandwich] == [(), ()] + [("smallest",)] * 4
    kernel = rx.EXPERIMENTS["S-elastic-8-3-sandwich2-lr0.2-kernel"].config.phases
    assert [p.always for p in kernel] == [(), ("largest",)] + [("largest", "smallest")] * 2
    assert kernel[2:] == rx.EXPERIMENTS["S-elastic-8-3-sandwich2-lr0.2"].config.phases[2:]
    # the laptop preset's shrinking, changed, after its own phase 1 (L-laptop)
    assert rx.EXPERIMENTS["L-laptop"].config.phases == LAPTOP.phases[:1]
    ramp = rx.EXPERIMENTS["L-laptop-ramp"].config
    assert ramp.phases == (replace(LAPTOP.phases[0], r_by_epoch=ramp.phases[0].r_by_epoch),)
    assert [ramp.phases[0].resolutions(space, e)[0] for e in (0, 6, 7, 13, 14, 19)] == [
        24, 24, 28, 28, 32, 32]
    pad2 = rx.EXPERIMENTS["L-laptop-pad2"].config
    assert pad2 == replace(LAPTOP, phases=LAPTOP.phases[:1], crop_padding=2)
    longer = rx.EXPERIMENTS["L-laptop-22ep"].config
    assert longer == replace(LAPTOP, phases=(replace(LAPTOP.phases[0], epochs=22),))
    changed = {n: rx.EXPERIMENTS[n].config.phases for n in
               ("F-laptop-kernel", "F-laptop-kernel-final", "F-laptop-kernel-expand1-final")}
    assert [p.always for p in changed["F-laptop-kernel"]] == [(), ("largest",)] + [
        ("largest", "smallest")] * 2
    assert changed["F-laptop-kernel-final"][:4] == changed["F-laptop-kernel"]
    final = changed["F-laptop-kernel-final"][4]
    assert final.kd == 1.0 and final.n_subnets == 0 and final.always == ("largest", "smallest")
    undistilled = rx.EXPERIMENTS["F-laptop-kernel-final-kd0"]
    assert undistilled.init == "F-laptop-kernel" and undistilled.init_phases == 4
    assert undistilled.config.phases == (*changed["F-laptop-kernel"], replace(final, kd=0.0))
    assert [p.epochs for p in changed["F-laptop-kernel-expand1-final"]] == [20, 1, 1, 1, 1]
    after_longer = rx.EXPERIMENTS["F-laptop-22ep-kernel"]
    assert after_longer.init == "L-laptop-22ep" and after_longer.init_phases == 1
    assert after_longer.config.phases == (longer.phases[0], *changed["F-laptop-kernel"][1:])
    gentler = rx.EXPERIMENTS["F-laptop-22ep-kernel-lr0.01"].config.phases
    assert gentler[1] == replace(after_longer.config.phases[1], lr=0.01)
    kept = after_longer.config.phases
    assert gentler[:1] + gentler[2:] == kept[:1] + kept[2:]
    all_gentler = rx.EXPERIMENTS["F-laptop-22ep-lr0.01"].config.phases
    assert all_gentler == (kept[0], *(replace(p, lr=0.01) for p in kept[1:]))
    kernel_gentlest = rx.EXPERIMENTS["F-laptop-22ep-lr0.01-kernel0.003"].config.phases
    assert kernel_gentlest == (kept[0], replace(kept[1], lr=0.003), *all_gentler[2:])
    # the run that met both targets is the laptop preset (LAPTOP_22EP, since 2026-12-02);
    # LAPTOP keeps the one before it
    assert rx.EXPERIMENTS["F-laptop-22ep-lr0.01-kernel0.003"].config == LAPTOP_22EP != LAPTOP
    assert get_shrink_config("laptop") == LAPTOP_22EP
    nokernel = rx.EXPERIMENTS["F-laptop-22ep-nokernel"]
    assert nokernel.init == "L-laptop-22ep" and nokernel.init_phases == 1
    assert nokernel.config.phases == (kept[0], *kernel_gentlest[2:])
    whole = rx.EXPERIMENTS["F-laptop-23ep-nokernel"]  # trained whole, not from L-laptop-22ep
    assert whole.init is None and whole.per_class is None
    assert whole.config == replace(nokernel.config, phases=(
        replace(kept[0], epochs=23), *nokernel.config.phases[1:]))
    second = rx.EXPERIMENTS["F-laptop-23ep-nokernel-s1"]  # its second sample: only the seed
    assert second.init is None and second.config == replace(whole.config, seed=1) != whole.config
    with pytest.raises(ValueError, match="unknown experiment 'nope'"):
        rx.run("nope", Path("unused"), progress=False)


def test_seeded_checkpoint_starts_after_the_skipped_phases(tmp_path, monkeypatch):
    monkeypatch.setenv("HWNAS_CACHE_DIR", str(tmp_path))
    exp = rx.EXPERIMENTS["S-base"]
    with pytest.raises(FileNotFoundError, match="run `python scripts/ofa_recipe.py run L-full-res`"):
        rx._seed_checkpoint(exp, tmp_path / "out", tmp_path / "recipe")
    from hwnas_lab.ofa import OFASupernet
    from hwnas_lab.ofa.checkpoint import checkpoint, save_checkpoint

    src = tmp_path / "recipe" / exp.init
    src.mkdir(parents=True)
    net = OFASupernet(get_space("cpu"))
    source = rx.EXPERIMENTS[exp.init].config
    save_checkpoint(checkpoint(net, source, {"phase": 1, "epoch": 0, "history": [],
                                             "elapsed_s": 1.0, "done": True}), src / FINAL)
    rx._seed_checkpoint(exp, tmp_path / "out", tmp_path / "recipe")
    seeded = load_checkpoint(tmp_path / "out" / LAST)
    assert seeded["phase"] == 1 and seeded["epoch"] == 0 and not seeded["done"]
    assert seeded["config"] == exp.config.to_dict()
    assert all(torch.equal(seeded["model"][k], v) for k, v in net.state_dict().items())
    # seeded from a run that distilled: its teacher comes along
    exp = rx.EXPERIMENTS["F-laptop-kernel-final"]
    src = tmp_path / "recipe" / exp.init
    src.mkdir(parents=True)
    state = {"phase": 4, "epoch": 0, "history": [], "elapsed_s": 1.0, "done": True}
    teacher = OFASupernet(get_space("cpu")).state_dict()
    save_checkpoint(checkpoint(net, rx.EXPERIMENTS[exp.init].config, state), src / FINAL)
    save_checkpoint(checkpoint(net, rx.EXPERIMENTS[exp.init].config, state, teacher=teacher),
                    src / LAST)
    rx._seed_checkpoint(exp, tmp_path / "distilled", tmp_path / "recipe")
    seeded = load_checkpoint(tmp_path / "distilled" / LAST)
    assert seeded["phase"] == 4 and exp.config.phases[4].name == "final"
    assert all(torch.equal(seeded["teacher"][k], v) for k, v in teacher.items())
    # seeded from the shipped supernet: its weights, after the laptop preset's four phases
    exp = rx.EXPERIMENTS["F-laptop-final-sandwich"]
    rx._seed_checkpoint(exp, tmp_path / "final", tmp_path / "recipe")
    seeded = load_checkpoint(tmp_path / "final" / LAST)
    shipped = load_checkpoint(rx.SHIPPED_DIR / SHIPPED_SUPERNET)
    assert seeded["phase"] == 4 and exp.config.phases[4].name == "final" and not seeded["done"]
    assert all(torch.equal(seeded["model"][k], v) for k, v in shipped["model"].items())


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


def test_subnets_table_compares_supernets_on_the_same_subnets(recipe):
    rows = [{"kind": "largest", "arch": "r32 | k7e6", "A": 0.85, "B": 0.86},
            {"kind": "smallest", "arch": "r24 | k3e3", "A": 0.75, "B": 0.70},
            {"kind": "random-1", "arch": "r28 | k5e4", "A": 0.80, "B": 0.78},
            {"kind": "draw-1", "arch": "r24 | k3e6", "A": 0.79, "B": 0.78}]
    lines = recipe.subnets_table(rows).splitlines()
    assert lines[0] == "| subnet | arch | A % | B % | B - A |"
    assert lines[2] == "| largest | `r32 \\| k7e6` | 85.00 | 86.00 | +1.00 |"
    # the mean leaves out the largest and the smallest: (80 + 79) / 2 against (78 + 78) / 2
    assert lines[-1] == "| mean of the 2 between | | 79.50 | 78.00 | -1.50 |"


def test_compare_subnets_measures_the_same_subnets_in_each_supernet(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from hwnas_lab.ofa import OFASupernet
    from hwnas_lab.ofa.checkpoint import checkpoint, save_checkpoint
    from ofa_search_helpers import tiny_data

    monkeypatch.setattr(rx, "_proxy_data", lambda per_class: SimpleNamespace(
        train=tiny_data(16), test=tiny_data(8, seed=1)))
    with pytest.raises(FileNotFoundError, match="run `python scripts/ofa_recipe.py run S-a`"):
        rx.compare_subnets(["S-a"], root=tmp_path)
    torch.manual_seed(0)
    (tmp_path / "S-a").mkdir()
    save_checkpoint(checkpoint(OFASupernet(get_space("cpu")), rx.EXPERIMENTS["S-base"].config,
                               {"phase": 6, "epoch": 0, "history": [], "elapsed_s": 1.0,
                                "done": True}), tmp_path / "S-a" / FINAL)
    rows = rx.compare_subnets([SHIPPED_SUPERNET, "S-a"], draws=2, root=tmp_path)
    assert [r["kind"] for r in rows] == ["largest", "smallest", "random-1", "random-2",
                                        "draw-1", "draw-2"]
    scratch = rx.scratch_archs()  # the baselines' subnets first, then the draws
    assert [r["arch"] for r in rows[:4]] == [str(a) for a in scratch.values()]
    assert len({r["arch"] for r in rows}) == 6
    assert all(0 <= r[n] <= 1 for r in rows for n in (SHIPPED_SUPERNET, "S-a"))
    with pytest.raises(ValueError, match="draws"):
        rx.compare_subnets([SHIPPED_SUPERNET], draws=-1, root=tmp_path)
    again = rx.compare_subnets([SHIPPED_SUPERNET], draws=2, root=tmp_path)
    assert [r[SHIPPED_SUPERNET] for r in again] == [r[SHIPPED_SUPERNET] for r in rows]


def test_list_counts_the_epochs_each_run_trains(recipe, capsys):
    assert recipe.main(["list"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert set(lines) == {*rx.EXPERIMENTS, *rx.SCRATCH}
    # the epochs after its start, not the config's: 1 + 1 + 2 after L-laptop's 20, then 1
    assert " 4 epochs, all, from L-laptop: " in lines["F-laptop-kernel"]
    assert " 1 epoch, all, from F-laptop-kernel: " in lines["F-laptop-kernel-final"]
    assert " 5 epochs, 1500/class, from L-full-res: " in lines["S-base"]
    assert " 9 epochs, 1500/class: " in lines["X-scratch"]


def test_scratch_baseline_trains_each_arch_once_and_resumes(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from hwnas_lab.ofa import OFASupernet
    from hwnas_lab.ofa.checkpoint import checkpoint, save_checkpoint
    from ofa_search_helpers import tiny_data

    monkeypatch.setenv("HWNAS_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(rx, "SCRATCH", {"X-t": Scratch("two epochs", 2, ("S-a", SHIPPED_SUPERNET),
                                                       rx.EXPERIMENTS["L-full-res"].config)})
    monkeypatch.setattr(rx, "_proxy_data", lambda per_class: SimpleNamespace(
        train=tiny_data(16), test=tiny_data(8, seed=1)))
    with pytest.raises(FileNotFoundError, match="run `python scripts/ofa_recipe.py run S-a`"):
        rx.run("X-t", tmp_path / "r.jsonl", progress=False)
    src = tmp_path / "recipe" / "S-a"
    src.mkdir(parents=True)
    torch.manual_seed(0)
    config = rx.EXPERIMENTS["S-base"].config
    save_checkpoint(checkpoint(OFASupernet(get_space("cpu")), config,
                               {"phase": 6, "epoch": 0, "history": [], "elapsed_s": 1.0,
                                "done": True}), src / FINAL)
    import hwnas_lab.train
    batches, epochs = hwnas_lab.train.batches, []

    def stop_in_epoch_2(*args, **kwargs):  # called once per epoch
        epochs.append(1)
        if len(epochs) == 2:
            raise KeyboardInterrupt
        return batches(*args, **kwargs)

    monkeypatch.setattr(hwnas_lab.train, "batches", stop_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):  # the first network stops in its second epoch
        rx.run("X-t", tmp_path / "r.jsonl", progress=False)
    monkeypatch.setattr(hwnas_lab.train, "batches", batches)
    run_dir = tmp_path / "recipe" / "X-t"
    assert sorted(p.name for p in run_dir.iterdir()) == ["smallest.partial.pt",
                                                         "smallest.sessions.json"]
    record = rx.run("X-t", tmp_path / "r.jsonl", progress=False)
    kinds = [row["kind"] for row in record["archs"]]
    resumed = {row["kind"]: (row["resumed_at"], len(row["sessions"])) for row in record["archs"]}
    assert resumed == {"smallest": ([1], 2), "largest": ([], 1), "random-1": ([], 1),
                       "random-2": ([], 1)}  # the first resumed after its one finished epoch
    assert sorted(p.suffix for p in run_dir.iterdir()) == [".json"] * 4  # no partial files left
    assert kinds == ["largest", "smallest", "random-1", "random-2"]
    assert record["train_config"]["epochs"] == 2 and record["train_config"]["lr"] == 0.1
    assert record["device"] == "cpu"
    for row in record["archs"]:
        assert len(row["train_loss"]) == 2 and 0 <= row["test_acc_alone"] <= 1
        assert set(row["test_acc_supernet"]) == {"S-a", SHIPPED_SUPERNET}
        assert row["machine"] and row["date"] and row["load_before"]  # each network's own
        assert (tmp_path / "recipe" / "X-t" / f"{row['kind']}.json").exists()
    assert record["archs"][0]["mflops"] > record["archs"][1]["mflops"]

    def no_training(*args, **kwargs):
        raise AssertionError("a finished architecture was trained again")

    monkeypatch.setattr(hwnas_lab.train, "train", no_training)
    again = rx.run("X-t", tmp_path / "r.jsonl", progress=False)  # every arch on disk
    assert again["archs"] == json.loads(json.dumps(record["archs"]))
    assert len((tmp_path / "r.jsonl").read_text().splitlines()) == 2
    (tmp_path / "recipe" / "X-t" / "random-1.json").unlink()  # lost: only it is retrained
    with pytest.raises(AssertionError, match="trained again"):
        rx.run("X-t", tmp_path / "r.jsonl", progress=False)


def test_remeasure_measures_the_supernets_now_and_keeps_the_networks_alone(tmp_path,
                                                                            monkeypatch):
    from types import SimpleNamespace

    from hwnas_lab.ofa import OFASupernet
    from hwnas_lab.ofa.checkpoint import checkpoint, save_checkpoint
    from ofa_search_helpers import tiny_data

    monkeypatch.setenv("HWNAS_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(rx, "SCRATCH", {"X-t": Scratch("two epochs", 2, ("S-a",),
                                                       rx.EXPERIMENTS["L-full-res"].config)})
    monkeypatch.setattr(rx, "_proxy_data", lambda per_class: SimpleNamespace(
        train=tiny_data(16), test=tiny_data(8, seed=1)))
    results = tmp_path / "r.jsonl"
    with pytest.raises(ValueError, match="not a baseline of networks trained alone"):
        rx.remeasure_supernets("S-base", results)
    with pytest.raises(ValueError, match="first with `python scripts/ofa_recipe.py run X-t`"):
        rx.remeasure_supernets("X-t", results)
    torch.manual_seed(0)
    (tmp_path / "recipe" / "S-a").mkdir(parents=True)
    save_checkpoint(checkpoint(OFASupernet(get_space("cpu")), rx.EXPERIMENTS["S-base"].config,
                               {"phase": 6, "epoch": 0, "history": [], "elapsed_s": 1.0,
                                "done": True}), tmp_path / "recipe" / "S-a" / FINAL)
    archs = rx.scratch_archs()
    old = {"name": "X-t", "description": "then", "supernets": ["S-a"], "date": "2026-12-02",
           "archs": [{"kind": k, "arch_str": str(a), "test_acc_alone": 0.9,
                      "test_acc_supernet": {"S-a": 2.0}} for k, a in archs.items()]}
    results.write_text(json.dumps(old) + "\n")
    new = rx.remeasure_supernets("X-t", results)
    now = {r["kind"]: r["S-a"] for r in rx.compare_subnets(["S-a"], draws=0,
                                                           root=tmp_path / "recipe")}
    assert [r["test_acc_supernet"]["S-a"] for r in new["archs"]] == [now[k] for k in archs]
    assert all(r["test_acc_supernet_before"] == {"S-a": 2.0} and r["test_acc_alone"] == 0.9
               for r in new["archs"])  # the networks alone are not retrained
    assert (new["date"], new["description"]) == ("2026-12-02", "two epochs")
    assert new["supernets_measured"]["date"] and new["supernets_measured"]["machine"]
    assert len(results.read_text().splitlines()) == 2  # the earlier record stays in the file
    assert load_runs(results)["X-t"] == json.loads(json.dumps(new))
    other = dict(old, archs=[dict(old["archs"][0], arch_str="r32 | k3e3")])
    results.write_text(json.dumps(other) + "\n")
    with pytest.raises(ValueError, match="another space or seed"):
        rx.remeasure_supernets("X-t", results)


# X-scratch-full: the preset of 2026-12-01 (20 + 4 epochs, warm-up 1 of 20); X-scratch-full-26:
# that of 2026-12-02, the preset now (22 + 4, warm-up 1 of 22)
@pytest.mark.parametrize("name, preset, epochs, warmup", [
    ("X-scratch-full", LAPTOP, 24, 1.2), ("X-scratch-full-26", LAPTOP_22EP, 26, 26 / 22)])
def test_full_scratch_trains_the_cheapest_first_with_the_laptop_recipe_on_all_images(
        name, preset, epochs, warmup, tmp_path, monkeypatch):
    from types import SimpleNamespace

    import hwnas_lab.train
    from hwnas_lab.blocks import build_net
    from ofa_search_helpers import tiny_data

    seen = {}

    def data(per_class):
        seen["per_class"] = per_class
        return SimpleNamespace(train=tiny_data(16), test=tiny_data(8, seed=1))

    def first_training(net, train_data, val_data, config, **kwargs):
        seen["config"], seen["params"] = config, sum(p.numel() for p in net.parameters())
        raise KeyboardInterrupt  # stop before any network is trained

    monkeypatch.setattr(rx, "_proxy_data", data)
    monkeypatch.setattr(hwnas_lab.train, "train", first_training)
    with pytest.raises(KeyboardInterrupt):
        rx.run(name, tmp_path / "r.jsonl", progress=False, root=tmp_path)
    cfg = seen["config"]
    assert seen["per_class"] is None  # all 45,000 images
    assert rx.SCRATCH[name].recipe == preset
    assert cfg.epochs == sum(p.epochs for p in preset.phases) == epochs  # the preset's total
    assert (cfg.lr, cfg.batch_size, cfg.crop_padding) == (0.2, 128, 0)
    assert cfg.warmup_epochs == pytest.approx(warmup)  # phase 1's warm-up, as a share
    space = get_space("cpu")  # the smallest network first (random-2 shares its resolution)
    smallest = build_net(space, space.smallest())
    assert cfg.resolution == space.smallest().r
    assert seen["params"] == sum(p.numel() for p in smallest.parameters())
    assert not (tmp_path / "r.jsonl").exists()  # no result; only the session that started it
    assert [p.name for p in tmp_path.rglob("*.json")] == ["smallest.sessions.json"]


def test_dependencies_come_before_the_runs_that_start_from_them():
    assert rx.with_dependencies(["X-scratch"]) == ["L-full-res", "S-base", "S-sandwich",
                                                   "X-scratch"]
    assert rx.with_dependencies(["X-scratch-full"]) == ["X-scratch-full"]  # the shipped supernet
    assert rx.with_dependencies(["F-laptop-final-sandwich"]) == ["F-laptop-final-sandwich"]
    order = rx.with_dependencies(SHOWN_RUNS)
    assert set(SHOWN_RUNS) <= set(order) and len(order) == len(set(order))
    for name in order:  # each after what it starts from
        needs = (rx.SCRATCH[name].supernets if name in rx.SCRATCH
                 else [rx.EXPERIMENTS[name].init] if rx.EXPERIMENTS[name].init else [])
        assert all(order.index(n) < order.index(name) for n in needs), name
    with pytest.raises(ValueError, match="unknown experiment 'S-nope'"):
        rx.with_dependencies(["S-base", "S-nope"])


def test_run_missing_runs_only_what_has_no_record_in_order(tmp_path, monkeypatch):
    calls = []

    def fake_run(name, results, progress, device, root):
        calls.append((name, device, root))
        rx._append(results, {"name": name, "device": device})
        return {"name": name}

    monkeypatch.setattr(rx, "run", fake_run)
    results = tmp_path / "runs.jsonl"
    rx._append(results, {"name": "L-full-res", "device": "cpu"})  # finished before
    runs = rx.run_missing(["X-scratch"], results, device="cuda", root=tmp_path)
    assert calls == [("S-base", "cuda", tmp_path), ("S-sandwich", "cuda", tmp_path),
                     ("X-scratch", "cuda", tmp_path)]
    assert set(runs) == {"L-full-res", "S-base", "S-sandwich", "X-scratch"}
    assert runs == load_runs(results)
    calls.clear()
    rx.run_missing(["X-scratch", "S-base"], results, root=tmp_path)  # all recorded: nothing
    assert calls == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error of a machine without GPU")
def test_asking_for_a_gpu_without_one_is_a_clear_error(tmp_path):
    for name in ("S-base", "X-scratch"):
        with pytest.raises(ValueError, match="asks for a GPU.*use device 'cpu'"):
            rx.run(name, tmp_path / "r.jsonl", progress=False, device="cuda", root=tmp_path)
    assert not (tmp_path / "r.jsonl").exists()


def test_run_missing_trains_a_shrinking_run_after_its_largest_phase(tmp_path, monkeypatch):
    from dataclasses import replace

    from hwnas_lab.data import CIFARSplits
    from hwnas_lab.ofa.schedule import Phase, ShrinkConfig
    from ofa_search_helpers import tiny_data

    largest = Phase("largest", 1, 0.05, (7,), (6,), (4,), kd=0.0, r=(32,))
    expand = Phase("expand", 1, 0.05, None, (4, 6), (3, 4), n_subnets=1)
    config = ShrinkConfig(preset="smoke", phases=(largest,), batch_size=16, recal_batches=1,
                          threads=1)
    monkeypatch.setattr(rx, "EXPERIMENTS", {
        "T-L": rx.Experiment("largest phase", config),
        "T-S": rx.Experiment("shrinking", replace(config, phases=(largest, expand)),
                             init="T-L", init_phases=1)})
    monkeypatch.setattr(rx, "_proxy_data", lambda per_class: CIFARSplits(
        tiny_data(32, 0), tiny_data(16, 1), tiny_data(16, 2)))
    results = tmp_path / "r.jsonl"
    runs = rx.run_missing(["T-S"], results, progress=False, device="cpu", root=tmp_path)
    assert list(runs) == ["T-L", "T-S"]
    assert [len(r["history"]) for r in runs.values()] == [1, 1]  # T-S trains its own phase only
    assert runs["T-S"]["init"] == "T-L" and runs["T-S"]["device"] == "cpu"
    assert all(0 <= r[k] <= 1 for r in runs.values()
               for k in ("test_acc_largest", "test_acc_smallest"))
    assert (tmp_path / "T-S" / FINAL).exists()

    def no_training(*args, **kwargs):
        raise AssertionError("a recorded run was trained again")

    monkeypatch.setattr(rx, "train_supernet", no_training)
    assert rx.run_missing(["T-S"], results, device="cpu", root=tmp_path) == runs


def test_whole_trains_only_runs_from_random_weights_on_all_images(tmp_path, monkeypatch):
    longer = rx.EXPERIMENTS["F-laptop-24ep"]  # the laptop preset of 2026-12-02, 24 + 1 + 1 + 2
    assert [p.epochs for p in longer.config.phases] == [24, 1, 1, 2]
    assert longer.config == replace(LAPTOP_22EP, phases=(
        replace(LAPTOP_22EP.phases[0], epochs=24), *LAPTOP_22EP.phases[1:]))
    calls = []
    monkeypatch.setattr(rx, "train_supernet", lambda config, out, **kw: calls.append(
        (config, out, kw)) or {"done": True})
    assert rx.train_whole("F-laptop-24ep", tmp_path, resume=True, progress=False) == {"done": True}
    assert calls == [(longer.config, tmp_path, {"resume": True, "progress": False,
                                                "device": "cpu"})]
    with pytest.raises(ValueError, match="starts from L-laptop-22ep's weights; .*run "
                                         "F-laptop-22ep-nokernel`"):
        rx.train_whole("F-laptop-22ep-nokernel", tmp_path)
    with pytest.raises(ValueError, match="trains on 1500 images per class"):
        rx.train_whole("L-base", tmp_path)
    with pytest.raises(ValueError, match="unknown experiment 'nope'"):
        rx.train_whole("nope", tmp_path)
    assert len(calls) == 1  # nothing trained for a refused one


def test_command_line_refuses_bad_names_in_one_line(recipe, tmp_path, capsys):
    assert recipe.main(["whole", "L-base", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: L-base trains on 1500 images per class") and "Traceback" not in err
    assert recipe.main(["run", "nope", "--results", str(tmp_path / "runs.jsonl")]) == 2
    assert "unknown experiment 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "runs.jsonl").exists()
