"""Checkpoints: corrupt, truncated and foreign files; resuming rules; finding a supernet."""

from pathlib import Path

import pytest
import torch

from hwnas_lab.cli import main as cli_main
from hwnas_lab.data import load_cifar10
from hwnas_lab.ofa import OFASupernet
from hwnas_lab.ofa.checkpoint import (CKPT_FORMAT, FINAL, find_supernet, load_checkpoint,
                                      load_supernet, read_run, run_dir, save_checkpoint,
                                      write_log)
from hwnas_lab.ofa.schedule import get_shrink_config
from hwnas_lab.ofa.shrink import get_supernet, train_supernet
from hwnas_lab.space import get_space

SPACE = get_space("cpu")


def test_resume_with_nothing_to_resume(tmp_path, capsys):
    assert cli_main(["ofa", "train", "--preset", "smoke", "--out", str(tmp_path / "empty"),
                     "--resume", "--no-progress"]) == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_existing_run_needs_resume(ofa_smoke_run, tmp_path, capsys):
    import shutil

    out = Path(shutil.copytree(ofa_smoke_run[0], tmp_path / "run"))
    (out / FINAL).unlink()  # not finished: killed before supernet.pt was written
    assert cli_main(["ofa", "train", "--preset", "smoke", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "holds an unfinished run" in err and "add --resume" in err


def test_resume_with_other_preset(ofa_smoke_run, tmp_path):
    out, _ = ofa_smoke_run
    with pytest.raises(ValueError, match="preset 'smoke'"):
        train_supernet(get_shrink_config("laptop"), out, resume=True, progress=False)


def test_corrupt_and_foreign_checkpoints(ofa_smoke_run, tmp_path, capsys):
    bad = tmp_path / "supernet.pt"
    bad.write_bytes(b"not a checkpoint" * 10)
    with pytest.raises(ValueError, match="corrupt"):
        load_checkpoint(bad)
    out, _ = ofa_smoke_run
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes((out / FINAL).read_bytes()[:5000])
    with pytest.raises(ValueError, match="corrupt"):
        load_supernet(truncated)
    torch.save({"format": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not an OFA checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(ValueError, match="space 'cpu'"):
        load_supernet(out / FINAL, space="gpu")
    with pytest.raises(FileNotFoundError, match="no OFA checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    assert cli_main(["ofa", "eval", str(bad)]) == 2
    assert "corrupt" in capsys.readouterr().err


def test_find_supernet_prefers_the_learners_own(tmp_path, monkeypatch):
    monkeypatch.setenv("HWNAS_CACHE_DIR", str(tmp_path))
    assert find_supernet("smoke") == (None, "none")
    with pytest.raises(FileNotFoundError, match="ofa train --preset smoke"):
        get_supernet("smoke", train=False)
    net = OFASupernet(SPACE)
    torch.save({"format": CKPT_FORMAT, "space": SPACE.to_dict(),
                "config": get_shrink_config("smoke").to_dict(), "model": net.state_dict()},
               run_dir("smoke") / FINAL)
    path, source = find_supernet("smoke")
    assert source == "own" and path == tmp_path / "ofa" / "smoke" / FINAL
    loaded, ckpt, source = get_supernet("smoke", train=False)
    assert source == "own" and isinstance(loaded, OFASupernet)


# ----- issue 10: no loop between --resume and a plain run; finished runs; --out; file modes ----
@pytest.fixture
def run_copy(ofa_smoke_run, tmp_path):
    """A copy of the finished smoke run, to break."""
    import shutil

    out, _ = ofa_smoke_run
    return Path(shutil.copytree(out, tmp_path / "run"))


def test_corrupt_last_pt_names_the_file_to_move_away(run_copy, capsys):
    last = run_copy / "last.pt"
    last.write_bytes(last.read_bytes()[:3000])
    (run_copy / FINAL).unlink()  # killed while writing: a run that is not finished
    for extra in (["--resume"], []):  # both ways say the same thing: no loop
        assert cli_main(["ofa", "train", "--preset", "smoke", "--out", str(run_copy),
                         "--no-progress", *extra]) == 2
        err = capsys.readouterr().err
        assert f"{last} is not a readable OFA checkpoint" in err
        assert f"mv {last} {last}.broken" in err and "without --resume" in err
    last.rename(last.with_suffix(".pt.broken"))
    assert read_run(run_copy, resume=False) is None  # the advice works: a new run may start


def test_finished_run_says_it_is_finished(run_copy, capsys):
    before = (run_copy / FINAL).read_bytes()
    assert cli_main(["ofa", "train", "--preset", "smoke", "--out", str(run_copy), "--resume",
                     "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "holds a finished run" in out and "nothing to resume" in out and "phase" not in \
        out.split("(")[0]
    assert "/6" not in out and (run_copy / FINAL).read_bytes() == before  # nothing retrained
    assert cli_main(["ofa", "train", "--preset", "smoke", "--out", str(run_copy)]) == 2
    assert "holds a finished run" in capsys.readouterr().err


def test_all_phases_done_but_no_final_file_finishes_it(run_copy, cifar_root):
    (run_copy / FINAL).unlink()  # killed between the last epoch and writing supernet.pt
    lines = []
    final = train_supernet(get_shrink_config("smoke"), run_copy, resume=True, progress=False,
                           data=load_cifar10("smoke", root=cifar_root, progress=False),
                           log=lines.append)
    assert "all" in lines[0] and "phases trained; evaluating and writing supernet.pt" in lines[0]
    assert (run_copy / FINAL).exists() and 0 <= final["test_acc_largest"] <= 1


def test_out_naming_a_file(tmp_path, capsys):
    file = tmp_path / "run.txt"
    file.write_text("x")
    assert cli_main(["ofa", "train", "--preset", "smoke", "--out", str(file)]) == 2
    assert f"--out {file} is a file, not a folder" in capsys.readouterr().err


def test_checkpoint_and_log_modes_follow_the_umask(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        save_checkpoint({"format": CKPT_FORMAT}, tmp_path / "last.pt")
        write_log(tmp_path / "log.jsonl", [{"epoch": 1}])
    finally:
        os.umask(old)
    for name in ("last.pt", "log.jsonl"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name
