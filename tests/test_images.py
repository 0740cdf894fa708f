"""hwnas_lab.data.images: batched crop+flip augmentation, batches, resize."""

import pytest
import torch

from hwnas_lab import data as D


def test_subset_is_balanced_grouped_and_deterministic():
    y = torch.arange(10).repeat_interleave(50)
    data = D.TensorData(torch.randint(0, 256, (500, 3, 32, 32), dtype=torch.uint8), y)
    a, b, c = data.subset(7, seed=0), data.subset(7, seed=0), data.subset(7, seed=1)
    assert a.class_counts() == [7] * 10
    assert torch.equal(a.y, torch.arange(10).repeat_interleave(7))  # grouped by class
    assert torch.equal(a.X, b.X)
    assert not torch.equal(a.X, c.X)
    with pytest.raises(ValueError, match="fewer than per_class=51"):
        data.subset(51)
    with pytest.raises(ValueError, match="per_class must be an int >= 1"):
        data.subset(0)


def test_tensordata_rejects_wrong_dtypes():
    with pytest.raises(ValueError, match="uint8"):
        D.TensorData(torch.zeros(2, 3, 32, 32), torch.zeros(2, dtype=torch.int64))
    with pytest.raises(ValueError, match="int64"):
        D.TensorData(torch.zeros(2, 3, 32, 32, dtype=torch.uint8),
                     torch.zeros(3, dtype=torch.int64))


def padded_views(img: torch.Tensor) -> list[torch.Tensor]:
    """Every crop of the 4-pixel zero-padded image, flipped and not (reference by slicing)."""
    p = torch.nn.functional.pad(img, (4, 4, 4, 4))
    crops = [p[:, dy:dy + 32, dx:dx + 32] for dy in range(9) for dx in range(9)]
    return crops + [c.flip(-1) for c in crops]


def test_augment_is_a_padded_crop_plus_flip():
    X = torch.randint(1, 256, (64, 3, 32, 32), dtype=torch.uint8)
    out = D.augment_batch(X, torch.Generator().manual_seed(0))
    assert out.shape == X.shape and out.dtype == torch.uint8
    shifted = flipped = 0
    for img, got in zip(X, out):
        views = padded_views(img)
        match = [k for k, v in enumerate(views) if torch.equal(v, got)]
        assert match, "augmented image is no crop/flip of the padded original"
        flipped += match[0] >= 81
        shifted += match[0] % 81 != 40  # 40: dy = dx = 4, the centred crop
    assert shifted > 48 and 16 < flipped < 48  # crops really move pixels; about half flip


def test_flip_alone_mirrors_columns():
    X = torch.randint(0, 256, (32, 3, 32, 32), dtype=torch.uint8)
    out = D.augment_batch(X, torch.Generator().manual_seed(1), pad=0)
    same = [torch.equal(a, b) for a, b in zip(out, X)]
    mirrored = [torch.equal(a, b.flip(-1)) for a, b in zip(out, X)]
    assert all(s or m for s, m in zip(same, mirrored)) and any(same) and any(mirrored)


def test_batches_shapes_normalisation_and_coverage():
    n = 70
    X = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8)
    data = D.TensorData(X, torch.arange(n) % 10)
    got = list(D.batches(data, 32, shuffle=True, generator=torch.Generator().manual_seed(0)))
    assert [len(y) for _, y in got] == [32, 32, 6]
    assert sorted(torch.cat([y for _, y in got]).tolist()) == sorted(data.y.tolist())
    Xb, yb = next(D.batches(data, n, shuffle=False))
    mean, std = torch.tensor(D.MEAN).view(1, 3, 1, 1), torch.tensor(D.STD).view(1, 3, 1, 1)
    torch.testing.assert_close(Xb, (X.float() / 255 - mean) / std)
    assert Xb.dtype == torch.float32 and torch.equal(yb, data.y)
    assert len(list(D.batches(data, 32, drop_last=True))) == 2
    X24, _ = next(D.batches(data, 8, augment=True, resolution=24, channels_last=True))
    assert X24.shape == (8, 3, 24, 24) and X24.is_contiguous(memory_format=torch.channels_last)
    with pytest.raises(ValueError, match="resolution must be an int >= 1"):
        next(D.batches(data, 8, resolution=0))


def test_batches_pass_the_crop_padding_on():
    X = torch.randint(1, 256, (64, 3, 32, 32), dtype=torch.uint8)
    data = D.TensorData(X, torch.arange(64) % 10)
    plain = [D.normalise(v) for v in (X, X.flip(-1))]
    for pad in (0, 4):
        Xb, _ = next(D.batches(data, 64, shuffle=False, augment=True, pad=pad,
                               generator=torch.Generator().manual_seed(0)))
        unshifted = sum(any(torch.equal(b, v[i]) for v in plain) for i, b in enumerate(Xb))
        assert unshifted == 64 if pad == 0 else unshifted < 16  # pad 0: flips only


def test_batches_are_reproducible_from_a_generator():
    data = D.TensorData(torch.randint(0, 256, (40, 3, 32, 32), dtype=torch.uint8),
                        torch.arange(40) % 10)

    def run(seed):
        g = torch.Generator().manual_seed(seed)
        return torch.cat([x for x, _ in D.batches(data, 16, augment=True, generator=g)])

    assert torch.equal(run(0), run(0)) and not torch.equal(run(0), run(1))
    with pytest.raises(ValueError, match="batch_size"):
        next(D.batches(data, 0))




def test_resize_by_hand_and_unchanged_size():
    X = torch.arange(16.0).view(1, 1, 4, 4)
    assert D.resize(X, 4) is X
    # bilinear 4 -> 2 without antialias samples at pixel centres 0.5 and 2.5: the mean of
    # each 2x2 block
    expected = torch.tensor([[2.5, 4.5], [10.5, 12.5]]).view(1, 1, 2, 2)
    torch.testing.assert_close(D.resize(X, 2), expected)
    up = D.resize(torch.randn(2, 3, 24, 24), 32)
    assert up.shape == (2, 3, 32, 32) and up.is_contiguous(memory_format=torch.channels_last)
    with pytest.raises(ValueError, match="resolution must be an int >= 1"):
        D.resize(X, 0)
