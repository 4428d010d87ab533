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

import numpy as np

from qaccel.arch.pe.fp16 import Fp16
from qaccel.sim.counts import GemmCounts
from qaccel.sim.fast.closed_form import gemm_counts
from qaccel.sim.fast.fp_mac import sequential_f32_matmul
from qaccel.sim.plan import FoldPlan

__all__ = ["simulate_gemm", "sequential_f32_matmul"]


def simulate_gemm(pe: Fp16, plan: FoldPlan, a: np.ndarray | None = None,
                  b: np.ndarray | None = None) -> tuple[GemmCounts, np.ndarray | None]:
    """Counts (cycles, bits, events) of one GEMM and, given float16 operands, its FP16 output."""
    counts = gemm_counts(pe, plan)
    out = pe.round_output(sequential_f32_matmul(a, b)) if a is not None else None
    return counts, out
