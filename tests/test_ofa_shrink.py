"""Progressive shrinking: the distillation loss, a step that learns, a whole smoke run that
learns, resume after SIGKILL, torchrun with two CPU processes."""

import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hwnas_lab.data import batches, load_cifar10
from hwnas_lab.ofa import OFASupernet, recalibrate_bn
from hwnas_lab.ofa.checkpoint import FINAL, LAST, LOG, load_checkpoint, load_supernet
from hwnas_lab.ofa.schedule import get_shrink_config
from hwnas_lab.ofa.shrink import SubnetBatch, distillation_loss, shrink_step
from hwnas_lab.space import get_space
from hwnas_lab.train import evaluate, make_optimizer

ROOT = Path(__file__).resolve().parents[1]
SPACE = get_space("cpu")


def _cli_env(tmp_path: Path, cifar_root: str, threads: int = 1) -> dict:
    return dict(os.environ, HWNAS_DATA_DIR=cifar_root, HWNAS_CACHE_DIR=str(tmp_path / "cache"),
                OMP_NUM_THREADS=str(threads), PYTHONUNBUFFERED="1")


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


def test_shrink_step_learns_a_batch(one_thread):
    """Thirty steps on one fixed batch, two random subnets of the last phase per step: the
    subnets fit the batch (far above chance). The teacher is the untrained largest net, so
    distillation is off here (kd=0): it would pull towards random logits."""
    torch.manual_seed(0)
    net = OFASupernet(SPACE).train()
    config = get_shrink_config("smoke")
    phase = dataclasses.replace(config.phases[-1], kd=0.0)
    teacher = None
    opt = make_optimizer(net, config, lr=0.05)
    X, y = torch.randn(16, 3, 24, 24), torch.arange(16) % 10
    criterion, pick, model = nn.CrossEntropyLoss(), random.Random(0), SubnetBatch(net)
    losses = []
    for _ in range(30):
        archs = [SPACE.sample(pick, r=(24,), **phase.choices()) for _ in range(2)]
        losses.append(shrink_step(model, teacher, opt, X, y, archs, phase, criterion).item())
    assert losses[-1] < 0.5 * losses[0]
    net.set_active(SPACE.smallest())  # batch statistics (train mode): no recalibration needed
    with torch.no_grad():
        assert (net(X).argmax(1) == y).float().mean() >= 0.5  # chance: 0.1


def test_smoke_run_learns(ofa_smoke_run, cifar_root, one_thread):
    """The training loss of the largest phase falls from epoch to epoch, and the trained
    supernet's largest subnet fits its training images better than the same network at
    initialisation (same seed)."""
    out, final = ofa_smoke_run
    largest = [row["train_loss"] for row in final["history"] if row["phase"] == "largest"]
    assert len(largest) == 3 and largest[-1] < largest[0] - 0.02, largest
    data = load_cifar10("smoke", root=cifar_root, progress=False)
    config = get_shrink_config("smoke")
    torch.manual_seed(config.seed)  # the run's initialisation
    untrained = OFASupernet(SPACE)
    trained = load_supernet(out / FINAL)
    losses = []
    for net in (untrained, trained):
        static = net.extract(SPACE.largest())
        recalibrate_bn(static, batches(data.train, 64, resolution=32), n_batches=4)
        losses.append(evaluate(static, data.train)[0])
    assert losses[1] < losses[0] - 0.05, losses  # cross-entropy in nats; ln 10 = 2.30 at chance


def test_smoke_run_writes_checkpoints_and_log(ofa_smoke_run):
    out, final = ofa_smoke_run
    rows = [json.loads(line) for line in (out / LOG).read_text().splitlines()]
    config = get_shrink_config("smoke")
    assert len(rows) == sum(p.epochs for p in config.phases)
    assert [r["phase"] for r in rows][0] == "largest" and rows[-1]["phase"] == "expand-2"
    assert all(0 <= r["val_acc_largest"] <= 1 and 0 <= r["val_acc_smallest"] <= 1 for r in rows)
    last = load_checkpoint(out / LAST)
    assert last["done"] and last["phase"] == len(config.phases)
    assert {"optimizer", "scheduler", "teacher"} <= set(last) and "rng" not in last
    assert 0 <= final["test_acc_largest"] <= 1
    net = load_supernet(out / FINAL, space="cpu")
    assert (out / FINAL).stat().st_size < 10e6
    for key, value in net.state_dict().items():
        assert torch.equal(value, last["model"][key]), key


def test_resume_after_kill_matches_uninterrupted_run(ofa_smoke_run, cifar_root, tmp_path):
    ref_out, _ = ofa_smoke_run
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "hwnas_lab", "ofa", "train", "--preset", "smoke",
           "--out", str(out), "--no-progress"]
    env = _cli_env(tmp_path, cifar_root)
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
def test_torchrun_two_cpu_processes(cifar_root, tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "hwnas_lab", "ofa", "train", "--preset", "smoke", "--out", str(out),
           "--no-progress", "--device", "cpu"]
    res = subprocess.run(cmd, env=_cli_env(tmp_path, cifar_root, threads=1), cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    final = load_checkpoint(out / FINAL)
    assert final["done"] and len(final["history"]) == sum(p.epochs for p in get_shrink_config("smoke").phases)
    assert res.stdout.count("done in") == 1  # rank 0 alone logs and writes


