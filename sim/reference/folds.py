"""The reference engine's fold loop: readable, one fold at a time, buffers simulated (LRU).

For every fold it decides which blocks each buffer must fetch or spill, counts SRAM accesses
on the array side and the DRAM side, and (when values are asked for) computes the fold's tile
with the family's ``golden()`` and accumulates it. The fast engine computes the same numbers
in closed form; ``tests/sim/test_engines_agree.py`` checks that they are equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qaccel.arch.pe.tile import Tile
from qaccel.sim.counts import Events, GemmCounts, OperandBits
from qaccel.sim.fast.closed_form import cycle_events
from qaccel.sim.plan import FoldPlan
from qaccel.sim.reference.buffers import LruBuffer

__all__ = ["FoldStats", "run_folds", "run_gemm"]


@dataclass
class FoldStats:
    """Counts for one GEMM (unit: bits for traffic, cycles for time).

    SRAM traffic is per operand (A: input buffer, B: weight buffer, O: output buffer).
    """

    folds: int = 0
    compute_cycles: int = 0
    sram_rd_bits: dict[str, int] = field(default_factory=lambda: dict.fromkeys("ABO", 0))
    sram_wr_bits: dict[str, int] = field(default_factory=lambda: dict.fromkeys("ABO", 0))
    prologue_bits: int = 0   # DRAM bits fold 0 must read before it can start
    epilogue_bits: int = 0   # DRAM bits the last fold writes after it ends
    events: dict[str, int] = field(default_factory=dict)
    buffers: dict[str, LruBuffer] = field(default_factory=dict)

    def counts(self, pe: object) -> GemmCounts:
        """The typed counts (``GemmCounts``) the fast engine's closed forms also give."""
        def per_op(values: dict[str, int]) -> OperandBits:
            return OperandBits(**values)

        dram_rd = per_op({op: b.dram_read_bits for op, b in self.buffers.items()})
        dram_wr = per_op({op: b.dram_write_bits for op, b in self.buffers.items()})
        # DRAM fills are SRAM writes; DRAM write-backs are SRAM reads
        return GemmCounts(
            folds=self.folds, compute_cycles=self.compute_cycles,
            prologue_bits=self.prologue_bits, epilogue_bits=self.epilogue_bits,
            dram_rd=dram_rd, dram_wr=dram_wr,
            sram_rd=per_op(self.sram_rd_bits) + dram_wr,
            sram_wr=per_op(self.sram_wr_bits) + dram_rd,
            events=Events(self.events) + cycle_events(pe, self.compute_cycles))


def _slices(plan: FoldPlan, rb: int, cb: int, chunk: int) -> dict[str, slice]:
    r0, r1 = plan.block_extent(plan.row_dim, rb)
    c0, c1 = plan.block_extent(plan.col_dim, cb)
    s0, s1 = plan.chunk_extent(chunk)
    return {plan.row_dim: slice(r0, r1), plan.col_dim: slice(c0, c1),
            plan.stream_dim: slice(s0, s1)}


def _grid(plan: FoldPlan):
    """(chunk, rb, cb) of every fold in execution order: the loop order's nest
    (``LoopOrder``: chunks outermost, or inside the outer block loop)."""
    order = plan.loop_order
    outer, inner = ((plan.row_blocks, plan.col_blocks) if order.rows_first
                    else (plan.col_blocks, plan.row_blocks))
    loops = ((plan.chunks, outer, inner) if not order.chunk_inside
             else (outer, plan.chunks, inner))
    for i0 in range(loops[0]):
        for i1 in range(loops[1]):
            for i2 in range(loops[2]):
                j, x, y = (i0, i1, i2) if not order.chunk_inside else (i1, i0, i2)
                yield (j, x, y) if order.rows_first else (j, y, x)


def run_folds(plan: FoldPlan, family, a: np.ndarray | None = None,
              b: np.ndarray | None = None) -> tuple[FoldStats, np.ndarray | None]:
    """Simulate one GEMM fold by fold. With operands ``a`` [M x K] and ``b`` [K x N] (in the
    family's operand form), also return the output [M x N] assembled tile by tile: the
    family's ``output_accumulator``, one ``fold_merge`` (which calls ``golden``) per fold,
    then ``finish_output``. Each fold costs ``family.timing(tile, overlapped)``: with
    overlapped preload every fold but the first hides its preload."""
    stats = FoldStats()
    roles = plan.roles
    stat, row_op, col_op = roles["stationary"], roles["row"], roles["col"]
    bits = plan.elem_bits
    bufs = {op: LruBuffer(plan.reuse_bits[op]) for op in "ABO"}
    stats.buffers = bufs
    rd, wr = stats.sram_rd_bits, stats.sram_wr_bits
    out = family.output_accumulator(plan.M, plan.N) if a is not None else None
    last_fold = (plan.chunks - 1, plan.row_blocks - 1, plan.col_blocks - 1)
    hide = family.hides_preload

    def use(op: str, key: tuple, size_bits: int, first: bool, last: bool) -> None:
        """One fold's use of a block: an input is read through its buffer; partial sums
        (O) are written, read back unless ``first``, and written to DRAM after ``last``."""
        if op != "O":
            bufs[op].read(key, size_bits)
            rd[op] += size_bits
            return
        wr["O"] += size_bits
        if not first:
            rd["O"] += size_bits
        bufs["O"].accumulate(key, size_bits, first=first)
        if last:
            bufs["O"].write_back(key)

    for j, rb, cb in _grid(plan):
        sl = _slices(plan, rb, cb, j)
        r_t, c_t, t = (sl[d].stop - sl[d].start for d in (plan.row_dim, plan.col_dim,
                                                          plan.stream_dim))
        dram_before = sum(buf.dram_read_bits for buf in bufs.values())
        write_before = sum(buf.dram_write_bits for buf in bufs.values())

        # stationary block: once per chunk (as O: partial sums over the chunks of a K split)
        use(stat, ("stat", rb, cb), r_t * c_t * bits[stat], j == 0, j == plan.chunks - 1)
        # row operand block (rb, chunk): an input, reused across column blocks
        use(row_op, ("row", rb, j), r_t * plan.line_bits(row_op, t), True, True)
        # col operand block (cb, chunk): an input reused across row blocks, or partial sums
        # over the row blocks
        use(col_op, ("col", cb, j), c_t * plan.line_bits(col_op, t), rb == 0,
            rb == plan.row_blocks - 1)

        if stats.folds == 0:
            stats.prologue_bits = sum(b.dram_read_bits for b in bufs.values()) - dram_before
        if (j, rb, cb) == last_fold:
            stats.epilogue_bits = sum(b.dram_write_bits for b in bufs.values()) - write_before

        if a is not None:
            tile = Tile(a[sl["M"], sl["K"]], b[sl["K"], sl["N"]])
        else:  # timing only: zero-stride operands of the tile's shape
            m, k, n = (sl[d].stop - sl[d].start for d in "MKN")
            tile = Tile(np.broadcast_to(np.int8(0), (m, k)),
                        np.broadcast_to(np.int8(0), (k, n)))
        stats.compute_cycles += family.timing(tile, overlapped=hide and stats.folds > 0)
        stats.folds += 1
        for name, count in family.events(tile).items():
            stats.events[name] = stats.events.get(name, 0) + count
        if out is not None:
            out[sl["M"], sl["N"]] = family.fold_merge(out[sl["M"], sl["N"]], tile)

    return stats, (family.finish_output(out) if out is not None else None)


def run_gemm(pe: object, plan: FoldPlan, a: np.ndarray | None = None,
             b: np.ndarray | None = None) -> tuple[GemmCounts, np.ndarray | None]:
    """The reference level of every family: the fold loop with the family's golden tiles."""
    stats, out = run_folds(plan, pe, a, b)
    return stats.counts(pe), out
