"""Layer-level latency tables for any nn.Module."""

from torch import nn
from torchvision.models import mobilenet_v2

import hwnas_lab.latency.layers as layers_mod
from hwnas_lab.latency.layers import LayerTable, network_layers
from hwnas_lab.latency.measure import LatencyResult


def test_network_layers_cover_torchvision_model():
    model = mobilenet_v2(weights=None)
    layers = network_layers(model, (1, 3, 32, 32))
    n_params = sum(p.numel() for rec in layers for p in rec.module.parameters())
    assert n_params == sum(p.numel() for p in model.parameters())  # every layer found once
    assert layers[0].input_shape == (1, 3, 32, 32)
    assert layers[-1].input_shape == (1, 1280)  # the classifier's Linear


def test_layer_table_profiles_missing_layers_on_demand(tmp_path, monkeypatch):
    calls = []

    def fake(module, shape, repeats, warmup, target):
        calls.append(shape)
        return LatencyResult(0.5, 0.0, (0.5,), 1, "torch-1thread")

    monkeypatch.setattr(layers_mod, "measure_latency", fake)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Sequential(nn.Conv2d(8, 8, 3), nn.ReLU()))
    table = LayerTable.open("torch", path=tmp_path / "layers.json")
    out = table.predict(model, (1, 3, 16, 16), progress=False)
    assert out == {"predicted_ms": 2.0, "layers": 4, "measured_now": 4}
    again = LayerTable.open("torch", path=tmp_path / "layers.json").predict(model, (1, 3, 16, 16),
                                                                            progress=False)
    assert again["measured_now"] == 0 and len(calls) == 4


