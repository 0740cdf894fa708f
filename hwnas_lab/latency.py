"""Measuring latency on the learner's own machine: the protocol, targets, noise floor, metrics.

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
* **Noise floor.** The same networks measured again and again, interleaved: treating one
  round's measurement as a "prediction" of another's gives the best score any latency
  predictor can reach on this machine (:class:`NoiseFloor`).
* **Metrics.** RMSE, mean absolute percentage error, the share within +-5 % and +-10 %
  (nn-Meter's measure) and Kendall's tau (:func:`latency_metrics`).

The latency table built from these measurements lives in :mod:`hwnas_lab.lut`.
"""

from __future__ import annotations

import io
import itertools
import logging
import os
import platform
import timeit
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

# torch.utils.benchmark imports the C++ extension helper, which logs a CUDA_HOME notice
logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
from torch.utils.benchmark import Timer  # noqa: E402

from .space import Arch, LayerSpec, SearchSpace

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
        if isinstance(self.threads, bool) or not isinstance(self.threads, (int, np.integer)) \
                or self.threads < 1:
            raise ValueError(f"threads must be a positive int, got {self.threads!r} "
                             f"(this machine has {all_threads()} cores)")
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
        if self.kind == "cuda":
            net_gpu, x_gpu = net.to("cuda"), x.to("cuda")

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
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, (int, np.integer))
                                or threads < 1):
        raise ValueError(f"threads must be a positive int, got {threads!r} "
                         f"(this machine has {all_threads()} cores)")
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


def default_targets() -> list[Target]:
    """The targets the course compares: torch on 1 and all threads, ONNX Runtime, CUDA if any."""
    targets = [Target("torch", 1), Target("torch", all_threads()), Target("onnxruntime", 1)]
    if all_threads() == 1:
        targets.pop(1)
    if cuda_available():
        targets.append(Target("cuda", 1))
    return targets


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


def _check_count(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


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
    _check_count("repeats", repeats, 1)
    _check_count("warmup", warmup, 0)
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
    _check_count("repeats", repeats, 1)
    _check_count("warmup", warmup, 0)
    timer = Timer(stmt="run()", globals={"run": run}, num_threads=target.threads,
                  timer=torch.utils.benchmark.utils.timer.timer if target.kind == "cuda"
                  else timeit.default_timer)
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(target.threads)
    try:
        for _ in range(warmup):
            run()
        once_s = timer.timeit(1).median  # Timer.timeit also warms up twice itself
        number = max(1, int(np.ceil(min_sample_ms / 1e3 / max(once_s, 1e-7))))
        samples = [timer.timeit(number).median * 1e3 for _ in range(repeats)]
    finally:
        torch.set_num_threads(torch_threads)
    q1, med, q3 = np.percentile(samples, [25, 50, 75])
    return LatencyResult(float(med), float(q3 - q1), tuple(float(s) for s in samples),
                         target.threads, target.name, number, batch)


def measure_layer(spec: LayerSpec, target: "str | Target" = "torch", repeats: int = 15,
                  warmup: int = 5, batch: int = 1) -> LatencyResult:
    """Latency of one operator of the search space, measured in isolation."""
    from .blocks import build_layer

    layer = build_layer(spec)
    return measure_latency(layer, (batch, spec.cin, spec.in_size, spec.in_size),
                           repeats=repeats, warmup=warmup, target=get_target(target))


def measure_archs(space: SearchSpace, archs: Sequence[Arch], target: "str | Target" = "torch",
                  repeats: int = 15, warmup: int = 5, progress: bool = True) -> list[LatencyResult]:
    """End-to-end latency of each architecture (its static network, batch 1)."""
    from tqdm.auto import tqdm

    from .blocks import build_net

    tgt = get_target(target)
    return [measure_latency(build_net(space, a), repeats=repeats, warmup=warmup, target=tgt)
            for a in tqdm(archs, desc=f"measure {tgt.name}", disable=not progress, leave=False)]


# ----- metrics ---------------------------------------------------------------------------
def _as_arrays(pred: Sequence[float], meas: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    p, m = np.asarray(pred, dtype=np.float64).ravel(), np.asarray(meas, dtype=np.float64).ravel()
    if p.shape != m.shape or p.size == 0:
        raise ValueError(f"predictions ({p.size}) and measurements ({m.size}) must be non-empty "
                         "and of equal length")
    if np.any(m <= 0):
        raise ValueError("measured latencies must be positive (a relative error divides by them)")
    return p, m


def within_pct(pred: Sequence[float], meas: Sequence[float], pct: float = 10.0) -> float:
    """Share (0..1) of predictions within +-``pct`` % of the measurement (nn-Meter's measure)."""
    p, m = _as_arrays(pred, meas)
    return float(np.mean(np.abs(p - m) / m <= pct / 100.0 + 1e-12))  # band edge inside


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b rank correlation (ties handled), O(n^2) in numpy."""
    a, b = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if a.shape != b.shape or a.size < 2:
        raise ValueError("kendall_tau needs two sequences of equal length >= 2")
    i, j = np.triu_indices(a.size, k=1)
    sa, sb = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
    denom = np.sqrt(np.count_nonzero(sa) * np.count_nonzero(sb))
    return float(np.sum(sa * sb) / denom) if denom > 0 else float("nan")


@dataclass(frozen=True)
class LatencyMetrics:
    """How well predicted latencies match measured ones."""

    rmse_ms: float  # root mean squared error
    mape_pct: float  # mean absolute percentage error
    within5: float  # share within +-5 %
    within10: float  # share within +-10 %
    kendall_tau: float  # rank agreement, 1 = same order
    n: int  # number of (prediction, measurement) pairs

    def __str__(self) -> str:
        return (f"RMSE {self.rmse_ms:.3f} ms, MAPE {self.mape_pct:.1f} %, "
                f"+-5 % {100 * self.within5:.0f} %, +-10 % {100 * self.within10:.0f} %, "
                f"tau {self.kendall_tau:.3f} (n={self.n})")


def latency_metrics(pred: Sequence[float], meas: Sequence[float]) -> LatencyMetrics:
    """RMSE, MAPE, share within +-5/10 % and Kendall's tau of ``pred`` against ``meas``."""
    p, m = _as_arrays(pred, meas)
    rel = np.abs(p - m) / m
    tau = kendall_tau(p, m) if p.size >= 2 else float("nan")
    return LatencyMetrics(float(np.sqrt(np.mean((p - m) ** 2))), float(100 * rel.mean()),
                          float(np.mean(rel <= 0.05 + 1e-12)), float(np.mean(rel <= 0.10 + 1e-12)),
                          tau, int(p.size))


# ----- the noise floor -------------------------------------------------------------------
@dataclass
class NoiseFloor:
    """Repeated, interleaved measurements of the same networks on one target.

    ``medians_ms[k, j]`` is round ``k``'s median for network ``j``. Using one round as a
    "prediction" of another (every ordered pair of rounds) scores the measurement
    against itself: no predictor can beat it on this machine.
    """

    target: str  # Target.name
    names: list[str]  # one per network
    medians_ms: np.ndarray  # shape (rounds, networks)
    iqrs_ms: np.ndarray  # within-measurement IQRs, same shape
    info: dict = field(default_factory=machine_info)  # machine the rounds ran on

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(as-if-predicted, measured): every ordered pair of different rounds, every network."""
        rounds = self.medians_ms.shape[0]
        if rounds < 2:
            raise ValueError("a noise floor needs at least 2 rounds")
        ab = np.array(list(itertools.permutations(range(rounds), 2)))
        return self.medians_ms[ab[:, 0]].ravel(), self.medians_ms[ab[:, 1]].ravel()

    def metrics(self) -> LatencyMetrics:
        return latency_metrics(*self.pairs())

    @property
    def rel_spread_pct(self) -> float:
        """Median over networks of (IQR across rounds / median), in percent."""
        q1, med, q3 = np.percentile(self.medians_ms, [25, 50, 75], axis=0)
        return float(100 * np.median((q3 - q1) / med))

    def __str__(self) -> str:
        m = self.metrics()
        return (f"noise floor on {self.target} ({self.info.get('cpu')}): {self.medians_ms.shape[0]} "
                f"rounds x {len(self.names)} nets; round-to-round spread {self.rel_spread_pct:.1f} %, "
                f"repeat-vs-repeat MAPE {m.mape_pct:.1f} %, within +-10 % {100 * m.within10:.0f} %, "
                f"within +-5 % {100 * m.within5:.0f} %")


def noise_floor(nets: Sequence[nn.Module], target: "str | Target" = "torch", rounds: int = 5,
                repeats: int = 15, warmup: int = 5, names: Sequence[str] | None = None,
                progress: bool = True) -> NoiseFloor:
    """Measure every net ``rounds`` times, interleaved (net 1, net 2, ..., net 1, ...)."""
    from tqdm.auto import tqdm

    _check_count("rounds", rounds, 2)
    if not nets:
        raise ValueError("noise_floor needs at least one network")
    tgt = get_target(target)
    names = list(names) if names is not None else [f"net{i}" for i in range(len(nets))]
    med, iqr = np.zeros((rounds, len(nets))), np.zeros((rounds, len(nets)))
    bar = tqdm(total=rounds * len(nets), desc=f"noise floor {tgt.name}", disable=not progress,
               leave=False)
    runners = [tgt.prepare(net, net.input_shape(1) if hasattr(net, "input_shape") else (1, 3, 32, 32))
               for net in nets]  # prepared once (an ONNX export per net, not per round)
    for k in range(rounds):
        for j, run in enumerate(runners):
            res = time_runner(run, tgt, repeats=repeats, warmup=warmup)
            med[k, j], iqr[k, j] = res.median_ms, res.iqr_ms
            bar.update()
    bar.close()
    return NoiseFloor(tgt.name, names, med, iqr)
