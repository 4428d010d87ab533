"""Cycle counts worked out by hand from the SCALE-Sim v3 fold rules (DESIGN.md).

ws: rows <- K, cols <- N, stream M, fold = 2R + C + M - 2, folds = ceil(K/R) * ceil(N/C)
os: rows <- M, cols <- N, stream K, fold = R + C + K - 2,  folds = ceil(M/R) * ceil(N/C)
is: rows <- K, cols <- M, stream N, fold = 2R + C + N - 2, folds = ceil(K/R) * ceil(M/C)
"""

from __future__ import annotations

import pytest

from qaccel import sim
from qaccel.sim.gemm import gemm_layer

CASES = [
    # (rows, cols, dataflow, M, K, N, folds, compute_cycles)  -- worked in the comment
    # ws 4x4, M=10 K=6 N=5: folds = ceil(6/4)*ceil(5/4) = 2*2 = 4; fold = 8+4+10-2 = 20 -> 80
    (4, 4, "ws", 10, 6, 5, 4, 80),
    # os 4x4: folds = ceil(10/4)*ceil(5/4) = 3*2 = 6; fold = 4+4+6-2 = 12 -> 72
    (4, 4, "os", 10, 6, 5, 6, 72),
    # is 4x4: folds = ceil(6/4)*ceil(10/4) = 2*3 = 6; fold = 8+4+5-2 = 15 -> 90
    (4, 4, "is", 10, 6, 5, 6, 90),
    # ws 8x2 (non-square), M=3 K=8 N=3: folds = 1*2 = 2; fold = 16+2+3-2 = 19 -> 38
    (8, 2, "ws", 3, 8, 3, 2, 38),
    # os 2x8, M=5 K=7 N=9: folds = ceil(5/2)*ceil(9/8) = 3*2 = 6; fold = 2+8+7-2 = 15 -> 90
    (2, 8, "os", 5, 7, 9, 6, 90),
    # is 3x5, M=11 K=3 N=4: folds = ceil(3/3)*ceil(11/5) = 1*3 = 3; fold = 6+5+4-2 = 13 -> 39
    (3, 5, "is", 11, 3, 4, 3, 39),
    # 1x1 degenerate ws, M=K=N=1: one fold of 2+1+1-2 = 2 cycles
    (1, 1, "ws", 1, 1, 1, 1, 2),
    # ws 32x32, 64x64x64: folds = 2*2 = 4; fold = 64+32+64-2 = 158 -> 632
    (32, 32, "ws", 64, 64, 64, 4, 632),
]


@pytest.mark.parametrize("engine", sim.ENGINES)
@pytest.mark.parametrize("rows,cols,flow,M,K,N,folds,cycles", CASES,
                         ids=[f"{c[2]}-{c[0]}x{c[1]}-{c[3]}x{c[4]}x{c[5]}" for c in CASES])
def test_compute_cycles_by_hand(accel_factory, engine, rows, cols, flow, M, K, N, folds, cycles):
    accel = accel_factory(rows=rows, cols=cols, dataflow=flow)
    row = sim.run([gemm_layer(M, K, N)], accel, engine=engine).frame.iloc[0]
    assert (row.folds, row.compute_cycles) == (folds, cycles)


def test_grouped_layer_repeats_each_gemm(accel_factory):
    # 3 independent 10x6x5 GEMMs on ws 4x4: 3 * 80 cycles, 3 * 4 folds
    row = sim.run([gemm_layer(10, 6, 5, count=3)], accel_factory()).frame.iloc[0]
    assert (row.gemms, row.folds, row.compute_cycles, row.macs) == (3, 12, 240, 3 * 300)
