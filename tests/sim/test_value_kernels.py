"""The fast levels' blocked value kernels at their edges, against independent models: BitMoD
and MixPE (group products on BLAS, ``group_scale``, ``column_blocks``) against the families'
golden models, the sequential FP32 kernel (``fp_mac``) against a plain NumPy loop over k.

Operands hold the largest code magnitudes (FP16 significand 0x7FF at high exponents, the
largest weight values, 11-bit scale significands, zero points 0 and 15) and shapes that are
not multiples of any block: K of 300 (groups of 128, 128, 44; 4-step unroll plus 3), M of 13
(row blocks of 8), N of 1030 (column blocks of 1024) or 37 split into two thread blocks.
"""

from __future__ import annotations

import numpy as np
import pytest

from qaccel.arch import Tile
from qaccel.arch.pe.bitmod import BitmodArray, BitmodWeights, weight_ints
from qaccel.arch.pe.mixpe import GroupWeights, MixPE
from qaccel.sim.fast import column_blocks
from qaccel.sim.fast.bitmod import gemm_values
from qaccel.sim.fast.exact import exact_float_matmul, exact_matmul
from qaccel.sim.fast.fp_mac import sequential_f32_matmul
from qaccel.sim.fast.mixpe import group_outputs

M, K, N = 5, 300, 37


@pytest.fixture(params=["one block", "split"])
def split(request, monkeypatch):
    """Run the GEMMs below in one block, or in column blocks on threads (two or more when
    the machine has the CPUs)."""
    if request.param == "split":
        monkeypatch.setattr(column_blocks, "PARALLEL_MIN_MACS", 0)
        monkeypatch.setattr(column_blocks, "MIN_COLS", 8)
    return request.param


def _fp16(rng: np.random.Generator, shape: tuple[int, ...], exp_lo: int,
          exp_hi: int) -> np.ndarray:
    """FP16 values with biased exponents in [exp_lo, exp_hi], both signs, a quarter of them
    with the largest significand 0x3FF (1.11...1b), some zeros and subnormals."""
    exp = rng.integers(exp_lo, exp_hi + 1, shape)
    frac = np.where(rng.random(shape) < 0.25, 0x3FF, rng.integers(0, 1024, shape))
    bits = (rng.integers(0, 2, shape) << 15) | (exp << 10) | frac
    bits[rng.random(shape) < 0.05] = 0
    bits[rng.random(shape) < 0.05] = 0x03FF          # largest subnormal
    return bits.astype(np.uint16).view(np.float16)


def _same_bits(x: np.ndarray, y: np.ndarray) -> bool:
    x, y = np.asarray(x), np.asarray(y)
    return x.dtype == y.dtype and x.shape == y.shape and np.array_equal(
        x.view(np.uint8), y.view(np.uint8))


@pytest.mark.parametrize("bits", [4, 3])
@pytest.mark.parametrize("guard_bits", [0, 3, 12])
def test_bitmod_largest_magnitudes_equal_golden(split, bits, guard_bits):
    rng = np.random.default_rng(bits * 100 + guard_bits)
    a = _fp16(rng, (M, K), 20, 30)                   # up to 65504
    ints, _ = weight_ints(bits)
    groups = -(-K // 128)
    type_ids = rng.integers(0, ints.shape[0], (groups, N)).astype(np.uint8)
    # the code of each type's largest |value|, most of the time
    big = np.abs(ints).argmax(axis=1)
    codes = np.where(rng.random((K, N)) < 0.7, big[np.repeat(type_ids, 128, axis=0)[:K]],
                     rng.integers(0, 2**bits, (K, N))).astype(np.uint8)
    # scales 2^e * (1 + 1023/1024): 11-bit significand 0x7FF
    scales = np.ldexp(2047 / 1024, rng.integers(-14, -6, (groups, N))).astype(np.float32)
    w = BitmodWeights(codes, type_ids, scales, bits)
    pe = BitmodArray(rows=N, cols=M, dataflow="os", weight_format=f"bitmod_fp{bits}",
                     guard_bits=guard_bits, lanes=4, metadata_bits=18)
    want = pe.golden(Tile(a, w))
    assert np.abs(want[np.isfinite(want)].astype(np.float32)).max() > 1.0
    assert _same_bits(gemm_values(pe, a, w), want)


@pytest.mark.parametrize("a_bits", [8, 16])
def test_mixpe_largest_magnitudes_equal_golden(split, a_bits):
    rng = np.random.default_rng(a_bits)
    if a_bits == 8:
        a = rng.choice(np.array([-128, 127, -127, 3], np.int8), (M, K), p=[.4, .4, .1, .1])
    else:
        a = _fp16(rng, (M, K), 1, 30)                # whole exponent range: alignment cuts
    groups = -(-K // 128)
    q = np.where(rng.random((K, N)) < 0.6, 15, rng.integers(0, 16, (K, N))).astype(np.uint8)
    s = np.ldexp(-(2047 / 1024), rng.integers(-20, -8, (groups, N))).astype(np.float32)
    s[:, ::2] *= -1
    z = rng.choice(np.array([0, 15, 8], np.uint8), (groups, N))
    w = GroupWeights(q, s, z)
    pe = MixPE(rows=N, cols=N, dataflow="os", a_bits=a_bits)
    want = pe.golden(Tile(a, w))
    assert np.abs(want).max() > 1.0
    assert _same_bits(group_outputs(pe, a, w), want)


def _sequential_numpy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """FP32 sums from +0.0, k in order, one float32 rounding per add (NumPy, one k at a
    time; the products of two halves are exact in float32)."""
    out = np.zeros((a.shape[0], b.shape[1]), np.float32)
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    for k in range(a.shape[1]):
        out = out + a32[:, k:k + 1] * b32[k][None, :]
    return out


@pytest.mark.parametrize(("m", "k", "n"), [(13, 23, 1030), (8, 4, 1024), (1, 3, 5),
                                           (3, 0, 4)])
def test_sequential_f32_equals_one_add_at_a_time(m, k, n):
    rng = np.random.default_rng(m * k + n)
    a = _fp16(rng, (m, k), 1, 30)
    b = _fp16(rng, (k, n), 1, 30)
    if k:   # out[0, 0]: 2^24, then products of 0.5, each below half an ulp (1.0)
        a[0, 0], b[0, 0] = np.float16(4096), np.float16(4096)
        a[0, 1:], b[1:, 0] = np.float16(1), np.float16(0.5)
    want = _sequential_numpy(a, b)
    got = sequential_f32_matmul(a, b)
    assert _same_bits(got, want)
    if k >= 4:  # the order matters: sequentially 2^24 stays, rounded once 2^24 + 2 or more
        assert want[0, 0] == 2**24
        once = (a.astype(np.float64) @ b.astype(np.float64)).astype(np.float32)
        assert not np.array_equal(once, want)


def test_exact_float_matmul_holds_exact_integers():
    """float32 when one float32 product is exact, float64 for wide operands; the values are
    the int64 product's."""
    rng = np.random.default_rng(5)
    a = rng.integers(-128, 128, (6, 300)).astype(np.int8)
    b = rng.integers(0, 16, (300, 7)).astype(np.uint8)
    got = exact_float_matmul(a, b)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got.astype(np.int64), a.astype(np.int64) @ b)
    wide = rng.integers(-(2**17), 2**17, (6, 300))
    got = exact_float_matmul(wide, b)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got.astype(np.int64), wide @ b)


def test_exact_matmul_in_column_blocks_equals_int64(split):
    """The chunked path (K = 2100 > 1040 at |a| = |b| = 128) split among threads."""
    rng = np.random.default_rng(9)
    a = rng.choice(np.array([127, -128, 126], np.int8), (4, 2100), p=[.6, .3, .1])
    b = rng.choice(np.array([-128, 127, 5], np.int8), (2100, N), p=[.6, .3, .1])
    a[0], b[:, 3] = -128, -128            # one all-extreme product: 128^2 * 2100 > 2^24
    want = a.astype(np.int64) @ b.astype(np.int64)
    assert np.abs(want).max() > 2**24
    got = exact_matmul(a, b)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, want)
