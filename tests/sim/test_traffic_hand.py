"""Memory traffic and stalls worked out by hand (rules in sim/plan.py, sim/fast/closed_form.py).

Array 4x4 ws, GEMM M x K x N with K=6, N=5: rows <- K (blocks of 4, 2), cols <- N (4, 1),
stream M. Operands: B (weights, stationary) 1 byte, A (row operand) 1 byte, O (partial sums,
col operand) 4 bytes. Reuse capacity = half of each buffer.
"""

from __future__ import annotations

import pytest

from qaccel import sim
from qaccel.sim.gemm import gemm_layer


@pytest.mark.parametrize("engine", sim.ENGINES)
def test_everything_fits(accel_factory, engine):
    # 64 KiB buffers: every operand stays on chip.
    # DRAM reads: B = 6*5 = 30, A = 10*6 = 60 once -> 90. Writes: O = 10*5*4 = 200.
    # SRAM (array side): B reads 30; A reads 60 per column block * 2 = 120; O writes 200 per
    # row block * 2 = 400, O reads (accumulate) 200 * (2-1) = 200. DRAM fills add 90 writes,
    # write-backs add 200 reads: sram_rd = 30+120+200+200 = 550, sram_wr = 400+90 = 490.
    # Prologue: fold 0 needs B 4x4 = 16 B + A 4 rows x 10 = 40 B = 448 bits -> 14 cycles at
    # 32 bits/cycle; epilogue: last O slice 1 col x 10 x 4 B = 320 bits -> 10 cycles.
    # DRAM total 290 B = 2320 bits -> 73 cycles. total = max(14 + 80 + 10, 73) = 104.
    accel = accel_factory(kib=64, bits_per_cycle=32)
    r = sim.run([gemm_layer(10, 6, 5)], accel, engine=engine).frame.iloc[0]
    assert (r.dram_rd_bytes, r.dram_wr_bytes, r.dram_bytes) == (90, 200, 290)
    assert (r.sram_rd_bytes, r.sram_wr_bytes) == (550, 490)
    assert (r.compute_cycles, r.total_cycles, r.stall_cycles) == (80, 104, 24)
    assert r.utilization == pytest.approx(300 / (104 * 16))
    assert (r.family, r.fmt, r.dataflow) == ("systolic_int8", "int8", "ws")


@pytest.mark.parametrize("engine", sim.ENGINES)
def test_spills_when_buffers_are_small(accel_factory, engine):
    # 0.125 KiB buffers -> 64 bytes reusable each. M = 20.
    # B: 30 bytes, each block once.
    # A: 20*6 = 120 > 64 -> refetched for both column blocks: 240.
    # O slices: 4 cols x 20 x 4 B = 320 and 1 x 20 x 4 = 80, both > 64 -> each written once per
    # row block (2): 800, read back once: 400.
    # DRAM reads 30 + 240 + 400 = 670, writes 800 -> 1470 B = 11760 bits -> 368 cycles at 32.
    # compute = 4 folds * (8+4+20-2) = 120; prologue 16 + 80 B = 768 bits = 24 cycles;
    # epilogue 80 B = 20 cycles; total = max(24+120+20, 368) = 368 (DRAM bound).
    accel = accel_factory(kib=0.125, bits_per_cycle=32)
    r = sim.run([gemm_layer(20, 6, 5)], accel, engine=engine).frame.iloc[0]
    assert (r.dram_rd_bytes, r.dram_wr_bytes) == (670, 800)
    assert (r.compute_cycles, r.total_cycles, r.stall_cycles) == (120, 368, 248)


@pytest.mark.parametrize("engine", sim.ENGINES)
def test_output_stationary_traffic(accel_factory, engine):
    # os 4x4, M=10 K=6 N=5: rows <- M (4,4,2), cols <- N (4,1), stream K.
    # O stationary: written once, 10*5*4 = 200. A (row operand, M x K = 60 B) fits -> 60.
    # B (col operand): slices 6x4 = 24 B and 6x1 = 6 B fit -> once each: 30.
    accel = accel_factory(dataflow="os", kib=64)
    r = sim.run([gemm_layer(10, 6, 5)], accel, engine=engine).frame.iloc[0]
    assert (r.dram_rd_bytes, r.dram_wr_bytes) == (90, 200)


def test_totals_utilization_weights_layers_by_their_cycles(accel_factory):
    # two layers on ws 4x4 (64 KiB, 32 bits/cycle): 10x6x5 takes 104 cycles (hand-worked in
    # test_everything_fits) for 300 MACs. Total utilization is all MACs over all PE-cycles:
    # (300 + m2) / ((104 + c2) * 16), not the mean of the per-layer figures.
    accel = accel_factory(kib=64, bits_per_cycle=32)
    res = sim.run([gemm_layer(10, 6, 5), gemm_layer(4, 4, 4, name="small")], accel)
    small = res.frame.iloc[1]
    assert small.lanes == 1
    tot = res.totals()
    assert tot["utilization"] == pytest.approx((300 + 64) / ((104 + small.total_cycles) * 16))
