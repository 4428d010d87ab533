"""Fast level of ``bitfusion``: closed-form timing, traffic and events; BLAS for exact values.

Cycles: os only, every fold streams all of K, so compute = folds * fold_cycles(K)
(``BitFusionArray.fold_cycles``, which ``timing()`` uses). Events summed over the M x N fold
grid: ``brick_ops`` = M*K*N * bricks_per_product, ``pe_steps`` = M*N*ceil(K/lanes).

Values: the BitBrick pieces of each product add up to the product, so the INT32 result is the
exact integer product reduced mod 2^32, computed with :func:`qaccel.sim.fast.exact.exact_matmul`
(float BLAS, exactness proved there). ``tests/pe/test_bitfusion.py::
test_engines_agree_with_values`` ties it to ``BitFusionArray.golden`` via the reference engine.
"""

from __future__ import annotations

import numpy as np

from qaccel.arch.pe.bitfusion import BitFusionArray
from qaccel.sim.counts import GemmCounts
from qaccel.sim.fast.closed_form import gemm_counts
from qaccel.sim.fast.exact import exact_matmul
from qaccel.sim.plan import FoldPlan

__all__ = ["simulate_gemm"]


def simulate_gemm(pe: BitFusionArray, plan: FoldPlan, a: np.ndarray | None = None,
                  b: np.ndarray | None = None) -> tuple[GemmCounts, np.ndarray | None]:
    """Counts (cycles, bits, events) of one GEMM and, given int8 operands, its INT32 output."""
    counts = gemm_counts(pe, plan)
    out = exact_matmul(a, b).astype(np.int32) if a is not None else None
    return counts, out
