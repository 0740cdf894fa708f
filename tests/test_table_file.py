"""Latency-table files: hand-edited nonsense is named, saves merge, two builds lose nothing."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import hwnas_lab.latency.lut as lut_mod
from hwnas_lab.latency.lut import LatencyTable, get_lut
from hwnas_lab.latency.measure import LatencyResult
from hwnas_lab.space import SPACES

CPU = SPACES["cpu"]
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HWNAS_CACHE_DIR", str(tmp_path / "cache"))


def fake_measure(spec, target, repeats, warmup, batch):
    ms = spec.macs / 1e7 + 0.01
    return LatencyResult(ms, ms / 10, (ms,), 1, target.name)


def saved_table(path: Path, n: int = 5) -> dict:
    """A valid table file of ``n`` entries, as JSON data to edit by hand."""
    entries = {s.signature: 0.5 for s in CPU.all_layer_specs()[:n]}
    LatencyTable(CPU, "torch-1thread", entries, meta={
        "protocol": {"repeats": 3, "warmup": 1, "batch": 1}, "machine": {"cpu": "x"}}).save(path)
    return json.loads(path.read_text())


def first(data: dict) -> str:
    return next(iter(data["entries"]))


# each: an edit of the JSON, then what the error must say (besides the file name)
HAND_EDITS = {
    "nan": (lambda d: d["entries"][first(d)].update(median_ms=float("nan")),
            r"entries\['stem.*'\]\.median_ms = nan is not a latency"),
    "negative": (lambda d: d["entries"][first(d)].update(median_ms=-998),
                 r"median_ms = -998 is not a latency.*delete that entry"),
    "true": (lambda d: d["entries"][first(d)].update(median_ms=True),
             r"median_ms = True is not a latency"),
    "text": (lambda d: d["entries"][first(d)].update(median_ms="0.4"),
             r"median_ms = '0.4' is not a latency"),
    "bare number": (lambda d: d["entries"].update({first(d): 0.4}),
                    r"entries\['stem.*'\] = 0.4 is not \{\"median_ms\""),
    "negative iqr": (lambda d: d["entries"][first(d)].update(iqr_ms=-1),
                     r"iqr_ms = -1 is not a spread"),
    "empty space": (lambda d: d.update(space={}), r"'space' is not a search space.*missing"),
    "space field as text": (lambda d: d["space"].update(ks_choices=["3", "5"]),
                            r"SearchSpace.ks_choices\[0\] must be an int >= 1, got '3'"),
    "stride zero": (lambda d: d["space"].update(stage_strides=[0, 2, 2, 1]),
                    r"SearchSpace.stage_strides\[0\] must be an int >= 1, got 0"),
    "machine as text": (lambda d: d["meta"].update(machine="my laptop"),
                        r"meta.machine = 'my laptop' is not an object"),
    "meta as list": (lambda d: d.update(meta=[]), r"'meta' = \[\] is not an object"),
    "no entries": (lambda d: d.pop("entries"), r"key 'entries' is missing"),
    "target number": (lambda d: d.update(target=3), r"'target' = 3 is not a target name"),
    "repeats zero": (lambda d: d["meta"]["protocol"].update(repeats=0),
                     r"meta.protocol.repeats must be an int >= 1, got 0.*--force"),
}


@pytest.mark.parametrize("edit", sorted(HAND_EDITS))
def test_hand_edited_table_is_refused_naming_file_and_key(tmp_path, edit):
    path = tmp_path / "t.json"
    data = saved_table(path)
    change, message = HAND_EDITS[edit]
    change(data)
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=message) as err:
        LatencyTable.load(path)
    assert str(path) in str(err.value)
    with pytest.raises(ValueError, match=message):  # what notebook 01's build_lut calls
        get_lut(CPU, "torch", path=path, progress=False)


def test_truncated_and_binary_files(tmp_path):
    path = tmp_path / "t.json"
    text = json.dumps(saved_table(path))
    for broken in (text[: len(text) // 2].encode(), b"\xff\xfe\x00garbage"):
        path.write_bytes(broken)
        with pytest.raises(ValueError, match=f"{path} is not a valid latency table.*delete it"):
            LatencyTable.load(path)


def test_values_set_in_memory_are_checked_too():
    with pytest.raises(ValueError, match=r"LatencyTable.entries\['x'\] = nan is not a latency"):
        LatencyTable(CPU, "torch-1thread", {"x": float("nan")})
    table = LatencyTable(CPU, "torch-1thread", {s.signature: 1.0 for s in CPU.all_layer_specs()})
    archs = [CPU.smallest(), CPU.largest()]
    assert np.allclose(table.predict_batch(archs), [table.predict(a) for a in archs])
    signature = CPU.layer_specs(CPU.largest())[1].signature
    for bad in (float("nan"), -998.0):
        table.entries[signature] = bad  # no bare StopIteration, no silent nan / negative ms
        for predict in (table.predict, lambda a: table.predict_batch([a])):
            with pytest.raises(ValueError,
                               match=rf"entries\['{signature}'\] = {bad} is not a latency"):
                predict(CPU.largest())


def test_a_save_merges_what_another_build_saved(tmp_path, monkeypatch):
    """Two builds of one file, interleaved: today's last-writer-wins would keep B's 55."""
    monkeypatch.setattr(lut_mod, "measure_layer", fake_measure)
    path = tmp_path / "t.json"
    specs = CPU.all_layer_specs()
    get_lut(CPU, "torch", specs=specs[:20], path=path, progress=False)
    a, b = LatencyTable.load(path, warn=False), LatencyTable.load(path, warn=False)
    a.ensure(specs[:194], progress=False)  # A finishes the whole space ...
    b.ensure(specs[:55], progress=False)  # ... B, which loaded 20 entries, saves after it
    assert len(LatencyTable.load(path).entries) == 194
    assert len(b.entries) == 194  # B took in A's entries when it saved


def test_two_real_processes_on_one_table_lose_nothing(tmp_path):
    """Build A measures the whole space; build B, started with it, 55 operators more slowly
    and so saves last (today B's save would leave 55 entries)."""
    path = tmp_path / "t.json"
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "import hwnas_lab.latency.lut as L\n"
        "from hwnas_lab.latency.measure import LatencyResult\n"
        "path, name, lo, hi, delay = sys.argv[1:]\n"
        "def fake(spec, target, repeats, warmup, batch):\n"
        "    time.sleep(float(delay))\n"
        "    return LatencyResult(spec.macs / 1e7 + 0.01, 0.0, (1.0,), 1, target.name)\n"
        "L.measure_layer = fake\n"
        "Path(path + '.' + name).touch()  # start together\n"
        "while not all(Path(path + '.' + n).exists() for n in 'AB'): time.sleep(0.01)\n"
        "specs = L.get_space('cpu').all_layer_specs()[int(lo):int(hi)]\n"
        "t = L.get_lut('cpu', 'torch', specs=specs, path=path, save_every=3, progress=False,"
        " repeats=2, warmup=0)\n"
        "print(len(t.entries))\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    runs = {"A": ("0", "194", "0.01"), "B": ("100", "155", "0.05")}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path), name, *args], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name, args in runs.items()]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    table = LatencyTable.load(path)
    assert len(table.entries) == 194 and table.protocol == {"repeats": 2, "warmup": 0, "batch": 1}
    assert int(results[0][0]) >= 155 and int(results[1][0]) >= 55


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_table_file_mode_follows_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        path = LatencyTable(CPU, "torch-1thread", {"x": 1.0}).save(tmp_path / "t.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode
