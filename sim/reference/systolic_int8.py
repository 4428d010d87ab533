"""Reference level of ``systolic_int8``: the generic fold loop with this family's golden tile.

Readable rather than fast: every fold is a :class:`~qaccel.arch.pe.tile.Tile` whose cycles come
from ``SystolicInt8.timing`` and whose values come from ``SystolicInt8.golden``.
"""

from __future__ import annotations

import numpy as np

from qaccel.arch.pe.systolic_int8 import SystolicInt8
from qaccel.sim.counts import GemmCounts
from qaccel.sim.plan import FoldPlan
from qaccel.sim.reference.folds import run_gemm

__all__ = ["simulate_gemm"]


def simulate_gemm(pe: SystolicInt8, plan: FoldPlan, a: np.ndarray | None = None,
                  b: np.ndarray | None = None) -> tuple[GemmCounts, np.ndarray | None]:
    """Counts (cycles, bits, events) of one GEMM and, given int8 operands, its INT32 output."""
    return run_gemm(pe, plan, a, b)

