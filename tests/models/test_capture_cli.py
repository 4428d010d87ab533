"""``qaccel capture`` end to end: trace folder, printed table, --out, errors (exit 2)."""

from __future__ import annotations

import pandas as pd
import pytest

from qaccel.cli import main
from qaccel.models import Trace


def test_mlp_demo(tmp_path, capsys):
    out_dir, table = tmp_path / "trace", tmp_path / "layers.csv"
    assert main(["capture", "--model", "mlp-demo", "--out-dir", str(out_dir),
                 "--out", str(table)]) == 0
    printed = capsys.readouterr().out
    trace = Trace.load(out_dir)
    assert [ly.name for ly in trace] == ["0", "2", "4"]
    frame = pd.read_csv(table)
    assert frame["name"].astype(str).tolist() == ["0", "2", "4"]
    # MLP 64 -> 128 -> 128 -> 10 on a batch of 4: MACs 4*64*128, 4*128*128, 4*128*10
    assert frame["macs"].tolist() == [32768, 65536, 5120]
    assert "3 layers, 103,424 MACs" in printed and "65,536" in printed


def test_minilm_two_sentences(tmp_path, capsys):
    out_dir = tmp_path / "minilm"
    assert main(["capture", "--model", "minilm", "--sentences", "2",
                 "--out-dir", str(out_dir)]) == 0
    trace = Trace.load(out_dir)
    assert len(trace) == 49 and trace.meta["name"] == "minilm"
    assert trace.meta["inputs"]["input_ids"][0] == 2
    assert "encoder.layer.5.output.dense" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["--model", "minilm", "--sentences", "9"], "--sentences: must be an int in 1..8, not 9"),
    (["--model", "mlp-demo", "--sentences", "2"],
     "--sentences: must be left out for --model mlp-demo, not 2"),
    (["--model", "mlp-demo", "--out", "x.txt"],
     "--out: must end in one of .csv, .parquet, .json, not 'x.txt'"),
])
def test_bad_input_exits_2(tmp_path, capsys, argv, message):
    assert main(["capture", *argv, "--out-dir", str(tmp_path / "t")]) == 2
    assert capsys.readouterr().err == f"qaccel capture: error: {message}\n"


def test_out_dir_that_is_a_file(tmp_path, capsys):
    path = tmp_path / "file"
    path.write_text("")
    assert main(["capture", "--model", "mlp-demo", "--out-dir", str(path)]) == 2
    assert capsys.readouterr().err == (f"qaccel capture: error: --out-dir: must be a folder, "
                                       f"not the file {str(path)!r}\n")
