"""Fast level of ``mixpe``: closed-form timing and traffic, vectorized exact group GEMMs.

Cycles: compute = folds * ``MixPE.fold_cycles(K)`` (the function ``timing()`` uses). Values:
the same arithmetic as ``MixPE.golden`` (see its rounding points), vectorized over M and N per
group: the integer partial sums P = A_g . Q_g are exact on float BLAS
(``exact_float_matmul``; |A| < 2^17, q <= 15, 128 terms: < 2^28 < 2^53) and S = sum A_g in
int64; D = P - z*S is exact in float64 (|z*S| < 2^28); s*D*2^u is exact in float64 (11-bit
s times |D| < 2^30) and rounded once to float32; the float32 adds run in group order. The
last three steps are one pass per group (``group_scale.accumulate_group``); output columns
are split among threads (``column_blocks``). Tied to golden by
``tests/pe/test_mixpe.py::test_engines_agree`` (bit-exact, random shapes).
"""

from __future__ import annotations

import numpy as np

from qaccel.arch.pe.mixpe import ALIGN_FRAC_BITS, G_SIZE, GroupWeights, MixPE, align_fp16
from qaccel.sim.counts import GemmCounts
from qaccel.sim.fast.closed_form import gemm_counts
from qaccel.sim.fast.column_blocks import in_column_blocks
from qaccel.sim.fast.exact import exact_float_matmul
from qaccel.sim.fast.group_scale import accumulate_group
from qaccel.sim.plan import FoldPlan

__all__ = ["simulate_gemm", "group_outputs"]


def group_outputs(pe: MixPE, a: np.ndarray, w: GroupWeights) -> np.ndarray:
    """FP32 outputs [M x N] of A [M x K] (int8 or float16) and group weights [K x N]."""
    m, k = a.shape
    n, groups = w.q.shape[1], w.s.shape[0]
    if pe.a_bits == 8:
        ai, u = a, np.zeros((m, groups), dtype=np.int64)
    else:
        ai, big_e = align_fp16(a)
        u = big_e - 10 - ALIGN_FRAC_BITS
    rscale = np.ldexp(1.0, u)                                              # [M, G]
    s_sum = [ai[:, g * G_SIZE:(g + 1) * G_SIZE].sum(axis=1, dtype=np.int64)
             for g in range(groups)]                                       # [M] per group
    out = np.empty((m, n), dtype=np.float32)

    def columns(ns: slice) -> None:
        acc = np.zeros((m, ns.stop - ns.start), dtype=np.float32)
        for g in range(groups):
            ks = slice(g * G_SIZE, min((g + 1) * G_SIZE, k))
            p = exact_float_matmul(ai[:, ks], w.q[ks, ns])               # [M, N]
            accumulate_group(acc, p, w.s[g, ns], rscale[:, g], w.z[g, ns], s_sum[g])
        out[:, ns] = acc

    in_column_blocks(columns, n, m * k * n)
    return out


def simulate_gemm(pe: MixPE, plan: FoldPlan, a: np.ndarray | None = None,
                  b: GroupWeights | None = None) -> tuple[GemmCounts, np.ndarray | None]:
    """Counts (cycles, bits, events) of one GEMM and, given operands, its FP32 output."""
    counts = gemm_counts(pe, plan)
    out = group_outputs(pe, a, b) if a is not None else None
    return counts, out
