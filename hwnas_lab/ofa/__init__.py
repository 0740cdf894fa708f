"""Once-for-All on CIFAR-10: elastic layers, the supernet, progressive shrinking.

Cai, Gan, Wang, Zhang, Han: "Once-for-All: Train One Network and Specialize it for
Efficient Deployment", ICLR 2020.

    dynamic    elastic conv (centre crop + learned kernel transformation), channel
               slicing, elastic batch norm, elastic MBConv; each documents its slicing rule
    supernet   OFASupernet over a SearchSpace: set_active / sample_active, elastic depth
               and resolution, channel reordering, BN recalibration, extract -> StaticNet
    shrink     progressive shrinking with distillation: Phase / ShrinkConfig presets,
               resumable checkpoints, torchrun (DDP) training, loading a trained supernet
    bench      supernet-vs-static training step ratio; a preset's wall-time estimate
    accuracy   (subnet, accuracy) pairs measured with a supernet; the MLP accuracy predictor
    efficiency latency (tables), FLOPs and peak activation memory of a batch of subnets
    search     evolutionary and random search under latency / FLOPs / memory limits, on arrays
    specialise per-preset budgets, per-target latency models, winners re-measured, the cost
    cli        ``python -m hwnas_lab ofa {train,eval,bench,search}``
"""

from .dynamic import (DynamicBatchNorm2d, DynamicDepthwiseConv2d, DynamicMBConv,
                      DynamicPointConv2d, centre_crop)
from .supernet import OFASupernet, recalibrate_bn, resize

__all__ = ["DynamicBatchNorm2d", "DynamicDepthwiseConv2d", "DynamicMBConv", "DynamicPointConv2d",
           "OFASupernet", "centre_crop", "recalibrate_bn", "resize"]
