"""Measuring latency on the learner's own machine: the measurement protocol and the targets.

Hardware-aware NAS optimises the latency of a *target*; FLOPs are only a proxy
(Tan et al., CVPR 2019, "MnasNet"; Cai et al., ICLR 2019, "ProxylessNAS"). This module
measures it, following the practice of nn-Meter (Zhang et al., MobiSys 2021):

* **Protocol.** ``torch.utils.benchmark.Timer`` with the thread count stated, a warm-up,
  ``eval()`` and ``torch.inference_mode()``, batch 1 by default; ``repeats`` samples, each
  the mean of ``number`` back-to-back calls (``number`` chosen so one sample lasts at
  least ``min_sample_ms``); reported as the **median** and the **inter-quartile range**.
* **Targets.** A :class:`Target` is a runtime plus a thread count: PyTorch eager on one
  thread (mobile-like), PyTorch on all cores, ONNX Runtime's CPU execution provider
  with its threads set explicitly, CUDA when a GPU is present. They rank networks
  differently, which is the point of hardware-aware search.

The noise floor and the metrics that score predictions are in
:mod:`hwnas_lab.latency.noise`; the latency table built from these measurements in
:mod:`hwnas_lab.latency.lut`.
"""

from __future__ import annotations

import copy
import io
import logging
import os
import platform
import timeit
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

# torch.utils.benchmark imports the C++ extension helper, which logs a CUDA_HOME notice
logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
from torch.utils.benchmark import Timer  # noqa: E402

from tqdm.auto import tqdm

from ..arch import Arch
from ..blocks import build_layer, build_net
from ..config import check_int, torch_threads
from ..space import LayerSpec, SearchSpace
from ..stats import quartiles

TARGET_KINDS = ("torch", "onnxruntime", "cuda")
TARGET_ALIASES = {  # name -> (kind, threads); None threads: the caller's (default 1)
    "torch": ("torch", None),
    "torch-1thread": ("torch", 1),
    "torch-allthreads": ("torch", 0),  # 0: every core of this machine
    "onnxruntime": ("onnxruntime", None),
    "ort": ("onnxruntime", None),
    "cuda": ("cuda", None),
}


def all_threads() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def cuda_available() -> bool:
    return torch.cuda.is_available()


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else ``platform.processor()``)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_info() -> dict:
    """What a latency figure depends on: CPU, cores, GPU, library versions, date."""
    try:
        import onnxruntime
        ort_version = onnxruntime.__version__
    except ImportError:
        ort_version = None
    return {"cpu": cpu_model(), "cores": all_threads(), "platform": platform.platform(),
            "gpu": torch.cuda.get_device_name(0) if cuda_available() else None,
            "torch": torch.__version__, "onnxruntime": ort_version,
            "python": platform.python_version(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


# ----- targets -----------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """A runtime and thread count on which latency is measured and predicted.

    ``kind`` is ``torch`` (eager PyTorch on the CPU), ``onnxruntime`` (ONNX Runtime,
    CPU execution provider) or ``cuda`` (eager PyTorch on the GPU).
    """

    kind: str  # one of TARGET_KINDS
    threads: int = 1  # intra-op threads of the CPU runtime (cuda: the host's torch threads)

    def __post_init__(self) -> None:
        if self.kind not in TARGET_KINDS:
            raise ValueError(f"unknown target kind {self.kind!r}; choose one of {list(TARGET_KINDS)}")
        check_int(f"threads (this machine has {all_threads()} cores)", self.threads)
        if self.kind == "cuda" and not cuda_available():
            raise ValueError("target 'cuda' needs a GPU, but torch.cuda.is_available() is False; "
                             "use a CPU target (torch, onnxruntime) on this machine")

    @property
    def name(self) -> str:
        """Readable and file-name safe, e.g. ``torch-1thread``, ``onnxruntime-2threads``."""
        if self.kind == "cuda":
            return "cuda"
        return f"{self.kind}-{self.threads}thread{'s' if self.threads > 1 else ''}"

    def __str__(self) -> str:
        return self.name

    def prepare(self, net: nn.Module, input_shape: Sequence[int]) -> Callable[[], object]:
        """A zero-argument function that runs one batch through ``net`` on this target."""
        net = net.eval()
        x = torch.randn(*input_shape)
        if self.kind == "torch":
            def run() -> object:
                with torch.inference_mode():
                    return net(x)
            return run
        if self.kind == "cuda":  # a copy: the caller's network stays where it is
            net_gpu, x_gpu = copy.deepcopy(net).to("cuda"), x.to("cuda")

            def run_gpu() -> object:
                with torch.inference_mode():
                    return net_gpu(x_gpu)
            return run_gpu
        session = onnx_session(net, x, self.threads)
        feed = {session.get_inputs()[0].name: x.numpy()}
        return lambda: session.run(None, feed)


def onnx_session(net: nn.Module, x: torch.Tensor, threads: int):
    """Export ``net`` to ONNX in memory and open it in ONNX Runtime with ``threads`` threads."""
    import onnxruntime as ort

    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(net, (x,), buffer, input_names=["x"], output_names=["y"],
                          dynamo=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])


def get_target(target: "str | Target" = "torch", threads: int | None = None) -> Target:
    """A :class:`Target` from a name (``torch``, ``torch-1thread``, ``torch-allthreads``,
    ``onnxruntime``/``ort``, ``cuda``) and a thread count; a ``Target`` is returned as is."""
    if isinstance(target, Target):
        if threads is not None and threads != target.threads:
            return Target(target.kind, threads)
        return target
    if threads is not None:
        check_int(f"threads (this machine has {all_threads()} cores)", threads)
    name = str(target).lower()
    if name in TARGET_ALIASES:
        kind, fixed = TARGET_ALIASES[name]
    else:  # a Target.name such as "onnxruntime-2threads"
        kind, _, rest = name.partition("-")
        digits = rest.removesuffix("threads").removesuffix("thread")
        if kind not in TARGET_KINDS or not digits.isdigit():
            raise ValueError(f"unknown target {target!r}; choose one of {sorted(TARGET_ALIASES)} "
                             "or a name such as 'onnxruntime-2threads'")
        fixed = int(digits)
    if fixed == 0:
        fixed = all_threads()
    return Target(kind, threads if threads is not None else (fixed or 1))


# ----- the measurement protocol ---------------------------------------------------------
@dataclass(frozen=True)
class LatencyResult:
    """One latency measurement: median and spread of ``repeats`` samples, in milliseconds."""

    median_ms: float  # median of the samples
    iqr_ms: float  # inter-quartile range (75th minus 25th percentile) of the samples
    samples_ms: tuple[float, ...]  # each sample: mean time of `number` back-to-back calls
    threads: int  # intra-op threads the runtime used
    target: str  # Target.name
    number: int = 1  # calls per sample
    batch: int = 1  # batch size of the input

    @property
    def rel_iqr(self) -> float:
        """IQR as a fraction of the median (0.05 = 5 % spread)."""
        return self.iqr_ms / self.median_ms if self.median_ms > 0 else float("nan")

    def __str__(self) -> str:
        return (f"{self.median_ms:.3f} ms (IQR {self.iqr_ms:.3f} ms, {len(self.samples_ms)} samples "
                f"x {self.number} calls, {self.target})")


def measure_latency(net: nn.Module, input_shape: Sequence[int] | None = None, threads: int | None = None,
                    repeats: int = 15, warmup: int = 5, target: "str | Target" = "torch",
                    min_sample_ms: float = 0.2) -> LatencyResult:
    """Measure ``net`` at ``input_shape`` (default ``net.input_shape(1)``: batch 1) on ``target``.

    ``warmup`` untimed calls, then ``repeats`` samples timed with
    ``torch.utils.benchmark.Timer`` (``num_threads=threads``); each sample averages
    ``number`` calls, ``number`` chosen so a sample lasts at least ``min_sample_ms``
    (timer resolution and per-call jitter). Short samples keep the median robust on a
    busy machine: a sample shorter than the scheduler's time slice is usually either
    clean or hit by one preemption, so most samples stay clean (measured on a loaded
    2-core machine: ONNX Runtime round-to-round spread 0.7 % at 0.2 ms, 41 % at 2 ms). ``threads`` (default: the target's, else 1)
    overrides the thread count of ``target``.
    """
    tgt = get_target(target, threads)
    check_int("repeats", repeats, 1)
    check_int("warmup", warmup, 0)
    if input_shape is None:
        if not hasattr(net, "input_shape"):
            raise ValueError("give input_shape, e.g. (1, 3, 32, 32): this module has no input_shape()")
        input_shape = net.input_shape(1)
    input_shape = tuple(int(s) for s in input_shape)
    if not input_shape or min(input_shape) < 1:
        raise ValueError(f"input_shape must be positive sizes such as (1, 3, 32, 32), got {input_shape}")
    return time_runner(tgt.prepare(net, input_shape), tgt, repeats, warmup, min_sample_ms,
                       input_shape[0])


def time_runner(run: Callable[[], object], target: Target, repeats: int = 15, warmup: int = 5,
                min_sample_ms: float = 0.2, batch: int = 1) -> LatencyResult:
    """The timing part of :func:`measure_latency`, for a runner from ``Target.prepare``."""
    check_int("repeats", repeats, 1)
    check_int("warmup", warmup, 0)
    timer = Timer(stmt="run()", globals={"run": run}, num_threads=target.threads,
                  timer=torch.utils.benchmark.utils.timer.timer if target.kind == "cuda"
                  else timeit.default_timer)
    with torch_threads(target.threads):
        for _ in range(warmup):
            run()
        once_s = timer.timeit(1).median  # Timer.timeit also warms up twice itself
        number = max(1, int(np.ceil(min_sample_ms / 1e3 / max(once_s, 1e-7))))
        samples = [timer.timeit(number).median * 1e3 for _ in range(repeats)]
    q1, med, q3 = quartiles(samples)
    return LatencyResult(float(med), float(q3 - q1), tuple(float(s) for s in samples),
                         target.threads, target.name, number, batch)


def measure_layer(spec: LayerSpec, target: "str | Target" = "torch", repeats: int = 15,
                  warmup: int = 5, batch: int = 1) -> LatencyResult:
    """Latency of one operator of the search space, measured in isolation."""
    layer = build_layer(spec)
    return measure_latency(layer, (batch, spec.cin, spec.in_size, spec.in_size),
                           repeats=repeats, warmup=warmup, target=get_target(target))


def measure_archs(space: SearchSpace, archs: Sequence[Arch], target: "str | Target" = "torch",
                  repeats: int = 15, warmup: int = 5, progress: bool = True) -> list[LatencyResult]:
    """End-to-end latency of each architecture (its static network, batch 1)."""
    tgt = get_target(target)
    return [measure_latency(build_net(space, a), repeats=repeats, warmup=warmup, target=tgt)
            for a in tqdm(archs, desc=f"measure {tgt.name}", disable=not progress, leave=False)]


