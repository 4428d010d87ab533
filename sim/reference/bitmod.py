"""Reference level of ``bitmod``: the generic fold loop with this family's golden tile, and a
cycle-by-cycle model of one PE.

Each fold is one R x C block of outputs over one chunk of K (all of K unless the mapping
splits K at group boundaries; ``BitmodArray.fold_merge`` continues the FP32 sums). A fold
costs ``BitmodArray.timing`` (a tile as the RTL runs it, fill and drain included).

:func:`run_pe` steps one PE through one dot product cycle by cycle (lanes, adder tree, group
accumulator, the bit-serial dequantizer with its hold register, the output add); it is checked
against ``BitmodArray.golden`` and ``BitmodArray.stream_cycles`` in ``tests/pe/test_bitmod.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qaccel.arch.pe.bitmod import (
    DEQUANT_CYCLES,
    BitmodArray,
    BitmodWeights,
    align_activations,
    round_fp32,
    term_tables,
    to_fp16,
    weight_ints,
)
from qaccel.sim.counts import GemmCounts
from qaccel.sim.plan import FoldPlan
from qaccel.sim.reference.folds import run_gemm

__all__ = ["simulate_gemm", "run_pe", "PERun"]


def simulate_gemm(pe: BitmodArray, plan: FoldPlan, a: np.ndarray | None = None,
                  b: BitmodWeights | None = None) -> tuple[GemmCounts, np.ndarray | None]:
    """Counts (cycles, bits, events) of one GEMM and, given operands, its FP16 output."""
    return run_gemm(pe, plan, a, b)



@dataclass
class PERun:
    """One PE's dot product: ``out`` (FP16), ``compute_cycles`` (lane cycles plus any stall
    waiting for the dequantizer), ``drain_cycles`` (after the last lane cycle until the last
    group's value is in the FP32 accumulator), and the per-cycle ``lines`` if traced."""

    out: np.float16
    compute_cycles: int
    drain_cycles: int
    lines: list[str] = field(default_factory=list)


class _Dequantizer:
    """Bit-serial dequantizer: one shift-add per cycle over the scale's 11-bit significand,
    MSB first, with a hold register for the next group's sum."""

    def __init__(self) -> None:
        self.busy: list | None = None     # [S, ms, bits left, P, X]
        self.hold: tuple | None = None
        self.done: list[tuple[int, int]] = []

    def offer(self, s: int, ms: int, x: int) -> bool:
        if self.hold is not None:
            return False
        self.hold = (s, ms, x)
        return True

    def step(self) -> None:
        if self.busy is None and self.hold is not None:
            s, ms, x = self.hold
            self.busy, self.hold = [s, ms, DEQUANT_CYCLES, 0, x], None
        if self.busy is not None:
            s, ms, left, p, x = self.busy
            p = 2 * p + s * ((ms >> (left - 1)) & 1)
            self.busy[2:4] = [left - 1, p]
            if left == 1:
                self.done.append((p, x))
                self.busy = None

    def idle(self) -> bool:
        return self.busy is None and self.hold is None

    def __str__(self) -> str:
        if self.busy is None:
            return "dq idle"
        return f"dq {DEQUANT_CYCLES - self.busy[2]:2d}/{DEQUANT_CYCLES} P {self.busy[3]:+#x}"


def run_pe(pe: BitmodArray, a_row: np.ndarray, w_col: BitmodWeights,
           trace: bool = False) -> PERun:
    """Step one PE through ``a_row`` (float16 [K]) . ``w_col`` ([K x 1]) cycle by cycle."""
    k = a_row.shape[0]
    g_size, lanes, f = pe.group_size, pe.lanes, pe.guard_bits
    alpha, emax = align_activations(a_row.reshape(1, k), g_size, f)     # column edge
    signs, shifts = term_tables(pe.bits, pe.cpw)
    wf = weight_ints(pe.bits)[1]
    scales16 = w_col.scales[:, 0].astype(np.float16)
    limit = 1 << (pe.group_acc_bits - 1)
    dq, out32, cycle, lines = _Dequantizer(), np.float32(0.0), 0, []

    def tick(text: str) -> None:
        nonlocal out32, cycle
        dq.step()
        for p, x in dq.done:                                            # row output unit
            out32 = np.float32(out32 + round_fp32(np.int64(p), np.int64(x)))
        dq.done.clear()
        cycle += 1
        if trace:
            lines.append(f"{cycle:5d} | {text} | {dq} | out {float(out32):+.6g}")

    for g in range(w_col.groups):
        acc = 0
        for k0 in range(g * g_size, min((g + 1) * g_size, k), lanes):
            ks = range(k0, min(k0 + lanes, k))
            tid = int(w_col.type_ids[g, 0])
            for j in range(pe.cpw):
                terms = [int(alpha[0, kk]) * int(signs[tid, w_col.codes[kk, 0], j])
                         << int(shifts[tid, w_col.codes[kk, 0], j]) for kk in ks]
                acc += sum(terms)                                       # tree + accumulator
                if not -limit <= acc < limit:
                    raise AssertionError("group accumulator overflow")  # pragma: no cover
                tick(f"g{g} k{k0:<5d} t{j} tree {sum(terms):+#9x} acc {acc:+#10x}")
        bits = int(scales16[g].view(np.uint16))
        e_s = max((bits >> 10) & 0x1F, 1)
        ms = (bits & 0x3FF) | (int((bits >> 10) & 0x1F > 0) << 10)
        x = int(emax[0, g]) + e_s - 50 - f - wf
        s = -acc if bits >> 15 else acc
        while not dq.offer(s, ms, x):                                   # stall: hold full
            tick(f"g{g} stall")
    compute = cycle
    while not dq.idle():
        tick("drain")
    return PERun(to_fp16(out32), compute, cycle - compute, lines)
