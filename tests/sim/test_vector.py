"""Vector layers (non-GEMM operators): capture, the vector unit, both engines."""

from __future__ import annotations

import random
import re

import pytest

from qaccel import ConfigError, sim
from qaccel.arch import PE_FAMILIES, load_accelerator
from qaccel.arch.vector import OP_ARITHMETIC
from qaccel.models.trace import VECTOR_OPS, Layer
from qaccel.models.workloads import build_workload
from qaccel.sim.reference.vector import simulate_vector
from qaccel.sim.vector import VectorPlan, vector_counts
from tests.sim.test_kv import spec


def vector_layer(vop: str, m: int, n: int, inputs: int = 1, name: str = "v") -> Layer:
    k = n if vop in ("softmax", "layernorm", "rmsnorm") else 1
    return Layer(name, "vector", m, k, n, meta={"vop": vop, "inputs": inputs,
                                                "in_dtype": "float32", "out_dtype": "float32"})


def test_engines_agree_on_random_vector_layers():
    rng = random.Random(16)
    for _ in range(300):
        plan = VectorPlan(rng.choice(VECTOR_OPS), rng.randint(1, 40), rng.randint(1, 300),
                          rng.randint(1, 2), rng.choice((8, 16)), rng.randint(1, 70),
                          rng.randint(1, 8), rng.choice((0, 64, 4096, 1 << 20)))
        assert simulate_vector(plan) == vector_counts(plan), vars(plan)


@pytest.mark.parametrize("engine", sim.ENGINES)
def test_softmax_by_hand(engine):
    # 32x32 INT8 array (a_bits 8), default vector unit: 32 lanes; softmax 5 cycles per element
    # (5 adds, 3 multiplies). 32 rows of 64 scores: 2 chunks per row -> 32 * 2 * 5 = 320
    # cycles. Working set (1 input + 1 output) * 32 * 64 * 8 bits = 32,768 bits <= 262,144
    # (half of the 64 KiB output buffer): on chip, SRAM 2,048 B read and 2,048 B written.
    accel = load_accelerator(spec())
    row = sim.run([vector_layer("softmax", 32, 64)], accel, engine=engine).frame.iloc[0]
    assert (row.compute_cycles, row.total_cycles, row.dram_bytes) == (320, 320, 0)
    assert (row.sram_rd_bytes, row.sram_wr_bytes, row.macs) == (2048, 2048, 0)
    # 5 FP16 adds (0.4 pJ) + 3 multiplies (1.1 pJ) at 45 nm = 5.3 pJ; x 0.513 at 28 nm
    # (Stillmaker-Baas) = 2.7189 pJ per element, 2,048 elements.
    assert row.energy_pj_pe == pytest.approx(2048 * 5.3 * 0.513)


@pytest.mark.parametrize("engine", sim.ENGINES)
def test_residual_add_streams_through_dram_when_too_big(engine):
    # 2 inputs + 1 output of 1 x 40,000 INT8 elements = 960,000 bits > 262,144: streamed.
    # DRAM: 80,000 B read + 40,000 B written = 120,000 B = 7,500 cycles at 128 bits/cycle.
    # Compute: 1 row, ceil(40000/32) = 1,250 chunks x 1 cycle. Prologue: first chunk's two
    # inputs 2 x 32 B = 512 bits -> 4 cycles; epilogue: last chunk (40000 - 1249*32 = 32) B
    # = 256 bits -> 2 cycles. total = max(4 + 1250 + 2, 7500) = 7,500.
    accel = load_accelerator(spec())
    row = sim.run([vector_layer("add", 1, 40000, inputs=2)], accel,
                  engine=engine).frame.iloc[0]
    assert (row.dram_rd_bytes, row.dram_wr_bytes) == (80000, 40000)
    assert (row.compute_cycles, row.total_cycles) == (1250, 7500)


def test_spec_cycles_override_and_lanes():
    data = spec()
    data["vector_unit"] = {"lanes": 16, "cycles_per_element": {"softmax": 2}}
    accel = load_accelerator(data)
    row = sim.run([vector_layer("softmax", 32, 64)], accel).frame.iloc[0]
    assert row.compute_cycles == 32 * 4 * 2
    data["vector_unit"] = {"lanes": 0, "cycles_per_element": {"sofmax": 2}}
    with pytest.raises(ConfigError, match=re.escape("vector_unit.lanes: must be an int in "
                                                    "1..65536, not 0")):
        load_accelerator(data)


#: the spec fields each family needs beyond rows, cols, dataflow (its presets' values)
FAMILY_FIELDS = {"bitmod": {"weight_format": "bitmod_fp4", "guard_bits": 3,
                            "metadata_bits": 18},
                 "mixpe": {"a_bits": 8}, "bitfusion": {}}


@pytest.mark.parametrize("family", sorted(PE_FAMILIES))
def test_every_family_runs_vector_layers_alike(family):
    """Same vector unit (32 lanes), same cycles on every family: the unit is no part of a
    family; the elements are the family's activation width."""
    data = spec(None)
    data["pe_array"] = {"family": family, "rows": 8, "cols": 8,
                        "dataflow": PE_FAMILIES[family].dataflows[0].value,
                        **FAMILY_FIELDS.get(family, {})}
    data["vector_unit"] = {"lanes": 32}
    accel = load_accelerator(data)
    row = sim.run([vector_layer("silu", 4, 100)], accel).frame.iloc[0]
    assert row.compute_cycles == 4 * 4 * max(OP_ARITHMETIC["silu"])
    assert row.sram_wr_bytes == 4 * 100 * accel.pe_array.a_bits // 8


def test_llama_decode_block_vector_layers():
    """Meta-device capture of one Llama-2-7B block in decode (kv_len 64, 2 steps): the
    non-GEMM operators, their shapes, and the score ops growing with the KV length."""
    trace = build_workload("llama-2-7b", phase="decode", kv_len=64, steps=2, blocks=1,
                           vector_ops=True)
    step0 = [(ly.name.split(".")[-1], ly.M, ly.K, ly.N, ly.meta["inputs"])
             for ly in trace.layers[:trace.meta["layers_per_step"]] if ly.op == "vector"]
    assert step0 == [
        ("rmsnorm0@step0", 1, 4096, 4096, 1),
        ("rotary0@step0", 32, 1, 128, 1), ("rotary1@step0", 32, 1, 128, 1),   # q and k
        ("scale0@step0", 32, 1, 64, 1), ("mask0@step0", 32, 1, 64, 1),        # 32 heads x 64
        ("softmax0@step0", 32, 64, 64, 1),
        ("add0@step0", 1, 1, 4096, 2), ("rmsnorm0@step0", 1, 4096, 4096, 1),
        ("silu0@step0", 1, 1, 11008, 1), ("mul0@step0", 1, 1, 11008, 2),      # SwiGLU
        ("add1@step0", 1, 1, 4096, 2), ("rmsnorm0@step0", 1, 4096, 4096, 1)]  # final norm
    soft1 = trace["model.layers.0.self_attn.softmax0@step1"]
    assert (soft1.M, soft1.K, soft1.N) == (32, 65, 65)
    assert all(ly.macs == 0 and not ly.has_values for ly in trace if ly.op == "vector")


def test_real_model_capture_records_vector_ops():
    """A tiny randomly initialized Llama on real tensors: the same operators as on meta."""
    import torch
    import transformers

    from qaccel.models.capture import capture

    config = transformers.LlamaConfig(hidden_size=64, intermediate_size=96,
                                      num_hidden_layers=1, num_attention_heads=4,
                                      num_key_value_heads=2, vocab_size=50,
                                      attn_implementation="eager")
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config).eval()
    trace = capture(model, {"input_ids": torch.arange(6).reshape(1, 6)}, vector_ops=True)
    ops = [(ly.meta["vop"], ly.M, ly.N) for ly in trace if ly.op == "vector"]
    # 6 tokens, 4 heads of 16 (q), 2 KV heads (k), scores 4 x 6 x 6, FFN 96
    assert ops == [("rmsnorm", 6, 64), ("rotary", 24, 16), ("rotary", 12, 16),
                   ("scale", 24, 6), ("mask", 24, 6), ("softmax", 24, 6), ("add", 6, 64),
                   ("rmsnorm", 6, 64), ("silu", 6, 96), ("mul", 6, 96), ("add", 6, 64),
                   ("rmsnorm", 6, 64)]
    values = sim.run(trace, load_accelerator("systolic-int8-8x8"))
    assert set(values.outputs) == {ly.name for ly in trace if ly.op != "vector"}


@pytest.mark.parametrize("engine", sim.ENGINES)
def test_overlapped_schedule_hides_vector_ops_under_the_next_gemm(engine):
    # softmax (320 cycles) and scale (64) on 32 x 64 scores, on chip, then a 10x6x5 GEMM on
    # the 32x32 ws array: one fold of 2*32 + 32 + 10 - 2 = 104 compute cycles. Overlapped:
    # the softmax hides 104 cycles (320 -> 216), nothing is left for the scale (64 stays).
    from qaccel.sim.gemm import gemm_layer

    layers = [vector_layer("softmax", 32, 64, name="s"), vector_layer("scale", 32, 64,
                                                                      name="c"),
              gemm_layer(10, 6, 5)]
    data = spec()
    serial = sim.run(layers, load_accelerator(data), engine=engine).frame
    assert list(serial.hidden_cycles) == [0, 0, 0]
    assert list(serial.total_cycles[:2]) == [320, 64] and serial.compute_cycles[2] == 104
    data["vector_unit"] = {"lanes": 32, "schedule": "overlapped"}
    frame = sim.run(layers, load_accelerator(data), engine=engine).frame
    assert list(frame.hidden_cycles) == [104, 0, 0]
    assert list(frame.total_cycles) == [216, 64, serial.total_cycles[2]]
    # a vector op streamed through DRAM is not overlapped
    big = [vector_layer("add", 1, 40000, inputs=2), gemm_layer(10, 6, 5)]
    assert sim.run(big, load_accelerator(data), engine=engine).frame.hidden_cycles[0] == 0
