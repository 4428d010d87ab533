"""Bit-exact integer matrix products on float BLAS.

Why it is exact: a float32 represents every integer of magnitude <= 2^24 exactly, and a sum
of integers stays exact as long as every partial sum does. If ``|a| <= amax`` and
``|b| <= bmax`` elementwise, every partial sum over ``k`` terms is at most ``k*amax*bmax``
in magnitude, whatever order or fused multiply-adds BLAS uses. So we cut K into chunks of
``k_chunk = floor((2^24 - 1) / (amax*bmax))`` and multiply each chunk in float32 exactly; chunk
results (integers < 2^24) are summed in float64, exact while the total stays below 2^53
(checked). INT8 symmetric operands (|v| <= 127) give chunks of 1040. When the chunks would be
shorter than :data:`MIN_FLOAT32_CHUNK` terms (e.g. MixPE's aligned FP16 significands, |a| <
2^17, times 4-bit weights: chunks of 8), one float64 product is exact by the same bound and
much faster.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qaccel.sim.fast.column_blocks import in_column_blocks

__all__ = ["exact_matmul", "exact_float_matmul", "coded_product", "FLOAT32_EXACT", "FLOAT64_EXACT"]

FLOAT32_EXACT = 2**24 - 1
FLOAT64_EXACT = 2**53 - 1
#: below this chunk length (terms) one float64 product (exact: K * amax * bmax <= 2^53 is
#: checked first) is faster than the float32 chunks and their float64 sum
MIN_FLOAT32_CHUNK = 64


def _max_abs(x: np.ndarray) -> int:
    """max |x| as a Python int, without a widened copy of ``x``."""
    return max(abs(int(x.min())), abs(int(x.max())))


def exact_float_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` of integer matrices (``a``: M x K, ``b``: K x N) as a float32 or float64
    array whose every element is the exact integer result (module docstring): float32 when one
    float32 product is exact, else float64. Lets a caller scale the products without an int64
    copy."""
    M, K = a.shape  # noqa: N806
    N = b.shape[1]  # noqa: N806
    if M == 0 or K == 0 or N == 0:
        return np.zeros((M, N), dtype=np.float32)
    amax = _max_abs(a)
    bmax = _max_abs(b)
    if amax == 0 or bmax == 0:
        return np.zeros((M, N), dtype=np.float32)
    if K * amax * bmax > FLOAT64_EXACT:
        raise ValueError(f"Cannot multiply exactly because K*max|a|*max|b| = "
                         f"{K * amax * bmax} exceeds 2^53")
    if amax * bmax > FLOAT32_EXACT:  # even one product is not exact in float32
        return a.astype(np.float64) @ b.astype(np.float64)
    k_chunk = FLOAT32_EXACT // (amax * bmax)
    if k_chunk < MIN_FLOAT32_CHUNK:  # many thin float32 products cost more than one float64
        return a.astype(np.float64) @ b.astype(np.float64)
    if k_chunk >= K:
        return a.astype(np.float32) @ b.astype(np.float32)
    acc = np.zeros((M, N), dtype=np.float64)
    a32 = a.astype(np.float32)
    for k0 in range(0, K, k_chunk):
        acc += a32[:, k0:k0 + k_chunk] @ b[k0:k0 + k_chunk].astype(np.float32)
    return acc


def exact_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` of integer matrices, exactly, as int64 (``a``: M x K, ``b``: K x N); large
    products in column blocks on threads (``column_blocks``: exact integers do not depend on
    the split)."""
    out = np.empty((a.shape[0], b.shape[1]), dtype=np.int64)

    def columns(ns: slice) -> None:
        out[:, ns] = exact_float_matmul(a, b[:, ns])

    in_column_blocks(columns, b.shape[1], a.shape[0] * a.shape[1] * b.shape[1])
    return out


def coded_product(a: Any, b: Any) -> np.ndarray:
    """``A @ B`` of two coded operands' integer values exactly (int64): their int16 values
    (``values(np.int16)``; the 4- and 8-bit codes' values fit) through :func:`exact_matmul`, no
    int64 or float64 copy of the operands, while ``K * max|a| * max|b|`` <= 2^53; past that
    the int64 product (exact mod 2^64, enough for INT32 accumulators mod 2^32)."""
    a16, b16 = a.values(np.int16), b.values(np.int16)
    amax = int(np.abs(a16, dtype=np.int32).max(initial=0))
    bmax = int(np.abs(b16, dtype=np.int32).max(initial=0))
    if a16.shape[1] * amax * bmax <= FLOAT64_EXACT:
        return exact_matmul(a16, b16)
    return a.values() @ b.values()
