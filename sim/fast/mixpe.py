"""Fast level of ``mixpe``: closed-form timing and traffic, vectorized exact group GEMMs.

Cycles: compute = folds * ``MixPE.fold_cycles(K)`` (the function ``timing()`` uses). Values:
the same arithmetic as ``MixPE.golden`` (see its rounding points), vectorized over M and N per
group: the integer partial sums P = A_g . Q_g and S = sum A_g are exact on float BLAS
(``exact_matmul``; |A| < 2^17, q <= 15, 128 terms: < 2^28 < 2^53); D = P - z*S is exact in
int64; s*D*2^u is exact in float64 (11-bit s times |D| < 2^30) and rounded once to float32;
the float32 adds run in group order. Tied to golden by
``tests/pe/test_mixpe.py::test_engines_agree`` (bit-exact, random shapes).
"""

from __future__ import annotations

import numpy as np

from qaccel.arch.pe.mixpe import ALIGN_FRAC_BITS, G_SIZE, GroupWeights, MixPE, align_fp16
from qaccel.sim.counts import GemmCounts
from qaccel.sim.fast.closed_form import gemm_counts
from qaccel.sim.fast.exact import exact_matmul
from qaccel.sim.plan import FoldPlan

__all__ = ["simulate_gemm", "group_outputs"]


def group_outputs(pe: MixPE, a: np.ndarray, w: GroupWeights) -> np.ndarray:
    """FP32 outputs [M x N] of A [M x K] (int8 or float16) and group weights [K x N]."""
    m, k = a.shape
    groups = w.s.shape[0]
    if pe.a_bits == 8:
        ai, u = a.astype(np.int64), np.zeros((m, groups), dtype=np.int64)
    else:
        ai, big_e = align_fp16(a)
        u = big_e - 10 - ALIGN_FRAC_BITS
    acc = np.zeros((m, w.q.shape[1]), dtype=np.float32)
    for g in range(groups):
        ks = slice(g * G_SIZE, min((g + 1) * G_SIZE, k))
        p = exact_matmul(ai[:, ks], w.q[ks].astype(np.int64))            # [M, N]
        s_sum = ai[:, ks].sum(axis=1)                                     # [M]
        d = p - w.z[g].astype(np.int64)[None, :] * s_sum[:, None]
        t = np.ldexp(w.s[g].astype(np.float64)[None, :] * d, u[:, g, None]).astype(np.float32)
        acc = acc + t
    return acc


def simulate_gemm(pe: MixPE, plan: FoldPlan, a: np.ndarray | None = None,
                  b: GroupWeights | None = None) -> tuple[GemmCounts, np.ndarray | None]:
    """Counts (cycles, bits, events) of one GEMM and, given operands, its FP32 output."""
    counts = gemm_counts(pe, plan)
    out = group_outputs(pe, a, b) if a is not None else None
    return counts, out
