"""The fast engine's closed forms: traffic and cycles of one GEMM without a fold loop.

Each formula is the sum the reference engine's fold loop (``sim/reference/folds.py``) adds up,
written out; ``tests/sim/test_engines_agree.py`` checks equality over random shapes, arrays,
buffers and dataflows. Symbols: R/C array rows/cols, D_r/D_c the GEMM dims on rows/cols,
S the streamed dim, n_r = ceil(D_r/R), n_c = ceil(D_c/C), b_X bits per element of operand X,
cap_X the reuse half of X's buffer (bits).

- stationary input X:  DRAM reads = D_r*D_c*b_X (each block once)
- stationary output O: DRAM writes = D_r*D_c*b_O (each fold's block once)
- row operand X (input, reused across column blocks): D_r*S*b_X once if it all fits cap_X,
  else n_c times (LRU on a cyclic pattern keeps all or nothing)
- col operand X (input, reused by the n_r folds of one column block): per column block,
  c_t*S*b_X once if it fits cap_X, else n_r times
- col operand O (partial sums over the n_r row blocks): per column block, written once if it
  fits cap_O; else written n_r times and read back n_r - 1 times
"""

from __future__ import annotations

from qaccel.sim.plan import FoldPlan

__all__ = ["gemm_traffic"]


def _col_blocks(plan: FoldPlan) -> list[tuple[int, int]]:
    """(block size, how many blocks of that size) along the col dim."""
    first, last = plan.first_last(plan.col_dim)
    n = plan.col_blocks
    return [(first, n - 1), (last, 1)] if n > 1 else [(last, 1)]


def gemm_traffic(plan: FoldPlan) -> dict[str, int]:
    """Bits moved and fold count of one GEMM: the reference fold loop's totals, closed form."""
    roles, bits, cap = plan.roles, plan.elem_bits, plan.reuse_bits
    stat, row_op, col_op = roles["stationary"], roles["row"], roles["col"]
    d_r, d_c, S = plan.dims[plan.row_dim], plan.dims[plan.col_dim], plan.streamed
    n_r, n_c = plan.row_blocks, plan.col_blocks
    rd = wr = sram_rd = sram_wr = 0

    stat_bits = d_r * d_c * bits[stat]
    if stat == "O":
        wr += stat_bits
        sram_wr += stat_bits
    else:
        rd += stat_bits
        sram_rd += stat_bits

    row_total = d_r * S * bits[row_op]
    rd += row_total if row_total <= cap[row_op] else row_total * n_c
    sram_rd += row_total * n_c

    for size, count in _col_blocks(plan):
        slice_bits = size * S * bits[col_op]
        fits = slice_bits <= cap[col_op]
        if col_op == "O":
            wr += count * slice_bits * (1 if fits else n_r)
            rd += 0 if fits else count * slice_bits * (n_r - 1)
        else:
            rd += count * slice_bits * (1 if fits else n_r)
    col_total = d_c * S * bits[col_op]
    if col_op == "O":
        sram_wr += col_total * n_r
        sram_rd += col_total * (n_r - 1)
    else:
        sram_rd += col_total * n_r

    r0, _ = plan.first_last(plan.row_dim)
    c0, c_last = plan.first_last(plan.col_dim)
    _, r_last = plan.first_last(plan.row_dim)
    prologue = r0 * S * bits[row_op]
    if stat != "O":
        prologue += r0 * c0 * bits[stat]
    if col_op != "O":
        prologue += c0 * S * bits[col_op]
    epilogue = r_last * c_last * bits["O"] if stat == "O" else c_last * S * bits["O"]

    return {"folds": n_r * n_c, "dram_rd_bits": rd, "dram_wr_bits": wr,
            "sram_rd_bits": sram_rd + wr, "sram_wr_bits": sram_wr + rd,
            "prologue_bits": prologue, "epilogue_bits": epilogue}

