"""Fast level of ``ant``: closed-form timing, traffic and events; BLAS for exact values.

Cycles: compute = folds * fold_cycles(S) (``AntArray.fold_cycles``, which ``timing()`` uses).
Events: ``mac4`` = passes * M*K*N; edge decodes (4-bit mode): a fold of an M_t x K_t x N_t tile
decodes K_t * (M_t + N_t) codes (``AntArray.events``), which summed over the fold grid is
K * (M * n_N + N * n_M), n_N / n_M the number of N / M blocks (1 when that dim is streamed).

Values: each 4-bit PE adds ``(sig_a*sig_b) << (exp_a+exp_b) = (a*2^frac_a) * (b*2^frac_b)``
and the 8-bit mode's four shifted sub-products add up to ``a*b``, so the INT32 result is the
exact integer product of ``AntOperand.values()`` (from the formats' own decoders) reduced mod
2^32. It is computed from int16 values with the exact chunked BLAS of
:mod:`qaccel.sim.fast.exact`, exact while K * max|a| * max|b| < 2^53 (every partial sum is
then an exactly representable integer, in any order); past that, int64 (exact mod 2^64).
``tests/pe/test_ant.py::test_engines_agree_with_values`` ties this kernel to
``AntArray.golden`` through the reference engine and to an independent reference.
"""

from __future__ import annotations

import numpy as np

from qaccel.arch.pe.ant import AntArray, AntOperand
from qaccel.sim.counts import GemmCounts
from qaccel.sim.fast.closed_form import gemm_counts
from qaccel.sim.fast.coded import coded_gemm_values
from qaccel.sim.plan import FoldPlan

__all__ = ["simulate_gemm"]


def simulate_gemm(pe: AntArray, plan: FoldPlan, a: AntOperand | None = None,
                  b: AntOperand | None = None) -> tuple[GemmCounts, np.ndarray | None]:
    """Counts (cycles, bits, events) of one GEMM and, given ANT operands, its INT32 output."""
    counts = gemm_counts(pe, plan)
    return counts, (coded_gemm_values(pe, a, b) if a is not None else None)
