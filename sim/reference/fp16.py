"""Reference level of ``fp16``: the generic fold loop for timing, traffic and events, and a
fold-by-fold values loop with this family's golden tile.

The generic loop (:func:`~qaccel.sim.reference.folds.run_folds`) adds each fold's output into
an integer array, which cannot express FP32 partial sums that carry from one K fold into the
next. So values are computed here by a loop over the same folds in the same order (column
blocks outer, row blocks inner, i.e. K folds in increasing K): each fold's tile gets the FP32
partial sums of the previous K fold as ``meta["acc_in"]`` and ``Fp16.golden`` continues the
sequential accumulation; ``Fp16.round_output`` rounds once at the end.
"""

from __future__ import annotations

import numpy as np

from qaccel.arch.pe.fp16 import Fp16
from qaccel.arch.pe.tile import Tile
from qaccel.sim.plan import FoldPlan
from qaccel.sim.reference.folds import run_folds

__all__ = ["simulate_gemm", "fold_values"]


def fold_values(pe: Fp16, plan: FoldPlan, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """FP16 output [M x N] of ``a`` [M x K] . ``b`` [K x N] (float16), one golden tile per
    fold."""
    acc = np.zeros((plan.M, plan.N), dtype=np.float32)
    for cb in range(plan.col_blocks):
        for rb in range(plan.row_blocks):
            sl = {d: slice(0, plan.dims[d]) for d in "MKN"}
            sl[plan.row_dim] = slice(*plan.block_extent(plan.row_dim, rb))
            sl[plan.col_dim] = slice(*plan.block_extent(plan.col_dim, cb))
            out_sl = (sl["M"], sl["N"])
            tile = Tile(a[sl["M"], sl["K"]], b[sl["K"], sl["N"]], meta={"acc_in": acc[out_sl]})
            acc[out_sl] = pe.golden(tile)
    return pe.round_output(acc)


def simulate_gemm(pe: Fp16, plan: FoldPlan, a: np.ndarray | None = None,
                  b: np.ndarray | None = None) -> tuple[dict[str, int], np.ndarray | None]:
    """Counts (cycles, bits, events) of one GEMM and, given float16 operands, its FP16 output."""
    stats, _ = run_folds(plan, pe)
    counts = stats.counts()
    counts.update({f"ev_{k}": v for k, v in stats.events.items()})
    out = fold_values(pe, plan, a, b) if a is not None else None
    return counts, out
