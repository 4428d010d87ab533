"""The ``dram.traffic: layer_refetch`` rule: a layer's DRAM traffic by a paper's whole-layer
refetch rule instead of the mapping's buffers (``qaccel.arch.spec.DramTraffic``).

The BitMoD authors' simulator (github abdelfattah-lab/BitMoD-HPCA-25, commit e445a5f,
``bitmod_sim/accelerator.py``: ``_check_layer_mem_size``, ``_calc_num_mem_refetch``,
``_calc_dram_cycle``) moves each operand of a layer once, except when the weights W and the
inputs I *both* exceed their buffers: then it charges the cheaper of

- re-reading all weights once per buffer-full of inputs: ``ceil(I / size_i) * W + I``, or
- re-reading all inputs once per buffer-full of weights: ``W + ceil(W / size_w) * I``

(the first when strictly cheaper), and the outputs are written once. Sizes are whole-layer
bytes (every GEMM of the layer: a multi-head matmul counts all heads), a row of K weights or
inputs rounded up to whole bytes. Here ``size_w`` / ``size_i`` are the weight / input
buffers' reuse halves (``sim.plan.reuse_bits_of``), W counts ``dram.weight_bits`` per weight
(the paper's average ``w_prec``) or else B's stored bits with its metadata
(``FoldPlan.line_bits``), and the outputs O's bits per element as the mapping writes them
(``pe.acc_bits``). The authors charge the attention matmuls' B (the KV cache) at its own
precision; here every B of the layer gets ``dram.weight_bits`` when it is set.

It is a counting rule, not a schedule: no engine simulates it. Both engines apply this one
function to the counts of the mapping they simulated, replacing the DRAM reads of A, B and the
traffic of O (spills included) and the buffer fills and write-backs that go with them; the
array-side SRAM accesses, compute cycles, prologue and epilogue stay the mapping's, and total
cycles follow the usual overlap rule (``sim.plan.total_cycles``). Cache writes of a KV layer
(``dram_wr`` of A / B) are kept.
"""

from __future__ import annotations

import math

from qaccel.sim.counts import GemmCounts, gemm_counts_of, operand_bits
from qaccel.sim.plan import FoldPlan, ceil_div

__all__ = ["refetch_counts", "layer_bytes"]


def layer_bytes(plan: FoldPlan, count: int, out_bits: int,
                weight_bits: float | None = None) -> tuple[int, int, int]:
    """(W, I, O): bytes of the weights (B), inputs (A) and outputs of ``count`` GEMMs of
    ``plan``'s shape, each row of K elements (and O's of N) rounded up to whole bytes; B at
    ``weight_bits`` per weight when given (``dram.weight_bits``), else at its stored width
    with metadata (``FoldPlan.line_bits``)."""
    if weight_bits is None:
        w_row = ceil_div(plan.line_bits("B", plan.K), 8)
    else:
        w_row = math.ceil(plan.K * weight_bits / 8)
    w = w_row * plan.N * count
    i = ceil_div(plan.K * plan.elem_bits["A"], 8) * plan.M * count
    o = ceil_div(plan.N * out_bits, 8) * plan.M * count
    return w, i, o


def refetch_factors(w: int, i: int, size_w: int, size_i: int) -> tuple[int, int]:
    """(times the weights are read, times the inputs are read) by the rule; sizes in bytes."""
    if w <= size_w or i <= size_i:
        return 1, 1
    weights_again = ceil_div(i, size_i)            # all weights once per input buffer-full
    inputs_again = ceil_div(w, size_w)             # all inputs once per weight buffer-full
    if weights_again * w + i < inputs_again * i + w:
        return weights_again, 1
    return 1, inputs_again


def refetch_counts(scaled: GemmCounts, plan: FoldPlan, count: int, out_bits: int,
                   reuse_bits: dict[str, int], weight_bits: float | None = None) -> GemmCounts:
    """``scaled`` (the counts of ``count`` GEMMs of ``plan``) with the rule's DRAM traffic
    (unit: bits): A and B reads by :func:`refetch_factors`, O written once and never read
    back; buffer fills (SRAM writes of A, B, O) and write-backs (SRAM reads of O) moved by
    the same differences. ``weight_bits``: :func:`layer_bytes`'."""
    w, i, o = layer_bytes(plan, count, out_bits, weight_bits)
    fw, fi = refetch_factors(w, i, reuse_bits["B"] // 8, reuse_bits["A"] // 8)
    rd_a, rd_b, wr_o = 8 * i * fi, 8 * w * fw, 8 * o
    rd, wr, srd, swr = scaled.dram_rd, scaled.dram_wr, scaled.sram_rd, scaled.sram_wr
    new_rd = operand_bits(rd_a, rd_b, 0)
    new_wr = operand_bits(wr.A, wr.B, wr_o)
    new_swr = operand_bits(swr.A + rd_a - rd.A, swr.B + rd_b - rd.B, swr.O - rd.O)
    new_srd = operand_bits(srd.A, srd.B, srd.O + wr_o - wr.O)
    return gemm_counts_of(scaled.folds, scaled.compute_cycles, scaled.prologue_bits,
                          scaled.epilogue_bits, new_rd, new_wr, new_srd, new_swr, scaled.events)
