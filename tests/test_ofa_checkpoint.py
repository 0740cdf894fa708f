"""Checkpoints: corrupt, truncated and foreign files; resuming rules; finding a supernet."""

import pytest
import torch

from hwnas_lab.cli import main as cli_main
from hwnas_lab.ofa import OFASupernet
from hwnas_lab.ofa.checkpoint import (CKPT_FORMAT, FINAL, find_supernet, load_checkpoint,
                                      load_supernet, run_dir)
from hwnas_lab.ofa.schedule import get_shrink_config
from hwnas_lab.ofa.shrink import get_supernet, train_supernet
from hwnas_lab.space import get_space

SPACE = get_space("cpu")


def test_resume_with_nothing_to_resume(tmp_path, capsys):
    assert cli_main(["ofa", "train", "--preset", "smoke", "--out", str(tmp_path / "empty"),
                     "--resume", "--no-progress"]) == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_existing_run_needs_resume(ofa_smoke_run, capsys):
    out, _ = ofa_smoke_run
    assert cli_main(["ofa", "train", "--preset", "smoke", "--out", str(out)]) == 2
    assert "--resume" in capsys.readouterr().err


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
