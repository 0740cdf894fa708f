"""Notebook 05's exercise checks: the right answer passes, each typical mistake fails with
its own hint, an unsolved exercise reports TODO, and the module hands out no answer."""

import pytest
import torch
import torch.nn.functional as F

from hwnas_lab.course import nb05_checks as ex
from hwnas_lab.course import nb05_ofa
from hwnas_lab.ofa import centre_crop
from hwnas_lab.ofa.shrink_step import distillation_loss, progressive_step
from helpers import run_todo

pytestmark = pytest.mark.usefixtures("one_thread")


def test_the_modules_hand_out_no_answer():
    for module in (ex, nb05_ofa):
        for name in ("centre_crop", "reference", "reference_distillation", "distillation_loss",
                     "DynamicPointConv2d", "DynamicDepthwiseConv2d", "progressive_step",
                     "shrink_step", "sample_phase", "make_teacher"):
            assert not hasattr(module, name), f"{module.__name__}.{name}"


# ----- exercise 1: centre_crop_kernel --------------------------------------------------------
def off_by_one(w, ks):
    start = (w.shape[-1] - ks) // 2 + 1
    return w[..., start:start + ks, start:start + ks]


@pytest.mark.parametrize("wrong, hint", [
    (lambda w, ks: w[..., :ks, :ks], "top-left"),
    (off_by_one, "off by one"),
    (lambda w, ks: w[..., 1:1 + ks, :ks], "start at \\(K - ks\\) // 2"),
    (lambda w, ks: w.numpy(), "torch.Tensor"),
])
def test_centre_crop_catches(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ex.check_centre_crop(wrong)


def test_centre_crop_passes_and_reports_todo(capsys, monkeypatch):
    ex.check_centre_crop(centre_crop)
    assert "PASS  centre_crop_kernel" in capsys.readouterr().out
    run_todo(ex.check_centre_crop, capsys, monkeypatch, "centre_crop_kernel")


# ----- exercise 2: slice_pointwise -----------------------------------------------------------
@pytest.mark.parametrize("wrong, hint", [
    (lambda w, cout, cin: w[-cout:, -cin:], "first"),
    (lambda w, cout, cin: w[:cout], "slice the inputs too"),
    (lambda w, cout, cin: w[:, :cin], "slice the outputs too"),
    (lambda w, cout, cin: w[:cout, :cin].transpose(0, 1), "wrong axis"),
])
def test_channel_slice_catches(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ex.check_channel_slice(wrong)


def test_channel_slice_passes_and_reports_todo(capsys, monkeypatch):
    ex.check_channel_slice(lambda w, cout, cin: w[:cout, :cin])
    assert "PASS  slice_pointwise" in capsys.readouterr().out
    run_todo(ex.check_channel_slice, capsys, monkeypatch, "slice_pointwise")


# ----- exercise 3: distillation_loss ---------------------------------------------------------
def kl_div(s, t, T, reduction="batchmean", log_target=True):
    """F.kl_div with the teacher's LOG-probabilities as target (log_target=False: a mistake)."""
    return T * T * F.kl_div(F.log_softmax(s / T, dim=1), F.log_softmax(t / T, dim=1),
                            reduction=reduction, log_target=log_target)


@pytest.mark.parametrize("wrong, hint", [
    (lambda s, t, T: distillation_loss(t, s, T), "wrong way round"),
    (lambda s, t, T: kl_div(s, t, T, reduction="mean"), "reduction='mean'"),
    (lambda s, t, T: kl_div(s, t, T, reduction="sum"), "sum over the batch"),
    (lambda s, t, T: kl_div(s, t, T, log_target=False), "NaN|log_target"),
    (lambda s, t, T: distillation_loss(s, t, T) / T / T, "T\\^2"),
    (lambda s, t, T: T * T * F.kl_div(F.log_softmax(s, 1), F.log_softmax(t, 1),
                                      reduction="batchmean", log_target=True), "divide both"),
    (lambda s, t, T: kl_div(s, t, T, reduction="none"), "one number"),
])
def test_distillation_catches(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ex.check_distillation_loss(wrong)


def test_distillation_passes_and_reports_todo(capsys, monkeypatch):
    ex.check_distillation_loss(distillation_loss)
    ex.check_distillation_loss(kl_div)  # F.kl_div with batchmean and log_target is right
    assert capsys.readouterr().out.count("PASS  distillation_loss") == 2
    run_todo(ex.check_distillation_loss, capsys, monkeypatch, "distillation_loss")


# ----- exercise 4: progressive_shrinking_step -------------------------------------------------
def learner_step(net, teacher, opt, X, y, phase, rng, criterion, T=1.0, *, n=None, fix_r=True,
                 kd="forward", teacher_mode="eval", no_grad=True, zero_grad="before",
                 reduce="sum", ce=None, temperature=None, detach=True, step_each=False,
                 sandwich=True):
    """A learner's step written out plainly; the keywords make it wrong in one way."""
    r = X.shape[-1]
    archs = phase.fixed_subnets(net.space, r) if sandwich else []
    archs += [net.space.sample(rng, **({"r": (r,)} if fix_r else {}), **phase.choices())
              for _ in range(phase.n_subnets if n is None else n)]
    soft = None
    if phase.kd > 0:
        if teacher_mode == "train":
            teacher.train()
        if teacher_mode == "supernet":
            soft = net.set_active(net.space.largest())(X).detach()
        elif no_grad:
            with torch.no_grad():
                soft = teacher(X)
        else:
            soft = teacher(X)
    temp = T if temperature is None else temperature
    if zero_grad == "before":
        opt.zero_grad()
    losses = []
    for arch in archs:
        net.set_active(arch)
        out = net(X)
        term = criterion(out, y) if ce is None else ce(out, y)
        if soft is not None and kd != "none":
            log_q = F.log_softmax(out / temp, dim=1)
            log_p = F.log_softmax(soft / temp, dim=1)
            kl = (log_p.exp() * (log_p - log_q)) if kd == "forward" else (log_q.exp() * (log_q - log_p))
            term = term + phase.kd * temp * temp * kl.sum(dim=1).mean()
        if step_each:
            opt.zero_grad()
            term.backward()
            opt.step()
        losses.append(term)
    loss = sum(losses) / (len(losses) if reduce == "mean" else 1)
    if not step_each:
        loss.backward()
        if zero_grad == "between":
            opt.zero_grad()
        opt.step()
    return loss.detach() if detach else loss


def with_(**wrong):
    return lambda *args: learner_step(*args, **wrong)


STEP_MISTAKES = [
    (with_(kd="none"), "no distillation"),
    (with_(kd="reverse"), "wrong way round"),
    (with_(teacher_mode="train"), "teacher was left in train mode"),
    (with_(no_grad=False), "teacher's weights received gradients"),
    (with_(teacher_mode="supernet"), "came from the supernet itself"),
    (with_(n=1), "one subnet instead of the phase's sample"),
    (with_(sandwich=False), "trained only the random subnets"),
    (with_(reduce="mean"), "ADD them"),
    (with_(zero_grad="never"), "zero_grad\\(\\) before loss.backward"),
    (with_(zero_grad="between"), "weights did not change"),
    (with_(fix_r=False), "without fixing the resolution"),
    (with_(ce=F.cross_entropy), "criterion"),
    (with_(temperature=1.0), "pass the temperature"),
    (with_(detach=False), "detach"),
    (with_(step_each=True), "expected"),  # a step per subnet: the second loss is off
]


@pytest.mark.parametrize("wrong, hint", STEP_MISTAKES, ids=[h for _, h in STEP_MISTAKES])
def test_shrink_step_catches(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        ex.check_shrink_step(wrong)


def test_shrink_step_names_a_missing_teacher():
    def no_none_check(net, teacher, opt, X, y, phase, rng, criterion, T=1.0):
        with torch.no_grad():
            soft = teacher(X)  # phase 'largest' has no teacher
        return learner_step(net, teacher, opt, X, y, phase, rng, criterion, T) + 0 * soft.sum()

    with pytest.raises(AssertionError, match="has no teacher"):
        ex.check_shrink_step(no_none_check)


def test_shrink_step_passes_and_reports_todo(capsys, monkeypatch):
    ex.check_shrink_step(learner_step)
    ex.check_shrink_step(lambda *args: progressive_step(*args))
    assert capsys.readouterr().out.count("PASS  progressive_shrinking_step") == 2
    run_todo(ex.check_shrink_step, capsys, monkeypatch, "progressive_shrinking_step")
