"""Efficiency models of the OFA search: slot tables, FLOPs, the analytic peak memory (against
a measurement), exact minima, a table of another space refused."""

import itertools

import numpy as np
import pytest

from hwnas_lab.arch import ArchBatch
from hwnas_lab.blocks import arch_flops
from hwnas_lab.ofa.efficiency import (Efficiency, SlotTable, measured_peak_kb, memory_table, mflops_table,
                                      peak_elements)
from hwnas_lab.ofa.search import sample_batch
from hwnas_lab.space import Arch, get_space
from ofa_search_helpers import SPACE, TINY, synthetic_table

pytestmark = pytest.mark.usefixtures("one_thread")


# ----- efficiency models --------------------------------------------------------------------------
def test_slot_tables_match_per_arch_computations():
    archs = [SPACE.smallest(), SPACE.largest()] + [SPACE.sample(i) for i in range(30)]
    a = ArchBatch.from_archs(SPACE, archs)
    assert np.allclose(mflops_table(SPACE).total(a), [arch_flops(SPACE, x) / 1e6 for x in archs])
    table = synthetic_table()
    assert np.allclose(SlotTable.build(SPACE, table.lookup).total(a), table.predict_batch(a))
    mem = memory_table(SPACE).peak(a)
    by_hand = [max(peak_elements(s) for s in SPACE.layer_specs(x)) * 4 / 1024 for x in archs]
    assert np.allclose(mem, by_hand)


def test_peak_memory_by_hand_for_the_smallest_subnet():
    # r24: stem 16x24x24; block 1 (stride 2, e3): expand keeps x (16*576) and h (48*576) live
    expected_kb = (16 * 576 + 48 * 576) * 4 / 1024
    assert memory_table(SPACE).peak(ArchBatch.from_archs(SPACE, [SPACE.smallest()]))[0] == expected_kb


@pytest.mark.parametrize("space_name", ["cpu", "gpu"])
def test_memory_model_against_measured_peak(space_name):
    space = get_space(space_name)
    archs = [space.smallest(), space.largest(), space.sample(3), space.sample(4)]
    model = memory_table(space).peak(ArchBatch.from_archs(space, archs))
    for arch, kb in zip(archs, model):
        measured = measured_peak_kb(space, arch)
        assert measured["lean_kb"] == pytest.approx(kb, rel=1e-9)  # the same live set, on real tensors
        assert measured["eager_kb"] > measured["lean_kb"]  # eager PyTorch keeps more alive


def test_residual_input_is_counted_where_it_must_be_kept():
    from hwnas_lab.space import LayerSpec

    res = LayerSpec("mbconv", 16, 16, 8, 3, 6, 1)  # residual: x stays live until the add
    plain = LayerSpec("mbconv", 16, 24, 8, 3, 6, 1)  # no residual (channels change)
    x, h = 16 * 64, 96 * 64
    assert peak_elements(res) == h + h + x
    assert peak_elements(plain) == max(x + h, 2 * h, h + 24 * 64)


def test_minimum_is_exact_on_an_enumerable_space():
    table = synthetic_table(TINY)
    eff = Efficiency(TINY, table)
    every = []
    for d in itertools.product(TINY.d_choices, repeat=TINY.n_stages):
        for ks in itertools.product(TINY.ks_choices, repeat=TINY.n_slots):
            for e in itertools.product(TINY.e_choices, repeat=TINY.n_slots):
                every += [Arch(ks, e, d, r) for r in TINY.r_choices]
    a = ArchBatch.from_archs(TINY, every)
    for metric, values in (("latency_ms", table.predict_batch(a)), ("mflops", eff.mflops(a)),
                           ("memory_kb", eff.memory_kb(a))):
        low, arch = eff.minimum(metric)
        assert low == pytest.approx(values.min())
        one = ArchBatch.from_archs(TINY, [arch])
        assert {"latency_ms": table.predict_batch, "mflops": eff.mflops, "memory_kb": eff.memory_kb}[metric](
            one)[0] == pytest.approx(low)


def test_minimum_of_a_calibrated_sum():
    from hwnas_lab.latency.predictors import CalibratedSum

    table = synthetic_table()
    cal = CalibratedSum(table)
    cal.scale, cal.per_op_ms, cal.overhead_ms = 1.3, -0.01, 0.2
    low, arch = Efficiency(SPACE, cal).minimum("latency_ms")
    assert low == pytest.approx(cal.predict([arch])[0])
    samples = cal.predict(sample_batch(SPACE, 3000, np.random.default_rng(0)))
    assert low <= samples.min()


def test_efficiency_refuses_a_table_of_another_space():
    with pytest.raises(ValueError, match="space"):
        Efficiency(SPACE, synthetic_table(get_space("gpu")))


def test_latency_from_the_slot_table_equals_the_tables_own_prediction():
    from hwnas_lab.latency.predictors import CalibratedSum, MLPPredictor
    from hwnas_lab.ofa.search import sample_batch

    table = synthetic_table()
    batch = sample_batch(SPACE, 300, np.random.default_rng(3))
    cal = CalibratedSum(table)
    cal.scale, cal.per_op_ms, cal.overhead_ms = 0.7, -0.01, 1.2
    for model, expected in ((table, table.predict_batch(batch)), (cal, cal.predict(batch))):
        assert np.allclose(Efficiency(SPACE, model).latency_ms(batch), expected, rtol=1e-12)
    mlp = MLPPredictor(table)  # a subclass with its own predict: never taken for a calibrated sum
    mlp.predict = lambda a: np.full(len(a), 42.0)
    assert np.all(Efficiency(SPACE, mlp).latency_ms(batch) == 42.0)
