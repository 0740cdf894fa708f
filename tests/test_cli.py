"""The one command line: every command listed, bad environment reported, info."""

import pytest

from hwnas_lab.cli import build_parser, main


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("info", "notebooks", "lut build", "lut show", "lut validate", "ofa train",
                    "ofa eval", "ofa bench"):
        assert f"  {command} " in out, command


def test_every_parsed_flag_has_a_handler():
    parser = build_parser()
    for argv in (["info"], ["lut", "show"], ["ofa", "bench"], ["notebooks", "--check"]):
        assert callable(parser.parse_args(argv).func)


def test_info_and_a_bad_preset_in_the_environment(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("HWNAS_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("HWNAS_PRESET", "laptop")
    assert main(["info"]) == 0
    assert "8,855,781,641,258,643 subnetworks" in capsys.readouterr().out
    monkeypatch.setenv("HWNAS_PRESET", "foo")
    assert main(["info"]) == 2
    assert "unknown preset 'foo'" in capsys.readouterr().err


def test_cache_dir_naming_a_file_is_one_clear_line(capsys, monkeypatch, tmp_path):
    (tmp_path / "f").write_text("x")
    monkeypatch.setenv("HWNAS_CACHE_DIR", str(tmp_path / "f"))
    assert main(["info"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
