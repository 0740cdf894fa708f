"""Latency tables: build, resume, save/load, bad files, vectorised prediction."""

import json

import numpy as np
import pytest

import hwnas_lab.latency.lut as lut_mod
from hwnas_lab.arch import Arch, ArchBatch
from hwnas_lab.latency.lut import (LatencyTable, LatencyTableWarning, MissingEntryError, get_lut,
                                   lut_path, specs_of)
from hwnas_lab.latency.measure import LatencyResult
from hwnas_lab.space import SPACES
from helpers import fake_table

CPU, GPU = SPACES["cpu"], SPACES["gpu"]


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HWNAS_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


class FakeMeasure:
    """Stands in for measure_layer: deterministic values, counts calls, can stop the build."""

    def __init__(self, stop_after=None, on_call=None):
        self.calls, self.stop_after, self.on_call = 0, stop_after, on_call

    def __call__(self, spec, target, repeats, warmup, batch):
        if self.on_call:
            self.on_call(self.calls)
        if self.stop_after is not None and self.calls >= self.stop_after:
            raise KeyboardInterrupt
        self.calls += 1
        ms = spec.macs / 1e7 + 0.01
        return LatencyResult(ms, ms / 10, (ms,), 1, "torch-1thread")


def test_build_measures_real_entries_with_metadata(tmp_path):
    arch = CPU.sample(3)
    path = tmp_path / "t.json"
    table = get_lut(CPU, "torch", repeats=2, warmup=1, specs=specs_of(CPU, [arch]), path=path,
                      progress=False)
    assert set(table.entries) == {s.signature for s in CPU.layer_specs(arch)}
    assert all(v > 0 for v in table.entries.values())
    data = json.loads(path.read_text())
    assert data["target"] == "torch-1thread" and data["space"] == CPU.to_dict()
    meta = data["meta"]
    assert meta["protocol"]["repeats"] == 2 and meta["protocol"]["threads"] == 1
    assert {"cpu", "torch", "onnxruntime", "date"} <= set(meta["machine"])
    assert table.predict(arch) == pytest.approx(sum(table.entries.values()))


def test_lut_path_encodes_space_target_threads():
    p = lut_path(CPU, "onnxruntime", threads=2)
    assert p.name.startswith("lut-cpu-") and p.name.endswith("-onnxruntime-2threads.json")
    assert lut_path(GPU, "torch") != lut_path(CPU, "torch")


def test_interrupted_build_keeps_finished_entries_and_resumes(monkeypatch, tmp_path):
    path = tmp_path / "t.json"
    specs = CPU.all_layer_specs()[:7]
    monkeypatch.setattr(lut_mod, "measure_layer", FakeMeasure(stop_after=5))
    with pytest.raises(KeyboardInterrupt):
        get_lut(CPU, "torch", specs=specs, path=path, save_every=100, progress=False)
    assert len(LatencyTable.load(path).entries) == 5  # saved on the way out
    resumed = FakeMeasure()
    monkeypatch.setattr(lut_mod, "measure_layer", resumed)
    table = get_lut(CPU, "torch", specs=specs, path=path, progress=False)
    assert resumed.calls == 2 and len(table.entries) == 7


def test_build_saves_periodically(monkeypatch, tmp_path):
    path = tmp_path / "t.json"
    seen = []

    def on_call(i):
        seen.append(len(LatencyTable.load(path).entries) if path.exists() else 0)

    monkeypatch.setattr(lut_mod, "measure_layer", FakeMeasure(on_call=on_call))
    get_lut(CPU, "torch", specs=CPU.all_layer_specs()[:7], path=path, save_every=3, progress=False)
    assert seen == [0, 0, 0, 3, 3, 3, 6]


def test_predict_batch_equals_loop_and_breakdown():
    table = fake_table()
    archs = [CPU.sample(i) for i in range(200)] + [CPU.smallest(), CPU.largest()]
    batch = table.predict_batch(archs)
    assert np.allclose(batch, [table.predict(a) for a in archs], rtol=1e-12)
    assert np.allclose(table.predict_batch(ArchBatch.from_archs(CPU, archs)), batch)
    parts = table.breakdown(archs[0])
    assert list(parts)[0] == "stem" and list(parts)[-1] == "head"
    assert sum(parts.values()) == pytest.approx(batch[0])


def test_inactive_slots_do_not_count():
    table = fake_table()
    a = CPU.uniform(3, 3, 2, 32)
    ks = list(a.ks)
    ks[3] = 7  # slot 3 of stage 1 is beyond depth 2
    b = Arch(ks, a.e, a.d, a.r)
    assert table.predict_batch([a, b])[0] == table.predict_batch([a, b])[1]


def test_missing_entry_names_operator_and_command():
    table = LatencyTable(CPU, "torch-1thread", {})
    for predict in (table.predict, lambda a: table.predict_batch([a])):
        with pytest.raises(MissingEntryError, match=r"stem-cin3-cout16-k3-s1-in32.*lut build"):
            predict(CPU.largest())


def test_bad_archs_in_a_batch():
    with pytest.raises(ValueError, match=r"Arch.r = 30"):
        ArchBatch.from_archs(CPU, [CPU.largest(), Arch([3] * 16, [3] * 16, [2] * 4, 30)])
    with pytest.raises(ValueError, match="needs 16"):
        ArchBatch.from_archs(CPU, [CPU.largest(), Arch([3] * 20, [3] * 20, [2] * 5, 32)])


def test_corrupt_and_truncated_files(tmp_path):
    path = tmp_path / "t.json"
    fake_table().save(path)
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(ValueError, match="not a valid latency table"):
        LatencyTable.load(path)
    path.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="not a valid latency table"):
        LatencyTable.load(path)
    with pytest.raises(FileNotFoundError, match="lut build"):
        LatencyTable.load(tmp_path / "absent.json")


def test_table_for_another_space_is_refused(tmp_path):
    path = fake_table(CPU).save(tmp_path / "t.json")
    with pytest.raises(ValueError, match="built for space 'cpu'.*not for space 'gpu'"):
        LatencyTable.load(path, space=GPU)
    with pytest.raises(ValueError, match="built for space"):
        get_lut(GPU, "torch", path=path, progress=False)


def test_other_machine_or_target_warns(tmp_path):
    table = fake_table()
    table.meta = {"machine": {"cpu": "Some Phone CPU", "torch": "1.0"}}
    path = table.save(tmp_path / "t.json")
    with pytest.warns(LatencyTableWarning, match="Some Phone CPU"):
        LatencyTable.load(path, space=CPU)
    with pytest.warns(LatencyTableWarning, match="asked for 'onnxruntime-1thread'"):
        LatencyTable.load(path, target="onnxruntime")


# ----- issue 10: protocols, re-measuring, advice that works ----------------------------------
class ProtocolMeasure(FakeMeasure):
    """A fake measurement whose value encodes the protocol it was asked for."""

    def __call__(self, spec, target, repeats, warmup, batch):
        super().__call__(spec, target, repeats, warmup, batch)
        ms = repeats + warmup / 100
        return LatencyResult(ms, 0.0, (ms,), repeats, target.name)


@pytest.mark.parametrize("kwargs, message", [
    (dict(repeats=0), "repeats must be an int >= 1, got 0"),
    (dict(warmup=-5), "warmup must be an int >= 0, got -5"),
    (dict(batch=0), "batch must be an int >= 1, got 0"),
    (dict(repeats=2.5), "repeats must be an int >= 1, got 2.5"),
    (dict(save_every=0), "save_every must be an int >= 1, got 0"),
])
def test_get_lut_validates_before_writing_anything(tmp_path, kwargs, message):
    path = tmp_path / "t.json"
    with pytest.raises(ValueError, match=message):
        get_lut(CPU, "torch", specs=CPU.all_layer_specs()[:2], path=path, progress=False, **kwargs)
    assert not path.exists() and not list(tmp_path.iterdir())


def test_protocol_change_remeasures_every_entry_beside_the_file(monkeypatch, tmp_path, capsys):
    path = tmp_path / "t.json"
    specs = CPU.all_layer_specs()[:6]
    monkeypatch.setattr(lut_mod, "measure_layer", ProtocolMeasure())
    get_lut(CPU, "torch", repeats=2, warmup=1, specs=specs[:4], path=path, progress=False)
    before = path.read_bytes()
    # the table's own protocol when none is asked for: extended, nothing re-measured
    kept = get_lut(CPU, "torch", specs=specs[:5], path=path, progress=False)
    assert kept.protocol["repeats"] == 2 and set(kept.entries.values()) == {2.01}
    # another protocol: interrupted half way, the old file is untouched ...
    monkeypatch.setattr(lut_mod, "measure_layer", ProtocolMeasure(stop_after=2))
    with pytest.raises(KeyboardInterrupt):
        get_lut(CPU, "torch", repeats=3, specs=specs, path=path, progress=False, save_every=1)
    assert "re-measured" in capsys.readouterr().out and path.read_bytes() != before
    assert len(LatencyTable.load(path).entries) == 5  # the old protocol's 5 entries, intact
    staging = path.with_name(path.name + ".remeasure")
    assert len(LatencyTable.load(staging).entries) == 2
    # ... and the re-measurement resumes, then replaces the file
    resumed = ProtocolMeasure()
    monkeypatch.setattr(lut_mod, "measure_layer", resumed)
    table = get_lut(CPU, "torch", repeats=3, specs=specs, path=path, progress=False)
    assert resumed.calls == 4 and not staging.exists()
    again = LatencyTable.load(path)
    assert again.protocol == {"repeats": 3, "warmup": 1, "batch": 1} == table.protocol
    assert set(again.entries.values()) == {3.01} and len(again.entries) == 6


def test_at_least_keeps_a_more_careful_table(monkeypatch, tmp_path):
    """What a quick preset asks (notebooks, `ofa specialise`): never replace a careful table."""
    path = tmp_path / "t.json"
    specs = CPU.all_layer_specs()[:4]
    monkeypatch.setattr(lut_mod, "measure_layer", ProtocolMeasure())
    get_lut(CPU, "torch", repeats=4, warmup=2, specs=specs[:3], path=path, progress=False)
    quick = dict(specs=specs, path=path, progress=False, at_least=True)
    kept = get_lut(CPU, "torch", repeats=3, warmup=0, **quick)  # fewer: the table's protocol
    assert kept.protocol == {"repeats": 4, "warmup": 2, "batch": 1}
    assert len(kept.entries) == 4 and set(kept.entries.values()) == {4.02}  # one entry added
    careful = get_lut(CPU, "torch", repeats=6, warmup=0, **quick)  # more repeats: re-measured
    assert careful.protocol == {"repeats": 6, "warmup": 2, "batch": 1}
    assert set(LatencyTable.load(path).entries.values()) == {6.02}
    plain = get_lut(CPU, "torch", repeats=3, specs=specs, path=path, progress=False)
    assert plain.protocol["repeats"] == 3  # without at_least the asked protocol wins


def test_table_from_another_machine_advice_actually_rebuilds_it(monkeypatch, tmp_path):
    from hwnas_lab.cli import main

    path = tmp_path / "t.json"
    entries = {s.signature: 9.0 for s in CPU.all_layer_specs()[:3]}
    table = LatencyTable(CPU, "torch-1thread", entries, meta={
        "protocol": {"repeats": 2, "warmup": 0, "batch": 1},
        "machine": {"cpu": "Some Phone CPU", "torch": "1.0"}})
    table.save(path)
    with pytest.warns(LatencyTableWarning, match="Some Phone CPU") as caught:
        LatencyTable.load(path, space=CPU)
    command = str(caught[0].message).split("`")[1]
    assert command.startswith("python -m hwnas_lab lut build") and "--force" in command
    monkeypatch.setattr(lut_mod, "measure_layer", ProtocolMeasure())
    assert main(command.split()[3:]) == 0
    rebuilt = LatencyTable.load(path, space=CPU)  # no warning now: measured here
    assert rebuilt.meta["machine"]["cpu"] != "Some Phone CPU"
    assert set(rebuilt.entries.values()) == {2.0}  # its own protocol, measured again here
    assert len(rebuilt.entries) == len(CPU.all_layer_specs())  # lut build: the whole space


def test_force_rebuilds_a_file_with_an_impossible_protocol(monkeypatch, tmp_path):
    """What `lut build --repeats 0` used to write: every later build failed without a hint."""
    path = tmp_path / "t.json"
    LatencyTable(CPU, "torch-1thread", meta={"protocol": {"repeats": 0, "warmup": 5}}).save(path)
    with pytest.raises(ValueError, match=rf"{path} records an impossible measurement protocol"
                       r".*delete it, or re-measure it with `.*--force`"):
        get_lut(CPU, "torch", repeats=3, path=path, progress=False)
    monkeypatch.setattr(lut_mod, "measure_layer", ProtocolMeasure())
    specs = CPU.all_layer_specs()[:2]
    table = get_lut(CPU, "torch", repeats=3, specs=specs, path=path, progress=False, force=True)
    assert LatencyTable.load(path).protocol["repeats"] == 3 and len(table.entries) == 2


def test_force_never_replaces_another_spaces_or_targets_table(tmp_path):
    path = fake_table(CPU).save(tmp_path / "t.json")
    before = path.read_bytes()
    with pytest.raises(ValueError, match="built for space 'cpu'"):
        get_lut(GPU, "torch", path=path, progress=False, force=True)
    with pytest.raises(ValueError, match="holds a table for target 'torch-1thread'"):
        get_lut(CPU, "onnxruntime", path=path, progress=False, force=True)
    assert path.read_bytes() == before
