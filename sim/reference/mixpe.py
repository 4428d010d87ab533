"""Reference level of ``mixpe``: the generic fold loop with this family's golden tile (os:
each fold is one R x C block of FP32 outputs over the whole K, so ``MixPE.fold_merge`` just
stores it).
"""

from __future__ import annotations

import numpy as np

from qaccel.arch.pe.mixpe import GroupWeights, MixPE
from qaccel.sim.counts import GemmCounts
from qaccel.sim.plan import FoldPlan
from qaccel.sim.reference.folds import run_gemm

__all__ = ["simulate_gemm"]


def simulate_gemm(pe: MixPE, plan: FoldPlan, a: np.ndarray | None = None,
                  b: GroupWeights | None = None) -> tuple[GemmCounts, np.ndarray | None]:
    """Counts (cycles, bits, events) of one GEMM and, given operands, its FP32 output."""
    return run_gemm(pe, plan, a, b)

