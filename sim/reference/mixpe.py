"""Reference level of ``mixpe``: the generic fold loop for timing, traffic and events, and a
fold-by-fold values loop with this family's golden tile.

The generic loop adds fold outputs into an integer array, which cannot hold the FP32
dequantized outputs, so values are computed here over the same folds (os: each fold is one
R x C block of outputs with the whole K, so blocks are disjoint and need no carry).
"""

from __future__ import annotations

import numpy as np

from qaccel.arch.pe.mixpe import GroupWeights, MixPE
from qaccel.arch.pe.tile import Tile
from qaccel.sim.plan import FoldPlan
from qaccel.sim.reference.folds import run_folds

__all__ = ["simulate_gemm"]


def simulate_gemm(pe: MixPE, plan: FoldPlan, a: np.ndarray | None = None,
                  b: GroupWeights | None = None) -> tuple[dict[str, int], np.ndarray | None]:
    """Counts (cycles, bits, events) of one GEMM and, given operands, its FP32 output."""
    stats, _ = run_folds(plan, pe)
    counts = stats.counts()
    counts.update({f"ev_{k}": v for k, v in stats.events.items()})
    if a is None:
        return counts, None
    out = np.zeros((plan.M, plan.N), dtype=np.float32)
    for cb in range(plan.col_blocks):
        for rb in range(plan.row_blocks):
            ms = slice(*plan.block_extent("M", rb))
            ns = slice(*plan.block_extent("N", cb))
            out[ms, ns] = pe.golden(Tile(a[ms, :], b[:, ns]))
    return counts, out
