"""Progressive shrinking: phases, distillation loss, CLI, checkpoints, resume after a kill,
torchrun with two CPU processes, and the bad-input errors."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from hwnas_lab.cli import main as cli_main
from hwnas_lab.ofa.shrink import (FINAL, LAST, LOG, SHRINK_PRESETS, ShrinkConfig,
                                  distillation_loss, get_shrink_config, load_checkpoint,
                                  load_supernet, train_supernet)
from hwnas_lab.space import get_space

ROOT = Path(__file__).resolve().parents[1]


def _data_env() -> dict:
    from hwnas_lab.data import find_source

    try:
        source = find_source("train", download=False, progress=False)
    except (FileNotFoundError, ValueError) as err:
        pytest.skip(f"no local CIFAR-10: {err}")
    return {"HWNAS_DATA_DIR": str(source.path)}


def _cli_env(tmp_path: Path, threads: int = 1) -> dict:
    env = dict(os.environ, **_data_env(), HWNAS_CACHE_DIR=str(tmp_path / "cache"),
               OMP_NUM_THREADS=str(threads), PYTHONUNBUFFERED="1")
    return env


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """A complete smoke run, in this process (the reference for the resume test)."""
    _data_env()
    out = tmp_path_factory.mktemp("ofa_smoke")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the subprocesses below: same numbers, and robust on a busy CPU
    try:
        final = train_supernet(get_shrink_config("smoke"), out, progress=False,
                               log=lambda s: None)
    finally:
        torch.set_num_threads(threads)
    return out, final


# ----------------------------------------------------------------------------- config, loss

def test_phases_follow_progressive_shrinking():
    space = get_space("cpu")
    for name in SHRINK_PRESETS:
        config = get_shrink_config(name)
        names = [p.name for p in config.phases]
        assert names == ["largest", "kernel", "depth-1", "depth-2", "expand-1", "expand-2"]
        assert all(p.epochs >= 1 and p.lr > 0 for p in config.phases)
        assert [p.kd > 0 for p in config.phases] == [False] + [True] * 5
        assert [p.reorder for p in config.phases] == [False] * 4 + [True, False]
    phases = get_shrink_config("laptop").phases
    assert phases[0].choices() == {"ks": (7,), "e": (6,), "d": (4,)}
    assert phases[1].ks == space.ks_choices and phases[1].d == (4,)
    assert phases[2].d == (3, 4) and phases[3].d == (2, 3, 4)
    assert phases[4].e == (4, 6) and phases[5].e == (3, 4, 6)
    config = get_shrink_config("laptop")
    assert ShrinkConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown preset 'tiny'"):
        get_shrink_config("tiny")


def test_distillation_loss_against_formula_and_soft_cross_entropy():
    torch.manual_seed(0)
    s = torch.randn(5, 10, requires_grad=True)
    t = torch.randn(5, 10)
    assert distillation_loss(t, t).item() == pytest.approx(0.0, abs=1e-6)
    for T in (1.0, 4.0):
        p = F.softmax(t / T, 1)
        kl = (p * (p.log() - F.log_softmax(s / T, 1))).sum(1).mean() * T * T
        assert distillation_loss(s, t, T).item() == pytest.approx(kl.item(), rel=1e-5)
    # same gradient as OFA's soft-target cross-entropy (they differ by the teacher entropy)
    g_kd, = torch.autograd.grad(distillation_loss(s, t), s)
    soft_ce = -(F.softmax(t, 1) * F.log_softmax(s, 1)).sum(1).mean()
    g_ce, = torch.autograd.grad(soft_ce, s)
    assert torch.allclose(g_kd, g_ce, atol=1e-6)
    with pytest.raises(ValueError, match="same shape"):
        distillation_loss(s, t[:, :5])


# ----------------------------------------------------------------------------- a run

def test_smoke_run_writes_checkpoints_and_log(smoke_run):
    out, final = smoke_run
    rows = [json.loads(line) for line in (out / LOG).read_text().splitlines()]
    config = get_shrink_config("smoke")
    assert len(rows) == sum(p.epochs for p in config.phases)
    assert [r["phase"] for r in rows][0] == "largest" and rows[-1]["phase"] == "expand-2"
    assert all(0 <= r["val_acc_largest"] <= 1 and 0 <= r["val_acc_smallest"] <= 1 for r in rows)
    last = load_checkpoint(out / LAST)
    assert last["done"] and last["phase"] == len(config.phases)
    assert {"optimizer", "scheduler", "rng", "teacher"} <= set(last)
    assert 0 <= final["test_acc_largest"] <= 1
    net = load_supernet(out / FINAL, space="cpu")
    assert (out / FINAL).stat().st_size < 10e6
    for key, value in net.state_dict().items():
        assert torch.equal(value, last["model"][key]), key


def test_resume_after_kill_matches_uninterrupted_run(smoke_run, tmp_path):
    ref_out, _ = smoke_run
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "hwnas_lab", "ofa", "train", "--preset", "smoke",
           "--out", str(out), "--no-progress"]
    env = _cli_env(tmp_path)
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 300
    killed_at = None
    while time.time() < deadline and proc.poll() is None:
        if (out / LAST).exists():
            try:
                state = load_checkpoint(out / LAST)
            except ValueError:  # caught mid-rename on some filesystems: try again
                state = None
            if state and 1 <= state["phase"] < 5:
                proc.send_signal(signal.SIGKILL)
                killed_at = state["phase"]
                break
        time.sleep(0.05)
    proc.wait(timeout=60)
    assert killed_at is not None, f"run ended before it could be killed: {proc.stdout.read()}"
    assert not (out / FINAL).exists()
    resumed = subprocess.run(cmd + ["--resume"], env=env, cwd=ROOT, capture_output=True,
                             text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming" in resumed.stdout
    ref, got = load_checkpoint(ref_out / FINAL), load_checkpoint(out / FINAL)
    assert [r["phase"] for r in got["history"]] == [r["phase"] for r in ref["history"]]
    for key, value in ref["model"].items():  # nothing lost, nothing repeated
        assert torch.allclose(got["model"][key].float(), value.float(), atol=1e-5), key


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed missing")
def test_torchrun_two_cpu_processes(tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "hwnas_lab", "ofa", "train", "--preset", "smoke", "--out", str(out),
           "--no-progress", "--device", "cpu"]
    res = subprocess.run(cmd, env=_cli_env(tmp_path, threads=1), cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    final = load_checkpoint(out / FINAL)
    assert final["done"] and len(final["history"]) == 6
    assert res.stdout.count("done in") == 1  # rank 0 alone logs and writes


# ----------------------------------------------------------------------------- bad input

def test_resume_with_nothing_to_resume(tmp_path, capsys):
    assert cli_main(["ofa", "train", "--preset", "smoke", "--out", str(tmp_path / "empty"),
                     "--resume", "--no-progress"]) == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_existing_run_needs_resume(smoke_run, capsys):
    out, _ = smoke_run
    assert cli_main(["ofa", "train", "--preset", "smoke", "--out", str(out)]) == 2
    assert "--resume" in capsys.readouterr().err


def test_resume_with_other_preset(smoke_run, tmp_path):
    out, _ = smoke_run
    with pytest.raises(ValueError, match="preset 'smoke'"):
        train_supernet(get_shrink_config("laptop"), out, resume=True, progress=False)


def test_corrupt_and_foreign_checkpoints(smoke_run, tmp_path, capsys):
    bad = tmp_path / "supernet.pt"
    bad.write_bytes(b"not a checkpoint" * 10)
    with pytest.raises(ValueError, match="corrupt"):
        load_checkpoint(bad)
    out, _ = smoke_run
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


def test_ofa_eval_cli(smoke_run, capsys, monkeypatch):
    monkeypatch.setenv("HWNAS_DATA_DIR", _data_env()["HWNAS_DATA_DIR"])
    out, _ = smoke_run
    assert cli_main(["ofa", "eval", str(out), "--arch", "smallest", "--recal-batches", "1",
                     "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    assert result["arch"] == get_space("cpu").smallest().to_dict()
    assert 0 <= result["acc_recalibrated"] <= 1 and result["images"] == 100
    gpu_arch = json.dumps(get_space("gpu").largest().to_dict())
    assert cli_main(["ofa", "eval", str(out), "--arch", gpu_arch]) == 2
    assert "Arch." in capsys.readouterr().err
    arch_file = out.parent / "arch.json"
    arch_file.write_text(get_space("cpu").uniform(5, 4, 3, 28).to_json())
    assert cli_main(["ofa", "eval", str(out), "--arch", str(arch_file), "--recal-batches", "1",
                     "--split", "val", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["arch"]["r"] == 28 and result["split"] == "val"
    assert cli_main(["ofa", "eval", str(out), "--arch", str(out.parent / "missing.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli_main(["ofa", "eval", str(out), "--arch", "biggest"]) == 2
    assert "largest, smallest, random" in capsys.readouterr().err
