"""``python -m hwnas_lab lut build | show | validate``."""

import pytest

from hwnas_lab.cli import main


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HWNAS_CACHE_DIR", str(tmp_path / "cache"))


def test_cli_build_show_validate(tmp_path, capsys):
    path = tmp_path / "t.json"
    assert main(["lut", "build", "--preset", "smoke", "--archs", "1", "--repeats", "2",
                 "--table", str(path)]) == 0
    assert path.exists()
    assert main(["lut", "show", "--table", str(path), "--top", "3"]) == 0
    assert "slowest operators" in capsys.readouterr().out
    assert main(["lut", "validate", "--preset", "smoke", "--table", str(path), "--n", "4",
                 "--repeats", "2", "--noise-rounds", "2"]) == 0
    out = capsys.readouterr().out
    assert "calibrated sum" in out and "noise floor" in out and "best predictor" in out


@pytest.mark.parametrize("argv, message", [
    (["lut", "build", "--threads", "-1"], "must be an integer >= 1, got -1"),
    (["lut", "build", "--repeats", "0"], "must be an integer >= 1, got 0"),
    (["lut", "build", "--warmup", "-5"], "must be an integer >= 0, got -5"),
    (["lut", "validate", "--n", "3"], "must be an integer >= 4, got 3"),
    (["lut", "build", "--target", "tpu"], "unknown target"),
    (["lut", "show", "--table", "/nonexistent/t.json"], "no latency table"),
])
def test_cli_bad_input(argv, message, capsys):
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse rejects a bad number before anything runs
        code = exit_.code
    assert code == 2
    assert message in capsys.readouterr().err


def test_cli_corrupt_file(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    assert main(["lut", "show", "--table", str(path)]) == 2
    assert "not a valid latency table" in capsys.readouterr().err


def test_cli_repeats_on_an_existing_table_remeasures_and_says_so(tmp_path, capsys, monkeypatch):
    import hwnas_lab.latency.lut as lut_mod
    from hwnas_lab.latency.lut import LatencyTable
    from hwnas_lab.latency.measure import LatencyResult

    def fake(spec, target, repeats, warmup, batch):
        return LatencyResult(float(repeats), 0.0, (1.0,), repeats, target.name)

    monkeypatch.setattr(lut_mod, "measure_layer", fake)
    path = tmp_path / "t.json"
    build = ["lut", "build", "--preset", "smoke", "--archs", "1", "--table", str(path)]
    assert main(build) == 0  # a new table: the preset's 5 repeats
    assert "measured with repeats=5, warmup=5, batch=1" in capsys.readouterr().out
    assert main(build + ["--repeats", "50"]) == 0
    out = capsys.readouterr().out
    assert "measured with repeats=5, warmup=5, batch=1; you asked for repeats=50" in out
    assert "measured with repeats=50" in out
    table = LatencyTable.load(path)
    assert table.protocol["repeats"] == 50 and set(table.entries.values()) == {50.0}
    assert main(build) == 0  # no --repeats: the table's protocol, nothing re-measured
    assert "re-measure" not in capsys.readouterr().out
