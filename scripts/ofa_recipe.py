"""Short, named experiments on the OFA training recipe (issue 9); one JSON line per run.

    python scripts/ofa_recipe.py list
    python scripts/ofa_recipe.py run L-base L-full-res     # appends to --results
    python scripts/ofa_recipe.py table L-base L-full-res   # markdown table of finished runs
    python scripts/ofa_recipe.py profile                   # where a training step spends time
    python scripts/ofa_recipe.py run X-scratch             # subnets trained alone, same epochs
    python scripts/ofa_recipe.py run X-scratch-full-26     # ... against the shipped supernet
    python scripts/ofa_recipe.py subnets laptop.pt F-laptop-22ep-n1   # same subnets, each supernet
    python scripts/ofa_recipe.py remeasure X-scratch-full-26   # ... against a reshipped laptop.pt
    torchrun --standalone --nproc-per-node 2 scripts/ofa_recipe.py whole F-laptop-24ep --out DIR
                               # trained whole, as `ofa train` trains a preset; no record

The experiments are defined in ``hwnas_lab.ofa.recipe_catalog`` and run by
``hwnas_lab.ofa.recipe_experiments`` (its docstring says what a run records and where it
trains); this is their command line, plus a profile of a training step. Time one at a
time:

    OMP_WAIT_POLICY=PASSIVE python scripts/ofa_recipe.py run NAME
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

from hwnas_lab.latency.measure import cpu_model
from hwnas_lab.ofa.recipe_catalog import EXPERIMENTS, SPACE
from hwnas_lab.ofa.recipe_experiments import (compare_subnets, remeasure_supernets, run,
                                              train_whole)
from hwnas_lab.ofa.recipe_runs import RECIPE_RUNS, load_runs
from hwnas_lab.ofa.recipe_scratch import SCRATCH


def table(names: list[str], results: Path) -> str:
    """A markdown table of finished runs (the latest line of each name in ``results``)."""
    rows = load_runs(results)
    missing = [n for n in names if n not in rows]
    if missing:
        raise ValueError(f"no results yet for {missing} in {results}; run them first")
    pct = lambda v: "" if v is None else f"{100 * v:.1f}"  # noqa: E731
    out = ["| experiment | what changes | val largest % | val smallest % | test largest % | "
           "test smallest % | raw weights, val largest % | wall min | load before-after |",
           "|---|---|---|---|---|---|---|---|---|"]
    for n in names:
        r = rows[n]
        out.append(f"| {n} | {r['description']} | {pct(r['val_acc_largest'])} | "
                   f"{pct(r['val_acc_smallest'])} | {pct(r['test_acc_largest'])} | "
                   f"{pct(r['test_acc_smallest'])} | {pct(r.get('val_acc_largest_raw'))} | "
                   f"{r['wall_s'] / 60:.1f} | {r['load_before'][0]:.1f}-{r['load_after'][0]:.1f} |")
    return "\n".join(out)


def profile(threads: int, batch: int, repeats: int) -> None:
    """Where a training step of the largest subnet spends its time: the top operators of
    torch.profiler over ``repeats`` steps (the static network: plain convolutions), then
    depthwise convolutions alone at the widest expand ratio of each stage's map size: forward
    vs backward, channels_last vs NCHW, and forward + backward as the batched matmul of
    ``hwnas_lab.ofa.small_map_conv``."""
    import torch.nn.functional as F
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    from hwnas_lab.ofa import OFASupernet
    from hwnas_lab.ofa.small_map_conv import matmul_depthwise
    from hwnas_lab.stats import quartiles

    torch.set_num_threads(threads)
    print(f"{cpu_model()}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}, {threads} threads, batch {batch}, load {os.getloadavg()[0]:.2f}")
    torch.manual_seed(0)
    net = OFASupernet(SPACE).extract(SPACE.largest()).train().to(memory_format=torch.channels_last)
    X = torch.randn(batch, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(X), y).backward()
        opt.step()

    step()
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(repeats):
            step()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=8))

    def timed(fn) -> float:  # median ms of `repeats` calls after one warm-up
        fn()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(1e3 * (time.perf_counter() - t0))
        return quartiles(times)[1]

    e = max(SPACE.e_choices)
    for k in SPACE.ks_choices:
        for c, size in sorted({(slot.cin * e, slot.in_size)
                               for slot in SPACE.block_slots(32) if slot.index == 1}):
            for fmt in (torch.channels_last, torch.contiguous_format):
                x = torch.randn(batch, c, size, size).contiguous(memory_format=fmt)
                w = torch.randn(c, 1, k, k, requires_grad=True)
                xg = x.clone().requires_grad_()
                fwd = timed(lambda: F.conv2d(x, w, padding=k // 2, groups=c))
                both = timed(lambda: F.conv2d(xg, w, padding=k // 2, groups=c).sum().backward())
                name = "channels_last" if fmt is torch.channels_last else "NCHW"
                line = (f"depthwise {k}x{k}, {c:3d} channels, {size:2d} px, {name:13s}: forward "
                        f"{fwd:6.1f} ms, backward {both - fwd:6.1f} ms ({(both - fwd) / fwd:.1f}x)")
                if fmt is torch.channels_last:  # the batched-matmul form, forward + backward
                    mm = timed(lambda: matmul_depthwise(xg, w).sum().backward())
                    used = "used in training" if k > size else "not used"
                    line += f"; as a matmul {mm:6.1f} ms against {both:6.1f} ({used})"
                print(line)


def subnets_table(rows: list[dict]) -> str:
    """``compare_subnets``'s rows as a markdown table: test % per supernet, the others minus
    the first, and the mean over the subnets between the largest and the smallest."""
    names = [k for k in rows[0] if k not in ("kind", "arch")]
    first, others = names[0], names[1:]
    lines = ["| subnet | arch | " + " | ".join(f"{n} %" for n in names)
             + "".join(f" | {n} - {first}" for n in others) + " |",
             "|---|---|" + "---|" * (len(names) + len(others))]
    middle = [r for r in rows if r["kind"] not in ("largest", "smallest")]
    mean = lambda key: sum(100 * r[key] for r in middle) / len(middle)  # noqa: E731
    for r in rows:
        arch = r["arch"].replace("|", "\\|")  # the stages' separator, not a cell's
        lines.append(f"| {r['kind']} | `{arch}` | "
                     + " | ".join(f"{100 * r[n]:.2f}" for n in names)
                     + "".join(f" | {100 * (r[n] - r[first]):+.2f}" for n in others) + " |")
    if middle:
        lines.append(f"| mean of the {len(middle)} between | | "
                     + " | ".join(f"{mean(n):.2f}" for n in names)
                     + "".join(f" | {mean(n) - mean(first):+.2f}" for n in others) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the experiments and what each asks")
    r = sub.add_parser("run", help="run experiments in turn; append one JSON line each")
    r.add_argument("names", nargs="+")
    r.add_argument("--results", type=Path, default=RECIPE_RUNS)
    r.add_argument("--no-progress", action="store_true")
    r.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    tb = sub.add_parser("table", help="markdown table of finished runs")
    tb.add_argument("names", nargs="+")
    tb.add_argument("--results", type=Path, default=RECIPE_RUNS)
    sb = sub.add_parser("subnets", help="the same subnets' test accuracy in several supernets")
    sb.add_argument("names", nargs="+", help="finished experiments, or laptop.pt (the shipped)")
    sb.add_argument("--draws", type=int, default=8, help="random subnets besides the four "
                    "of the scratch baselines")
    sb.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    rm = sub.add_parser("remeasure", help="a baseline's networks alone against its supernets "
                        "as they are now (a reshipped laptop.pt); no retraining")
    rm.add_argument("names", nargs="+", help="finished baselines (X-scratch-*)")
    rm.add_argument("--results", type=Path, default=RECIPE_RUNS)
    rm.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    wh = sub.add_parser("whole", help="train an experiment whole from random weights in --out, "
                        "as `ofa train` trains a preset (also under torchrun); no record")
    wh.add_argument("name")
    wh.add_argument("--out", type=Path, required=True, help="folder for the run")
    wh.add_argument("--resume", action="store_true", help="continue the run in --out")
    wh.add_argument("--no-progress", action="store_true")
    wh.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    pr = sub.add_parser("profile", help="where a training step of the largest subnet spends time")
    pr.add_argument("--threads", type=int, default=2)
    pr.add_argument("--batch", type=int, default=128)
    pr.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    try:
        dispatch(args)
    except (ValueError, FileNotFoundError) as err:  # bad input: one clear line, as `hwnas_lab`
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def dispatch(args: argparse.Namespace) -> None:
    """Carry out the parsed command."""
    if args.command == "list":
        width = max(map(len, [*EXPERIMENTS, *SCRATCH]))  # names in one column

        def show(name: str, epochs: int, per_class: int | None, rest: str) -> None:
            data = "all" if per_class is None else f"{per_class}/class"
            print(f"{name:{width}s} {epochs:3d} epoch{'s' * (epochs != 1)}, {data}{rest}")

        for name, exp in EXPERIMENTS.items():
            start = f", from {exp.init}" if exp.init else ""
            show(name, sum(p.epochs for p in exp.config.phases[exp.init_phases:]),
                 exp.per_class, f"{start}: {exp.description}")
        for name, spec in SCRATCH.items():
            show(name, spec.epochs, spec.per_class, f": {spec.description}")
    elif args.command == "table":
        print(table(args.names, args.results))
    elif args.command == "subnets":
        print(subnets_table(compare_subnets(args.names, args.draws, device=args.device)))
    elif args.command == "remeasure":
        for name in args.names:
            remeasure_supernets(name, args.results, device=args.device)
    elif args.command == "whole":
        train_whole(args.name, args.out, args.resume, not args.no_progress, args.device)
    elif args.command == "profile":
        profile(args.threads, args.batch, args.repeats)
    else:
        for name in args.names:
            run(name, args.results, progress=not args.no_progress, device=args.device)


if __name__ == "__main__":
    sys.exit(main())
