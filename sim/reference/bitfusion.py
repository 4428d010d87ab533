"""Reference level of ``bitfusion``: the generic fold loop with this family's golden tile.

Every fold is a :class:`~qaccel.arch.pe.tile.Tile` of int8 values (INTk symmetric); cycles come
from ``BitFusionArray.timing`` (os, K streamed ``lanes`` at a time), events from
``BitFusionArray.events`` and values from ``BitFusionArray.golden`` (BitBrick products).
"""

from __future__ import annotations

import numpy as np

from qaccel.arch.pe.bitfusion import BitFusionArray
from qaccel.sim.counts import GemmCounts
from qaccel.sim.plan import FoldPlan
from qaccel.sim.reference.folds import run_gemm

__all__ = ["simulate_gemm"]


def simulate_gemm(pe: BitFusionArray, plan: FoldPlan, a: np.ndarray | None = None,
                  b: np.ndarray | None = None) -> tuple[GemmCounts, np.ndarray | None]:
    """Counts (cycles, bits, events) of one GEMM and, given int8 operands, its INT32 output."""
    return run_gemm(pe, plan, a, b)

