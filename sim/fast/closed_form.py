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
(Families with the default ``fold_cycles_of``, a function of the chunk length, are asked once
per chunk length.) Both are memoized per array (``sim/fast/fold_memo.py``).
"""

from __future__ import annotations

from itertools import permutations, product

import numpy as np

from qaccel.arch.spec import PEArray
from qaccel.sim.counts import (
    Events,
    GemmCounts,
    OperandBits,
    events_of,
    gemm_counts_of,
    operand_bits,
)
from qaccel.sim.fast.fold_memo import clear_memos, fold_events, hold_one, memo_of, shape_tile
from qaccel.sim.plan import FoldPlan

__all__ = ["gemm_traffic", "gemm_counts", "fold_shapes", "tile_events", "cycle_events",
           "clear_caches"]


def _reads(set_bits: int, uses: int, cap: int) -> int:
    """DRAM bits a block set used ``uses`` times costs (consecutive or cyclic, module doc)."""
    return set_bits if set_bits <= cap or uses == 1 else set_bits * uses


def _line_sizes(plan: FoldPlan, op: str) -> list[tuple[int, int]]:
    """(bits of one line of ``op`` over a chunk, how many chunks of that length): its
    ``plan.line_bits``, which without B metadata is ``t * elem_bits[op]`` (written out: the
    hot path)."""
    if op == "B" and plan.b_meta_bits:
        return [(plan.line_bits(op, t), n) for t, n in plan.stream_sizes]
    b = plan.elem_bits[op]
    return [(t * b, n) for t, n in plan.stream_sizes]


def _input_reads(plan: FoldPlan, role: str, lines: list[tuple[int, int]]) -> int:
    """DRAM read bits of the row or col input operand (module docstring's patterns);
    ``lines``: its :func:`_line_sizes`."""
    op = plan.roles[role]
    cap = plan.reuse_bits[op]
    dim, uses, sizes = ((plan.row_dim, plan.col_blocks, plan.row_sizes) if role == "row"
                        else (plan.col_dim, plan.row_blocks, plan.col_sizes))
    if plan.rows_first == (role == "row"):           # used `uses` times in a row
        return sum(nt * n * _reads(size * line, uses, cap)
                   for line, nt in lines for size, n in sizes)
    if plan.chunk_inside:                            # the whole operand, cyclic
        return _reads(plan.dims[dim] * sum(line * nt for line, nt in lines), uses, cap)
    return sum(nt * _reads(plan.dims[dim] * line, uses, cap) for line, nt in lines)


def _stationary_reads(plan: FoldPlan, op: str) -> int:
    """DRAM read bits of a stationary input: its blocks are used once per chunk."""
    b, cap, n_s = plan.elem_bits[op], plan.reuse_bits[op], plan.chunks
    d_r, d_c = plan.dims[plan.row_dim], plan.dims[plan.col_dim]
    if not plan.chunk_inside:
        return _reads(d_r * d_c * b, n_s, cap)
    if plan.rows_first:                               # per row block: its row slice
        return sum(n * _reads(r * d_c * b, n_s, cap) for r, n in plan.row_sizes)
    return sum(n * _reads(d_r * c * b, n_s, cap) for c, n in plan.col_sizes)


def _psum_traffic(plan: FoldPlan) -> tuple[int, int]:
    """(DRAM write, DRAM read) bits of the col operand O (partial sums over row blocks)."""
    b, cap, n_r = plan.elem_bits["O"], plan.reuse_bits["O"], plan.row_blocks
    if plan.rows_first:                               # revisited cyclically: fits
        return plan.dims[plan.col_dim] * plan.streamed * b, 0
    wr = rd = 0
    for t, nt in plan.stream_sizes:
        for size, n in plan.col_sizes:
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
    row_sizes, col_sizes = plan.row_sizes, plan.col_sizes
    outer, inner = ((row_sizes, col_sizes) if plan.rows_first
                    else (col_sizes, row_sizes))
    inner_line = np.repeat([s for s, _ in inner], [n for _, n in inner]).astype(np.int64) * b
    if plan.chunk_inside:
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
    folds, prologue, epilogue, rd, wr, srd, swr = _traffic(plan)
    return gemm_counts_of(folds, 0, prologue, epilogue, rd, wr, srd, swr, _NO_EVENTS)


def _traffic(plan: FoldPlan) -> tuple[int, int, int, OperandBits, OperandBits, OperandBits,
                                      OperandBits]:
    """:func:`gemm_traffic`'s fields: (folds, prologue bits, epilogue bits, DRAM read,
    DRAM write, SRAM read, SRAM write)."""
    roles, bits = plan.roles, plan.elem_bits
    stat, row_op, col_op = roles["stationary"], roles["row"], roles["col"]
    d_r, d_c = plan.dims[plan.row_dim], plan.dims[plan.col_dim]
    n_r, n_c, n_s = plan.row_blocks, plan.col_blocks, plan.chunks
    rd, wr = {"A": 0, "B": 0, "O": 0}, {"A": 0, "B": 0, "O": 0}
    srd, swr = {"A": 0, "B": 0, "O": 0}, {"A": 0, "B": 0, "O": 0}

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

    row_lines = _line_sizes(plan, row_op)
    col_lines = _line_sizes(plan, col_op)
    rd[row_op] += _input_reads(plan, "row", row_lines)
    if col_op == "O":
        w, r = _psum_traffic(plan)
        wr["O"] += w
        rd["O"] += r
    else:
        rd[col_op] += _input_reads(plan, "col", col_lines)
    row_total = col_total = 0                # bits of one row / col line over all chunks
    for line, n in row_lines:
        row_total += n * line
    for line, n in col_lines:
        col_total += n * line
    srd[row_op] += d_r * row_total * n_c
    col_total *= d_c
    if col_op == "O":
        swr["O"] += col_total * n_r
        srd["O"] += col_total * (n_r - 1)
    else:
        srd[col_op] += col_total * n_r

    r0, c0 = plan.row_sizes[0][0], plan.col_sizes[0][0]
    r_last, c_last, t_last = (plan.row_sizes[-1][0], plan.col_sizes[-1][0],
                              plan.stream_sizes[-1][0])
    prologue = r0 * row_lines[0][0]
    if stat != "O":
        prologue += r0 * c0 * bits[stat]
    if col_op != "O":
        prologue += c0 * col_lines[0][0]
    epilogue = r_last * c_last * bits["O"] if stat == "O" else c_last * t_last * bits["O"]
    # DRAM fills write the buffer, write-backs read it
    ra, rb, ro, wa, wb, wo = rd["A"], rd["B"], rd["O"], wr["A"], wr["B"], wr["O"]
    return (n_r * n_c * n_s, prologue, epilogue, operand_bits(ra, rb, ro),
            operand_bits(wa, wb, wo), operand_bits(srd["A"] + wa, srd["B"] + wb, srd["O"] + wo),
            operand_bits(swr["A"] + ra, swr["B"] + rb, swr["O"] + ro))


#: ``PEArray.fold_cycles_of`` as families inherit it (``fold_cycles`` of the chunk length)
_DEFAULT_FOLD_CYCLES = PEArray.fold_cycles_of

#: the events of a count that has none yet (shared: Events are immutable)
_NO_EVENTS = events_of({})


def _shape_order(row_dim: str, col_dim: str, stream_dim: str) -> tuple[int, int, int]:
    """Where M, K and N sit in a fold's (row extent, col extent, chunk length)."""
    return _SHAPE_ORDER[(row_dim, col_dim, stream_dim)]


#: (row dim, col dim, streamed dim) -> where M, K and N sit in (row, col, chunk) extents
_SHAPE_ORDER = {dims: (dims.index("M"), dims.index("K"), dims.index("N"))
                for dims in permutations("MKN")}


def fold_shapes(plan: FoldPlan) -> list[tuple[tuple[int, int, int], int]]:
    """((M, K, N) of a fold's tile, how many folds have it), first shape = the first fold."""
    i_m, i_k, i_n = _SHAPE_ORDER[(plan.row_dim, plan.col_dim, plan.stream_dim)]
    out = []
    for r, nr in plan.row_sizes:
        for c, nc in plan.col_sizes:
            for t, ns in plan.stream_sizes:
                x = (r, c, t)
                out.append(((x[i_m], x[i_k], x[i_n]), nr * nc * ns))
    return out


def tile_events(pe: object, m: int, k: int, n: int) -> Events:
    """The family's ``events()`` of one fold of this shape (events depend on the tile's
    shape only)."""
    return Events(fold_events(pe, m, k, n))


def cycle_events(pe: object, compute_cycles: int) -> Events:
    """The engines' own events: clocked PE-cycles and array cycles (unpriced)."""
    return Events({"pe_cycles": compute_cycles * pe.rows * pe.cols,
                   "array_cycles": compute_cycles})


def gemm_cycles(pe: object, plan: FoldPlan) -> int:
    """Compute cycles of one GEMM: every fold's ``fold_cycles_of``; with overlapped preload
    every fold but the first hides its preload behind the previous one. (The loop order does
    not change it: cached on the fold shapes.)"""
    table = memo_of(pe).cycles
    key = (plan.row_dim, plan.col_dim, plan.stream_dim, plan.row_sizes, plan.col_sizes,
           plan.stream_sizes)
    hit = table.get(key)
    if hit is None:
        hold_one()
        hit = table[key] = _cycles(pe, *key)
    return hit


def _cycles(pe: object, row_dim: str, col_dim: str, stream_dim: str, rows: tuple,
            cols: tuple, chunks: tuple) -> int:
    hide = pe.hides_preload
    if type(pe).fold_cycles_of is _DEFAULT_FOLD_CYCLES:
        # the default fold_cycles_of is a function of the chunk length alone (its
        # docstring), so folds of one chunk length cost the same whatever their row and col
        # blocks: one call per chunk length, the first fold's shape unchanged
        # (tests/sim/test_engines_agree.py checks the totals against the fold loop)
        rows = ((rows[0][0], rows[0][1] + rows[1][1] if len(rows) > 1 else rows[0][1]),)
        cols = ((cols[0][0], cols[0][1] + cols[1][1] if len(cols) > 1 else cols[0][1]),)
    i_m, i_k, i_n = _shape_order(row_dim, col_dim, stream_dim)
    first = None
    total = 0
    for (r, nr), (c, nc), (t, ns) in product(rows, cols, chunks):
        x = (r, c, t)
        shape = (x[i_m], x[i_k], x[i_n])
        first = first or shape
        total += nr * nc * ns * pe.fold_cycles_of(*shape, overlapped=hide)
    if hide:
        total += pe.fold_cycles_of(*first) - pe.fold_cycles_of(*first, overlapped=True)
    return total


def gemm_counts(pe: object, plan: FoldPlan) -> GemmCounts:
    """Everything the fast engine reports for one GEMM's timing: traffic, cycles, events."""
    folds, prologue, epilogue, rd, wr, srd, swr = _traffic(plan)
    compute = gemm_cycles(pe, plan)
    return gemm_counts_of(folds, compute, prologue, epilogue, rd, wr, srd, swr,
                          _events(pe, plan, compute))


def with_cycles_and_events(pe: object, plan: FoldPlan, counts: GemmCounts,
                           compute: int) -> GemmCounts:
    """``counts`` (traffic only) completed with the compute cycles and the events."""
    return gemm_counts_of(counts.folds, compute, counts.prologue_bits, counts.epilogue_bits,
                          counts.dram_rd, counts.dram_wr, counts.sram_rd, counts.sram_wr,
                          _events(pe, plan, compute))


def _events(pe: object, plan: FoldPlan, compute: int) -> Events:
    """The family's events of every fold (each fold shape's times its count), then the
    engines' :func:`cycle_events` of ``compute`` cycles."""
    i_m, i_k, i_n = _SHAPE_ORDER[(plan.row_dim, plan.col_dim, plan.stream_dim)]
    memo = memo_of(pe).events
    events: dict[str, int] = {}
    get = events.get
    for r, nr in plan.row_sizes:
        for c, nc in plan.col_sizes:
            for t, ns in plan.stream_sizes:
                x = (r, c, t)
                shape = (x[i_m], x[i_k], x[i_n])
                fold = memo.get(shape)                 # _fold_events, inlined (hot path)
                if fold is None:
                    hold_one()
                    fold = memo[shape] = pe.events(shape_tile(shape))
                n = nr * nc * ns
                for name, v in fold.items():
                    events[name] = get(name, 0) + v * n
    for name, v in (("pe_cycles", compute * pe.rows * pe.cols), ("array_cycles", compute)):
        events[name] = get(name, 0) + v
    return events_of(events)


def clear_caches() -> None:
    """Forget the memoized fold cycles and fold events (per array and fold shape)."""
    clear_memos()

