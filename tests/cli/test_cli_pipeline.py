"""End to end through the command line: capture -> trace folder -> sim, and the demo."""

from __future__ import annotations

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
    png = tmp_path / "qaccel-demo.png"
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    frame = pd.read_csv(tmp_path / "demo.csv")
    # MiniLM: 6 encoder layers x (q, k, v, 2 attention matmuls, out, ffn up, ffn down) + pooler
    assert len(frame) == 6 * 8 + 1
    assert (frame["compute_cycles"] > 0).all()
