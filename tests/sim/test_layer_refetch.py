"""``dram.traffic: layer_refetch`` (``qaccel.sim.layer_refetch``): the BitMoD authors' whole-
layer refetch rule worked by hand, both engines, and what the rule leaves alone."""

from __future__ import annotations

import pytest

from qaccel import sim
from qaccel.arch import load_accelerator
from qaccel.errors import ConfigError
from qaccel.sim.gemm import gemm_layer

KIB = 1024


def with_traffic(preset: str, traffic: str | None, mapping: str | None = None,
                 array: dict | None = None, **buffers_kib: int):
    data = load_accelerator(preset).to_dict()
    if traffic is not None:
        data["dram"]["traffic"] = traffic
    if mapping is not None:
        data["mapping"] = mapping
    data["pe_array"].update(array or {})
    for name, kib in buffers_kib.items():
        data["buffers"][name]["size_kib"] = kib
    return load_accelerator(data)


def row(accel, m: int, k: int, n: int, engine: str = "fast"):
    return sim.run([gemm_layer(m, k, n)], accel, engine=engine, values=False).frame.iloc[0]


def test_weights_refetched_once_per_input_buffer_full_by_hand():
    """Llama-2-7B q_proj in the paper's FP16 prefill (M=256, K=N=4096; reuse halves of
    512 KiB = 524,288 B). W = 4096 * 4096 * 2 B = 33,554,432 B, I = 256 * 4096 * 2 B =
    2,097,152 B: both exceed 524,288 B, so the rule compares re-reading the weights
    ceil(2,097,152 / 524,288) = 4 times (4 W + I = 136,314,880 B) with re-reading the inputs
    ceil(33,554,432 / 524,288) = 64 times (64 I + W = 167,772,160 B): weights, 4 times.
    Outputs once: 256 * 4096 * 4 B (FP32) = 4,194,304 B."""
    accel = load_accelerator("bitmod-hpca25-fp16-prefill")
    assert accel.dram.traffic == "layer_refetch"
    r = row(accel, 256, 4096, 4096)
    assert r.dram_rd_bytes == 4 * 33_554_432 + 2_097_152 == 136_314_880
    assert r.dram_wr_bytes == 4_194_304
    dram_cycles = (136_314_880 + 4_194_304) * 8 // 256
    assert r.total_cycles == max(r.compute_cycles + r.stall_cycles, dram_cycles)
    assert r.total_cycles >= dram_cycles == 4_390_912


def test_inputs_refetched_once_per_weight_buffer_full_by_hand():
    """M=16384, K=512, N=1024 on the same preset: W = 512 * 1024 * 2 B = 1,048,576 B,
    I = 16384 * 512 * 2 B = 16,777,216 B. Weights again: ceil(16,777,216 / 524,288) = 32
    times -> 32 W + I = 50,331,648 B; inputs again: ceil(1,048,576 / 524,288) = 2 times ->
    2 I + W = 34,603,008 B: the inputs are read twice."""
    r = row(load_accelerator("bitmod-hpca25-fp16-prefill"), 16384, 512, 1024)
    assert r.dram_rd_bytes == 2 * 16_777_216 + 1_048_576 == 34_603_008
    assert r.dram_wr_bytes == 16384 * 1024 * 4


def test_nothing_refetched_when_one_operand_fits_by_hand():
    """Decode (M=1): I = 4096 * 2 B fits the input buffer, so each operand moves once:
    W + I = 33,554,432 + 8,192 B read, 4096 * 4 B written."""
    r = row(load_accelerator("bitmod-hpca25-fp16-decode"), 1, 4096, 4096)
    assert (r.dram_rd_bytes, r.dram_wr_bytes) == (33_554_432 + 8_192, 16_384)


def test_a_tie_refetches_the_inputs_and_both_engines_agree():
    """4x4 FP16 array (``fp16-prefill`` with 2 KiB buffers: 1 KiB reuse halves), 64 x 64 x 64:
    W = I = 64 * 64 * 2 B = 8 KiB, each 8 buffer-fulls: 8 W + I = 8 I + W = 72 KiB, and the
    rule re-reads the weights only when strictly cheaper, so the inputs are read 8 times:
    8 * 8,192 + 8,192 = 73,728 B. The reference engine (buffers simulated fold by fold, then
    the same rule) gives the same row as the fast engine, column for column."""
    accel = with_traffic("fp16-prefill", "layer_refetch", array={"rows": 4, "cols": 4},
                         weight=2, input=2, output=2)
    fast, ref = row(accel, 64, 64, 64), row(accel, 64, 64, 64, "reference")
    assert fast.dram_rd_bytes == 8 * 8_192 + 8_192 == 73_728
    assert fast.to_dict() == ref.to_dict()


def test_the_rule_changes_only_dram_traffic_and_what_follows_from_it():
    """Against the buffer model on the same array and the same (fixed) mapping: compute
    cycles, folds, the PE and decoder energy are equal; the DRAM energy is the rule's bytes
    at the preset's pJ/bit. (With the mapper on, the rule also changes the mapping: the
    mapper then weighs only compute, prologue and epilogue.)"""
    rule = with_traffic("bitmod-hpca25-fp16-prefill", None, mapping="fixed")
    buffers = with_traffic("bitmod-hpca25-fp16-prefill", "buffers", mapping="fixed")
    a, b = row(rule, 256, 4096, 4096), row(buffers, 256, 4096, 4096)
    for col in ("compute_cycles", "folds", "energy_pj_pe", "energy_pj_decoder", "macs"):
        assert a[col] == b[col], col
    assert a.energy_pj_dram == pytest.approx(a.dram_bytes * 8 * rule.dram.pj_per_bit,
                                             rel=1e-12)
    assert a.dram_bytes != b.dram_bytes


def test_bad_traffic_value_is_one_clear_error():
    data = load_accelerator("fp16-prefill").to_dict()
    data["dram"]["traffic"] = "paper"
    with pytest.raises(ConfigError) as exc:
        load_accelerator(data)
    text = str(exc.value)
    assert "dram.traffic" in text and "buffers" in text and "layer_refetch" in text
    assert "'paper'" in text


def test_default_traffic_is_left_out_of_to_dict():
    """Presets without the field keep their dict (and every cache key built from it)."""
    assert "traffic" not in load_accelerator("fp16-prefill").to_dict()["dram"]
    rule = load_accelerator("bitmod-hpca25-fp16-prefill")
    assert rule.to_dict()["dram"]["traffic"] == "layer_refetch"
    assert load_accelerator(rule.to_dict()) == rule
