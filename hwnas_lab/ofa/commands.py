"""``python -m hwnas_lab ofa train | eval | bench | search``: Once-for-All from the command line.

    ofa train --preset {smoke,laptop,gpu} --out DIR [--resume] [--seed N]
    ofa eval CKPT --arch {largest,smallest,random,JSON,FILE.json} [--recal-batches N]
    ofa bench [--batch-size 128] [--repeats 15] [--threads 2] [--estimate laptop]
    ofa search [--supernet CKPT] --target T --latency-ms X [--memory-kb M] [--flops-m F] [--benchmark]

``train`` runs unchanged under ``torchrun --nproc-per-node N -m hwnas_lab ofa train ...``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from ..arch import Arch
from ..blocks import arch_flops
from ..data import load_cifar10
from ..flags import add_out, add_preset, nonnegative_int, positive_float, positive_int
from .bench import (bench_step_ratio, estimate_from_flops, estimate_wall_time, format_estimate,
                    format_flops_estimate)
from .checkpoint import load_checkpoint, supernet_from_checkpoint
from .schedule import SHRINK_PRESETS, get_shrink_config
from .shrink import evaluate_subnet, train_supernet
from .specialise import BUDGETS


def cmd_train(args: argparse.Namespace) -> int:
    config = get_shrink_config(args.preset)
    if args.seed is not None:
        config = dataclasses.replace(config, seed=args.seed)
    train_supernet(config, args.out, resume=args.resume,
                   progress=not args.no_progress, device=args.device)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    ckpt = load_checkpoint(args.ckpt)
    net = supernet_from_checkpoint(ckpt, where=f"checkpoint {args.ckpt}")
    arch = Arch.parse(args.arch, net.space, args.seed)
    data = load_cifar10(args.preset or ckpt["config"]["preset"], progress=False)
    split = getattr(data, args.split)
    before = evaluate_subnet(net, arch, data.train, split, recal_batches=0)
    result = {"arch": arch.to_dict(), "split": args.split, "images": len(split),
              "acc_supernet_bn": before, "mflops": arch_flops(net.space, arch) / 1e6}
    text = f"{before:.4f} with the supernet's statistics"
    if args.recal_batches > 0:
        after = evaluate_subnet(net, arch, data.train, split, recal_batches=args.recal_batches,
                                seed=args.seed)
        result.update(acc_recalibrated=after, recal_batches=args.recal_batches)
        text = (f"{after:.4f} after BN recalibration ({args.recal_batches} batches), " + text)
    print(f"{arch}\n{args.split} accuracy on {len(split)} images: {text}; "
          f"{result['mflops']:.1f} MFLOPs")
    if args.json:
        print(json.dumps(result))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    rows = bench_step_ratio(batch_size=args.batch_size, repeats=args.repeats,
                            threads=args.threads)
    for row in rows:
        print(f"{row['name']:9s} supernet {row['supernet_ms']:8.1f} ms  static "
              f"{row['static_ms']:8.1f} ms  ratio {row['ratio']:.3f} (IQR {row['ratio_iqr'][0]:.3f}"
              f"-{row['ratio_iqr'][1]:.3f}; CPU-time ratio {row['ratio_cpu']:.3f}; "
              f"{args.repeats} paired repeats, batch "
              f"{args.batch_size}, {args.threads} threads, {row['static_img_s']:.0f} img/s static)")
    if args.estimate:
        config = get_shrink_config(args.estimate)
        print(format_flops_estimate(estimate_from_flops(config, rows[0]["static_img_s"])))
        if args.nominal_img_s:
            print(format_flops_estimate(estimate_from_flops(config, args.nominal_img_s)))
        if args.estimate_steps:
            print(format_estimate(estimate_wall_time(config, threads=args.threads,
                                                     steps=args.estimate_steps)))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    """Search a supernet for one target under the given limits; print the winner, re-measured."""
    import time

    from ..data import load_cifar10
    from .accuracy import collect_accuracy, file_digest, get_predictor, noise_yardstick, scores
    from .efficiency import Efficiency
    from .checkpoint import load_checkpoint, load_supernet
    from .search import Constraints, EvolutionConfig, Objective, check_constraints, evolution_search
    from .search_loop import benchmark
    from .specialise import find_search_supernet, get_budget, latency_model, remeasure

    limits = Constraints(args.latency_ms, args.flops_m, args.memory_kb)  # bad numbers fail before any work
    path = args.supernet or find_search_supernet(args.preset or "laptop")[0]
    net, ckpt = load_supernet(path), load_checkpoint(path)
    preset = args.preset or ckpt["config"]["preset"]
    budget = get_budget(preset)
    say = (lambda *a: None) if args.json else print  # noqa: E731
    say(f"supernet {path} (space {net.space.name!r}); target {args.target}; {limits}")
    calib = budget.calib_archs if args.calibrate is None else args.calibrate
    lat = latency_model(net.space, args.target, calib, budget.latency_repeats, args.seed,
                        progress=not args.no_progress, rounds=budget.latency_rounds)
    efficiency = Efficiency(net.space, lat.model, lat.target)
    check_constraints(efficiency, limits)  # an impossible limit: say so before measuring anything
    data = load_cifar10(preset, progress=False)
    val = data.val if budget.eval_per_class is None else data.val.subset(budget.eval_per_class, args.seed)
    pairs = collect_accuracy(net, data.train, val, file_digest(path), budget.n_random, budget.n_extremes,
                             budget.n_test, budget.n_repeats, budget.recal_batches, seed=args.seed,
                             progress=not args.no_progress)
    predictor = get_predictor(pairs, steps=budget.predictor_steps)
    test = pairs.test_index
    held = scores(predictor.predict(pairs.arrays)[test], pairs.acc[test])
    say(f"accuracy data: {pairs}\npredictor on held-out subnets: {held}"
        + (f"; repeat-measurement yardstick: {noise_yardstick(pairs)}" if len(pairs.repeat_acc) > 1 else ""))
    objective = Objective(predictor, efficiency, limits)
    config = EvolutionConfig(args.population, args.generations)
    result = evolution_search(objective, config, seed=args.seed)
    n_cal = len(lat.calib_archs)
    say(f"latency model: {'sum calibrated on %d measured subnets' % n_cal if n_cal else 'plain table sum'}"
        f"\n{result}")
    out = {"arch": result.best.to_dict(), "target": lat.target, "constraints": dict(limits.items()),
           "predicted_acc": result.best_acc, "predicted": result.best_metrics,
           "search_s": result.seconds, "evaluations": result.n_evals}
    if not args.no_measure:
        t0 = time.perf_counter()
        m = remeasure(net, result.best, data.train, data.test, lat.target, result.best_acc,
                      result.best_metrics.get("latency_ms", float("nan")), args.latency_ms,
                      budget.recal_batches, args.seed, budget.latency_repeats,
                      rounds=budget.latency_rounds)
        out.update(measured_acc=m.measured_acc, measured_ms=m.measured_ms, measured_iqr_ms=m.iqr_ms,
                   test_images=m.images, meets_latency=m.meets_limit, remeasure_s=time.perf_counter() - t0)
        say(m.row())
    if args.benchmark:
        out["benchmark"] = bench = benchmark(objective, config, seed=args.seed)
        say(f"search timings ({bench['threads']} torch threads, {config.generations} generations x "
            f"population {config.population}):")
        for key, value in bench.items():
            if key.endswith("_s"):
                say(f"  {key[:-2]:28s} {value:8.3f} s")
    say(f"arch (for `ofa eval --arch`): {result.best.to_json()}")
    if args.json:
        print(json.dumps(out))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    ofa = sub.add_parser("ofa", help="Once-for-All: train / evaluate / benchmark a supernet")
    cmds = ofa.add_subparsers(dest="ofa_command", required=True, metavar="OFA_COMMAND")

    train = cmds.add_parser("train", help="progressive shrinking (resumable; torchrun-ready)")
    add_preset(train, required=True)
    add_out(train, "the run (last.pt, log.jsonl, supernet.pt)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    train.add_argument("--seed", type=nonnegative_int, default=None,
                       help="training seed: weights, data order, augmentation and sampled "
                            "subnets; the data split stays (default: the preset's, 0)")
    train.add_argument("--no-progress", action="store_true", help="no progress bars")
    train.set_defaults(func=cmd_train)

    ev = cmds.add_parser("eval", help="accuracy of one subnet of a trained supernet")
    ev.add_argument("ckpt", help="supernet.pt / last.pt or a run folder")
    ev.add_argument("--arch", default="largest",
                    help="largest, smallest, random, an Arch JSON or a .json file")
    add_preset(ev)
    ev.add_argument("--split", default="test", choices=["val", "test"])
    ev.add_argument("--recal-batches", type=nonnegative_int, default=10,
                    help="BN recalibration batches (0: the supernet's statistics only)")
    ev.add_argument("--seed", type=int, default=0, help="for --arch random and recalibration")
    ev.add_argument("--json", action="store_true", help="also print the result as JSON")
    ev.set_defaults(func=cmd_eval)

    bench = cmds.add_parser("bench", help="training step: supernet vs extracted static subnet")
    bench.add_argument("--batch-size", type=positive_int, default=128)
    bench.add_argument("--repeats", type=positive_int, default=15, help="paired timed steps per arch")
    bench.add_argument("--threads", type=positive_int, default=2)
    bench.add_argument("--estimate", default="laptop", choices=["", *SHRINK_PRESETS],
                       help="also estimate this preset's wall time ('' skips): FLOPs-scaled from the "
                       "measured largest-subnet throughput")
    bench.add_argument("--estimate-steps", type=nonnegative_int, default=0,
                       help="also time this many real steps per phase and extrapolate (0: skip)")
    bench.add_argument("--nominal-img-s", type=positive_float, default=None,
                       help="also scale the estimate to this largest-subnet throughput")
    bench.set_defaults(func=cmd_bench)

    se = cmds.add_parser("search", help="evolutionary search of a supernet for one target (notebook 06)")
    se.add_argument("--supernet", default=None,
                    help="checkpoint (default: your laptop supernet, else the shipped one)")
    se.add_argument("--target", default="torch-1thread",
                    help="latency target: torch-1thread, torch-allthreads, onnxruntime, cuda, ...")
    se.add_argument("--latency-ms", type=float, default=None, help="latency limit on the target (ms)")
    se.add_argument("--memory-kb", type=float, default=None,
                    help="peak activation memory limit (kB, float32)")
    se.add_argument("--flops-m", type=float, default=None, help="FLOPs limit (millions)")
    se.add_argument("--preset", default=None, choices=sorted(BUDGETS),
                    help="data and budget preset (default: the checkpoint's)")
    se.add_argument("--generations", type=positive_int, default=500, help="evolution generations (OFA: 500)")
    se.add_argument("--population", type=positive_int, default=100, help="population (OFA: 100)")
    se.add_argument("--calibrate", type=nonnegative_int, default=None,
                    help="subnets measured to calibrate the table's sum (default: the preset's; "
                    "0: plain sum)")
    se.add_argument("--seed", type=int, default=0)
    se.add_argument("--no-measure", action="store_true", help="skip re-measuring the winner")
    se.add_argument("--benchmark", action="store_true",
                    help="also time the search: vectorised, per-candidate loop, random search")
    se.add_argument("--no-progress", action="store_true", help="no progress bars")
    se.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    se.set_defaults(func=cmd_search)
