"""Fast level of ``olive``: closed-form timing, traffic and events; BLAS for exact values.

Cycles: every fold streams the whole streamed dim, so compute = folds * fold_cycles(S)
(``OliVeArray.fold_cycles``, the function ``timing()`` uses). Events: MACs = M*K*N; edge pair
decodes: a fold of an M_t x K_t x N_t tile decodes ceil(K_t/2)*(M_t + N_t) pairs
(``OliVeArray.events``); summed over the fold grid this is, per dataflow,

- os (K streamed, whole): ceil(K/2) * (M * n_c + N * n_r)  (n_r = M blocks, n_c = N blocks)
- ws / is (K on the even-sided rows, so every K block but the last is even):
  sum over K blocks of ceil(K_b/2) = ceil(K/2), times (M * n_N + N * n_M) where n_N / n_M are
  the number of N / M blocks (1 when that dim is streamed).

Values: each PE adds ``(sig_a*sig_b) << (exp_a+exp_b) = value_a * value_b`` (values from the
format's own decoder, :func:`qaccel.models.olive.decode_pairs`), so the INT32 result is the
exact integer product reduced mod 2^32. :func:`~qaccel.sim.fast.exact.coded_product` computes
it from int16 values (every |value| <= 2016, the largest OliVe8 outlier) with the exact chunked
BLAS of :mod:`qaccel.sim.fast.exact`: a partial sum over k terms is at most k * max|a| *
max|b|, exact in float32 chunks and summed in float64 while the whole bound is below 2^53,
whatever order or FMA the BLAS uses. Past the bound it falls back to int64 (exact mod 2^64,
enough for mod 2^32). ``tests/pe/test_olive.py::test_engines_agree_with_values`` ties this
kernel to ``OliVeArray.golden`` (via the reference engine) and to an independent decode-then-
multiply in Python integers.
"""

from __future__ import annotations

import numpy as np

from qaccel.arch.pe.olive import OliVeArray, OliveOperand
from qaccel.sim.counts import GemmCounts
from qaccel.sim.fast.closed_form import gemm_counts
from qaccel.sim.fast.coded import coded_gemm_values
from qaccel.sim.plan import FoldPlan

__all__ = ["simulate_gemm"]


def simulate_gemm(pe: OliVeArray, plan: FoldPlan, a: OliveOperand | None = None,
                  b: OliveOperand | None = None) -> tuple[GemmCounts, np.ndarray | None]:
    """Counts (cycles, bits, events) of one GEMM and, given OliVe operands, its INT32 output."""
    counts = gemm_counts(pe, plan)
    return counts, (coded_gemm_values(pe, a, b) if a is not None else None)
