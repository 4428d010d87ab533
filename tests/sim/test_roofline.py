"""Roofline columns by hand, and physical bounds every LLM run must respect."""

from __future__ import annotations

import pytest

from qaccel import sim
from qaccel.arch import load_accelerator
from qaccel.models.workloads import build_workload
from qaccel.sim.gemm import gemm_layer
from qaccel.sim.roofline import plot_roofline, roofline


def test_roofline_by_hand(accel_factory, tmp_path):
    # tests/sim/test_traffic_hand.py's GEMM 10x6x5 on a 4x4 ws array: 80 compute cycles,
    # 290 DRAM bytes. 300 MACs / 16 multipliers -> MAC bound 19 cycles.
    # 32 bits/cycle: memory bound ceil(2320 / 32) = 73 < 80 -> compute-bound.
    # 1 bit/cycle: memory bound 2,320 > 80 -> memory-bound.
    for bpc, memory, bound in ((32, 73, "compute"), (1, 2320, "memory")):
        accel = accel_factory(kib=64, bits_per_cycle=bpc)
        frame = sim.run([gemm_layer(10, 6, 5)], accel).frame
        row = roofline(frame, accel).iloc[0]
        assert (row.mac_bound_cycles, row.compute_bound_cycles) == (19, 80)
        assert (row.memory_bound_cycles, row.bound) == (memory, bound)
        assert row.macs_per_dram_byte == pytest.approx(300 / 290)
        assert row.total_cycles >= max(row.compute_bound_cycles, row.memory_bound_cycles)
    path = plot_roofline(frame, accel, tmp_path / "roof.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def llama2_7b_weight_bytes_bitmod_fp3() -> float:
    """Llama-2-7B GEMM weights at 3 bits plus 18 metadata bits per 128 along K (bitmod-decode):
    per block q, k, v, o 4096 x 4096, gate and up 4096 -> 11008, down 11008 -> 4096; lm_head
    4096 -> 32000."""
    shapes = 32 * [(4096, 4096)] * 4 + 32 * [(4096, 11008)] * 2 + 32 * [(11008, 4096)] \
        + [(4096, 32000)]                                   # (K, N)
    bits = sum(k * n * 3 + n * -(-k // 128) * 18 for k, n in shapes)
    return bits / 8


def test_decode_is_dram_bound_within_ten_percent():
    """bitmod-decode, Llama-2-7B decode at 2048 keys, int8 KV cache, 3 steps: every step's
    cycles >= (weight + KV bytes) / DRAM bytes per cycle (256 bits = 32 B), and within 10 %
    of it (a DRAM-bound preset: batch 1 decode reuses nothing)."""
    accel = load_accelerator("bitmod-decode").with_kv_format("int8")
    trace = build_workload("llama-2-7b", phase="decode", kv_len=2048, steps=3)
    frame = sim.run(trace, accel).frame
    weights = llama2_7b_weight_bytes_bitmod_fp3()
    for s in range(3):
        step = frame[frame.layer.str.endswith(f"@step{s}")]
        # K and V: 32 blocks x 32 heads x (2048 + s) keys x 128 x 1 B read, 1 key written
        kv = 2 * 32 * 32 * (2048 + s + 1) * 128
        bound = (weights + kv) / 32
        cycles = step.total_cycles.sum()
        assert bound <= cycles <= 1.10 * bound, (s, cycles, bound)


def test_prefill_is_compute_bound_within_ten_percent():
    """ant-prefill (32x32, one MAC per PE per cycle on 4-bit operands), one Llama-2-7B block
    and lm_head, 2048 tokens: cycles >= MACs / 1024 and within 10 % of it."""
    accel = load_accelerator("ant-prefill")
    pe = accel.pe_array
    assert (pe.rows, pe.cols, pe.lanes) == (32, 32, 1)
    frame = sim.run(build_workload("llama-2-7b", tokens=2048, blocks=1), accel).frame
    # MACs: 2048 tokens x (4 x 4096^2 + 3 x 4096 x 11008 + 4096 x 32000) + attention
    # 32 heads x 2 x 2048 x 2048 x 128
    macs = 2048 * (4 * 4096 ** 2 + 3 * 4096 * 11008 + 4096 * 32000) + 32 * 2 * 2048 ** 2 * 128
    assert frame.macs.sum() == macs
    bound = macs / (32 * 32)
    assert bound <= frame.total_cycles.sum() <= 1.10 * bound
