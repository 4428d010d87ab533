"""Fast level of ``bitmod``: closed-form timing, traffic and events; exact group GEMMs on BLAS.

Cycles and events: the generic closed forms (``sim/fast/closed_form.py``: each fold shape's
``timing`` / ``events`` times its count). Traffic: ``gemm_traffic``, whose B lines carry
their groups' metadata (``FoldPlan.line_bits``, shared with the reference engine).

Values: stage 1 (``align_activations``) is the golden model's own function. Stages 2-3 (terms,
lanes, tree, accumulator) are replaced by one exact integer product per group: the terms of a
weight sum to its fixed-point value ``v`` and every shift is a left shift, so
S = sum_k A_k v_k, computed by ``exact_matmul`` (|A| < 2^(11+F), |v| <= 16, 128 terms:
|S| < 2^(22+F) <= 2^42, proof of exactness in ``sim/fast/exact.py``). Stage 4 is S * ms
(|P| < 2^(33+F) <= 2^53) times 2^X in float64 (exact), cast to float32 (IEEE RNE) instead of
the golden model's integer rounding (rounding point 2), then the same float32 adds and float16
cast (rounding points 3-4): one pass per group, ``group_scale.accumulate_group``; output
columns split among threads (``column_blocks``). Tied to
golden bit for bit by ``tests/pe/test_bitmod.py::test_engines_agree`` and
``::test_fast_values_equal_golden``.
"""

from __future__ import annotations

import numpy as np

from qaccel.arch.pe._bitmod_numerics import fp16_fields
from qaccel.arch.pe.bitmod import (
    BitmodArray,
    BitmodWeights,
    align_activations,
    to_fp16,
    weight_ints,
)
from qaccel.sim.counts import GemmCounts
from qaccel.sim.fast.closed_form import gemm_counts
from qaccel.sim.fast.column_blocks import in_column_blocks
from qaccel.sim.fast.exact import exact_float_matmul
from qaccel.sim.fast.group_scale import accumulate_group
from qaccel.sim.plan import FoldPlan

__all__ = ["simulate_gemm", "gemm_values"]


def gemm_values(pe: BitmodArray, a: np.ndarray, w: BitmodWeights) -> np.ndarray:
    """FP16 outputs [M x N] of A float16 [M x K] and weights [K x N] (module docstring)."""
    (m, k), n = a.shape, w.shape[1]
    g_size, f = pe.group_size, pe.guard_bits
    alpha, emax = align_activations(a, g_size, f)
    ints, wf = weight_ints(pe.bits)
    s_sign, s_exp, s_sig = fp16_fields(w.scales.astype(np.float16))     # [G, N] each
    # P * 2^X = (S * ms * 2^s_exp) * 2^(emax - 50 - f - wf): the column factor has an 11-bit
    # significand (S * it < 2^(33+F) <= 2^53 bits, exact), the row factor is a power of two
    cscale = np.ldexp(np.where(s_sign == 1, -s_sig, s_sig).astype(np.float64), s_exp)
    rscale = np.ldexp(1.0, emax - 50 - f - wf)                           # [M, G]
    out = np.empty((m, n), dtype=np.float16)

    def columns(ns: slice) -> None:
        acc = np.zeros((m, ns.stop - ns.start), dtype=np.float32)
        for g in range(w.groups):
            ks = slice(g * g_size, min((g + 1) * g_size, k))
            v = ints[w.type_ids[g, ns].astype(np.intp)[None, :], w.codes[ks, ns].astype(np.intp)]
            p = exact_float_matmul(alpha[:, ks], v)
            accumulate_group(acc, p, cscale[g, ns], rscale[:, g])
        out[:, ns] = to_fp16(acc)

    in_column_blocks(columns, n, m * k * n)
    return out


def simulate_gemm(pe: BitmodArray, plan: FoldPlan, a: np.ndarray | None = None,
                  b: BitmodWeights | None = None) -> tuple[GemmCounts, np.ndarray | None]:
    """Counts (cycles, bits, events) of one GEMM and, given operands, its FP16 output."""
    counts = gemm_counts(pe, plan)
    out = gemm_values(pe, a, b) if a is not None else None
    return counts, out
