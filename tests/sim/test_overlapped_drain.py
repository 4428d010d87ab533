"""``pe_array.drain: overlapped`` (shadow accumulators, arch.spec.Drain): os folds after a
run's first overlap the previous fold's fill and drain. Cycles by hand, both engines; the
engines agree exactly in every mode; families without it refuse it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qaccel import sim
from qaccel.sim.gemm import gemm_layer
from tests.conftest import assert_same_frame, make_accel

ENGINES = ["reference", "fast"]


@pytest.mark.parametrize("engine", ENGINES)
def test_systolic_os_overlapped_drain_by_hand(engine):
    # 4x4 os, 8x8x8, fixed: M -> rows, N -> cols: 2 x 2 = 4 folds, each streaming K = 8.
    # serial: R + C + K - 2 = 4 + 4 + 8 - 2 = 14 per fold -> 56.
    # overlapped: the first fold 14; the other three stream back to back: max(K, R) =
    # max(8, 4) = 8 each -> 14 + 3 * 8 = 38.
    for drain, cycles in (("serial", 56), ("overlapped", 38)):
        accel = make_accel(rows=4, cols=4, dataflow="os", drain=drain)
        frame = sim.run([gemm_layer(8, 8, 8)], accel, engine=engine).frame
        assert int(frame.compute_cycles[0]) == cycles
    # K = 2 < R = 4: a column of 4 shadow accumulators takes 4 cycles to drain, so a fold
    # after the first costs max(2, 4) = 4: 8x2x8 -> 4 folds, first 4 + 4 + 2 - 2 = 8, then
    # 3 x 4 -> 20 (serial: 4 x 8 = 32)
    accel = make_accel(rows=4, cols=4, dataflow="os", drain="overlapped")
    frame = sim.run([gemm_layer(8, 2, 8)], accel, engine=engine).frame
    assert int(frame.compute_cycles[0]) == 8 + 3 * 4


@pytest.mark.parametrize("engine", ENGINES)
def test_drain_leaves_ws_alone(engine):
    # ws has no output-stationary drain: 4x4 ws, 8x8x8 = 4 folds of 2R + C + M - 2 = 18
    accel = make_accel(rows=4, cols=4, dataflow="ws", drain="overlapped")
    assert int(sim.run([gemm_layer(8, 8, 8)], accel, engine=engine).frame
               .compute_cycles[0]) == 4 * 18


@pytest.mark.parametrize("engine", ENGINES)
def test_mixpe_overlapped_drain_by_hand(engine):
    # mixpe 4x4 W4A8, 8 x 256 x 8: 4 folds, K = 256 = two 128-groups.
    # serial fold (arch/pe/mixpe.py "Timing"): dequantizer f_0 = max(128, 0) + R = 132,
    # f_1 = max(256, 132) + 4 = 260; fold = R + C - 2 + f_1 + 2 = 6 + 260 + 2 = 268 -> 1072.
    # overlapped: later folds cost max(K, ceil(K/128) * R) = max(256, 2 * 4) = 256:
    # 268 + 3 * 256 = 1036.
    for drain, cycles in (("serial", 4 * 268), ("overlapped", 268 + 3 * 256)):
        accel = make_accel(rows=4, cols=4, dataflow="os", family="mixpe", a_bits=8,
                           drain=drain)
        frame = sim.run([gemm_layer(8, 256, 8)], accel, engine=engine).frame
        assert int(frame.compute_cycles[0]) == cycles


def test_mixpe_dequantizer_bound_when_rows_exceed_a_group():
    # R = 256 > 128: a column's dequantizer spends R = 256 cycles on each group, so a fold
    # after the first costs ceil(256/128) * 256 = 512 > K = 256 (timing basis only)
    from qaccel.arch.pe.mixpe import MixPE

    pe = MixPE(rows=256, cols=2, dataflow="os", a_bits=8, drain="overlapped")
    assert pe.fold_cycles(256, overlapped=True) == 512
    assert pe.fold_cycles(128, overlapped=True) == 256
    assert pe.fold_cycles(1024, overlapped=True) == 8 * 256


def test_overlapped_drain_has_no_rtl_and_bitmod_refuses_it():
    accel = make_accel(rows=4, cols=4, dataflow="os", family="mixpe", a_bits=8,
                       drain="overlapped")
    assert "drain 'overlapped'" in accel.pe_array.rtl_absent_reason()
    from qaccel.arch.pe.bitmod import BitmodArray

    with pytest.raises(ValueError, match=r"^drain must be one of 'serial' for the bitmod "):
        BitmodArray(rows=4, cols=4, dataflow="os", weight_format="bitmod_fp4",
                    guard_bits=3, metadata_bits=18, drain="overlapped")


OS_FIELDS = {"systolic_int8": {}, "fp16": {}, "ant": {}, "olive": {}, "bitfusion": {},
             "mixpe": {"a_bits": 8}}


@settings(max_examples=30, deadline=None)
@given(family=st.sampled_from(sorted(OS_FIELDS)), M=st.integers(1, 40), K=st.integers(1, 300),
       N=st.integers(1, 40), side=st.integers(1, 3), kib=st.sampled_from([0.25, 1.0, 64.0]),
       mapping=st.sampled_from(["auto", "fixed"]), seed=st.integers(0, 2**16))
def test_engines_agree_with_overlapped_drain(family, M, K, N, side, kib, mapping, seed):
    rows = 2 * side if family == "olive" else side + 1
    accel = make_accel(rows=rows, cols=side + 1, family=family, kib=kib, mapping=mapping,
                       dataflow="os", drain="overlapped", **OS_FIELDS[family])
    layer = gemm_layer(M, K, N, seed=seed)
    ref = sim.run([layer], accel, engine="reference", values=True)
    fast = sim.run([layer], accel, engine="fast", values=True)
    assert_same_frame(ref.frame, fast.frame)
    assert ref.events == fast.events
    out_r, out_f = ref.outputs[layer.name], fast.outputs[layer.name]
    raw = np.dtype(f"u{out_r.dtype.itemsize}")
    np.testing.assert_array_equal(out_r.view(raw), out_f.view(raw))


@pytest.mark.parametrize("family", sorted(__import__("qaccel.arch", fromlist=["PE_FAMILIES"])
                                          .PE_FAMILIES))
def test_overlapped_drain_only_where_the_hardware_has_it(family):
    from qaccel.arch import PE_FAMILIES
    from qaccel.arch.pe.tile import Tile
    from qaccel.arch.spec import Dataflow, Drain

    cls = PE_FAMILIES[family]
    if Dataflow.OS not in cls.dataflows:
        return
    fields = {"a_bits": 8} if family == "mixpe" else {}
    if family == "bitmod":
        fields = {"weight_format": "bitmod_fp4", "guard_bits": 3, "metadata_bits": 18}
    if Drain.OVERLAPPED not in cls.drain_modes:
        with pytest.raises(ValueError, match=r"^drain must be one of 'serial' for the "):
            cls(rows=4, cols=4, dataflow="os", drain="overlapped", **fields)
        return
    arr = cls(rows=4, cols=4, dataflow="os", drain="overlapped", **fields)
    tile = Tile(np.broadcast_to(np.int8(0), (2, 8)), np.broadcast_to(np.int8(0), (8, 2)))
    first, second = arr.batch_timing([tile, tile])
    assert first == arr.timing(tile) and second < first
