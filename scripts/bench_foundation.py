"""Benchmark of the data pipeline and of training throughput (prints figures; not a test).

    python scripts/bench_foundation.py                 # 2 threads, data from HWNAS_DATA_DIR
    python scripts/bench_foundation.py --threads 4 --repeats 9 --skip-decode

Data: the one-off decode of the training split (into a fresh, temporary cache folder),
the cached load, and one epoch of 50,000 images through ``data.batches(augment=True)``.
Training: images/s of forward + backward + SGD step at batch 128 for the largest and the
smallest subnet of the CPU space, in NCHW and channels_last memory formats (synthetic
inputs, so the data pipeline is not part of it). Every figure: median and IQR over
``--repeats`` runs, because a shared CPU is noisy.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from hwnas_lab import data as D
from hwnas_lab.blocks import build_net, count_flops
from hwnas_lab.space import get_space
from hwnas_lab.stats import quartiles


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def fmt(values: list[float], unit: str) -> str:
    q1, med, q3 = quartiles(values)
    return f"median {med:,.0f} {unit}, IQR {q3 - q1:,.0f} (n={len(values)})"


def bench_decode(root: str | None, repeats: int) -> D.TensorData | None:
    try:
        source = D.find_source("train", root, download=False)
    except FileNotFoundError as err:
        print(f"decode: skipped, no CIFAR-10 found ({str(err)[:120]}...)")
        return None
    print(f"source: {source}")
    old = os.environ.get("HWNAS_CACHE_DIR")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["HWNAS_CACHE_DIR"] = tmp  # empty cache: the decode really happens
        try:
            start = time.perf_counter()
            data = D.load_split("train", root=source.path, progress=False)
            decode_s = time.perf_counter() - start
            print(f"decode {len(data):,} images once (PIL, thread pool) + write cache: "
                  f"{decode_s:.1f} s = {len(data) / decode_s:,.0f} images/s")
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                again = D.load_split("train", root=source.path, progress=False)
                again.X.sum()  # touch every page of the memory-mapped cache
                times.append(time.perf_counter() - start)
            q1, med, q3 = quartiles(times)
            iqr = q3 - q1
            print(f"cached load of the train split (+ one pass over it): median {med:.2f} s, "
                  f"IQR {iqr:.2f} s (n={repeats})")
            data = D.TensorData(data.X.clone(), data.y.clone())  # detach from the temp file
        finally:
            if old is None:
                os.environ.pop("HWNAS_CACHE_DIR", None)
            else:
                os.environ["HWNAS_CACHE_DIR"] = old
    return data


def bench_batches(data: D.TensorData, repeats: int, batch_size: int) -> None:
    n = len(data)
    variants = [("augment, NCHW", dict(augment=True)),
                ("augment, channels_last", dict(augment=True, channels_last=True)),
                ("augment, resize to 24", dict(augment=True, resolution=24)),
                ("no augmentation", dict())]
    for name, kwargs in variants:
        rates = []
        for r in range(repeats):
            g = torch.Generator().manual_seed(r)
            start = time.perf_counter()
            for X, y in D.batches(data, batch_size, shuffle=True, generator=g, **kwargs):
                pass
            rates.append(n / (time.perf_counter() - start))
        print(f"batches(bs={batch_size}) one epoch of {n:,} images, {name:24s}: "
              f"{fmt(rates, 'images/s')}")


def bench_training(batch_size: int, repeats: int, steps: int) -> None:
    space = get_space("cpu")
    for label, arch in (("largest", space.largest()), ("smallest", space.smallest())):
        mflops = count_flops(build_net(space, arch), (1, 3, arch.r, arch.r)) / 1e6
        for fmt_name, memory_format in (("NCHW", torch.contiguous_format),
                                        ("channels_last", torch.channels_last)):
            torch.manual_seed(0)
            net = build_net(space, arch).to(memory_format=memory_format).train()
            opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True)
            X = torch.randn(batch_size, 3, arch.r, arch.r).contiguous(memory_format=memory_format)
            y = torch.randint(0, 10, (batch_size,))

            def step() -> None:
                loss = torch.nn.functional.cross_entropy(net(X), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()

            for _ in range(3):  # warm-up: oneDNN primitive creation, allocator
                step()
            rates = []
            for _ in range(repeats):
                start = time.perf_counter()
                for _ in range(steps):
                    step()
                rates.append(steps * batch_size / (time.perf_counter() - start))
            print(f"train step {label:8s} r={arch.r} {mflops:6.1f} MFLOPs, {fmt_name:13s}: "
                  f"{fmt(rates, 'images/s')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=None, help=f"CIFAR-10 root (default ${D.DATA_ENV})")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--repeats", type=int, default=5, help="repeats per figure")
    parser.add_argument("--steps", type=int, default=5, help="training steps per repeat")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--skip-decode", action="store_true", help="use cached/random data")
    parser.add_argument("--skip-train", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    print(f"machine: {cpu_model()}, {os.cpu_count()} logical CPUs, load average {load:.1f}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}")
    if load > (os.cpu_count() or 1) and "OMP_WAIT_POLICY" not in os.environ:
        print("note: the CPU is oversubscribed; spinning OpenMP threads then slow every "
              "multi-threaded op down several-fold. Compare with OMP_WAIT_POLICY=PASSIVE.")
    data = None
    if not args.skip_decode:
        data = bench_decode(args.root, args.repeats)
    elif D.data_status() and "not found" not in D.data_status():
        data = D.load_split("train", root=args.root, download=False)
    if data is None:
        print("batches: using 50,000 random uint8 images (no CIFAR-10 found)")
        data = D.TensorData(torch.randint(0, 256, (50_000, 3, 32, 32), dtype=torch.uint8),
                            torch.randint(0, 10, (50_000,)))
    bench_batches(data, args.repeats, args.batch_size)
    if not args.skip_train:
        bench_training(args.batch_size, args.repeats, args.steps)


if __name__ == "__main__":
    main()
