"""Reference level of ``fp16``: the generic fold loop with this family's golden tile.

Folds run column blocks outer, row blocks inner, i.e. K folds in increasing K;
``Fp16.fold_merge`` hands each fold the FP32 partial sums of the previous one
(``meta["acc_in"]``) so ``golden`` continues the sequential accumulation, and
``Fp16.finish_output`` rounds once to FP16 at the end.
"""

from __future__ import annotations

import numpy as np

from qaccel.arch.pe.fp16 import Fp16
from qaccel.sim.counts import GemmCounts
from qaccel.sim.plan import FoldPlan
from qaccel.sim.reference.folds import run_gemm

__all__ = ["simulate_gemm"]


def simulate_gemm(pe: Fp16, plan: FoldPlan, a: np.ndarray | None = None,
                  b: np.ndarray | None = None) -> tuple[GemmCounts, np.ndarray | None]:
    """Counts (cycles, bits, events) of one GEMM and, given float16 operands, its FP16 output."""
    return run_gemm(pe, plan, a, b)

