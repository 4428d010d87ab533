"""The KV cache as its own operand (``qaccel.sim.kv``), worked out by hand.

Accelerator of the hand tests: a 32x32 weight-stationary INT8 systolic array, ``mapping:
fixed`` (ws, column blocks outer, M streamed untiled), 64 KiB buffers, DRAM 128 bits/cycle.
ws maps K -> rows, N -> cols, streams M: a fold costs 2R + C + M - 2 = 2*32 + 32 + M - 2
cycles (SCALE-Sim v3). Workload: one Llama-2-7B block (32 heads, head_dim 128) in decode,
kv_len 64, one step, batch 1: QK^T is 32 GEMMs of 1 x 128 . 128 x 64 and AV 32 GEMMs of
1 x 64 . 64 x 128; the KV cache in INT4 (4 bits per element).
"""

from __future__ import annotations

import re

import pytest

from qaccel import ConfigError, sim
from qaccel.arch import load_accelerator
from qaccel.models.workloads import build_workload


def spec(kv_format: str | None = "int4", kv_kib: float | None = None,
         capacity_gib: float | None = None) -> dict:
    buf = {"size_kib": 64, "word_bits": 256, "banks": 4}
    data = {"version": 1, "name": "kv-test", "clock_mhz": 1000,
            "pe_array": {"family": "systolic_int8", "rows": 32, "cols": 32, "dataflow": "ws"},
            "buffers": {"weight": dict(buf), "input": dict(buf), "output": dict(buf)},
            "dram": {"bits_per_cycle": 128, "pj_per_bit": 8.0},
            "tech": {"node_nm": 28}, "mapping": "fixed"}
    if kv_format is not None:
        data["kv_format"] = kv_format
    if kv_kib is not None:
        data["buffers"]["kv"] = {"size_kib": kv_kib, "word_bits": 256, "banks": 4}
    if capacity_gib is not None:
        data["dram"]["capacity_gib"] = capacity_gib
    return data


@pytest.fixture(scope="module")
def llama_decode():
    return build_workload("llama-2-7b", phase="decode", kv_len=64, steps=1, blocks=1,
                          vector_ops=True)


def attention_rows(trace, accel, engine="fast"):
    frame = sim.run(trace, accel, engine=engine).frame
    qk = frame[frame.layer.str.endswith("self_attn.matmul0@step0")].iloc[0]
    av = frame[frame.layer.str.endswith("self_attn.matmul1@step0")].iloc[0]
    return qk, av


@pytest.mark.parametrize("engine", sim.ENGINES)
def test_attention_block_decode_by_hand(llama_decode, engine):
    qk, av = attention_rows(llama_decode, load_accelerator(spec()), engine)
    # QK^T, per head: M=1, K=128 (rows: 4 blocks), N=64 keys (cols: 2 blocks) -> 8 folds of
    # 2*32 + 32 + 1 - 2 = 95 cycles = 760; 32 heads -> 24,320 compute cycles.
    assert (qk.M, qk.K, qk.N, qk.gemms, qk.folds) == (1, 128, 64, 32, 256)
    assert qk.compute_cycles == 32 * 8 * 95 == 24320
    # DRAM per head: K cache 128 x 64 at 4 bits = 4,096 B (stationary, read once); the query
    # 128 B (read once: it fits); partial sums 64 x 4 B = 256 B written once. 32 heads:
    # 143,360 B; plus the new token's key written to the cache: 32 x 128 x 4 bits = 2,048 B.
    assert qk.kv_rd_bytes == 32 * 4096 == 131072
    assert qk.kv_wr_bytes == 32 * 128 * 4 // 8 == 2048
    assert qk.dram_bytes == 32 * (4096 + 128 + 256) + 2048 == 145408
    # Prologue: the first fold's 32 query bytes (256 bits) + a 32x32 K block at 4 bits
    # (4,096 bits) = 4,352 bits -> 34 cycles; epilogue: the last 32 partial sums x 32 bits =
    # 1,024 bits -> 8 cycles. DRAM alone: 145,408 B * 8 / 128 = 9,088 cycles < compute.
    assert qk.total_cycles == 34 + 24320 + 8 == 24362
    # AV, per head: M=1, K=64 keys (rows: 2 blocks), N=128 (cols: 4 blocks) -> 8 folds of 95.
    assert (av.M, av.K, av.N, av.gemms) == (1, 64, 128, 32)
    assert av.compute_cycles == 24320
    # DRAM per head: V 64 x 128 at 4 bits = 4,096 B; scores 64 B; partial sums 128 x 4 B =
    # 512 B (each 32-column block of 128 B fits and is written once); + the new value 2,048 B.
    assert (av.kv_rd_bytes, av.kv_wr_bytes) == (131072, 2048)
    assert av.dram_bytes == 32 * (4096 + 64 + 512) + 2048 == 151552
    assert av.total_cycles == 34 + 24320 + 8 == 24362


@pytest.mark.parametrize("engine", sim.ENGINES)
def test_attention_scores_on_the_vector_unit_by_hand(llama_decode, engine):
    """Between QK^T and AV: scale, mask, softmax on 32 heads x 64 scores, INT8 (a_bits 8),
    on the default vector unit (32 lanes = the array's columns): 2 chunks of 32 per row."""
    frame = sim.run(llama_decode, load_accelerator(spec()), engine=engine).frame
    attn = frame[frame.layer.str.contains("self_attn.(?:matmul|scale|mask|softmax)")]
    assert [name.split(".")[-1] for name in attn.layer] == [
        "matmul0@step0", "scale0@step0", "mask0@step0", "softmax0@step0", "matmul1@step0"]
    vec = attn.iloc[1:4]
    # scale: 1 multiply, mask: 1 add -> 1 cycle per element; softmax: 5 adds, 3 multiplies
    # -> 5. Cycles: 32 rows x 2 chunks x (1, 1, 5).
    assert list(vec.compute_cycles) == [64, 64, 320]
    # Working set: (1 input + 1 output) x 2,048 scores x 8 bits = 32,768 bits, within half
    # the 64 KiB output buffer: on chip, no DRAM, no stall; 2,048 B read and written each.
    assert list(vec.total_cycles) == [64, 64, 320]
    assert list(vec.dram_bytes) == [0, 0, 0] and list(vec.sram_rd_bytes) == [2048] * 3
    # The whole attention block: QK^T + scale + mask + softmax + AV.
    assert attn.total_cycles.sum() == 24362 + 64 + 64 + 320 + 24362 == 49172


def test_kv_width_is_separate_from_the_weights(llama_decode):
    """int8 KV on the same INT8 array: K and V cost twice the int4 bytes; the weight layers
    (8-bit weights either way) do not change, and without kv_format B is the PE's 8 bits."""
    int4 = sim.run(llama_decode, load_accelerator(spec("int4"))).frame
    int8 = sim.run(llama_decode, load_accelerator(spec("int8"))).frame
    legacy = sim.run(llama_decode, load_accelerator(spec(None))).frame
    q = int8.layer.str.endswith("q_proj@step0")
    assert int8[q].dram_bytes.item() == int4[q].dram_bytes.item()
    qk8 = int8[int8.layer.str.endswith("matmul0@step0")].iloc[0]
    assert (qk8.kv_rd_bytes, qk8.kv_wr_bytes) == (32 * 128 * 64, 32 * 128)
    # the same INT8 PEs compute on int4 K (widened at the edge): the same MAC energy
    qk4 = int4[int4.layer.str.endswith("matmul0@step0")].iloc[0]
    assert qk4.energy_pj_pe == qk8.energy_pj_pe > 0
    qk_legacy = legacy[legacy.layer.str.endswith("matmul0@step0")].iloc[0]
    # the same K bytes as int8, but no cache write and no KV columns
    assert qk_legacy.dram_bytes == 32 * (8192 + 128 + 256)
    assert (qk_legacy.kv_rd_bytes, qk_legacy.kv_wr_bytes) == (0, 0)


@pytest.mark.parametrize("engine", sim.ENGINES)
def test_kv_on_chip_when_it_fits_its_buffer(llama_decode, engine):
    # The whole cache: K and V, 32 heads x 64 keys x 128 x 4 bits = 131,072 B each: 256 KiB.
    qk, av = attention_rows(llama_decode, load_accelerator(spec(kv_kib=256)), engine)
    # No KV in DRAM: the query and the partial sums only; the first fold waits for the query
    # alone (256 bits -> 2 cycles).
    assert qk.dram_bytes == 32 * (128 + 256)
    assert (qk.kv_rd_bytes, qk.kv_wr_bytes) == (131072, 2048)
    assert qk.total_cycles == 2 + 24320 + 8
    assert av.dram_bytes == 32 * (64 + 512)
    # One KiB less: the cache lives in DRAM again.
    qk_off, _ = attention_rows(llama_decode, load_accelerator(spec(kv_kib=255)), engine)
    assert qk_off.dram_bytes == 145408


def test_grouped_query_heads_share_one_cache_read():
    # Llama-3-8B: 32 query heads, 8 KV heads -> groups of 4 heads read one cached head:
    # QK^T runs as 8 GEMMs of 4 x 128 . 128 x 64; a fold streams M=4: 2*32 + 32 + 4 - 2 = 98
    # cycles, 8 folds per GEMM -> 8 * 8 * 98 = 6,272 cycles; K read 8 x 128 x 64 x 4 bits.
    trace = build_workload("llama-3-8b", phase="decode", kv_len=64, steps=1, blocks=1)
    qk, _ = attention_rows(trace, load_accelerator(spec()))
    assert (qk.M, qk.gemms, qk.compute_cycles) == (4, 8, 6272)
    assert (qk.kv_rd_bytes, qk.kv_wr_bytes) == (8 * 128 * 64 // 2, 8 * 128 // 2)


def test_bitmod_runs_the_kv_cache_bit_serially():
    # BitMoD's authors run attention at an 8-bit KV cache, 4 cycles per element (their
    # simulator's kv_prec = 8); an int4 cache takes 2, as an FP4/FP3 weight does.
    pe = load_accelerator("bitmod-decode").pe_array
    assert (pe.cpw, pe.kv_array(8).cpw, pe.kv_array(4).cpw) == (2, 4, 2)
    assert pe.kv_array(8).b_bits == 8 and pe.kv_array(8).meta_bits_per_group == 0


def test_kv_format_the_pes_cannot_compute_on():
    with pytest.raises(ConfigError, match=re.escape(
            "kv_format: must be a format the systolic_int8 PEs compute on, not 'fp16' (Cannot "
            "compute on a 16-bit KV cache on the systolic_int8 array because its B operand "
            "is at most 8 bits)")):
        load_accelerator(spec("fp16"))
    with pytest.raises(ConfigError, match=r"kv_format: must be fp16, int8, int4 or a "
                       r"registered format \(.*\), not 'int7'$"):
        load_accelerator(spec("int7"))


def test_weights_plus_kv_must_fit_dram():
    # Weights of one block + lm_head at 8 bits: q, k, v, o 4 x 4096 x 4096 = 67,108,864;
    # gate, up, down 3 x 4096 x 11008 = 135,266,304; lm_head 4096 x 32000 = 131,072,000:
    # 333,447,168 B. KV per sequence (int8): K and V, 32 heads x 64 keys x 128 = 524,288 B.
    # 0.32 GiB = 343,597,383.68 B leaves 10,150,215 B: 19 sequences fit, 20 do not.
    accel = load_accelerator(spec("int8", capacity_gib=0.32))
    fits = build_workload("llama-2-7b", phase="decode", kv_len=64, steps=1, blocks=1,
                          batch=19)
    sim.run(fits, accel)
    over = build_workload("llama-2-7b", phase="decode", kv_len=64, steps=1, blocks=1,
                          batch=20)
    with pytest.raises(ConfigError, match=re.escape(
            "dram.capacity_gib: must hold the weights (0.31 GiB) plus the KV cache (0.01 GiB "
            "at batch 20, int8) = 0.32 GiB, not 0.32 GiB (the largest batch that fits is 19)")):
        sim.run(over, accel)


def test_values_are_refused_under_a_kv_format(llama_decode):
    with pytest.raises(ConfigError, match=r"^values: cannot be simulated with kv_format "
                       r"'int4' .*\(--no-values\)$"):
        sim.run(llama_decode, load_accelerator(spec()), values=True)


def test_round_trip_keeps_the_kv_fields():
    accel = load_accelerator(spec("int8", kv_kib=128, capacity_gib=16))
    assert load_accelerator(accel.to_dict()) == accel
    assert accel.with_kv_format(None).kv_format is None
