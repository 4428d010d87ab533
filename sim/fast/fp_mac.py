"""Exact FP32 accumulation of exactly-representable products, sequential over K (numba).

Shared by the FP16 PE and the weight-only (FP16-activation) modes of coded-weight families:
``out[m, n] = (((0 + a[m,0] b[0,n]) + a[m,1] b[1,n]) + ...)`` with one float32 rounding per
add, k in order. Exact products need operands whose significands multiply within 24 bits
(FP16 x FP16: 22 bits; FP16 x a 4-bit significand: 15 bits). Tied to the golden models by
``tests/pe/test_fp16.py::test_engines_agree`` and ``tests/pe/test_weight_only.py``.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["sequential_f32_matmul"]


@numba.njit(cache=True)
def _kernel(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    m_dim, k_dim = a.shape
    n_dim = b.shape[1]
    for m in range(m_dim):
        row = out[m]
        for k in range(k_dim):
            av = a[m, k]
            for n in range(n_dim):
                # float32 * float32 of two halves is exact; one float32 rounding per add
                # (no fastmath: LLVM keeps the order; an FMA would give the same bits)
                row[n] = row[n] + av * b[k, n]


def sequential_f32_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """FP32 sums of ``a`` [M x K] . ``b`` [K x N] (float16), sequential over K from +0.0."""
    out = np.zeros((a.shape[0], b.shape[1]), dtype=np.float32)
    _kernel(np.ascontiguousarray(a, dtype=np.float32), np.ascontiguousarray(b, dtype=np.float32),
            out)
    return out
