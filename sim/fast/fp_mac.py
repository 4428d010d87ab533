"""Exact FP32 accumulation of exactly-representable products, sequential over K (numba).

Shared by the FP16 PE and the weight-only (FP16-activation) modes of coded-weight families:
``out[m, n] = (((0 + a[m,0] b[0,n]) + a[m,1] b[1,n]) + ...)`` with one float32 rounding per
add, k in order (blocked over rows and columns for the caches, four k steps per load and
store of an output, row blocks in parallel; the order over K of every output element is
unchanged). Exact products need operands whose
significands multiply within 24 bits (FP16 x FP16: 22 bits; FP16 x a 4-bit significand: 15
bits). Tied to the golden models by
``tests/pe/test_fp16.py::test_engines_agree`` and ``tests/pe/test_weight_only.py``.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["sequential_f32_matmul"]


#: output rows and columns one kernel block updates (a block's B row slice, 4 KiB, stays in L1
#: while the block's rows use it; the block's outputs, 32 KiB, in L2)
ROWS_PER_BLOCK = 8
COLS_PER_BLOCK = 1024


#: K steps one pass over a block's outputs takes: each output is loaded and stored once per
#: this many products, which it still adds one at a time, k in order
K_UNROLL = 4


@numba.njit(cache=True, parallel=True)
def _kernel(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    m_dim, k_dim = a.shape
    n_dim = b.shape[1]
    k4 = k_dim - k_dim % K_UNROLL
    blocks = (m_dim + ROWS_PER_BLOCK - 1) // ROWS_PER_BLOCK
    for blk in numba.prange(blocks):          # row blocks are independent
        m0 = blk * ROWS_PER_BLOCK
        m1 = min(m0 + ROWS_PER_BLOCK, m_dim)
        for n0 in range(0, n_dim, COLS_PER_BLOCK):
            n1 = min(n0 + COLS_PER_BLOCK, n_dim)
            for k in range(0, k4, K_UNROLL):  # k in order for every output element
                b0, b1 = b[k, n0:n1], b[k + 1, n0:n1]
                b2, b3 = b[k + 2, n0:n1], b[k + 3, n0:n1]
                for m in range(m0, m1):
                    a0, a1, a2, a3 = a[m, k], a[m, k + 1], a[m, k + 2], a[m, k + 3]
                    orow = out[m, n0:n1]
                    for n in range(n1 - n0):
                        # float32 * float32 of two halves is exact; one float32 rounding per
                        # add, in k order (no fastmath: LLVM keeps the order; an FMA gives the
                        # same bits)
                        o = orow[n] + a0 * b0[n]
                        o = o + a1 * b1[n]
                        o = o + a2 * b2[n]
                        orow[n] = o + a3 * b3[n]
            for k in range(k4, k_dim):        # the last K % K_UNROLL steps, in order
                brow = b[k, n0:n1]
                for m in range(m0, m1):
                    av = a[m, k]
                    orow = out[m, n0:n1]
                    for n in range(n1 - n0):
                        orow[n] = orow[n] + av * brow[n]


def sequential_f32_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """FP32 sums of ``a`` [M x K] . ``b`` [K x N] (float16), sequential over K from +0.0."""
    out = np.zeros((a.shape[0], b.shape[1]), dtype=np.float32)
    # row blocks handed out one at a time: on a busy machine a thread that gets less CPU
    # takes fewer blocks instead of holding the others up at the end
    with numba.parallel_chunksize(1):
        _kernel(np.ascontiguousarray(a, dtype=np.float32),
                np.ascontiguousarray(b, dtype=np.float32), out)
    return out
