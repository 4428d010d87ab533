"""End to end through the command line: capture -> trace folder -> sim, and the demo."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import torch

from qaccel.cli import main
from qaccel.models import Trace

NAN_MODEL = '''
import torch
from torch import nn

def build():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    with torch.no_grad():
        model[2].weight[1, 2] = float("nan")
    return model, (torch.ones(2, 4),)
'''


def test_nan_weights_one_clear_error(capsys, tmp_path):
    src = tmp_path / "nanmodel.py"
    src.write_text(NAN_MODEL)
    code = main(["capture", "--model", f"{src}:build", "--out-dir", str(tmp_path / "t")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err == "qaccel capture: error: layer 2 weight: must be finite, not 1 NaN value"
    assert not (tmp_path / "t" / "manifest.json").exists()


def test_missing_trace_folder(capsys, tmp_path):
    code = main(["sim", "--arch", "systolic-int8-8x8", "--trace", str(tmp_path / "none")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err == (f"qaccel sim: error: --trace: must be a trace folder, not "
                   f"'{tmp_path / 'none'}' (missing)")


def test_unknown_model_name(capsys, tmp_path):
    code = main(["capture", "--model", "bert", "--out-dir", str(tmp_path / "t")])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        "qaccel capture: error: --model: must be one of conv-demo, minilm, mlp-demo or "
        "FILE.py:FUNCTION, not 'bert'")


def test_capture_then_sim_values_match_torch(capsys, tmp_path):
    folder = tmp_path / "mlp"
    assert main(["capture", "--model", "mlp-demo", "--out-dir", str(folder)]) == 0
    out = tmp_path / "r.parquet"
    assert main(["sim", "--arch", "systolic-int8-8x8", "--trace", str(folder), "--values",
                 "--out", str(out)]) == 0
    frame = pd.read_parquet(out)
    trace = Trace.load(folder)
    assert list(frame["layer"]) == [layer.name for layer in trace]
    # mlp-demo: Linear 64->128, 128->128, 128->10 on 4 rows (models/demo.py)
    assert [tuple(r) for r in frame[["M", "K", "N"]].itertuples(index=False)] == [
        (4, 64, 128), (4, 128, 128), (4, 128, 10)]
    # the simulated INT32 outputs equal torch's int64 product of the stored codes
    from qaccel import arch, sim

    result = sim.run(trace, arch.load_accelerator("systolic-int8-8x8"), values=True)
    for layer in trace:
        a = torch.from_numpy(layer.act.codes.view(np.int8).astype(np.int64))
        w = torch.from_numpy(layer.weight.codes.view(np.int8).astype(np.int64))
        expected = (a.reshape(-1, layer.K) @ w.T).numpy().astype(np.int32)
        np.testing.assert_array_equal(result.outputs[layer.name][0], expected)


@pytest.mark.slow
def test_demo_end_to_end(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--sentences", "2", "--out", "demo.csv"]) == 0
    out = capsys.readouterr().out
    assert "captured" in out and "TOTAL" in out
    assert "fast engine agree on every column and every INT32 output" in out
    # the mapper's choice is printed, with the fixed mapping's figures beside it: the mapper
    # minimizes total cycles (stalls may grow on so small an input, 2 sentences)
    assert "mappings (auto): " in out
    line = next(ln for ln in out.splitlines() if ln.startswith("stall cycles "))
    figures = [int(x.replace(",", "")) for x in re.findall(r"\d[\d,]+", line)]
    stalls, stalls_fixed, total, total_fixed = figures[:4]
    frame = pd.read_csv(tmp_path / "demo.csv")
    assert (stalls, total) == (frame.stall_cycles.sum(), frame.total_cycles.sum())
    assert total <= total_fixed
    png = tmp_path / "qaccel-demo.png"
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    frame = pd.read_csv(tmp_path / "demo.csv")
    # MiniLM: 6 encoder layers x (q, k, v, 2 attention matmuls, out, ffn up, ffn down) + pooler
    assert len(frame) == 6 * 8 + 1
    assert (frame["compute_cycles"] > 0).all()


def test_sim_workload_preset_conv1_by_hand(capsys, tmp_path):
    out = tmp_path / "r18.csv"
    code = main(["sim", "--arch", "systolic-int8-32x32", "--workload", "resnet-18",
                 "--mapping", "fixed", "--out", str(out)])
    assert code == 0
    frame = pd.read_csv(out)
    conv1 = frame.iloc[0]
    # ResNet-18 conv1: 7x7/2 on 3x224x224 -> 64x112x112: M = 112*112 = 12544, K = 3*7*7 = 147,
    # N = 64. ws 32x32: folds = ceil(147/32) * ceil(64/32) = 5 * 2 = 10, each 64 + 32 + 12544
    # - 2 = 12638 cycles -> 126,380 compute cycles.
    assert (conv1.M, conv1.K, conv1.N, conv1.folds, conv1.compute_cycles) == (
        12544, 147, 64, 10, 126_380)


def test_sim_workload_errors_name_the_flags(capsys):
    code = main(["sim", "--arch", "systolic-int8-32x32", "--workload", "llama-2-7b",
                 "--tokens", "0", "--phase", "prefil"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--phase: must be one of 'prefill', 'decode', not 'prefil'" in err
    assert "--tokens: must be an int in 1..4096 (the context of llama-2-7b), not 0" in err
