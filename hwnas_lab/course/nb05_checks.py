"""Notebook 05's exercise checks: each runs the learner's function against the package's
reference and names the likely mistake when they differ.

Exercises: ``centre_crop_kernel`` (OFA's elastic kernel, Cai et al., ICLR 2020, Section
3.2), ``slice_pointwise`` (elastic width), ``distillation_loss`` (Hinton et al., 2015:
``T^2 * KL(teacher || student)``) and ``progressive_shrinking_step`` (one step of
progressive shrinking, Section 3.3). References are imported inside the checks, so that
the notebook's namespace (``nb.``) holds no answer before its exercise.
"""

from __future__ import annotations

import copy
import dataclasses
import random

import torch
import torch.nn.functional as F
from torch import nn

from .checks import exercise, expect_close, expect_equal, expect_tensor


def check_centre_crop(centre_crop_kernel) -> None:
    """Exercise (notebook 05): ``centre_crop_kernel(weight, ks)`` returns the centre
    ``ks x ks`` window of a ``(C, 1, K, K)`` depthwise kernel (OFA's elastic kernel, before
    the learned transformation)."""
    from ..ofa.dynamic import centre_crop as reference

    with exercise("centre_crop_kernel"):
        g = torch.Generator().manual_seed(0)
        for channels, big, ks in ((4, 7, 5), (4, 7, 3), (2, 5, 3), (3, 7, 7), (1, 3, 1)):
            weight = torch.randn(channels, 1, big, big, generator=g)
            got = expect_tensor("centre_crop_kernel", centre_crop_kernel(weight, ks))
            expected = reference(weight, ks)
            expect_equal(f"shape of centre_crop_kernel(weight {tuple(weight.shape)}, {ks})",
                         tuple(got.shape), tuple(expected.shape))
            if not torch.equal(got, expected):
                start = (big - ks) // 2
                corner = weight[..., :ks, :ks]
                shifted = weight[..., start + 1:start + 1 + ks, start + 1:start + 1 + ks]
                if torch.equal(got, corner):
                    hint = " - you took the top-left corner, not the centre"
                elif got.shape == shifted.shape and torch.equal(got, shifted):
                    hint = " - off by one: the window starts at (K - ks) // 2, not one later"
                else:
                    hint = " - the window must start at (K - ks) // 2 in both axes"
                raise AssertionError(f"wrong values for K={big}, ks={ks}{hint}")
        print("  matched on 5 kernels (7->5, 7->3, 5->3, 7->7, 3->1)")


def check_channel_slice(slice_pointwise) -> None:
    """Exercise (notebook 05): ``slice_pointwise(weight, cout, cin)`` returns the weight a
    1x1 conv uses with ``cout`` output and ``cin`` input channels: the FIRST of each."""
    from ..ofa.dynamic import DynamicPointConv2d

    with exercise("slice_pointwise"):
        torch.manual_seed(0)
        conv = DynamicPointConv2d(16, 96)
        for cout, cin in ((96, 16), (64, 16), (48, 12), (1, 1)):
            got = expect_tensor("slice_pointwise", slice_pointwise(conv.weight.detach(), cout, cin))
            conv.active_out = cout
            expected = conv.active_weight(cin).detach()
            if tuple(got.shape) == (cin, cout, 1, 1) and cin != cout:
                raise AssertionError(f"shape {tuple(got.shape)} for cout={cout}, cin={cin}: "
                                     "channels sliced on the wrong axis (outputs are dim 0, "
                                     "inputs dim 1)")
            full_out, full_in = conv.weight.shape[:2]
            if tuple(got.shape[:2]) == (cout, full_in) and cin != full_in:
                raise AssertionError(f"shape {tuple(got.shape)} for cout={cout}, cin={cin}: slice "
                                     "the inputs too, the first cin channels of dim 1")
            if tuple(got.shape[:2]) == (full_out, cin) and cout != full_out:
                raise AssertionError(f"shape {tuple(got.shape)} for cout={cout}, cin={cin}: slice "
                                     "the outputs too, the first cout channels of dim 0")
            expect_equal(f"shape for cout={cout}, cin={cin}", tuple(got.shape), tuple(expected.shape))
            if not torch.equal(got, expected):
                raise AssertionError(f"wrong values for cout={cout}, cin={cin}: keep the first "
                                     "cout output channels (dim 0) and first cin inputs (dim 1)")
            x = torch.randn(2, cin, 4, 4)
            if not torch.allclose(F.conv2d(x, got), conv(x), atol=1e-6):
                raise AssertionError("a conv with your weight differs from the elastic layer")
        print("  matched the elastic 1x1 conv at 4 widths")


def _close(a: float, b: float, rel: float = 1e-4) -> bool:
    return abs(a - b) <= rel * max(abs(b), 1e-6)


def _distillation_hint(got: float, s: torch.Tensor, t: torch.Tensor, T: float) -> str | None:
    """The likely mistake behind a wrong distillation value, or None."""
    from ..ofa.shrink_step import distillation_loss as reference

    expected = reference(s, t, T).item()
    batch, classes = s.shape
    if got != got:  # NaN
        return ("got NaN: F.kl_div reads its target as probabilities; with log-probabilities "
                "pass log_target=True (or take the exp of the teacher's log_softmax)")
    if _close(got, reference(t, s, T).item()):
        return (f"KL the wrong way round (got {got:.5g}, expected {expected:.5g}): you computed "
                "KL(student || teacher). Distillation is KL(teacher || student) = sum_c p_c "
                "(log p_c - log q_c), weighted by the TEACHER's probabilities p; with F.kl_div "
                "the student's log-probabilities come first, the teacher second")
    if _close(got, expected / classes):
        return (f"got {got:.5g} = expected / {classes} classes: F.kl_div(..., reduction='mean') "
                "averages over batch x classes; use reduction='batchmean' (the KL of each image, "
                "averaged over the batch)")
    if _close(got, expected * batch):
        return (f"got {got:.5g} = expected x {batch} images: a sum over the batch; average it "
                "(reduction='batchmean')")
    if T != 1.0 and _close(got, expected / (T * T)):
        return f"T={T}: multiply by T^2 (got {got:.5g}, expected {expected:.5g})"
    if T != 1.0 and _close(got, reference(s * T, t * T, T).item()):
        return f"T={T}: divide both logits by T before the softmax"
    return None


def check_distillation_loss(distillation_loss) -> None:
    """Exercise (notebook 05): ``distillation_loss(student_logits, teacher_logits, T)`` is
    ``T^2 * KL(softmax(t/T) || softmax(s/T))``, averaged over the batch."""
    from ..ofa.shrink_step import distillation_loss as reference

    with exercise("distillation_loss"):
        g = torch.Generator().manual_seed(0)
        s, t = 2 * torch.randn(8, 10, generator=g), 2 * torch.randn(8, 10, generator=g)
        def run(s, t, T):
            got = expect_tensor("distillation_loss", distillation_loss(s, t, T))
            if got.dim() != 0:
                raise AssertionError(f"return one number (a 0-d tensor), got shape "
                                     f"{tuple(got.shape)}: sum over the classes, average over "
                                     "the batch")
            return got

        same = run(t, t.clone(), 1.0)
        expect_close("loss when the student equals the teacher", same.item(), 0.0, abs_=1e-5)
        for T in (1.0, 2.0, 4.0):
            got = run(s, t, T)
            expected = reference(s, t, T).item()
            if not _close(got.item(), expected):
                hint = _distillation_hint(got.item(), s, t, T)
                raise AssertionError(hint or f"distillation_loss at T={T}: expected "
                                     f"{expected:.6g}, got {got.item():.6g}")
        s_req = s.clone().requires_grad_(True)
        distillation_loss(s_req, t, 1.0).backward()
        if s_req.grad is None or not torch.isfinite(s_req.grad).all():
            raise AssertionError("the loss must be differentiable in the student's logits")
        print("  matched the reference at T = 1, 2, 4; zero when the student copies the teacher")


# ----- exercise 4: one step of progressive shrinking ---------------------------------------
STEP_LR = 0.1  # plain SGD in the check: the step's update is then w - lr * grad


def _step_setup(phase_index: int, seed: int = 0, sandwich: bool = False):
    """A fixed starting point: a supernet, its teacher, plain SGD with STALE gradients left
    in ``.grad`` (an earlier step's), a batch at resolution 24, and the phase to train (with
    the phase's largest and smallest subnets in every step if ``sandwich``)."""
    from ..ofa.schedule import get_shrink_config
    from ..ofa.shrink_step import make_teacher
    from ..ofa.supernet import OFASupernet

    phase = get_shrink_config("smoke").phases[phase_index]
    if sandwich:
        phase = dataclasses.replace(phase, always=("largest", "smallest"))
    teacher = None
    if phase.kd > 0:  # another network than the student's largest, with confident logits
        torch.manual_seed(seed + 100)  # (a random class bias), in eval mode, but with weights
        teacher = make_teacher(OFASupernet("cpu"), memory_format=torch.contiguous_format)
        with torch.no_grad():  # that require grad: a teacher not detached would learn
            teacher.head.classifier.bias.copy_(3.0 * torch.randn(10))
            for p in teacher.parameters():
                p.requires_grad_(True)
    torch.manual_seed(seed)
    net = OFASupernet("cpu").train()
    g = torch.Generator().manual_seed(seed + 1)
    for p in net.parameters():
        p.grad = 0.01 * torch.randn(p.shape, generator=g)
    opt = torch.optim.SGD(net.parameters(), lr=STEP_LR)
    X = torch.randn(8, 3, 24, 24, generator=g)
    y = torch.randint(0, 10, (8,), generator=g)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    return net, teacher, opt, X, y, phase, criterion


def _variant_losses(phase_index: int, T: float, seed: int, sandwich: bool) -> dict[str, float]:
    """The summed loss of typical wrong steps (no update), keyed by the hint they earn."""
    from ..ofa.shrink_step import distillation_loss

    net, teacher, _, X, y, phase, criterion = _step_setup(phase_index, seed, sandwich)
    start = copy.deepcopy(net.state_dict())

    def loss_of(*, n=phase.n_subnets, sample_r=True, kd="forward", ce=criterion, temp=T,
                teacher_from="teacher", reduce="sum", fixed=True) -> float:
        net.load_state_dict(start)
        net.train()
        rng = random.Random(seed)
        r = {"r": (X.shape[-1],)} if sample_r else {}
        archs = phase.fixed_subnets(net.space, X.shape[-1]) if fixed else []
        archs += [net.space.sample(rng, **r, **phase.choices()) for _ in range(n)]
        with torch.no_grad():
            if teacher is None:
                soft = None
            elif teacher_from == "teacher-train":
                soft = copy.deepcopy(teacher).train()(X)
            elif teacher_from == "supernet":
                soft = net.set_active(net.space.largest())(X)
            else:
                soft = teacher(X)
            losses = []
            for arch in archs:
                out = net.set_active(arch)(X)
                term = ce(out, y)
                if soft is not None and kd != "none":
                    s, t = (out, soft) if kd == "forward" else (soft, out)
                    term = term + phase.kd * distillation_loss(s, t, temp)
                losses.append(term)
        total = sum(losses)
        return float(total / len(losses) if reduce == "mean" else total)

    kd_phase = teacher is not None
    variants = {
        "averaged the subnets' losses: ADD them (one backward through their sum, as OFA "
        "accumulates the gradients of the sampled subnets)": loss_of(reduce="mean"),
        f"trained one subnet instead of the phase's sample: draw phase.n_subnets "
        f"(= {phase.n_subnets}) subnets and add their losses": loss_of(n=1),
        "cross-entropy without the criterion you were given: use criterion(logits, y) "
        "(it has label smoothing)": loss_of(ce=lambda o, t: F.cross_entropy(o, t)),
        "sampled without fixing the resolution: space.sample(rng, r=(X.shape[-1],), "
        "**phase.choices()), one resolution per batch": loss_of(sample_r=False),
    }
    if phase.always:
        variants[f"trained only the random subnets: phase.always = {phase.always} asks for "
                 "the phase's largest and smallest subnets too (the sandwich rule); put "
                 "phase.fixed_subnets(net.space, r) first in the list"] = loss_of(fixed=False)
    if kd_phase:
        variants = {
            "no distillation: add phase.kd * distillation_loss(student, teacher logits, T) "
            "to each subnet's cross-entropy": loss_of(kd="none"),
            "distillation the wrong way round: KL(teacher || student) is "
            "distillation_loss(student_logits, teacher_logits, T)": loss_of(kd="reverse"),
            "the teacher ran in train mode (batch statistics): keep it as given, in eval mode, "
            "and call it under torch.no_grad()": loss_of(teacher_from="teacher-train"),
            "the teacher's logits came from the supernet itself: use the frozen `teacher` "
            "you are given (the largest network, copied after phase 1)":
                loss_of(teacher_from="supernet"),
            f"distillation at T=1: pass the temperature T (= {T}) to distillation_loss":
                loss_of(temp=1.0),
            **variants}
    return variants


def _run_step(fn, phase_index: int, T: float, seed: int, sandwich: bool,
              reference: bool = False):
    """Run the learner's step (or the reference) from the fixed start; return what it left."""
    from ..ofa.shrink_step import progressive_step

    net, teacher, opt, X, y, phase, criterion = _step_setup(phase_index, seed, sandwich)
    rng = random.Random(seed)
    teacher_buffers = None if teacher is None else copy.deepcopy(teacher.state_dict())
    stale = {name: p.grad.clone() for name, p in net.named_parameters()}
    if reference:
        loss = progressive_step(net, teacher, opt, X, y, phase, rng, criterion, T)
    else:
        try:
            loss = fn(net, teacher, opt, X, y, phase, rng, criterion, T)
        except TypeError as err:
            if teacher is None and "NoneType" in str(err):
                raise AssertionError(f"phase {phase.name!r} (kd={phase.kd}) has no teacher "
                                     f"(teacher is None): distil only when phase.kd > 0 ({err})"
                                     ) from None
            raise
    return dict(loss=loss, net=net, teacher=teacher, teacher_buffers=teacher_buffers,
                stale=stale, phase=phase)


def _compare_step(fn, phase_index: int, T: float, seed: int, sandwich: bool = False) -> float:
    want = _run_step(None, phase_index, T, seed, sandwich, reference=True)
    got = _run_step(fn, phase_index, T, seed, sandwich)
    phase, teacher = got["phase"], got["teacher"]
    sandwiched = f" + {' and '.join(phase.always)}" if phase.always else ""
    where = (f"phase {phase.name!r} ({phase.n_subnets} random subnets/step{sandwiched}, "
             f"kd={phase.kd}, T={T})")
    loss = got["loss"]
    if isinstance(loss, torch.Tensor):
        if loss.numel() != 1:
            raise AssertionError(f"{where}: return the summed loss as one number, got shape "
                                 f"{tuple(loss.shape)}")
        if loss.requires_grad:
            raise AssertionError(f"{where}: return loss.detach() (a loss still attached to its "
                                 "graph keeps every activation of the step alive)")
    try:
        loss = float(loss)
    except (TypeError, ValueError):
        raise AssertionError(f"{where}: return the summed loss (a 0-d tensor), got "
                             f"{type(loss).__name__}") from None
    if teacher is not None:
        if teacher.training:
            raise AssertionError(f"{where}: the teacher was left in train mode: keep it in eval "
                                 "mode (fixed BN statistics) and call it under torch.no_grad()")
        if any(p.grad is not None for p in teacher.parameters()):
            raise AssertionError(f"{where}: the teacher's weights received gradients: compute "
                                 "its logits under torch.no_grad() (or .detach() them)")
        moved = any(not torch.equal(a, got["teacher_buffers"][k])
                    for k, a in teacher.state_dict().items())
        if moved:
            raise AssertionError(f"{where}: the teacher changed (its BN statistics or weights): "
                                 "it must only be evaluated, in eval mode")
    expected = float(want["loss"])
    if not _close(loss, expected, 1e-5):
        for hint, value in _variant_losses(phase_index, T, seed, sandwich).items():
            if _close(loss, value, 1e-5):
                raise AssertionError(f"{where}: {hint} (loss {loss:.6g}, expected {expected:.6g})")
        raise AssertionError(f"{where}: summed loss {loss:.6g}, expected {expected:.6g}. List "
                             "the subnets first: phase.fixed_subnets(net.space, r), then "
                             "phase.n_subnets draws of net.space.sample(rng, r=(X.shape[-1],), "
                             "**phase.choices()); then for each: net.set_active(arch), "
                             "CE + kd * distillation")
    new = dict(got["net"].named_parameters())
    ref = dict(want["net"].named_parameters())
    start_net, *_ = _step_setup(phase_index, seed, sandwich)
    start = dict(start_net.named_parameters())
    if all(torch.equal(new[k], start[k]) for k in new):
        raise AssertionError(f"{where}: right loss but the weights did not change: call "
                             "loss.backward() then opt.step() (and opt.zero_grad() BEFORE backward)")
    if not all(torch.allclose(new[k], ref[k], rtol=1e-4, atol=1e-6) for k in new):
        stale_applied = all(torch.allclose(new[k], ref[k] - STEP_LR * got["stale"][k], rtol=1e-4,
                                           atol=1e-6) for k in new)
        if stale_applied:
            raise AssertionError(f"{where}: right loss, but the update also applied the "
                                 "gradients left in .grad by an earlier step: call "
                                 "opt.zero_grad() before loss.backward()")
        raise AssertionError(f"{where}: right loss but different updated weights: one backward "
                             "of the summed loss, then one opt.step()")
    buffers = dict(got["net"].named_buffers())
    if not all(torch.allclose(b, dict(want["net"].named_buffers())[k], rtol=1e-4, atol=1e-6)
               for k, b in buffers.items()):
        raise AssertionError(f"{where}: right loss and weights but different BN statistics: run "
                             "each sampled subnet exactly once, in train mode")
    return loss


def check_shrink_step(progressive_shrinking_step) -> None:
    """Exercise (notebook 05): ``progressive_shrinking_step(net, teacher, opt, X, y, phase,
    rng, criterion, T)`` is one step of progressive shrinking; compared with
    ``hwnas_lab.ofa.shrink_step.progressive_step`` (the training loop's step) from the same seed:
    same summed loss, same updated weights and BN statistics, teacher untouched."""
    with exercise("progressive_shrinking_step"):
        for phase_index, T, seed, sandwich in ((5, 2.0, 0, True), (2, 1.0, 1, False),
                                               (0, 1.0, 2, False)):
            _compare_step(progressive_shrinking_step, phase_index, T, seed, sandwich)
        print("  same loss and same updated weights as the reference step in phases "
              "'expand-2' (largest and smallest + 2 random subnets, T=2), 'depth-1' (2 random "
              "subnets) and 'largest' (no teacher)")
