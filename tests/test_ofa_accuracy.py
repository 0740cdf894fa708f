"""Accuracy data and the accuracy predictor of the OFA search: learning, saving, caches, bad files."""

import json

import numpy as np
import pytest
import torch

from hwnas_lab.arch import ArchBatch
from hwnas_lab.ofa import OFASupernet
from hwnas_lab.ofa.accuracy import (AccuracyPredictor, collect_accuracy, extreme_archs, get_predictor,
                                    noise_yardstick, scores)
from hwnas_lab.ofa.search import sample_batch
from hwnas_lab.space import get_space
from ofa_search_helpers import SPACE, LinearPredictor, tiny_data

pytestmark = pytest.mark.usefixtures("one_thread")


# ----- accuracy predictor ----------------------------------------------------------------------------
def synthetic_pairs(n=200, noise=0.003, seed=0):
    rng = np.random.default_rng(seed)
    a = sample_batch(SPACE, n, rng)
    truth = LinearPredictor(SPACE, seed=5).predict(a)
    return a, truth, truth + rng.normal(0, noise, n)


def test_predictor_learns_and_ranks_held_out_subnets():
    a, truth, noisy = synthetic_pairs()
    train, test = np.arange(160), np.arange(160, 200)
    take = lambda idx: ArchBatch(a.ks[idx], a.e[idx], a.d[idx], a.r[idx])  # noqa: E731
    pred = AccuracyPredictor(SPACE, steps=600).fit(take(train), noisy[train])
    s = scores(pred.predict(take(test)), truth[test])
    constant = scores(np.full(40, noisy[train].mean()) + 1e-9 * np.arange(40), truth[test])
    assert s.kendall_tau > 0.6 and s.rmse_pct < 0.3 * constant.rmse_pct  # far better than a constant guess


def test_predictor_save_load_and_bad_files(tmp_path):
    a, _, noisy = synthetic_pairs(60)
    pred = AccuracyPredictor(SPACE, steps=50).fit(a, noisy)
    path = pred.save(tmp_path / "p.pt")
    assert np.allclose(AccuracyPredictor.load(path, SPACE).predict(a), pred.predict(a))
    with pytest.raises(ValueError, match="trained for space 'cpu', not 'gpu'"):
        AccuracyPredictor.load(path, get_space("gpu"))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="corrupt or truncated.*delete it"):
        AccuracyPredictor.load(bad)
    with pytest.raises(ValueError, match="before fit"):
        AccuracyPredictor(SPACE).predict(a)
    with pytest.raises(ValueError, match="one finite accuracy"):
        AccuracyPredictor(SPACE).fit(a, noisy[:-1])


def test_collect_accuracy_caches_resumes_and_refuses_foreign_caches(tmp_path):
    torch.manual_seed(0)
    net = OFASupernet(SPACE).eval()
    train, val = tiny_data(64), tiny_data(20, 1)
    path = tmp_path / "acc.json"
    kw = dict(n_extremes=2, n_test=3, n_repeats=2, recal_batches=1, batch_size=16, path=path, progress=False)
    first = collect_accuracy(net, train, val, "abc", n_random=5, **kw)
    assert len(first.archs) == 7 and first.kinds[:2] == ["extreme"] * 2 and first.meta["measured_now"] == 9
    assert first.archs[0] == SPACE.smallest() and first.archs[1] == SPACE.largest()
    assert len(first.repeat_acc) == 2 and list(first.repeat_index) == [4, 5]
    again = collect_accuracy(net, train, val, "abc", n_random=5, **kw)
    assert again.meta["measured_now"] == 0 and np.array_equal(again.acc, first.acc)
    more = collect_accuracy(net, train, val, "abc", n_random=7, **kw)  # 2 more random + their repeats
    assert more.archs[:6] == first.archs[:6] and more.meta["measured_now"] == 4
    assert np.isfinite(noise_yardstick(more).rmse_pct)
    with pytest.raises(ValueError, match="belongs to supernet 'abc'"):
        collect_accuracy(net, train, val, "other", n_random=5, **kw)
    path.write_text(json.dumps({"format": "hwnas-ofa-accuracy/1", "space": SPACE.to_dict()})[:40])
    with pytest.raises(ValueError, match="corrupt or truncated.*delete it"):
        collect_accuracy(net, train, val, "abc", n_random=5, **kw)
    with pytest.raises(ValueError, match="n_repeats"):
        collect_accuracy(net, train, val, "abc", n_random=5, **{**kw, "n_repeats": 9})


def test_get_predictor_caches_by_data(tmp_path, monkeypatch):
    monkeypatch.setenv("HWNAS_CACHE_DIR", str(tmp_path))
    torch.manual_seed(0)
    net = OFASupernet(SPACE).eval()
    data = collect_accuracy(net, tiny_data(64), tiny_data(20, 1), "abc", n_random=6, n_extremes=2, n_test=2,
                            n_repeats=0, recal_batches=1, batch_size=16, progress=False)
    p1 = get_predictor(data, steps=20)
    p2 = get_predictor(data, steps=20)
    assert p1.path == p2.path and p2.path.exists()
    assert np.allclose(p1.predict(data.arrays), p2.predict(data.arrays))
    p2.path.write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="accuracy predictor cache .* corrupt"):
        get_predictor(data, steps=20)


def test_extremes_are_the_uniform_corners():
    corners = extreme_archs(SPACE)
    assert len(corners) == 16 and corners[0] == SPACE.smallest() and corners[1] == SPACE.largest()
    assert len(set(corners)) == 16
