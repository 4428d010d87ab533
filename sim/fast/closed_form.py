"""The fast engine's closed forms: traffic, cycles and events of one GEMM without a fold loop.

Each formula is the sum the reference engine's fold loop (``sim/reference/folds.py``) adds up,
written out; ``tests/sim/test_engines_agree.py`` checks equality over random shapes, arrays,
buffers and mappings. Symbols: D_r/D_c the GEMM dims on rows/cols, S the streamed dim cut in
n_s chunks of T (the last one shorter), n_r = ceil(D_r/R), n_c = ceil(D_c/C), b_X bits per
element of operand X, cap_X the reuse half of X's buffer (bits).

An LRU buffer that sees a block again hits exactly when the block plus every distinct block
used since its last use fit the buffer (only the oldest blocks are ever evicted). Two
patterns follow:

- *consecutive* (a block used k times in a row): read once if it fits cap_X, else k times;
- *cyclic* (a set of blocks used in the same order k times): read once if the whole set fits,
  else k times (every use misses).

Per chunk of length t (``cols_outer``: column blocks outer; ``rows_outer``: row blocks outer):

- stationary input X (used once per chunk): cyclic over the chunks on the whole D_r*D_c*b_X;
- stationary output O (os; a K split revisits it per chunk): written once if it fits cap_O,
  else spilled and read back per chunk (cyclic, with the last chunk's resident tail);
- row operand X: cols_outer cyclic over the row blocks (D_r*t*b_X, n_c uses), rows_outer
  consecutive per block (n_c uses);
- col operand X: cols_outer consecutive per block (n_r uses), rows_outer cyclic (D_c*t*b_X);
- col operand O (partial sums over the n_r row blocks): cols_outer per block written once if
  it fits cap_O, else written n_r times and read back n_r - 1 times; rows_outer must fit
  (``sim.plan.mapping_problem``) and is written once.

Cycles and events: every fold of the grid has one of at most 2 x 2 x 2 tile shapes (first or
last block along each dim); the family's ``fold_cycles_of`` and ``events`` of each shape are
multiplied by its count, and with overlapped preload the first fold pays its preload.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import product

import numpy as np

from qaccel.arch.pe.tile import Tile
from qaccel.sim.counts import Events, GemmCounts, OperandBits
from qaccel.sim.plan import FoldPlan

__all__ = ["gemm_traffic", "gemm_counts", "fold_shapes", "tile_events", "cycle_events"]


def _reads(set_bits: int, uses: int, cap: int) -> int:
    """DRAM bits a block set used ``uses`` times costs (consecutive or cyclic, module doc)."""
    return set_bits if set_bits <= cap or uses == 1 else set_bits * uses


def _line_sizes(plan: FoldPlan, op: str) -> list[tuple[int, int]]:
    """(bits of one line of ``op`` over a chunk, how many chunks of that length)."""
    return [(plan.line_bits(op, t), n) for t, n in plan.sizes(plan.stream_dim)]


def _input_reads(plan: FoldPlan, role: str) -> int:
    """DRAM read bits of the row or col input operand (module docstring's patterns)."""
    op = plan.roles[role]
    cap, order = plan.reuse_bits[op], plan.loop_order
    dim, uses = (plan.row_dim, plan.col_blocks) if role == "row" else (plan.col_dim,
                                                                       plan.row_blocks)
    lines = _line_sizes(plan, op)
    if order.rows_first == (role == "row"):          # used `uses` times in a row
        return sum(nt * n * _reads(size * line, uses, cap)
                   for line, nt in lines for size, n in plan.sizes(dim))
    if order.chunk_inside:                           # the whole operand, cyclic
        return _reads(plan.dims[dim] * sum(line * nt for line, nt in lines), uses, cap)
    return sum(nt * _reads(plan.dims[dim] * line, uses, cap) for line, nt in lines)


def _stationary_reads(plan: FoldPlan, op: str) -> int:
    """DRAM read bits of a stationary input: its blocks are used once per chunk."""
    b, cap, n_s = plan.elem_bits[op], plan.reuse_bits[op], plan.chunks
    d_r, d_c = plan.dims[plan.row_dim], plan.dims[plan.col_dim]
    order = plan.loop_order
    if not order.chunk_inside:
        return _reads(d_r * d_c * b, n_s, cap)
    if order.rows_first:                              # per row block: its row slice
        return sum(n * _reads(r * d_c * b, n_s, cap) for r, n in plan.sizes(plan.row_dim))
    return sum(n * _reads(d_r * c * b, n_s, cap) for c, n in plan.sizes(plan.col_dim))


def _psum_traffic(plan: FoldPlan) -> tuple[int, int]:
    """(DRAM write, DRAM read) bits of the col operand O (partial sums over row blocks)."""
    b, cap, n_r = plan.elem_bits["O"], plan.reuse_bits["O"], plan.row_blocks
    if plan.loop_order.rows_first:                    # revisited cyclically: fits
        return plan.dims[plan.col_dim] * plan.streamed * b, 0
    wr = rd = 0
    for t, nt in plan.sizes(plan.stream_dim):
        for size, n in plan.sizes(plan.col_dim):
            s = size * t * b
            fits = s <= cap
            wr += nt * n * s * (1 if fits else n_r)
            rd += 0 if fits else nt * n * s * (n_r - 1)
    return wr, rd


def _spill_sets(plan: FoldPlan) -> list[tuple[np.ndarray, int]]:
    """The stationary partial-sum blocks of a K split as the cyclic sets the chunks revisit,
    each in visit order (bits per block) with how many sets are alike: the whole grid when the
    chunk loop is outermost, else one set per outer block (alike for outer blocks of one size)."""
    b = plan.elem_bits["O"]
    row_sizes, col_sizes = plan.sizes(plan.row_dim), plan.sizes(plan.col_dim)
    outer, inner = ((row_sizes, col_sizes) if plan.loop_order.rows_first
                    else (col_sizes, row_sizes))
    inner_line = np.repeat([s for s, _ in inner], [n for _, n in inner]).astype(np.int64) * b
    if plan.loop_order.chunk_inside:
        return [(inner_line * size, count) for size, count in outer]
    outer_line = np.repeat([s for s, _ in outer], [n for _, n in outer]).astype(np.int64)
    return [(np.outer(outer_line, inner_line).reshape(-1), 1)]


def _cyclic_spill(sizes: np.ndarray, visits: int, cap: int) -> tuple[int, int]:
    """(DRAM write, DRAM read) bits of partial-sum blocks ``sizes`` (visit order, each at most
    ``cap``) accumulated in the same order ``visits`` times through an LRU buffer of ``cap``
    bits, every block written back after its last visit.

    If the set fits, each block is written once. Otherwise every visit misses (a block is the
    oldest when it comes round again, and the set does not fit), except in the last visit:
    blocks are then written back and dropped as they finish, so the tail of the order that was
    resident when the last visit began stays resident up to where the scan meets it. With the
    resident tail starting at ``k0`` (the longest suffix that fits) and each miss evicting
    only what its block needs, the frontier before block ``i`` is the first ``k >= k0`` with
    ``suffix(k) + max(size[:i]) <= cap``; the scan meets it at the first ``i >= frontier``,
    and the blocks from there on hit. Writes: one per block and visit, less the hits' previous
    versions; reads: every revisit, less the hits."""
    total = int(sizes.sum())
    if total <= cap:
        return total, 0
    n = len(sizes)
    suffix = np.zeros(n + 1, dtype=np.int64)
    suffix[:n] = np.cumsum(sizes[::-1])[::-1]                 # suffix[k] = sum(sizes[k:])
    seen_max = np.zeros(n, dtype=np.int64)                    # max(sizes[:i])
    seen_max[1:] = np.maximum.accumulate(sizes[:-1])
    # g(x) = first k with suffix[k] <= cap - x; the frontier before block i is
    # max(k0, g(seen_max[i])) with k0 = g(0) (the resident tail when the last visit begins)
    frontier = np.searchsorted(-suffix, -(cap - seen_max), side="left")
    met = np.nonzero(np.arange(n) >= frontier)[0]
    hits = int(suffix[met[0]]) if met.size else 0
    return visits * total - hits, (visits - 1) * total - hits


def _stationary_psum_traffic(plan: FoldPlan) -> tuple[int, int]:
    """(DRAM write, DRAM read) bits of stationary partial sums (O in ``os``): written once
    when they fit; with a K split whose partial sums do not fit, spilled and read back per
    chunk (:func:`_cyclic_spill`, per cyclic set)."""
    stat_bits = plan.dims[plan.row_dim] * plan.dims[plan.col_dim] * plan.elem_bits["O"]
    if plan.chunks == 1:
        return stat_bits, 0
    wr = rd = 0
    for sizes, alike in _spill_sets(plan):
        w, r = _cyclic_spill(sizes, plan.chunks, plan.reuse_bits["O"])
        wr, rd = wr + w * alike, rd + r * alike
    return wr, rd


def gemm_traffic(plan: FoldPlan) -> GemmCounts:
    """Folds, prologue/epilogue and per-operand DRAM and SRAM bits of one GEMM (no cycles or
    events yet). SRAM counts array-side accesses plus DRAM fills (writes) and write-backs
    (reads)."""
    roles, bits = plan.roles, plan.elem_bits
    stat, row_op, col_op = roles["stationary"], roles["row"], roles["col"]
    d_r, d_c = plan.dims[plan.row_dim], plan.dims[plan.col_dim]
    n_r, n_c, n_s = plan.row_blocks, plan.col_blocks, plan.chunks
    rd, wr, srd, swr = ({"A": 0, "B": 0, "O": 0} for _ in range(4))

    stat_bits = d_r * d_c * bits[stat]
    if stat == "O":                      # written per chunk, reloaded by later chunks
        w, r = _stationary_psum_traffic(plan)
        wr["O"] += w
        rd["O"] += r
        swr["O"] += stat_bits * n_s
        srd["O"] += stat_bits * (n_s - 1)
    else:
        rd[stat] += _stationary_reads(plan, stat)
        srd[stat] += stat_bits * n_s

    rd[row_op] += _input_reads(plan, "row")
    if col_op == "O":
        w, r = _psum_traffic(plan)
        wr["O"] += w
        rd["O"] += r
    else:
        rd[col_op] += _input_reads(plan, "col")
    chunk_lines = plan.sizes(plan.stream_dim)
    srd[row_op] += d_r * sum(n * plan.line_bits(row_op, t) for t, n in chunk_lines) * n_c
    col_total = d_c * sum(n * plan.line_bits(col_op, t) for t, n in chunk_lines)
    if col_op == "O":
        swr["O"] += col_total * n_r
        srd["O"] += col_total * (n_r - 1)
    else:
        srd[col_op] += col_total * n_r

    (r0, _), (c0, _), (t0, _) = (plan.sizes(d)[0] for d in (plan.row_dim, plan.col_dim,
                                                             plan.stream_dim))
    r_last, c_last, t_last = (plan.sizes(d)[-1][0] for d in (plan.row_dim, plan.col_dim,
                                                              plan.stream_dim))
    prologue = r0 * plan.line_bits(row_op, t0)
    if stat != "O":
        prologue += r0 * c0 * bits[stat]
    if col_op != "O":
        prologue += c0 * plan.line_bits(col_op, t0)
    epilogue = r_last * c_last * bits["O"] if stat == "O" else c_last * t_last * bits["O"]
    for op in "ABO":                     # DRAM fills write the buffer, write-backs read it
        srd[op] += wr[op]
        swr[op] += rd[op]
    return GemmCounts(folds=n_r * n_c * n_s, prologue_bits=prologue, epilogue_bits=epilogue,
                      dram_rd=OperandBits(**rd), dram_wr=OperandBits(**wr),
                      sram_rd=OperandBits(**srd), sram_wr=OperandBits(**swr))


def fold_shapes(plan: FoldPlan) -> list[tuple[tuple[int, int, int], int]]:
    """((M, K, N) of a fold's tile, how many folds have it), first shape = the first fold."""
    out = []
    for (r, nr), (c, nc), (t, ns) in product(plan.sizes(plan.row_dim), plan.sizes(plan.col_dim),
                                             plan.sizes(plan.stream_dim)):
        dims = {plan.row_dim: r, plan.col_dim: c, plan.stream_dim: t}
        out.append(((dims["M"], dims["K"], dims["N"]), nr * nc * ns))
    return out


@lru_cache(maxsize=65536)
def tile_events(pe: object, m: int, k: int, n: int) -> Events:
    """The family's ``events()`` of one fold of this shape (zero-stride operands: events
    depend on shapes only)."""
    tile = Tile(np.broadcast_to(np.int8(0), (m, k)), np.broadcast_to(np.int8(0), (k, n)))
    return Events(pe.events(tile))


def cycle_events(pe: object, compute_cycles: int) -> Events:
    """The engines' own events: clocked PE-cycles and array cycles (unpriced)."""
    return Events({"pe_cycles": compute_cycles * pe.rows * pe.cols,
                   "array_cycles": compute_cycles})


def gemm_cycles(pe: object, plan: FoldPlan) -> int:
    """Compute cycles of one GEMM: every fold's ``fold_cycles_of``; with overlapped preload
    every fold but the first hides its preload behind the previous one. (The loop order does
    not change it: cached on the fold shapes.)"""
    return _cycles(pe, plan.row_dim, plan.col_dim, plan.stream_dim,
                   tuple(plan.sizes(plan.row_dim)), tuple(plan.sizes(plan.col_dim)),
                   tuple(plan.sizes(plan.stream_dim)))


@lru_cache(maxsize=65536)
def _cycles(pe: object, row_dim: str, col_dim: str, stream_dim: str, rows: tuple,
            cols: tuple, chunks: tuple) -> int:
    hide = pe.hides_preload
    first = None
    total = 0
    for (r, nr), (c, nc), (t, ns) in product(rows, cols, chunks):
        dims = {row_dim: r, col_dim: c, stream_dim: t}
        shape = (dims["M"], dims["K"], dims["N"])
        first = first or shape
        total += nr * nc * ns * pe.fold_cycles_of(*shape, overlapped=hide)
    if hide:
        total += pe.fold_cycles_of(*first) - pe.fold_cycles_of(*first, overlapped=True)
    return total


def gemm_counts(pe: object, plan: FoldPlan) -> GemmCounts:
    """Everything the fast engine reports for one GEMM's timing: traffic, cycles, events."""
    return with_cycles_and_events(pe, plan, gemm_traffic(plan), gemm_cycles(pe, plan))


def with_cycles_and_events(pe: object, plan: FoldPlan, counts: GemmCounts,
                           compute: int) -> GemmCounts:
    """``counts`` (traffic only) completed with the compute cycles and the events."""
    events: dict[str, int] = {}
    for dims, n in fold_shapes(plan):
        for name, v in tile_events(pe, *dims).items():
            events[name] = events.get(name, 0) + v * n
    return GemmCounts(folds=counts.folds, compute_cycles=compute,
                        prologue_bits=counts.prologue_bits, epilogue_bits=counts.epilogue_bits,
                        dram_rd=counts.dram_rd, dram_wr=counts.dram_wr, sram_rd=counts.sram_rd,
                        sram_wr=counts.sram_wr, events=Events(events) + cycle_events(pe, compute))
