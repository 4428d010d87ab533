"""Batching and chunked prefill (``models/llm_phases.py``), shapes and KV traffic by hand."""

from __future__ import annotations

import re

import pytest

from qaccel import ConfigError, sim
from qaccel.arch import load_accelerator
from qaccel.models.workloads import build_workload
from tests.sim.test_kv import spec


def rows(frame, suffix: str):
    return frame[frame.layer.str.endswith(suffix)]


def test_decode_batch_reads_weights_once_and_kv_per_sequence():
    # Llama-2-7B block, decode, kv_len 64, int4 KV on the 32x32 ws INT8 array (fixed
    # mapping: weights stationary, tokens streamed). q_proj: 4096 x 4096 weights = 16 MiB
    # read once per step whatever the batch; per sequence only its 4,096 input bytes and
    # 4,096 x 4 B of partial sums -> batch 4 costs 3 x (4096 + 16384) = 61,440 B more.
    accel = load_accelerator(spec())
    one = sim.run(build_workload("llama-2-7b", phase="decode", kv_len=64, blocks=1),
                  accel).frame
    four = sim.run(build_workload("llama-2-7b", phase="decode", kv_len=64, blocks=1,
                                  batch=4), accel).frame
    q1, q4 = rows(one, "q_proj@step0").iloc[0], rows(four, "q_proj@step0").iloc[0]
    assert q4.dram_bytes - q1.dram_bytes == 3 * (4096 + 16384) == 61440
    # KV: each sequence reads its own 32 heads x 64 keys x 128 x 4 bits = 131,072 B of K.
    qk4 = rows(four, "matmul0@step0").iloc[0]
    assert (qk4.gemms, qk4.kv_rd_bytes, qk4.kv_wr_bytes) == (128, 4 * 131072, 4 * 2048)


def test_chunked_prefill_shapes_and_kv_by_hand():
    # 10 prompt tokens in chunks of 4: chunks of 4, 4, 2 tokens over 0, 4, 8 cached keys.
    trace = build_workload("llama-2-7b", phase="prefill", tokens=10, chunk=4, blocks=1)
    qk = [ly for ly in trace if ly.meta.get("kv_role") == "K"]
    assert [(ly.M, ly.K, ly.N, ly.meta["kv_written"]) for ly in qk] == [
        (4, 128, 4, 4), (4, 128, 8, 4), (2, 128, 10, 2)]
    q = [ly for ly in trace if ly.name.startswith("model.layers.0.self_attn.q_proj")]
    assert [ly.M for ly in q] == [4, 4, 2]
    frame = sim.run(trace, load_accelerator(spec())).frame
    qk_rows = frame[frame.layer.str.contains(r"matmul0@chunk\d$")]
    # K read at 4 bits: 32 heads x keys x 128 / 2 B: 4, 8, 10 keys; written: 4, 4, 2 keys.
    assert list(qk_rows.kv_rd_bytes) == [32 * k * 64 for k in (4, 8, 10)]
    assert list(qk_rows.kv_wr_bytes) == [32 * k * 64 for k in (4, 4, 2)]
    # what the chunks wrote is the whole cache of 10 keys
    assert qk_rows.kv_wr_bytes.sum() == 32 * 10 * 128 // 2


def test_chunk_must_fit_the_prompt():
    with pytest.raises(ConfigError, match=re.escape(
            "chunk: must be an int in 1..10 (the prompt's tokens), not 11")):
        build_workload("llama-2-7b", phase="prefill", tokens=10, chunk=11, blocks=1)


def test_mixed_step_adds_decode_tokens_to_each_chunk():
    # Chunks of 4 prompt tokens plus 3 decode sequences at 100 (then 101) keys: linear
    # layers and per-token vector ops run on 4 + 3 = 7 tokens (rotary: 32 heads x 7 rows);
    # attention runs per sequence: the chunk's 32 GEMMs of 4 x 128 . 128 x (4, 8) and the
    # decode sequences' 3 x 32 = 96 GEMMs of 1 x 128 . 128 x (100, 101).
    trace = build_workload("llama-2-7b", phase="prefill", tokens=8, chunk=4, mixed=3,
                           kv_len=100, blocks=1, vector_ops=True)
    by_name = {ly.name: ly for ly in trace}
    for i, (keys, dec) in enumerate(((4, 100), (8, 101))):
        assert by_name[f"model.layers.0.self_attn.q_proj@chunk{i}"].M == 7
        assert by_name[f"model.layers.0.self_attn.rotary0@chunk{i}"].M == 32 * 7
        qk = by_name[f"model.layers.0.self_attn.matmul0@chunk{i}"]
        qk_dec = by_name[f"model.layers.0.self_attn.matmul0:decode@chunk{i}"]
        assert (qk.batch, qk.M, qk.N) == (32, 4, keys)
        assert (qk_dec.batch, qk_dec.M, qk_dec.N, qk_dec.meta["kv_written"]) == (96, 1, dec, 1)
        assert by_name[f"model.layers.0.self_attn.softmax0:decode@chunk{i}"].N == dec
    # weights once in the DRAM footprint: 0.32 GiB holds one block + lm_head at 8 bits
    # (333,447,168 B, tests/sim/test_kv.py) plus this cache, however many chunks repeat them
    sim.run(trace, load_accelerator(spec("int8", capacity_gib=0.32)))


def test_mixed_needs_a_chunk():
    with pytest.raises(ConfigError, match=re.escape(
            "mixed: must be None without a chunk, not 2")):
        build_workload("llama-2-7b", phase="prefill", tokens=8, mixed=2, blocks=1)


def test_vector_and_kv_meta_survive_save_and_load(tmp_path):
    """The trace cache stores traces as folders: vector layers and KV marks must come back."""
    from qaccel.models.trace import Trace

    trace = build_workload("llama-2-7b", phase="prefill", tokens=8, chunk=4, mixed=2,
                           kv_len=50, blocks=1, vector_ops=True)
    back = Trace.load(trace.save(tmp_path / "t"))
    assert [(ly.name, ly.op, ly.M, ly.K, ly.N, ly.meta) for ly in back] == \
        [(ly.name, ly.op, ly.M, ly.K, ly.N, ly.meta) for ly in trace]
    accel = load_accelerator(spec())
    assert sim.run(back, accel).frame.equals(sim.run(trace, accel).frame)
