"""The weight-only mode (``activations: fp16``) of the ANT and OliVe arrays: FP16 activations x
decoded 4-bit weights, FP32 sequential accumulation, FP16 output (the BitMoD paper's
baselines, arch/pe/_fp16_activations.py)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qaccel import sim
from qaccel.arch.pe.ant import AntArray
from qaccel.arch.pe.olive import OliVeArray
from qaccel.arch.pe.tile import Tile
from qaccel.models import ant as ant_fmt
from qaccel.models import olive as olive_fmt
from qaccel.sim.gemm import gemm_layer
from tests.conftest import make_accel
from tests.pe.support import assert_engines_agree

FAMILIES = ("ant", "olive")


def weight_table_values(b) -> np.ndarray:
    """Real weight values straight from the formats' own decoders (not the family code)."""
    if hasattr(b, "type_name"):   # ANT: value table of the tensor's type
        return ant_fmt.code_values(4, b.type_name)[b.codes].astype(np.float64)
    return olive_fmt.decode_pairs(b.codes.T, b.bits, b.normal).T.astype(np.float64)


def reference_product(a: np.ndarray, b) -> np.ndarray:
    """Scalar float32 loop, k in order, with every product checked exact in Fractions; then
    one FP16 rounding: written without the family's or the engines' code."""
    w = weight_table_values(b)
    out = np.zeros((a.shape[0], w.shape[1]), dtype=np.float16)
    for m in range(a.shape[0]):
        for n in range(w.shape[1]):
            acc = np.float32(0.0)
            for k in range(a.shape[1]):
                prod = np.float32(a[m, k]) * np.float32(w[k, n])
                assert Fraction(float(prod)) == Fraction(float(a[m, k])) * Fraction(w[k, n])
                acc = np.float32(acc + prod)
            out[m, n] = np.float16(acc)
    return out


def accel(family: str, rows: int, cols: int, flow: str, kib: float = 64.0):
    return make_accel(rows=rows, cols=cols, dataflow=flow, kib=kib, bits_per_cycle=32,
                      family=family, bits=4, activations="fp16")


@settings(max_examples=25, deadline=None)
@given(family=st.sampled_from(FAMILIES), M=st.integers(1, 12), K=st.integers(1, 40),
       N=st.integers(1, 12), rows=st.sampled_from([2, 4, 6]), cols=st.integers(1, 5),
       flow=st.sampled_from(["ws", "os", "is"]), kib=st.sampled_from([0.25, 64.0]),
       seed=st.integers(0, 2**16))
def test_engines_agree_with_values(family, M, K, N, rows, cols, flow, kib, seed):
    layer = gemm_layer(M, K, N, seed=seed)
    assert_engines_agree(layer, accel(family, rows, cols, flow, kib), reference_product)


@pytest.mark.parametrize("family", FAMILIES)
def test_golden_tile_by_hand(family):
    """One 1x2 . 2x1 tile: a = [1.5, -0.25] (FP16), weights decoded by the format; the FP32
    sum rounded to FP16 equals 1.5 w0 - 0.25 w1 (exact here: small dyadic values)."""
    cls = AntArray if family == "ant" else OliVeArray
    pe = cls(rows=2, cols=1, dataflow="ws", bits=4, activations="fp16")
    b = pe.encode_weights(np.array([[1.0], [-2.0]], dtype=np.float32), "hand B")
    w = weight_table_values(b)[:, 0]
    a = np.array([[1.5, -0.25]], dtype=np.float16)
    out = pe.finish_output(pe.golden(Tile(a, b)))
    assert out.dtype == np.float16
    assert float(out[0, 0]) == 1.5 * w[0] - 0.25 * w[1]


@pytest.mark.parametrize("family", FAMILIES)
def test_mode_fields(family):
    cls = AntArray if family == "ant" else OliVeArray
    pe = cls(rows=4, cols=4, dataflow="ws", bits=4, activations="fp16")
    assert (pe.a_bits, pe.b_bits, pe.acc_bits) == (16, 4, 32)
    assert pe.fmt.endswith("xfp16")
    with pytest.raises(NotImplementedError, match="activations 'fp16'"):
        pe.create()
    with pytest.raises(ValueError, match="bits must be 4 with activations 'fp16'"):
        cls(rows=4, cols=4, dataflow="ws", bits=8, activations="fp16")


@pytest.mark.parametrize("family", FAMILIES)
def test_fp16_activations_quadruple_activation_traffic(family):
    """M=64, K=64, N=8 on a 4x4 ws array with room for everything: A and B are read once.
    A: 64*64 elements at 16 bits = 8,192 bytes (4-bit codes: 2,048); B: 64*8 at 4 bits = 256."""
    layer = gemm_layer(64, 64, 8)
    rows = {}
    for mode in ("codes", "fp16"):
        acc = make_accel(rows=4, cols=4, dataflow="ws", kib=1024.0, bits_per_cycle=32,
                         family=family, bits=4, activations=mode)
        rows[mode] = sim.run([layer], acc, engine="fast", values=False).frame.iloc[0]
    assert rows["fp16"]["dram_rd_bytes"] == 8192 + 256
    assert rows["codes"]["dram_rd_bytes"] == 2048 + 256
    assert rows["fp16"]["compute_cycles"] == rows["codes"]["compute_cycles"]
