"""docs/mapping.md's worked example, checked by hand: Llama-2-7B q_proj (K = N = 4096) in a
256-token prefill (M = 256) and one decode token (M = 1) on ``ant-decode`` (64 x 16, ws preset,
4-bit operands, 32-bit partial sums, 512 KiB buffers = 2,097,152-bit reuse halves, DRAM 256
bits/cycle), fixed mapping vs the mapper's (objective: cycles)."""

from __future__ import annotations

import pytest

from qaccel.arch import load_accelerator
from qaccel.sim.mapper import choose

CAP = 512 * 1024 * 8 // 2          # reuse half of each buffer (bits)
BW = 256                           # DRAM bits per cycle


def ceil(a: int, b: int) -> int:
    return -(-a // b)


def total(compute: int, dram_bits: int, pro: int, epi: int) -> int:
    return max(ceil(pro, BW) + compute + ceil(epi, BW), ceil(dram_bits, BW))


# --- prefill, fixed: ws, cols_outer, M untiled ---------------------------------------------
# rows <- K (64 blocks), cols <- N (256 blocks): 16,384 folds of 2*64 + 16 + 256 - 2 = 398
PRE_FIXED_COMPUTE = 64 * 256 * (2 * 64 + 16 + 256 - 2)
PRE_A = 256 * 4096 * 4                      # A (the row operand) once: 4,194,304 bits > CAP,
PRE_FIXED_RD = {"A": PRE_A * 256,           # so re-read for every one of the 256 col blocks
                "B": 4096 * 4096 * 4}       # B stationary, each block once
PRE_O = 4096 * 256 * 32                     # O col blocks (16 x 256 x 32 bits) fit: once
PRE_FIXED_PRO = 64 * 256 * 4 + 64 * 16 * 4  # first A block + first B block
PRE_FIXED_EPI = 16 * 256 * 32               # last O col block
# --- prefill, mapped: os, rows_outer, K untiled ---------------------------------------------
# rows <- M (4 blocks), cols <- N (256 blocks): 1,024 folds of 64 + 16 + 4096 - 2 = 4174
PRE_MAP_COMPUTE = 4 * 256 * (64 + 16 + 4096 - 2)
PRE_MAP_RD = {"A": PRE_A,                   # A row blocks (64 x 4096 x 4 bits) used 256x
                                            # in a row and they fit: once
              "B": 4096 * 4096 * 4 * 4}     # B col blocks cycle over 4 row blocks, 64 Mbit
                                            # do not fit: four times
PRE_MAP_PRO = 64 * 4096 * 4 + 16 * 4096 * 4
PRE_MAP_EPI = 64 * 16 * 32                  # last O block
# --- decode, fixed: ws, M = 1 ------------------------------------------------------------
DEC_FIXED_COMPUTE = 64 * 256 * (2 * 64 + 16 + 1 - 2)      # 16,384 folds of 143 cycles
DEC_RD = {"A": 4096 * 4, "B": 4096 * 4096 * 4}            # both read once either way
DEC_O = 4096 * 32
DEC_FIXED_PRO, DEC_FIXED_EPI = 64 * 1 * 4 + 64 * 16 * 4, 16 * 1 * 32
# --- decode, mapped: is, cols_outer, N untiled ----------------------------------------------
# rows <- K (64 blocks), cols <- M (1 block), N = 4096 streamed: 64 folds of 2*64 + 16 +
# 4096 - 2 = 4238; A stationary, B the row operand, O partial sums (1 x 4096 x 32 fit)
DEC_MAP_COMPUTE = 64 * 1 * (2 * 64 + 16 + 4096 - 2)
DEC_MAP_PRO, DEC_MAP_EPI = 64 * 4096 * 4 + 64 * 1 * 4, 1 * 4096 * 32

CASES = [
    # (M, fixed, mapping, compute, dram_rd A/B, dram_wr O, prologue, epilogue)
    (256, True, "ws/cols_outer/T=256", PRE_FIXED_COMPUTE, PRE_FIXED_RD, PRE_O, PRE_FIXED_PRO,
     PRE_FIXED_EPI),
    (256, False, "os/rows_outer/T=4096", PRE_MAP_COMPUTE, PRE_MAP_RD, PRE_O, PRE_MAP_PRO,
     PRE_MAP_EPI),
    (1, True, "ws/cols_outer/T=1", DEC_FIXED_COMPUTE, DEC_RD, DEC_O, DEC_FIXED_PRO,
     DEC_FIXED_EPI),
    (1, False, "is/cols_outer/T=4096", DEC_MAP_COMPUTE, DEC_RD, DEC_O, DEC_MAP_PRO,
     DEC_MAP_EPI),
]


@pytest.mark.parametrize(("m", "fixed", "mapping", "compute", "rd", "wr_o", "pro", "epi"),
                         CASES)
def test_q_proj_on_ant_decode_by_hand(m, fixed, mapping, compute, rd, wr_o, pro, epi):
    choice = choose(load_accelerator("ant-decode"), m, 4096, 4096, fixed=fixed)
    c = choice.counts
    assert choice.mapping.describe() == mapping
    assert c.compute_cycles == compute
    assert (c.dram_rd.A, c.dram_rd.B, c.dram_wr.O) == (rd["A"], rd["B"], wr_o)
    assert (c.prologue_bits, c.epilogue_bits) == (pro, epi)
    dram_bits = rd["A"] + rd["B"] + wr_o
    assert choice.cycles == total(compute, dram_bits, pro, epi)


def test_the_figures_quoted_in_the_doc():
    pre_fixed = total(PRE_FIXED_COMPUTE, sum(PRE_FIXED_RD.values()) + PRE_O, PRE_FIXED_PRO,
                      PRE_FIXED_EPI)
    pre_map = total(PRE_MAP_COMPUTE, sum(PRE_MAP_RD.values()) + PRE_O, PRE_MAP_PRO,
                    PRE_MAP_EPI)
    dec_fixed = total(DEC_FIXED_COMPUTE, sum(DEC_RD.values()) + DEC_O, DEC_FIXED_PRO,
                      DEC_FIXED_EPI)
    dec_map = total(DEC_MAP_COMPUTE, sum(DEC_RD.values()) + DEC_O, DEC_MAP_PRO, DEC_MAP_EPI)
    assert (pre_fixed, pre_map, dec_fixed, dec_map) == (6_521_616, 4_279_424, 2_342_931,
                                                        275_841)
    assert (sum(PRE_FIXED_RD.values()) + PRE_O) // 8 == 146_800_640
    assert (sum(PRE_MAP_RD.values()) + PRE_O) // 8 == 38_273_024
    assert (sum(DEC_RD.values()) + DEC_O) // 8 == 8_407_040
