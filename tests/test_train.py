"""Tests of hwnas_lab.train: real learning on a tiny separable set, schedule, seeding."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from hwnas_lab import data as D
from hwnas_lab import train as T


def colour_data(per_class: int, seed: int, size: int = 8) -> D.TensorData:
    """Class c is a noisy image of its own colour: separable, but only if the net learns."""
    g = torch.Generator().manual_seed(seed)
    palette = torch.tensor([[40, 40, 40], [215, 40, 40], [40, 215, 40], [40, 40, 215],
                            [215, 215, 40], [215, 40, 215], [40, 215, 215], [215, 215, 215],
                            [128, 128, 128], [128, 40, 215]])  # pairwise >= 87 levels apart
    y = torch.arange(10).repeat_interleave(per_class)
    noise = torch.randint(-25, 26, (len(y), 3, size, size), generator=g)
    X = (palette[y][:, :, None, None] + noise).clamp(0, 255).to(torch.uint8)
    return D.TensorData(X, y)


def tiny_net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))


def test_tiny_net_learns_a_separable_set():
    train_set, val_set = colour_data(24, seed=0, size=32), colour_data(10, seed=1, size=32)
    T.seed_everything(0)
    net = tiny_net()
    before = T.evaluate(net, val_set)[1]
    config = T.TrainConfig(epochs=8, lr=0.2, batch_size=32, warmup_epochs=1)
    history = T.train(net, train_set, val_set, config, progress=False)
    assert len(history) == 8 and len(history.as_dict()["val_acc"]) == 8
    assert before < 0.5
    assert history.val_acc[-1] >= 0.9, history.as_dict()
    assert history.train_loss[-1] < history.train_loss[0]
    loss, acc = T.evaluate(net, val_set)
    assert acc == pytest.approx(history.val_acc[-1]) and loss == pytest.approx(history.val_loss[-1])
    assert all(s > 0 for s in history.seconds)


def test_adamw_also_learns():
    T.seed_everything(1)
    net = tiny_net()
    config = T.TrainConfig(epochs=6, lr=0.02, optimizer="adamw", batch_size=32, resolution=8,
                           channels_last=False, augment=False)
    history = T.train(net, colour_data(24, seed=2), colour_data(10, seed=3), config,
                      progress=False)
    assert history.val_acc[-1] >= 0.9, history.as_dict()


def test_cosine_schedule_values():
    assert T.cosine_lr(0, 100, 1.0) == pytest.approx(1.0)
    assert T.cosine_lr(50, 100, 1.0) == pytest.approx(0.5)
    assert T.cosine_lr(100, 100, 1.0, min_lr=0.1) == pytest.approx(0.1)
    assert T.cosine_lr(25, 100, 2.0) == pytest.approx(1.0 + math.cos(math.pi / 4))
    warm = [T.cosine_lr(s, 100, 1.0, warmup_steps=10) for s in range(100)]
    assert warm[:10] == pytest.approx([(s + 1) / 10 for s in range(10)])
    assert warm[10] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(warm[10:], warm[11:]))


def test_history_records_the_schedule():
    config = T.TrainConfig(epochs=3, lr=0.5, batch_size=20, resolution=8, min_lr=0.05)
    history = T.train(tiny_net(), colour_data(4, seed=0), None, config, progress=False)
    steps = 40 // 20
    expected = [T.cosine_lr((e + 1) * steps - 1, 3 * steps, 0.5, 0, 0.05) for e in range(3)]
    assert history.lr == pytest.approx(expected)
    assert all(math.isnan(v) for v in history.val_acc)


class _Interrupt(Exception):
    pass


def test_an_interrupted_run_resumes_from_its_checkpoint_as_if_never_stopped(tmp_path, monkeypatch):
    config = T.TrainConfig(epochs=4, lr=0.2, batch_size=16, resolution=8, warmup_epochs=1,
                           crop_padding=2)  # crops and flips: the generator's state matters
    train_set, val_set = colour_data(8, seed=0), colour_data(4, seed=1)

    def fresh(seed=0):
        T.seed_everything(seed)
        return nn.Sequential(tiny_net()[:3], nn.Dropout2d(0.3), *tiny_net()[3:])  # torch's RNG too

    whole = fresh()
    expected = T.train(whole, train_set, val_set, config, progress=False)
    ckpt = tmp_path / "run.pt"
    evaluate, calls = T.evaluate, []

    def stop_in_epoch_3(*args, **kwargs):  # evaluation ends an epoch: fail in the third
        calls.append(1)
        if len(calls) == 3:
            raise _Interrupt
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(T, "evaluate", stop_in_epoch_3)
    with pytest.raises(_Interrupt):
        T.train(fresh(), train_set, val_set, config, progress=False, checkpoint=ckpt)
    monkeypatch.setattr(T, "evaluate", evaluate)
    assert torch.load(ckpt, weights_only=False)["epoch"] == 2
    resumed = fresh(seed=5)  # other initial weights and global RNG: the checkpoint restores both
    history = T.train(resumed, train_set, val_set, config, progress=False, checkpoint=ckpt)
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-6)
    for key in ("train_loss", "train_acc", "val_acc", "lr"):
        assert getattr(history, key) == pytest.approx(getattr(expected, key), abs=1e-6), key
    assert history.resumed_at == [2] and len(history.seconds) == 4
    assert T.train(resumed, train_set, val_set, config, progress=False,
                   checkpoint=ckpt).resumed_at == [2, 4]  # finished: nothing left
    with pytest.raises(ValueError, match="another config.*differs in lr"):
        T.train(fresh(), train_set, val_set, T.TrainConfig(**{**vars(config), "lr": 0.1}),
                progress=False, checkpoint=ckpt)


def test_seeding_reproduces_a_run_exactly():
    def run(seed):
        T.seed_everything(seed)
        net = tiny_net()
        config = T.TrainConfig(epochs=2, batch_size=16, resolution=8, seed=seed)
        history = T.train(net, colour_data(5, seed=3), None, config, progress=False)
        return history.train_loss, torch.cat([p.flatten() for p in net.parameters()])

    (loss_a, w_a), (loss_b, w_b), (_, w_c) = run(0), run(0), run(1)
    assert loss_a == loss_b and torch.equal(w_a, w_b)
    assert not torch.equal(w_a, w_c)


def test_evaluate_matches_a_direct_forward_and_restores_mode():
    T.seed_everything(0)
    net, data = tiny_net(), colour_data(3, seed=4)
    net.train()
    loss, acc = T.evaluate(net, data, batch_size=7, resolution=8)
    assert net.training
    net.eval()
    with torch.no_grad():
        logits = net(D.normalise(data.X))
    assert loss == pytest.approx(nn.functional.cross_entropy(logits, data.y).item(), rel=1e-5)
    assert acc == pytest.approx((logits.argmax(1) == data.y).float().mean().item())


@pytest.mark.parametrize("field, value", [("optimizer", "adam"), ("epochs", 0),
                                          ("batch_size", 1.5), ("lr", 0.0),
                                          ("label_smoothing", 1.0), ("crop_padding", -1)])
def test_bad_config_is_rejected_by_name(field, value):
    with pytest.raises(ValueError, match=field):
        T.TrainConfig(**{field: value})


def test_epoch_steps_drop_the_last_partial_batch():
    assert T.epoch_steps(1000, 128) == (7, True)
    assert T.epoch_steps(50, 128) == (1, False)  # a set smaller than a batch: one step


def test_optimizer_decays_only_weights_not_listed_as_exempt():
    class Exempt(nn.Module):
        def __init__(self):
            super().__init__()
            self.matrix = nn.Parameter(torch.eye(3))  # 2-D, but exempt
            self.conv = nn.Conv2d(3, 3, 1)

        def no_weight_decay(self):
            return ["matrix"]

    net = nn.Sequential(Exempt(), nn.BatchNorm2d(3))
    opt = T.make_optimizer(net, T.TrainConfig(weight_decay=0.01), lr=0.5)
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0
    assert [p.shape for p in decay["params"]] == [torch.Size([3, 3, 1, 1])]  # the conv weight
    assert len(no_decay["params"]) == 4  # matrix, conv bias, BN weight and bias
    assert opt.defaults["nesterov"] and opt.param_groups[0]["lr"] == 0.5


def test_scheduler_follows_cosine_lr_per_step():
    net = tiny_net()
    opt = T.make_optimizer(net, T.TrainConfig(), lr=0.4)
    sched = T.make_scheduler(opt, total_steps=20, warmup_steps=4, min_lr=0.04)
    seen = []
    for _ in range(20):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    expected = [T.cosine_lr(k, 20, 0.4, 4, 0.04) for k in range(20)]
    assert seen == pytest.approx(expected)
    assert seen[0] == pytest.approx(0.1) and seen[4] == pytest.approx(0.4)  # warm-up, then peak
