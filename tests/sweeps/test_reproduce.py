"""``qaccel reproduce``: hand-worked layers of the paper presets, the paper values' arithmetic,
the CSV schema and bad input."""

from __future__ import annotations

import csv

import pytest

from qaccel import sim
from qaccel.arch import load_accelerator
from qaccel.cli import main as cli_main
from qaccel.sim.gemm import gemm_layer
from qaccel.sweeps.reproduce import CSV_COLUMNS, _paper_metric, load_paper


def one_layer(preset: str, m: int, k: int, n: int):
    return sim.run([gemm_layer(m, k, n)], load_accelerator(preset), engine="fast",
                   values=False).frame.iloc[0]


def test_bitmod_paper_ant_baseline_decode_q_proj_by_hand():
    """Llama-2-7B q_proj in decode (M=1, K=N=4096) on the BitMoD paper's ANT baseline: 64x16,
    4-bit ANT weights x FP16 activations, DRAM traffic by the authors' whole-layer rule with
    each weight at the 5 bits they charge (``dram: {traffic: layer_refetch, weight_bits: 5}``),
    256 DRAM bits/cycle. The mapper runs it input-stationary (K on the 64 rows, the token on a
    column, N streamed):
      folds = ceil(4096/64) * ceil(1/16) = 64; fold = 2R + C + N - 2 = 128 + 16 + 4094 = 4238;
      compute = 64 * 4238 = 271,232 cycles.
      DRAM (the rule: the 8 KiB of inputs fit their buffer, so nothing is read twice): weights
      4096*4096*5/8 = 10,485,760 B + activations 4096*2 B = 8,192 B; writes: 4096 outputs at
      32 bits = 16,384 B. Traffic 10,510,336 B / 32 B per cycle = 328,448 cycles, above compute
      plus the exposed first load (64 x 4096 4-bit codes = 131,072 B / 32 = 4,096 cycles, 64
      FP16 activations 4) and last drain (512): 271,232 + 4,096 + 4 + 512 = 275,844 < 328,448,
      so the layer is DRAM-bound at 328,448.
    (The authors' rules: compute 4096 * ceil(4096/64) = 262,144, DRAM 328,192 cycles: their
    outputs are FP16, ours 32-bit partial sums: (16,384 - 8,192) / 32 = 256 cycles more.)"""
    row = one_layer("bitmod-hpca25-ant-decode", 1, 4096, 4096)
    assert (row.dataflow, row.folds, row.compute_cycles) == ("is", 64, 271_232)
    assert row.dram_rd_bytes == 10_485_760 + 8_192
    assert row.dram_wr_bytes == 16_384
    assert row.total_cycles == (10_485_760 + 8_192 + 16_384) // 32 == 328_448


def test_bitmod_paper_bitmod_decode_q_proj_by_hand():
    """The same layer on the paper's BitMoD (64x16, 4 lanes, FP3 weights, 8 metadata bits per
    128-weight group): DRAM reads = weights 4096*4096*3/8 = 6,291,456 B + metadata
    4096 * 32 groups * 8 bits / 8 = 131,072 B + activations 8,192 B = 6,430,720 B; writes 4096
    FP16 outputs = 8,192 B. The layer is DRAM-bound: (6,430,720 + 8,192) * 8 / 256 = 201,216
    cycles -- the authors' own figure for this layer (docs/reproduction.md)."""
    row = one_layer("bitmod-hpca25-bitmod-decode", 1, 4096, 4096)
    assert row.dram_rd_bytes == 6_291_456 + 131_072 + 8_192
    assert row.dram_wr_bytes == 8_192
    assert row.total_cycles == (6_430_720 + 8_192) * 8 // 256 == 201_216
    assert row.compute_cycles < row.total_cycles


def test_paper_value_of_a_generative_point_by_hand():
    """Llama-2-7B generative, BitMoD over ANT, from the authors' notebook cycles
    (speedup_plot.ipynb cell 1): (cycle_ant_g * 20 + cycle_ant_d) / (bitmod_g * 20 + bitmod_d)
    = (129,497,936 * 20 + 1,949,564,928) / (79,493,200 * 20 + 1,202,921,472)
    = 4,539,523,648 / 2,792,785,472."""
    paper = load_paper("bitmod")
    metric = next(m for m in paper.metrics if m["name"] == "speedup_vs_ant")
    value = _paper_metric(paper, metric, "BitMoD", "generative", "llama-2-7b")
    assert value == pytest.approx(4_539_523_648 / 2_792_785_472, rel=1e-12)


TINY = """
paper: tiny
title: "a one-block check of the reproduce machinery"
models: [llama-2-7b]
runs:
  prefill: {phase: prefill, tokens: 32, blocks: 1}
  decode: {phase: decode, tokens: 32, kv_len: 32, steps: 1, blocks: 1}
tasks:
  prefill: {prefill: 1}
  generative: {prefill: 1, decode: 4}
accelerators:
  FP16: {paper: {prefill: fp16-prefill, decode: fp16-decode},
         ours: {prefill: fp16-prefill, decode: fp16-decode}}
  BitMoD: {paper: {prefill: bitmod-hpca25-bitmod-prefill, decode: bitmod-hpca25-bitmod-decode},
           ours: {prefill: bitmod-prefill, decode: bitmod-decode}}
paper_values:
  cycles:
    FP16: {prefill: [1000], decode: [100]}
    BitMoD: {prefill: [500], decode: [40]}
metrics:
  - {name: speedup_vs_fp16, kind: speedup, baseline: FP16, accelerators: [BitMoD]}
headlines:
  - {text: "BitMoD over FP16", metric: speedup_vs_fp16, accelerator: BitMoD, claim: 2.0,
     tolerance: 0.5}
tolerance: {speedup: 0.10}
"""


def test_csv_schema_and_outputs(tmp_path, capsys):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    out = tmp_path / "results"
    assert cli_main(["reproduce", str(spec), "--out", str(out), "--no-progress"]) == 0
    with open(out / "tiny.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [(r["task"], r["accelerator"], r["metric"]) for r in rows] == [
        ("prefill", "BitMoD", "speedup_vs_fp16"), ("generative", "BitMoD", "speedup_vs_fp16")]
    # paper values from the spec's cycles: 1000/500 and (1000 + 4*100) / (500 + 4*40)
    assert [float(r["paper_value"]) for r in rows] == [2.0, 1400 / 660]
    for r in rows:
        assert float(r["rel_err"]) == pytest.approx(float(r["value"]) / float(r["paper_value"])
                                                    - 1, rel=1e-12)
    assert (out / "tiny.png").stat().st_size > 10_000
    assert "BitMoD over FP16" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["reproduce", "bitmd"], "paper: must be one of ant, bitmod, mixpe"),
    (["reproduce", "bitmod", "--models", "gpt-9,opt-1.3b"],
     "models: must be among opt-1.3b, phi-2"),
])
def test_bad_input_exits_2_listing_the_valid_names(argv, message, capsys):
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def with_overrides(overrides: str) -> str:
    """TINY with ``paper_overrides`` on its BitMoD accelerator."""
    line = "           ours: {prefill: bitmod-prefill, decode: bitmod-decode}}"
    assert line in TINY
    return TINY.replace(line, line[:-1] + ",\n           paper_overrides: " + overrides + "}")


def test_paper_overrides_change_one_models_preset_field(tmp_path):
    """``paper_overrides`` (run -> model -> dotted field) apply to that model's paper preset
    only: Llama-2-7B's decode step on the BitMoD paper's ANT baseline with 4.5-bit weights in
    the rule moves 4096*4096*4.5/8 = 9,437,184 B of q_proj weights instead of 10,485,760 B,
    and reproduce uses exactly the overridden accelerator."""
    from qaccel.sweeps.reproduce import overridden

    accel = overridden("bitmod-hpca25-ant-decode", {"dram.weight_bits": 4.5})
    assert accel.dram.weight_bits == 4.5
    row = sim.run([gemm_layer(1, 4096, 4096)], accel, engine="fast", values=False).frame.iloc[0]
    assert row.dram_rd_bytes == 9_437_184 + 8_192
    spec = tmp_path / "tiny.yaml"
    spec.write_text(with_overrides("{decode: {llama-2-7b: {dram.bits_per_cycle: 128}}}"))
    from qaccel.sweeps.reproduce import _preset_trace, load_paper, reproduce

    paper = load_paper(str(spec))
    rep = reproduce(paper, progress=False)
    got = rep.tasks.query("task == 'generative' and accelerator == 'BitMoD' and config == "
                          "'paper'").cycles.item()
    base = overridden("bitmod-hpca25-bitmod-decode", {"dram.bits_per_cycle": 128})
    traces: dict = {}
    decode = sim.run(_preset_trace(paper, traces, "llama-2-7b", "decode"), base, engine="fast",
                     values=False).totals()["total_cycles"]
    prefill = sim.run(_preset_trace(paper, traces, "llama-2-7b", "prefill"),
                      load_accelerator("bitmod-hpca25-bitmod-prefill"), engine="fast",
                      values=False).totals()["total_cycles"]
    assert got == prefill + 4 * decode


def test_bad_paper_overrides_are_one_error(tmp_path, capsys):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(with_overrides("{decode: {gpt-9: {dram.weight_bits: 4}, "
                                   "llama-2-7b: {dram.weight_bits: 0.1}}, warmup: {}}"))
    assert cli_main(["reproduce", str(spec), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "paper_overrides.decode.gpt-9: must be one of the paper's models" in err
    assert "paper_overrides.decode.llama-2-7b.dram.weight_bits: must be a number in 1..64" in err
    assert "paper_overrides.warmup: must be a run with a paper preset" in err
    assert "Traceback" not in err
