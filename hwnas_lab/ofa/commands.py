"""``python -m hwnas_lab ofa train | eval | bench``: Once-for-All from the command line.

    ofa train --preset {smoke,laptop,gpu} --out DIR [--resume]
    ofa eval CKPT --arch {largest,smallest,random,JSON,FILE.json} [--recal-batches N]
    ofa bench [--batch-size 128] [--repeats 15] [--threads 2] [--estimate laptop]

``train`` runs unchanged under ``torchrun --nproc-per-node N -m hwnas_lab ofa train ...``.
"""

from __future__ import annotations

import argparse
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


def cmd_train(args: argparse.Namespace) -> int:
    train_supernet(get_shrink_config(args.preset), args.out, resume=args.resume,
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


def add_commands(sub: argparse._SubParsersAction) -> None:
    ofa = sub.add_parser("ofa", help="Once-for-All: train / evaluate / benchmark a supernet")
    cmds = ofa.add_subparsers(dest="ofa_command", required=True, metavar="OFA_COMMAND")

    train = cmds.add_parser("train", help="progressive shrinking (resumable; torchrun-ready)")
    add_preset(train, required=True)
    add_out(train, "the run (last.pt, log.jsonl, supernet.pt)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
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
