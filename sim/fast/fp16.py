"""Fast level of ``fp16``: closed-form timing and traffic, a numba kernel for exact values.

Cycles: every fold streams the whole streamed dim, so compute = folds * fold_cycles(S) with
``Fp16.fold_cycles`` (the function ``timing()`` uses). Values: ``Fp16.golden`` accumulates
exact FP32 products in FP32, sequentially over k = 0..K-1, for every dataflow (the K folds
carry their partial sums in order); :func:`sequential_f32_matmul` does exactly that, one
output row at a time, vectorized over N only (the order over K per element is untouched).
The duplicated arithmetic is tied to the golden model by
``tests/pe/test_fp16.py::test_engines_agree`` (bit-exact, random shapes) and
``test_golden_matches_exact_rational_reference``.
"""

from __future__ import annotations

import numba
import numpy as np

from qaccel.arch.pe.fp16 import Fp16
from qaccel.sim.counts import GemmCounts
from qaccel.sim.fast.closed_form import gemm_counts
from qaccel.sim.plan import FoldPlan

__all__ = ["simulate_gemm", "sequential_f32_matmul"]


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


def simulate_gemm(pe: Fp16, plan: FoldPlan, a: np.ndarray | None = None,
                  b: np.ndarray | None = None) -> tuple[GemmCounts, np.ndarray | None]:
    """Counts (cycles, bits, events) of one GEMM and, given float16 operands, its FP16 output."""
    counts = gemm_counts(pe, plan)
    out = pe.round_output(sequential_f32_matmul(a, b)) if a is not None else None
    return counts, out
