"""Vector layers (non-GEMM operators) on the vector unit: cycles, traffic, energy.

A vector layer is ``M`` rows of ``N`` elements (``qaccel.models.trace``); it reads
``inputs`` tensors of that shape and writes one, every element ``b`` = ``pe.a_bits`` wide
(activations as the array stores them). It runs **serially after the layer that produced its
input**: the array waits while the vector unit works (``qaccel.arch.vector``):

- **compute** = ``M * ceil(N / lanes) * cycles_per_element(vop)``: each row is cut into
  chunks of ``lanes`` elements (the last one shorter), one chunk per ``cycles_per_element``
  cycles;
- **on chip** when its working set, ``(inputs + 1) * M * N * b`` bits, fits the reuse half of
  the output buffer (where the producing layer left its output): reads and writes are SRAM
  (output buffer) traffic, no DRAM, no prologue;
- **otherwise streamed through DRAM**: the inputs are read from DRAM into the input buffer
  (DRAM read, SRAM write, SRAM read) and the output written back (SRAM write, SRAM read, DRAM
  write); the first chunk's inputs arrive before it starts (prologue: ``inputs * c0 * b``,
  c0 the first chunk's length) and the last chunk's output leaves after it ends (epilogue:
  its length times ``b``); total cycles follow ``sim.plan.total_cycles`` like a GEMM's.

With ``vector_unit.schedule: overlapped`` (:func:`overlap_rows`, after every layer ran, the
same for both engines) an on-chip vector op instead runs while the next GEMM computes: its
``hidden_cycles`` (at most its total, at most what is left of that GEMM's compute cycles after
the vector ops before it) come off its ``total_cycles``.

This module is the fast engine's closed form; ``sim/reference/vector.py`` walks the chunks
one by one, and ``tests/sim/test_vector.py`` checks that they agree exactly.
"""

from __future__ import annotations

from typing import Any

from qaccel.sim.counts import GemmCounts, OperandBits
from qaccel.sim.plan import ceil_div

__all__ = ["VectorPlan", "plan_vector", "vector_counts", "simulate_vector_layer",
           "overlap_rows"]


class VectorPlan:
    """The facts both engines start from (sizes in elements unless named)."""

    def __init__(self, vop: str, rows: int, n: int, inputs: int, elem_bits: int, lanes: int,
                 cycles_per_element: int, reuse_bits: int) -> None:
        self.vop, self.rows, self.n, self.inputs = vop, rows, n, inputs
        self.elem_bits, self.lanes, self.cpe = elem_bits, lanes, cycles_per_element
        self.on_chip = (inputs + 1) * rows * n * elem_bits <= reuse_bits


def plan_vector(layer: Any, accel: Any) -> VectorPlan:
    """The vector plan of ``layer`` on ``accel``'s vector unit."""
    unit = accel.vector()
    vop = layer.meta["vop"]
    count, m, _, n = layer.gemm_shape()
    return VectorPlan(vop, count * m, n, int(layer.meta.get("inputs", 1)),
                      accel.pe_array.a_bits, unit.lanes, unit.cycles(vop),
                      accel.output_buffer.size_bytes * 8 // 2)


def vector_counts(plan: VectorPlan) -> GemmCounts:
    """Cycles and traffic of a vector layer in closed form (module docstring)."""
    b, m, n, lanes = plan.elem_bits, plan.rows, plan.n, plan.lanes
    compute = m * ceil_div(n, lanes) * plan.cpe
    in_bits = plan.inputs * m * n * b
    out_bits = m * n * b
    if plan.on_chip:
        return GemmCounts(folds=0, compute_cycles=compute,
                          sram_rd=OperandBits(O=in_bits), sram_wr=OperandBits(O=out_bits))
    first = min(n, lanes)
    last = n - (ceil_div(n, lanes) - 1) * lanes
    return GemmCounts(folds=0, compute_cycles=compute,
                      prologue_bits=plan.inputs * first * b, epilogue_bits=last * b,
                      dram_rd=OperandBits(A=in_bits), dram_wr=OperandBits(O=out_bits),
                      sram_rd=OperandBits(A=in_bits, O=out_bits),
                      sram_wr=OperandBits(A=in_bits, O=out_bits))


def simulate_vector_layer(layer: Any, accel: Any,
                          engine: str = "fast") -> tuple[dict[str, Any], GemmCounts]:
    """One vector layer's result row (the GEMM row's columns: no MACs, no folds; ``rows`` /
    ``cols`` / ``lanes`` are the PE array's, so utilization counts the array idle) and its
    counts. Energy: the vector unit's arithmetic in ``energy_pj_pe``, SRAM and DRAM as for a
    GEMM."""
    from qaccel.arch.cost import counts_energy_pj
    from qaccel.sim.plan import total_cycles

    plan = plan_vector(layer, accel)
    if engine == "reference":
        from qaccel.sim.reference.vector import simulate_vector

        counts = simulate_vector(plan)
    else:
        counts = vector_counts(plan)
    pe = accel.pe_array
    total = total_cycles(counts.compute_cycles, counts.dram_bits, counts.prologue_bits,
                         counts.epilogue_bits, accel.dram.bits_per_cycle)
    _, m, k, n = layer.gemm_shape()
    row: dict[str, Any] = {
        "layer": layer.name, "op": layer.op, "M": m, "K": k, "N": n, "gemms": 1,
        "family": pe.family, "fmt": pe.fmt, "dataflow": f"vector:{plan.vop}",
        "loop_order": "onchip" if plan.on_chip else "dram", "stream_tile": plan.lanes,
        "preload": "", "rows": pe.rows, "cols": pe.cols, "lanes": pe.lanes, "folds": 0,
        "macs": 0, "compute_cycles": counts.compute_cycles,
        "stall_cycles": total - counts.compute_cycles, "total_cycles": total,
        "utilization": 0.0,
        "sram_rd_bytes": ceil_div(counts.sram_rd.total, 8),
        "sram_wr_bytes": ceil_div(counts.sram_wr.total, 8),
        "dram_rd_bytes": ceil_div(counts.dram_rd.total, 8),
        "dram_wr_bytes": ceil_div(counts.dram_wr.total, 8),
        "dram_bytes": ceil_div(counts.dram_bits, 8), "kv_rd_bytes": 0, "kv_wr_bytes": 0,
    }
    energy = counts_energy_pj(accel, pe, counts)
    arith = plan.rows * plan.n * accel.vector().energy_pj_per_element(plan.vop,
                                                                      accel.tech.node_nm)
    energy["energy_pj_pe"] += arith
    energy["energy_pj_total"] += arith
    row.update(energy)
    return row, counts


def overlap_rows(rows: list[dict[str, Any]], overlapped: bool) -> None:
    """Set every row's ``hidden_cycles`` (0 unless ``overlapped``) and, for overlapped
    on-chip vector rows, take them off ``total_cycles`` (module docstring)."""
    for row in rows:
        row["hidden_cycles"] = 0
    if not overlapped:
        return
    pending: list[dict[str, Any]] = []
    for row in rows:
        if row["op"] == "vector":
            if row["loop_order"] == "onchip":
                pending.append(row)
            continue
        budget = row["compute_cycles"]
        for vec in pending:
            hidden = min(vec["total_cycles"], budget)
            budget -= hidden
            vec["hidden_cycles"] = hidden
            vec["total_cycles"] -= hidden
        pending = []
