"""Reference level of ``bitfusion``: the generic fold loop with this family's golden tile.

Every fold is a :class:`~qaccel.arch.pe.tile.Tile` of int8 values (INTk symmetric); cycles come
from ``BitFusionArray.timing`` (os, K streamed ``lanes`` at a time), events from
``BitFusionArray.events`` and values from ``BitFusionArray.golden`` (BitBrick products).
"""

from __future__ import annotations

import numpy as np

from qaccel.arch.pe.bitfusion import BitFusionArray
from qaccel.sim.plan import FoldPlan
from qaccel.sim.reference.folds import run_folds

__all__ = ["simulate_gemm"]


def simulate_gemm(pe: BitFusionArray, plan: FoldPlan, a: np.ndarray | None = None,
                  b: np.ndarray | None = None) -> tuple[dict[str, int], np.ndarray | None]:
    """Counts (cycles, bits, events) of one GEMM and, given int8 operands, its INT32 output."""
    stats, out = run_folds(plan, pe, a, b)
    counts = stats.counts()
    counts.update({f"ev_{k}": v for k, v in stats.events.items()})
    return counts, out
