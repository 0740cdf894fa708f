"""Once-for-All on CIFAR-10: elastic layers, the supernet, progressive shrinking.

Cai, Gan, Wang, Zhang, Han: "Once-for-All: Train One Network and Specialize it for
Efficient Deployment", ICLR 2020.

    dynamic     elastic conv (centre crop + learned kernel transformation), channel
                slicing, elastic batch norm, elastic MBConv; each documents its slicing rule
    supernet    OFASupernet over a SearchSpace: set_active / sample_active, elastic depth
                and resolution, channel reordering, BN recalibration, extract -> StaticNet
    schedule    the phases of progressive shrinking and the per-preset ShrinkConfig
    shrink      the training loop (distillation, several subnets per step, torchrun/DDP),
                evaluate_subnet, get_supernet
    checkpoint  run folders: resumable last.pt, log.jsonl, supernet.pt; loading; finding
                the learner's own or the shipped supernet
    bench       supernet-vs-static training step ratio; a preset's wall-time estimate
    commands    ``python -m hwnas_lab ofa train | eval | bench``
"""

from .dynamic import (DynamicBatchNorm2d, DynamicDepthwiseConv2d, DynamicMBConv,
                      DynamicPointConv2d, centre_crop)
from .supernet import OFASupernet, recalibrate_bn

__all__ = ["DynamicBatchNorm2d", "DynamicDepthwiseConv2d", "DynamicMBConv", "DynamicPointConv2d",
           "OFASupernet", "centre_crop", "recalibrate_bn"]
