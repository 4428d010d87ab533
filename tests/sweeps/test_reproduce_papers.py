"""``qaccel reproduce mixpe`` and ``ant``: a hand-worked layer on each paper's presets, the paper
values' arithmetic of one point each, the GEMM-list workloads with precision groups, and their
bad input. The figures themselves are checked by ``qaccel reproduce``, not here."""

from __future__ import annotations

import csv

import pytest

from qaccel import sim
from qaccel.arch import load_accelerator
from qaccel.cli import main as cli_main
from qaccel.errors import ConfigError
from qaccel.sim.gemm import gemm_layer
from qaccel.sweeps.reproduce import CSV_COLUMNS, _paper_metric, load_paper


def one_layer(preset: str, m: int, k: int, n: int):
    return sim.run([gemm_layer(m, k, n)], load_accelerator(preset), engine="fast",
                   values=False).frame.iloc[0]


def test_mixpe_paper_ant_baseline_opt_qkv_by_hand():
    """OPT-6.7B qkv at batch 64 (M=64, K=4096, N=12288), 4-bit, on the MixPE paper's ANT
    baseline (32x32 8/4-bit PEs = a 64x64 grid of 4-bit units, output stationary with the
    overlapped drain, 500 MHz, 1024 DRAM bits = 128 B per cycle, weight / input buffers
    128 / 256 KiB of which half hold a block). The mapper cuts K into chunks of T = 64 (with
    the overlapped drain a chunk costs no fill/drain, and smaller blocks expose less DRAM):
      folds = ceil(64/64) * ceil(12288/64) * 4096/64 = 1 * 192 * 64 = 12,288; the first fold
      R + C + T - 2 = 64 + 64 + 64 - 2 = 190, each later one max(T, R) = 64:
      compute = 190 + 12,287 * 64 = 786,558 cycles (the authors' formula
      ceil(64/64) * ceil(12288/64) * 4096 = 786,432, plus one fill/drain of 126).
      DRAM reads: weights 4096*12288*4/8 = 25,165,824 B (each block used once);
      activations 64*4096*4/8 = 131,072 B = half the input buffer, so read once;
      writes: 64*12288 outputs at 32 bits = 3,145,728 B (a 64x64 block's partial sums stay
      in the output buffer over its chunks).
      Per fold: 64 x 64 4-bit weights = 2,048 B / 128 = 16 DRAM cycles < 64, so only the
      first fold's loads (weights 16 + activations 2,048 / 128 = 16 cycles) and the last
      drain (64 x 64 x 4 B / 128 = 128 cycles) are exposed:
      786,558 + 16 + 16 + 128 = 786,718 cycles."""
    row = one_layer("mixpe-arxiv24-ant", 64, 4096, 12288)
    assert (row.dataflow, row.stream_tile, row.folds) == ("os", 64, 12_288)
    assert row.compute_cycles == 190 + 12_287 * 64 == 786_558
    assert row.dram_rd_bytes == 25_165_824 + 131_072
    assert row.dram_wr_bytes == 3_145_728
    assert row.total_cycles == 786_558 + 16 + 16 + 128


def test_ant_paper_bitfusion_vgg_fc6_by_hand():
    """VGG-16 fc6 at batch 64 (M=64, K=25088, N=4096), 8-bit, on the ANT paper's BitFusion
    (32x32 fusion units at 8x8 bits, os with the overlapped drain, 500 MHz, 128 B DRAM per
    cycle, half-buffers 64 KiB weights and 128 KiB inputs). The mapper picks K chunks of
    T = 32, column block -> chunk -> row block (``cols_chunk``):
      folds = ceil(64/32) * ceil(4096/32) * 25088/32 = 2 * 128 * 784 = 200,704; the first
      fold 32 + 32 + 32 - 2 = 94, each later one max(T, R) = 32:
      compute = 94 + 200,703 * 32 = 6,422,590 cycles (the authors' formula
      2 * 128 * 25088 = 6,422,528, plus one fill/drain of 62).
      A weight chunk block (32 x 32 B) serves both row blocks back to back: weights read once,
      4096 * 25088 = 102,760,448 B; the activations (64 x 25088 B = 1,605,632 B) exceed the
      128 KiB half, so they are re-read for each of the 128 column blocks: 205,520,896 B;
      reads 308,281,344 B. Writes: 64*4096 INT32 outputs = 1,048,576 B.
      Per fold at most 2 x 1,024 B / 128 = 16 DRAM cycles < 32: exposed are the first fold's
      loads (8 + 8 cycles) and the last drain (32 x 32 x 4 B / 128 = 32): 6,422,590 + 48."""
    row = one_layer("ant-micro22-bitfusion", 64, 25088, 4096)
    assert (row.dataflow, row.loop_order, row.stream_tile, row.lanes) == ("os", "cols_chunk",
                                                                        32, 1)
    assert row.folds == 200_704
    assert row.compute_cycles == 94 + 200_703 * 32 == 6_422_590
    assert row.dram_rd_bytes == 102_760_448 + 128 * 1_605_632 == 308_281_344
    assert row.dram_wr_bytes == 1_048_576
    assert row.total_cycles == 6_422_590 + 8 + 8 + 32


def test_mixpe_paper_value_of_one_point_by_hand():
    """OPT-6.7B, MixPE-W4A8 latency normalised to FP16 from the re-run's total cycles
    (results/mixpe_res.csv L3 prints it as 0.10): 50,671,104 / 524,922,368; W4A16 over
    BitFusion: 357,880,480 / 101,131,264 (energy: 0.4306 / 0.2232 of FP16's)."""
    paper = load_paper("mixpe")
    metric = {m["name"]: m for m in paper.metrics}
    assert _paper_metric(paper, metric["latency_norm_fp16"], "MixPE-W4A8", "batch64",
                         "opt-6.7b") == pytest.approx(50_671_104 / 524_922_368, rel=1e-12)
    assert _paper_metric(paper, metric["speedup_vs_bitfusion"], "MixPE-W4A16", "batch64",
                         "opt-6.7b") == pytest.approx(357_880_480 / 101_131_264, rel=1e-12)
    assert _paper_metric(paper, metric["energy_reduction_vs_bitfusion"], "MixPE-W4A16",
                         "batch64", "opt-6.7b") == pytest.approx(0.4306 / 0.2232, rel=1e-12)


def test_ant_paper_value_of_one_point_by_hand():
    """VGG-16, ANT over BitFusion from ant_res.csv L3 (normalised to AdaFloat): 0.76 / 0.20."""
    paper = load_paper("ant")
    metric = next(m for m in paper.metrics if m["name"] == "speedup_vs_bitfusion")
    assert _paper_metric(paper, metric, "ANT", "batch64", "vgg-16") == pytest.approx(3.8)


def test_bench_lists_hold_the_simulators_layer_counts():
    """Layer counts of the authors' bench lists (research notes: MixPE ViT 97, ViT-H 257, OPT
    256, Llama 320; ANT VGG-16 16, ResNet-18 21, ResNet-50 54, ViT 49 (+ the patch conv for
    BitFusion), BERT 74)."""
    mixpe = load_paper("mixpe").workloads
    want = {"vit-b": 97, "vit-h": 257, "opt-6.7b": 256, "llama-2-13b": 320}
    for bench in ("int48", "mixfloat", "ant", "bitfusion", "int88", "float"):
        assert {m: sum(e[3] for e in es) for m, es in mixpe[bench].items()} == want, bench
    ant = load_paper("ant").workloads
    bert = {f"bert-base-{t}": 74 for t in ("mnli", "cola", "sst2")}
    cnn = {"vgg-16": 16, "resnet-18": 21, "resnet-50": 54}
    assert {m: sum(e[3] for e in es) for m, es in ant["ant"].items()} == {
        **cnn, "vit-b": 49, **bert}
    assert {m: sum(e[3] for e in es) for m, es in ant["bitfusion"].items()} == {
        **cnn, "vit-b": 50, **bert}


GROUPS = """
paper: groups
models: [m1]
runs: {r: {}}
tasks: {r: {r: 1}}
workloads:
  w: {m1: [[64, 4096, 12288, 2, 4], [64, 512, 96, 3, 8]]}
accelerators:
  A: {paper: {r: {workload: w, presets: {4: mixpe-arxiv24-ant, 8: mixpe-arxiv24-ant-int8}}}}
  B: {paper: {r: {workload: w, presets: {4: mixpe-arxiv24-ant, 8: mixpe-arxiv24-ant}}}}
metrics:
  - {name: lat, kind: latency_norm, baseline: B, accelerators: [A]}
"""


def test_groups_run_on_their_presets_and_counts_multiply(tmp_path):
    """A's cycles = 2 x (the 4-bit GEMM on the 4-bit preset) + 3 x (the 8-bit GEMM on the
    8-bit preset), summed: the two groups are simulated separately and weighted by count."""
    from qaccel.sweeps.reproduce import reproduce

    spec = tmp_path / "groups.yaml"
    spec.write_text(GROUPS)
    rep = reproduce(load_paper(str(spec)))
    big = one_layer("mixpe-arxiv24-ant", 64, 4096, 12288)
    small8 = one_layer("mixpe-arxiv24-ant-int8", 64, 512, 96)
    small4 = one_layer("mixpe-arxiv24-ant", 64, 512, 96)
    cycles = rep.tasks.set_index("accelerator").cycles
    assert cycles["A"] == 2 * big.total_cycles + 3 * small8.total_cycles
    assert cycles["B"] == 2 * big.total_cycles + 3 * small4.total_cycles
    assert rep.metrics.value.iloc[0] == cycles["A"] / cycles["B"]


def test_bad_workloads_are_reported_together(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text(GROUPS.replace("[64, 512, 96, 3, 8]", "[64, 512, 0, 3, 8]")
                    .replace("presets: {4: mixpe-arxiv24-ant, 8: mixpe-arxiv24-ant-int8}",
                             "presets: {4: mixpe-arxiv24-ant}")
                    .replace("{r: {workload: w, presets: {4: mixpe-arxiv24-ant, 8: "
                             "mixpe-arxiv24-ant}}}", "{r: {workload: nope}}"))
    with pytest.raises(ConfigError) as err:
        load_paper(str(spec))
    text = str(err.value)
    assert "workloads.w.m1[1]: must be [M, K, N, count, group]" in text
    assert "accelerators.A.paper.r.presets: must name a preset for every group" in text
    assert "missing 8" in text
    assert "accelerators.B.paper.r: must be a preset name or {workload, presets}" in text


def test_mixpe_csv_rows_for_one_model(tmp_path):
    """One row per (accelerator, metric) of the paper spec: 5 + 5 + 4 x 2 = 18 for one model."""
    out = tmp_path / "res"
    assert cli_main(["reproduce", "mixpe", "--models", "opt-6.7b", "--out", str(out),
                     "--no-progress"]) == 0
    with open(out / "mixpe.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 18 and {r["model"] for r in rows} == {"opt-6.7b"}
    lat = next(r for r in rows if r["metric"] == "latency_norm_fp16"
               and r["accelerator"] == "MixPE-W4A8")
    assert float(lat["paper_value"]) == pytest.approx(50_671_104 / 524_922_368, rel=1e-12)


@pytest.mark.parametrize("model, preset", [
    ("vgg-16", "vgg-16"), ("resnet-18", "resnet-18"), ("resnet-50", "resnet-50"),
    ("vit-b", "vit-b-16"), ("bert-base-mnli", "bert-base"), ("bert-base-sst2", "bert-base")])
def test_ant_bench_lists_are_our_workload_presets_gemms(model, preset):
    """The ANT simulator's layer lists (bitfusion_bench.py) are the conv / linear GEMMs of our
    workload presets at batch 64 (BERT: 128 tokens) -- except that the simulator fuses ViT's
    Q, K and V projections (12 x 768 -> 2304 where our preset has 36 x 768 -> 768, the same
    MACs) and leaves out the attention matmuls."""
    from collections import Counter

    from qaccel.models.workloads import build_workload

    extra = {"tokens": 128} if preset == "bert-base" else {}
    ours = Counter((x.M, x.K, x.N) for x in build_workload(preset, batch=64, **extra).layers
                   if x.op in ("linear", "conv2d"))
    theirs = Counter()
    for m, k, n, count, _ in load_paper("ant").workloads["bitfusion"][model]:
        theirs[(m, k, n)] += count
    if model == "vit-b":
        tokens = 64 * 197
        assert theirs.pop((tokens, 768, 2304)) == 12      # fused Q, K, V
        ours[(tokens, 768, 768)] -= 36                    # our separate Q, K, V (O stays)
    assert ours == theirs


@pytest.mark.parametrize("paper, message", [
    ("mixpe", "models: must be among vit-b, vit-h, opt-6.7b, llama-2-13b (the mixpe paper's)"),
    ("ant", "models: must be among vgg-16, resnet-18, resnet-50, vit-b, bert-base-mnli"),
])
def test_unknown_model_exits_2_listing_the_papers_models(paper, message, capsys):
    assert cli_main(["reproduce", paper, "--models", "gpt-9", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and "'gpt-9'" in err and "Traceback" not in err
