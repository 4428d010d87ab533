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
from qaccel.sim.plan import FoldPlan, add_totals
from qaccel.sim.reference.buffers import LruBuffer

__all__ = ["FoldStats", "run_folds"]


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

    def counts(self) -> dict[str, int]:
        """Flat counters with the keys of ``sim.fast.closed_form.gemm_traffic``."""
        out = {"folds": self.folds, "compute_cycles": self.compute_cycles,
               "prologue_bits": self.prologue_bits, "epilogue_bits": self.epilogue_bits}
        for op, buf in self.buffers.items():
            out[f"dram_rd_bits_{op}"] = buf.dram_read_bits
            out[f"dram_wr_bits_{op}"] = buf.dram_write_bits
            # DRAM fills are SRAM writes; DRAM write-backs are SRAM reads
            out[f"sram_rd_bits_{op}"] = self.sram_rd_bits[op] + buf.dram_write_bits
            out[f"sram_wr_bits_{op}"] = self.sram_wr_bits[op] + buf.dram_read_bits
        return add_totals(out)


def _slices(plan: FoldPlan, rb: int, cb: int) -> dict[str, slice]:
    r0, r1 = plan.block_extent(plan.row_dim, rb)
    c0, c1 = plan.block_extent(plan.col_dim, cb)
    out = {d: slice(0, plan.dims[d]) for d in "MKN"}
    out[plan.row_dim] = slice(r0, r1)
    out[plan.col_dim] = slice(c0, c1)
    return out


def run_folds(plan: FoldPlan, family, a: np.ndarray | None = None,
              b: np.ndarray | None = None) -> tuple[FoldStats, np.ndarray | None]:
    """Simulate one GEMM fold by fold. With operands ``a`` [M x K] and ``b`` [K x N] (in the
    family's operand form), also return the output [M x N] assembled tile by tile: the
    family's ``output_accumulator``, one ``fold_merge`` (which calls ``golden``) per fold,
    then ``finish_output``."""
    stats = FoldStats()
    roles = plan.roles
    stat, row_op, col_op = roles["stationary"], roles["row"], roles["col"]
    bits = plan.elem_bits
    bufs = {op: LruBuffer(plan.reuse_bits[op]) for op in "ABO"}
    stats.buffers = bufs
    rd, wr = stats.sram_rd_bits, stats.sram_wr_bits
    out = family.output_accumulator(plan.M, plan.N) if a is not None else None
    S = plan.streamed
    last = (plan.row_blocks - 1, plan.col_blocks - 1)

    for cb in range(plan.col_blocks):
        for rb in range(plan.row_blocks):
            sl = _slices(plan, rb, cb)
            r_t = sl[plan.row_dim].stop - sl[plan.row_dim].start
            c_t = sl[plan.col_dim].stop - sl[plan.col_dim].start
            dram_before = sum(buf.dram_read_bits for buf in bufs.values())
            write_before = sum(buf.dram_write_bits for buf in bufs.values())

            # stationary block: used by this fold only
            stat_bits = r_t * c_t * bits[stat]
            if stat == "O":
                wr["O"] += stat_bits
                bufs["O"].accumulate(("stat", rb, cb), stat_bits, first=True)
                bufs["O"].write_back(("stat", rb, cb))
            else:
                bufs[stat].read(("stat", rb, cb), stat_bits)
                rd[stat] += stat_bits
            # row operand block rb (an input), reused across column blocks
            row_bits = r_t * S * bits[row_op]
            bufs[row_op].read(("row", rb), row_bits)
            rd[row_op] += row_bits
            # col operand block cb: an input reused across row blocks, or partial sums
            col_bits = c_t * S * bits[col_op]
            if col_op == "O":
                wr["O"] += col_bits
                if rb > 0:
                    rd["O"] += col_bits
                bufs["O"].accumulate(("col", cb), col_bits, first=rb == 0)
                if rb == plan.row_blocks - 1:
                    bufs["O"].write_back(("col", cb))
            else:
                bufs[col_op].read(("col", cb), col_bits)
                rd[col_op] += col_bits

            if (rb, cb) == (0, 0):
                stats.prologue_bits = sum(b.dram_read_bits for b in bufs.values()) - dram_before
            if (rb, cb) == last:
                stats.epilogue_bits = sum(b.dram_write_bits for b in bufs.values()) - write_before

            if a is not None:
                tile = Tile(a[sl["M"], sl["K"]], b[sl["K"], sl["N"]])
            else:  # timing only: zero-stride operands of the tile's shape
                m, k, n = (sl[d].stop - sl[d].start for d in "MKN")
                tile = Tile(np.broadcast_to(np.int8(0), (m, k)),
                            np.broadcast_to(np.int8(0), (k, n)))
            stats.folds += 1
            stats.compute_cycles += family.fold_timing(tile)
            for name, count in family.events(tile).items():
                stats.events[name] = stats.events.get(name, 0) + count
            if out is not None:
                out[sl["M"], sl["N"]] = family.fold_merge(out[sl["M"], sl["N"]], tile)

    return stats, (family.finish_output(out) if out is not None else None)
