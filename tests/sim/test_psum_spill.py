"""A K split whose partial sums do not fit the output buffer spills them to DRAM and reads
them back in the next chunk; the fast engine's closed form (``_cyclic_spill``) equals the
reference engine's LRU buffer on every such mapping."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qaccel.arch.pe.registry import level_module
from qaccel.arch.spec import Dataflow
from qaccel.sim.fast.closed_form import _cyclic_spill, gemm_traffic
from qaccel.sim.mapper import candidate_mappings
from qaccel.sim.plan import LoopOrder, Mapping, mapping_problem, plan_gemm
from qaccel.sim.reference.buffers import LruBuffer
from tests.conftest import make_accel


def test_spilled_partial_sums_by_hand():
    """2x2 os array, M=6 (3 row blocks), N=4 (2 column blocks), K=8 in chunks of 2: four
    chunks each visit six 2x2 blocks of 32-bit partial sums (128 bits each, 768 in all) in the
    same order; the output buffer's reuse half holds 512 bits = 4 blocks. Chunks 0-2: every
    block is evicted (written) before it comes round again, and every revisit reads it back.
    The last chunk starts with the last four blocks resident; its first block evicts one of
    them (4 + 1 > 4), then each block is written back and dropped as it finishes, so the last
    3 blocks hit. DRAM writes: 4 chunks x 768 - 3 x 128 = 2,688 bits; reads: 3 x 768 - 384 =
    1,920 bits."""
    accel = make_accel(rows=2, cols=2, dataflow="os", kib=0.125)
    plan = plan_gemm(accel, 6, 8, 4, Mapping(Dataflow.OS, LoopOrder.COLS_OUTER, 2))
    assert mapping_problem(plan) is None           # one block fits: a spilling K split
    fast = gemm_traffic(plan)
    ref, _ = level_module("systolic_int8", "reference").simulate_gemm(accel.pe_array, plan)
    for counts in (fast, ref):
        assert (counts.dram_wr.O, counts.dram_rd.O) == (2_688, 1_920)


@settings(max_examples=300, deadline=None)
@given(sizes=st.lists(st.integers(1, 40), min_size=1, max_size=14),
       visits=st.integers(2, 5), slack=st.integers(0, 300))
def test_cyclic_spill_equals_an_lru_buffer(sizes, visits, slack):
    cap = max(sizes) + slack
    buf = LruBuffer(cap)
    for j in range(visits):
        for i, size in enumerate(sizes):
            buf.accumulate(i, size, first=j == 0)
            if j == visits - 1:
                buf.write_back(i)
    got = _cyclic_spill(np.array(sizes, dtype=np.int64), visits, cap)
    assert got == (buf.dram_write_bits, buf.dram_read_bits)


FIELDS = {"systolic_int8": {"dataflow": "os"},
          "bitmod": {"dataflow": "os", "weight_format": "bitmod_fp4", "guard_bits": 3,
                     "metadata_bits": 18}}


@settings(max_examples=40, deadline=None)
@given(family=st.sampled_from(sorted(FIELDS)), M=st.integers(1, 40), K=st.integers(1, 600),
       N=st.integers(1, 40), rows=st.integers(1, 4), cols=st.integers(1, 4),
       kib=st.sampled_from([0.125, 0.25, 1.0]))
def test_every_k_split_agrees_between_engines(family, M, K, N, rows, cols, kib):
    accel = make_accel(rows=rows, cols=cols, family=family, kib=kib, **FIELDS[family])
    pe = accel.pe_array
    for mapping in candidate_mappings(pe, M, K, N):
        plan = plan_gemm(accel, M, K, N, mapping)
        if (mapping.dataflow is not Dataflow.OS or plan.chunks == 1
                or mapping_problem(plan) is not None):
            continue
        ref, _ = level_module(family, "reference").simulate_gemm(pe, plan)
        fast = gemm_traffic(plan)
        assert (fast.dram_rd, fast.dram_wr, fast.sram_rd, fast.sram_wr,
                fast.prologue_bits, fast.epilogue_bits) == (
            ref.dram_rd, ref.dram_wr, ref.sram_rd, ref.sram_wr,
            ref.prologue_bits, ref.epilogue_bits), mapping.describe()
