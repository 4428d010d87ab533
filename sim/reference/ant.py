"""Reference level of ``ant``: the generic fold loop with this family's golden tile.

Every fold is a :class:`~qaccel.arch.pe.tile.Tile` of :class:`~qaccel.arch.pe.ant.AntOperand`
codes; cycles come from ``AntArray.timing`` (passes x the systolic fold), events from
``AntArray.events`` and values from ``AntArray.golden``.
"""

from __future__ import annotations

from qaccel.arch.pe.ant import AntArray, AntOperand
from qaccel.sim.plan import FoldPlan
from qaccel.sim.reference.folds import run_gemm

__all__ = ["simulate_gemm"]


def simulate_gemm(pe: AntArray, plan: FoldPlan, a: AntOperand | None = None,
                  b: AntOperand | None = None) -> tuple[dict[str, int], object]:
    """Counts (cycles, bits, events) of one GEMM and, given ANT operands, its INT32 output."""
    return run_gemm(pe, plan, a, b)

