"""hwnas_lab: a hands-on course on hardware-aware neural architecture search.

One search space, one encoding, one latency table, shared by every notebook:

    arch        Arch(ks, e, d, r), the encoding (grammar, JSON and --arch forms); ArchBatch
    space       SearchSpace: presets cpu / gpu, the slot layout, operators, sampling,
                mutation, crossover, predictor features
    blocks      MBConv and the static builder; FLOPs (2 per multiply-add) and parameters
    config      presets smoke / laptop / gpu, the cache folder, atomic writes, validators
    data        CIFAR-10 in memory, batched augmentation, resize
    train       one training stack: OptimConfig, optimiser, cosine schedule, train, evaluate
    stats       median / IQR, Kendall's tau
    pareto      Pareto fronts of (cost, quality) points
    latency/    measurement, noise floor and metrics, lookup tables, predictors  (notebook 01)
    ofa/        Once-for-All: elastic layers, supernet, progressive shrinking   (notebook 05)
    course/     what only notebooks need: checks, panels, figures, the generator
    flags, cli  the command line: python -m hwnas_lab --help

See README.md for the course map.
"""

from .arch import Arch, ArchBatch
from .space import LayerSpec, SearchSpace, get_space

__all__ = ["Arch", "ArchBatch", "LayerSpec", "SearchSpace", "get_space"]
__version__ = "0.1.0"
