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

from qaccel.sim.plan import FoldPlan, add_totals

__all__ = ["gemm_traffic"]


def _col_blocks(plan: FoldPlan) -> list[tuple[int, int]]:
    """(block size, how many blocks of that size) along the col dim."""
    first, last = plan.first_last(plan.col_dim)
    n = plan.col_blocks
    return [(first, n - 1), (last, 1)] if n > 1 else [(last, 1)]


def gemm_traffic(plan: FoldPlan) -> dict[str, int]:
    """Bits moved and fold count of one GEMM: the reference fold loop's totals, closed form.

    Keys: ``folds``, ``prologue_bits``, ``epilogue_bits`` and, per operand X in A/B/O (the
    input, weight and output buffers), ``dram_rd_bits_X``, ``dram_wr_bits_X``,
    ``sram_rd_bits_X``, ``sram_wr_bits_X`` (SRAM: array-side accesses plus DRAM fills as
    writes and write-backs as reads), plus the four totals without the suffix.
    """
    roles, bits, cap = plan.roles, plan.elem_bits, plan.reuse_bits
    stat, row_op, col_op = roles["stationary"], roles["row"], roles["col"]
    d_r, d_c, S = plan.dims[plan.row_dim], plan.dims[plan.col_dim], plan.streamed
    n_r, n_c = plan.row_blocks, plan.col_blocks
    rd = dict.fromkeys("ABO", 0)
    wr = dict.fromkeys("ABO", 0)
    sram_rd = dict.fromkeys("ABO", 0)
    sram_wr = dict.fromkeys("ABO", 0)

    stat_bits = d_r * d_c * bits[stat]
    if stat == "O":
        wr[stat] += stat_bits
        sram_wr[stat] += stat_bits
    else:
        rd[stat] += stat_bits
        sram_rd[stat] += stat_bits

    row_total = d_r * S * bits[row_op]
    rd[row_op] += row_total if row_total <= cap[row_op] else row_total * n_c
    sram_rd[row_op] += row_total * n_c

    for size, count in _col_blocks(plan):
        slice_bits = size * S * bits[col_op]
        fits = slice_bits <= cap[col_op]
        if col_op == "O":
            wr[col_op] += count * slice_bits * (1 if fits else n_r)
            rd[col_op] += 0 if fits else count * slice_bits * (n_r - 1)
        else:
            rd[col_op] += count * slice_bits * (1 if fits else n_r)
    col_total = d_c * S * bits[col_op]
    if col_op == "O":
        sram_wr[col_op] += col_total * n_r
        sram_rd[col_op] += col_total * (n_r - 1)
    else:
        sram_rd[col_op] += col_total * n_r

    r0, r_last = plan.first_last(plan.row_dim)
    c0, c_last = plan.first_last(plan.col_dim)
    prologue = r0 * S * bits[row_op]
    if stat != "O":
        prologue += r0 * c0 * bits[stat]
    if col_op != "O":
        prologue += c0 * S * bits[col_op]
    epilogue = r_last * c_last * bits["O"] if stat == "O" else c_last * S * bits["O"]

    out = {"folds": n_r * n_c, "prologue_bits": prologue, "epilogue_bits": epilogue}
    for op in "ABO":
        out[f"dram_rd_bits_{op}"] = rd[op]
        out[f"dram_wr_bits_{op}"] = wr[op]
        out[f"sram_rd_bits_{op}"] = sram_rd[op] + wr[op]   # write-backs read the buffer
        out[f"sram_wr_bits_{op}"] = sram_wr[op] + rd[op]   # fills write the buffer
    return add_totals(out)
