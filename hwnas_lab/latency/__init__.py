"""Latency on the learner's own machine: measurement, noise, tables, predictors.

    measure     the protocol (warm-up, median, IQR; torch.utils.benchmark.Timer, threads
                stated) and the targets (PyTorch 1 / all threads, ONNX Runtime, CUDA)
    noise       metrics of predictions (RMSE, MAPE, +-5/10 %, Kendall tau) and the noise
                floor of the measurement itself
    lut         latency lookup tables of every operator of a search space; vectorised
                prediction of many architectures; re-measuring (protocol change, --force)
    table_file  the table's JSON format: checked reading, saves that merge (no lost entry)
    layers      layer-level tables for any nn.Module (torchvision models); imports
                torchvision, so it is not loaded by ``import hwnas_lab.latency``
    predictors  plain, calibrated and MLP predictors, validated end to end
    commands    ``python -m hwnas_lab lut build | show | validate``
"""

from .lut import (LatencyTable, LatencyTableWarning, MissingEntryError, get_lut, lut_path,
                  specs_of)
from .measure import (LatencyResult, Target, get_target, machine_info, measure_archs,
                      measure_latency, measure_layer, time_runner)
from .noise import LatencyMetrics, NoiseFloor, latency_metrics, noise_floor, within_pct
from .predictors import (CalibratedSum, MLPPredictor, SumPredictor, Validation, fit_predictors,
                         validate_table)

__all__ = ["CalibratedSum", "LatencyMetrics", "LatencyResult", "LatencyTable",
           "LatencyTableWarning", "MLPPredictor", "MissingEntryError", "NoiseFloor",
           "SumPredictor", "Target", "Validation", "fit_predictors", "get_lut", "get_target",
           "latency_metrics", "lut_path", "machine_info", "measure_archs", "measure_latency",
           "measure_layer", "noise_floor", "specs_of", "time_runner", "validate_table",
           "within_pct"]
