"""The chunked exact matmul (sim/fast/exact.py) against NumPy's int64 matmul, directly: K past
one float32 chunk up to 20,000 at the largest INT8 code magnitudes, where one float32 product
sum would round."""

from __future__ import annotations

import numpy as np
import pytest

from qaccel.sim.fast.exact import FLOAT32_EXACT, MIN_FLOAT32_CHUNK, exact_matmul

#: |a| = |b| = 128 gives chunks of floor((2^24 - 1) / 128^2) = 1023; 127 gives 1040
CHUNK_128 = FLOAT32_EXACT // (128 * 128)
KS = [1040, 1041, CHUNK_128 * 3, CHUNK_128 * 3 + 1, 5_000, 20_000]


def _operands(k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """int8 A [4 x k], B [k x 5] near the extremes: mostly 127 / -128 with same-sign
    products, so partial sums grow past 2^24 and stay odd (float32 would round them)."""
    rng = np.random.default_rng(seed)
    a = rng.choice(np.array([127, 126, -128, 125], np.int8), size=(4, k), p=[.7, .1, .1, .1])
    b = rng.choice(np.array([127, 123, -128, -127], np.int8), size=(k, 5), p=[.7, .1, .1, .1])
    a[0], b[:, 0] = -128, -128  # one all-extreme row and column: 128^2 * k
    return a, b


@pytest.mark.parametrize("k", KS)
def test_chunked_exact_equals_int64(k):
    a, b = _operands(k, seed=k)
    want = a.astype(np.int64) @ b.astype(np.int64)
    assert want[0, 0] == 16384 * k
    got = exact_matmul(a, b)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, want)


def test_one_float32_product_would_be_wrong_here():
    """The inputs above do need the chunks: a single float32 matmul rounds them."""
    a, b = _operands(20_000, seed=20_000)
    naive = (a.astype(np.float32) @ b.astype(np.float32)).astype(np.int64)
    assert not np.array_equal(naive, a.astype(np.int64) @ b.astype(np.int64))


def test_wider_codes_and_the_float64_limit():
    """16-bit magnitudes: one product exceeds float32's exact range (float64 path); a K that
    would pass 2^53 is refused rather than rounded."""
    rng = np.random.default_rng(7)
    a = rng.integers(-32768, 32768, size=(3, 3000), dtype=np.int64)
    b = rng.integers(-32768, 32768, size=(3000, 4), dtype=np.int64)
    a[0, :] = -32768
    np.testing.assert_array_equal(exact_matmul(a, b), a @ b)
    big = np.full((1, 2), 2**26, np.int64)
    with pytest.raises(ValueError, match="exceeds 2\\^53"):
        exact_matmul(big, big.T)


def test_large_magnitudes_take_one_exact_float64_product():
    """|a| < 2^17 and |b| <= 15 (MixPE-W4A16's aligned significands x 4-bit weights): float32
    chunks would hold only 2^24 / (2^17 * 15) = 8 terms, so one float64 product is used; it is
    exact because 300 * 2^17 * 15 < 2^53. Compared with int64, values chosen so that a float32
    product of one row would round (|sum| > 2^24)."""
    rng = np.random.default_rng(11)
    a = rng.integers(-(2**17) + 1, 2**17, size=(7, 300), dtype=np.int64)
    a[0] = 2**17 - 1
    b = rng.integers(0, 16, size=(300, 9), dtype=np.int64)
    b[:, 0] = 15
    assert FLOAT32_EXACT // (int(np.abs(a).max()) * 15) < MIN_FLOAT32_CHUNK
    np.testing.assert_array_equal(exact_matmul(a, b), a @ b)
    assert abs(int((a @ b)[0, 0])) > 2**24
