"""Reference level of ``olive``: the generic fold loop with this family's golden tile.

Every fold is a :class:`~qaccel.arch.pe.tile.Tile` of :class:`~qaccel.arch.pe.olive.OliveOperand`
codes (pairs kept whole: ``rows`` is even when K is on the rows); cycles come from
``OliVeArray.timing``, events (MACs, edge pair decodes) from ``OliVeArray.events`` and values
from ``OliVeArray.golden``.
"""

from __future__ import annotations

from qaccel.arch.pe.olive import OliVeArray, OliveOperand
from qaccel.sim.plan import FoldPlan
from qaccel.sim.reference.folds import run_gemm

__all__ = ["simulate_gemm"]


def simulate_gemm(pe: OliVeArray, plan: FoldPlan, a: OliveOperand | None = None,
                  b: OliveOperand | None = None) -> tuple[dict[str, int], object]:
    """Counts (cycles, bits, events) of one GEMM and, given OliVe operands, its INT32 output."""
    return run_gemm(pe, plan, a, b)

