"""Accuracy sources: the supernet oracle and proxy training (cached per network, on disk),
and the ridge predictor (recovers an additive accuracy exactly)."""

import json

import numpy as np
import pytest
import torch

from hwnas_lab.accuracy import (AccuracyPredictor, ProxyAccuracy, ProxyConfig, SupernetAccuracy,
                                fingerprint)
from hwnas_lab.data import TensorData
from hwnas_lab.arch import Arch, ArchBatch
from hwnas_lab.ofa import OFASupernet
from hwnas_lab.ofa.shrink import evaluate_subnet
from hwnas_lab.space import get_space

SPACE = get_space("cpu")


def random_images(n: int, seed: int) -> TensorData:
    g = torch.Generator().manual_seed(seed)
    return TensorData(torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g),
                      torch.arange(n) % 10)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HWNAS_CACHE_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="module")
def supernet():
    torch.manual_seed(0)
    return OFASupernet(SPACE).eval()


def test_fingerprint_is_stable_and_sensitive():
    x = np.arange(6.0)
    assert fingerprint(x, {"a": 1}) == fingerprint(x.copy(), {"a": 1})
    assert fingerprint(x, {"a": 1}) != fingerprint(x, {"a": 2}) != fingerprint(x + 1, {"a": 2})
    assert fingerprint(torch.ones(3)) == fingerprint(np.ones(3, dtype=np.float32))


def test_supernet_accuracy_is_evaluate_subnet_and_is_cached(cache, supernet, one_thread):
    train, val = random_images(48, 0), random_images(20, 1)
    small = SPACE.smallest()
    idle_twin = Arch([7 if i % 4 >= 2 else k for i, k in enumerate(small.ks)], small.e, small.d,
                     small.r)  # the same network: it differs only in slots 2, 3 of each stage, idle
    oracle = SupernetAccuracy(supernet, train, val, recal_batches=1, batch_size=16)
    acc = oracle([small, idle_twin, SPACE.uniform(3, 3, 2, 28)])
    assert idle_twin != small
    assert oracle.evaluations == 2 and oracle.hits == 1  # the twin is not evaluated twice
    assert acc[0] == acc[1] == pytest.approx(
        evaluate_subnet(supernet, small, train, val, recal_batches=1, batch_size=16))
    assert np.all((0 <= acc) & (acc <= 1))
    again = SupernetAccuracy(supernet, train, val, recal_batches=1, batch_size=16)  # from disk
    assert again.known([small, SPACE.largest()]).tolist() == [True, False]
    assert np.array_equal(again(ArchBatch.from_archs(SPACE, [small])), acc[:1])
    assert again.evaluations == 0 and again.hits == 1
    saved = json.loads(oracle.path.read_text())
    assert saved["meta"]["kind"] == "supernet" and len(saved["entries"]) == 2
    other_val = SupernetAccuracy(supernet, train, random_images(20, 2), recal_batches=1, batch_size=16)
    assert other_val.path != oracle.path  # another eval set is another cache
    with pytest.raises(ValueError, match="recal_batches must be >= 1"):
        SupernetAccuracy(supernet, train, val, recal_batches=0)


def test_new_weights_get_a_fresh_cache(cache, supernet):
    train, val = random_images(16, 0), random_images(10, 1)
    other = OFASupernet(SPACE)
    with torch.no_grad():
        other.load_state_dict(supernet.state_dict())
        other.head.classifier.weight.add_(0.01)
    a = SupernetAccuracy(supernet, train, val, recal_batches=1)
    b = SupernetAccuracy(other, train, val, recal_batches=1)
    assert a.path != b.path


def test_corrupt_cache_says_what_to_do(cache, supernet):
    train, val = random_images(16, 0), random_images(10, 1)
    oracle = SupernetAccuracy(supernet, train, val, recal_batches=1)
    oracle.path.write_text("{not json")
    with pytest.raises(ValueError, match="delete it"):
        SupernetAccuracy(supernet, train, val, recal_batches=1)


def test_proxy_accuracy_trains_once_per_network(cache, one_thread):
    train, val = random_images(20, 3), random_images(10, 4)
    cfg = ProxyConfig(epochs=1, batch_size=10)
    proxy = ProxyAccuracy(SPACE, train, val, cfg)
    acc = proxy([SPACE.smallest()])
    assert proxy.evaluations == 1 and 0 <= acc[0] <= 1
    assert proxy.seconds[next(iter(proxy.seconds))] > 0
    again = ProxyAccuracy(SPACE, train, val, cfg)
    assert np.array_equal(again([SPACE.smallest()]), acc) and again.evaluations == 0
    assert ProxyAccuracy(SPACE, train, val, ProxyConfig(epochs=2)).path != proxy.path
    no_cache = ProxyAccuracy(SPACE, train, val, cfg, cache=False)
    assert no_cache.path is None


def test_predictor_recovers_an_additive_accuracy():
    rng = np.random.default_rng(0)
    archs = [SPACE.sample(i) for i in range(400)]
    X = SPACE.encode_batch(archs)
    effects = rng.normal(0, 0.005, X.shape[1])
    acc = 0.7 + X @ effects
    pred = AccuracyPredictor(SPACE, l2=1e-8).fit(archs[:300], acc[:300])
    assert pred.n_fit == 300
    assert np.allclose(pred(archs[300:]), acc[300:], atol=1e-4)
    arrays = ArchBatch.from_archs(SPACE, archs[300:310])
    assert np.allclose(pred(arrays), pred(archs[300:310]))
    assert AccuracyPredictor(SPACE, l2=1e3).fit(archs, acc)(archs).std() < acc.std() / 10  # shrinks


@pytest.mark.parametrize("archs, acc, match", [
    ([SPACE.smallest()], [0.5], ">= 2 architectures"),
    ([SPACE.smallest(), SPACE.largest()], [0.5], "one accuracy each"),
    ([SPACE.smallest(), SPACE.largest()], [0.5, 75.0], r"fractions in \[0, 1\]"),
])
def test_predictor_rejects_bad_input(archs, acc, match):
    with pytest.raises(ValueError, match=match):
        AccuracyPredictor(SPACE).fit(archs, acc)


def test_predictor_must_be_fitted_and_penalised():
    with pytest.raises(ValueError, match="not fitted"):
        AccuracyPredictor(SPACE)([SPACE.smallest()])
    with pytest.raises(ValueError, match="l2 must be > 0"):
        AccuracyPredictor(SPACE, l2=0.0)
