"""Fast level of ``systolic_int8``: closed-form timing and traffic, BLAS for exact values.

Cycles: every fold streams the whole streamed dim, so compute = folds * fold_cycles(S) with
``SystolicInt8.fold_cycles`` (the same function ``timing()`` uses). Values: the INT32 result
of the golden model is the exact integer product reduced mod 2^32; :func:`exact_matmul`
computes the exact product on float BLAS (proof in ``sim/fast/exact.py``) and
``tests/sim/test_engines_agree.py`` ties it to ``SystolicInt8.golden`` through the reference
engine.
"""

from __future__ import annotations

import numpy as np

from qaccel.arch.pe.systolic_int8 import SystolicInt8
from qaccel.sim.counts import GemmCounts
from qaccel.sim.fast.closed_form import gemm_counts
from qaccel.sim.fast.exact import exact_matmul
from qaccel.sim.plan import FoldPlan

__all__ = ["simulate_gemm"]


def simulate_gemm(pe: SystolicInt8, plan: FoldPlan, a: np.ndarray | None = None,
                  b: np.ndarray | None = None) -> tuple[GemmCounts, np.ndarray | None]:
    """Counts (cycles, bits, events) of one GEMM and, given int8 operands, its INT32 output."""
    counts = gemm_counts(pe, plan)
    out = exact_matmul(a, b).astype(np.int32) if a is not None else None
    return counts, out
