"""``bitfusion`` PE family: golden (BitBrick decomposition) against plain integer products,
hand-worked cycles and events, the two engines exact against each other, energy and the
captured-INTk path. No presets: BitFusion has no configuration in issue 6."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qaccel import sim
from qaccel.arch.components import int_add, int_mult, scale_to
from qaccel.arch.pe.bitfusion import BitFusionArray, brick_pieces
from qaccel.arch.pe.tile import Tile
from qaccel.models.intk import IntK, signed_codes
from qaccel.models.trace import Layer
from qaccel.sim.gemm import gemm_layer
from tests.conftest import make_accel
from tests.pe.support import assert_engines_agree


def bf_accel(rows=4, cols=4, a_bits=8, b_bits=8, bricks=16, kib=64.0, bits_per_cycle=32):
    return make_accel(rows=rows, cols=cols, dataflow="os", kib=kib,
                      bits_per_cycle=bits_per_cycle, family="bitfusion", a_bits=a_bits,
                      b_bits=b_bits, bricks_per_pe=bricks)


def reference_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Plain Python-int dot products, wrapped to int32."""
    out = np.zeros((a.shape[0], b.shape[1]), dtype=np.int64)
    for m in range(a.shape[0]):
        for n in range(b.shape[1]):
            s = sum(int(x) * int(y) for x, y in zip(a[m], b[:, n], strict=True))
            out[m, n] = (s + 2**31) % 2**32 - 2**31
    return out


def test_brick_pieces_by_hand():
    # -127 = 0b10_00_00_01: pieces (low first) 1, 0, 0 unsigned, top -127 >> 6 = -2 signed:
    # 1 + 0 + 0 - 2*64 = -127
    pieces = brick_pieces(np.array([-127]), 8)
    assert [(int(p[0]), s) for p, s in pieces] == [(1, 0), (0, 2), (0, 4), (-2, 6)]
    # 4-bit 7 = 0b01_11: 3 + 1*4
    assert [(int(p[0]), s) for p, s in brick_pieces(np.array([7]), 4)] == [(3, 0), (1, 2)]


@pytest.mark.parametrize("a_bits,b_bits,a,b,expected", [
    (8, 8, [[-127, 5]], [[127], [3]], [[-16129 + 15]]),    # -16114
    (4, 2, [[-7, 7, 3]], [[1], [-1], [0]], [[-14]]),       # -7 - 7 + 0
    (2, 2, [[1, -1]], [[-1], [-1]], [[0]]),
])
def test_golden_by_hand(a_bits, b_bits, a, b, expected):
    pe = BitFusionArray(rows=2, cols=2, dataflow="os", a_bits=a_bits, b_bits=b_bits)
    tile = Tile(np.array(a, np.int8), np.array(b, np.int8))
    np.testing.assert_array_equal(pe.golden(tile), np.array(expected, np.int32))


def test_golden_wraps_like_int32_accumulators():
    # K = 133,152 products 127*127 = 16129 sum to 2^31 + 124,960 -> -2^31 + 124,960
    k = 133_152
    pe = BitFusionArray(rows=1, cols=1, dataflow="os")
    tile = Tile(np.full((1, k), 127, np.int8), np.full((k, 1), 127, np.int8))
    assert int(pe.golden(tile)[0, 0]) == -(2**31) + 124_960


@settings(max_examples=30, deadline=None)
@given(m=st.integers(1, 5), k=st.integers(1, 12), n=st.integers(1, 5),
       a_bits=st.sampled_from([2, 4, 8]), b_bits=st.sampled_from([2, 4, 8]),
       seed=st.integers(0, 2**16))
def test_golden_equals_plain_products(m, k, n, a_bits, b_bits, seed):
    rng = np.random.default_rng(seed)
    la, lb = 2 ** (a_bits - 1) - 1, 2 ** (b_bits - 1) - 1
    a = rng.integers(-la, la, (m, k), endpoint=True).astype(np.int8)
    b = rng.integers(-lb, lb, (k, n), endpoint=True).astype(np.int8)
    pe = BitFusionArray(rows=m, cols=n, dataflow="os", a_bits=a_bits, b_bits=b_bits)
    np.testing.assert_array_equal(pe.golden(Tile(a, b)), reference_product(a, b))


def test_golden_refuses_values_wider_than_the_mode():
    pe = BitFusionArray(rows=1, cols=1, dataflow="os", a_bits=4, b_bits=4)
    with pytest.raises(ValueError, match=r"^tile.a must be int8 values in -7..7"):
        pe.golden(Tile(np.array([[8]], np.int8), np.array([[1]], np.int8)))


CYCLE_CASES = [
    # (rows, cols, a_bits, b_bits, bricks, M, K, N, folds, cycles, brick_ops, pe_steps)
    # os 4x4, 10x6x5, 8x8 (16 bricks = 1 product/cycle): folds = ceil(10/4)*ceil(5/4) = 6;
    # fold = 4+4+6-2 = 12 -> 72; bricks 300*16 = 4800; steps 50 outputs * 6 = 300
    (4, 4, 8, 8, 16, 10, 6, 5, 6, 72, 4800, 300),
    # 4x4: 4 bricks per product, 4 lanes: ceil(6/4) = 2 steps: fold = 4+4+2-2 = 8 -> 48;
    # bricks 300*4 = 1200; steps 50*2 = 100
    (4, 4, 4, 4, 16, 10, 6, 5, 6, 48, 1200, 100),
    # a8 x w2: (8/2)*(2/2) = 4 bricks, 4 lanes: as 4x4 -> 48 cycles
    (4, 4, 8, 2, 16, 10, 6, 5, 6, 48, 1200, 100),
    # 2x2: 16 lanes, one step: fold = 4+4+1-2 = 7 -> 42; bricks 300; steps 50
    (4, 4, 2, 2, 16, 10, 6, 5, 6, 42, 300, 50),
    # 4 bricks per PE, 8x8: 4 cycles per product: fold = 4+4+6*4-2 = 30 -> 180
    (4, 4, 8, 8, 4, 10, 6, 5, 6, 180, 4800, 300),
]


@pytest.mark.parametrize("engine", sim.ENGINES)
@pytest.mark.parametrize("rows,cols,ab,bb,bricks,M,K,N,folds,cycles,brick_ops,steps",
                         CYCLE_CASES, ids=[f"a{c[2]}w{c[3]}-b{c[4]}" for c in CYCLE_CASES])
def test_cycles_and_events_by_hand(engine, rows, cols, ab, bb, bricks, M, K, N, folds,
                                   cycles, brick_ops, steps):
    res = sim.run([gemm_layer(M, K, N)], bf_accel(rows, cols, ab, bb, bricks), engine=engine)
    row = res.frame.iloc[0]
    assert (row.folds, row.compute_cycles) == (folds, cycles)
    ev = res.events[row.layer]
    assert (ev["brick_ops"], ev["pe_steps"]) == (brick_ops, steps)


def test_only_output_stationary_and_known_widths():
    with pytest.raises(ValueError, match=r"^dataflow must be one of 'os' for the bitfusion array, "
                                         r"not 'ws'$"):
        BitFusionArray(rows=2, cols=2, dataflow="ws")
    with pytest.raises(ValueError, match=r"^a_bits must be one of 2, 4, 8, not 3$"):
        BitFusionArray(rows=2, cols=2, dataflow="os", a_bits=3)
    with pytest.raises(ValueError, match=r"^bricks_per_pe must be a power of two, not 12$"):
        BitFusionArray(rows=2, cols=2, dataflow="os", bricks_per_pe=12)


@settings(max_examples=40, deadline=None)
@given(M=st.integers(1, 24), K=st.integers(1, 24), N=st.integers(1, 24),
       rows=st.integers(1, 7), cols=st.integers(1, 7), a_bits=st.sampled_from([2, 4, 8]),
       b_bits=st.sampled_from([2, 4, 8]), bricks=st.sampled_from([4, 16, 64]),
       kib=st.sampled_from([2.0, 4.0, 64.0]),  # the loader wants 2 tiles of lanes x b_bits
       count=st.integers(1, 2),
       seed=st.integers(0, 2**16))
def test_engines_agree_with_values(M, K, N, rows, cols, a_bits, b_bits, bricks, kib, count,
                                   seed):
    accel = bf_accel(rows, cols, a_bits, b_bits, bricks, kib=kib)
    layer = gemm_layer(M, K, N, count=count, seed=seed)
    assert_engines_agree(layer, accel, reference_product)


@settings(max_examples=15, deadline=None)
@given(M=st.integers(1, 1500), K=st.integers(1, 1500), N=st.integers(1, 1500),
       rows=st.sampled_from([8, 16]), cols=st.sampled_from([8, 32]),
       bits=st.sampled_from([2, 4, 8]), kib=st.sampled_from([4.0, 256.0]))
def test_engines_agree_on_big_shapes_timing_only(M, K, N, rows, cols, bits, kib):
    accel = bf_accel(rows, cols, bits, bits, kib=kib, bits_per_cycle=64)
    layer = gemm_layer(M, K, N)
    assert_engines_agree(layer, accel)


def test_captured_intk_tensors_are_used_as_coded():
    rng = np.random.default_rng(5)
    act = IntK(8, None, symmetric=True).encode(rng.normal(size=(3, 8)).astype(np.float32))
    w = IntK(4, None, symmetric=True).encode(rng.normal(size=(5, 8)).astype(np.float32))
    layer = Layer("fc", "linear", 3, 8, 5, weight=w, act=act)
    pe = BitFusionArray(rows=4, cols=8, dataflow="os", a_bits=8, b_bits=4)
    [(a, b)] = pe.layer_operands(layer)
    np.testing.assert_array_equal(a, signed_codes(act))
    np.testing.assert_array_equal(b, signed_codes(w).T)


def test_pe_energy_per_step():
    # 8x8 on 16 bricks, one product per step: 16 x (2x2 mult 0.2*(4/64)^0.9885 = 0.012906
    # + 16-bit tree adder 0.05) + 32-bit accumulator 0.1 = 1.10650 pJ at 45 nm, x0.513 at
    # 28 nm = 0.56763 pJ per busy PE cycle. (DESIGN.md has no BitFusion figure to compare.)
    row = sim.run([gemm_layer(4, 64, 4)], bf_accel(4, 4)).frame.iloc[0]
    per_step = row.energy_pj_pe / row.macs
    assert per_step == pytest.approx(1.10650 * 0.513, rel=1e-4)
    assert per_step == pytest.approx(scale_to(
        (int_mult(2, 2) + int_add(16)) * 16 + int_add(32), 28).energy_pj)
    assert row.energy_pj_decoder == 0.0
