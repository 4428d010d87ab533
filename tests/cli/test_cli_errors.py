"""Bad input through the command line: one clear message, no traceback, exit status 2."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from qaccel.arch import preset_names
from qaccel.cli import main


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


CASES = [
    # (argv, the whole error line after "qaccel <cmd>: error: ")
    (["sim", "--arch", "nope", "--gemm", "8x8x8"],
     r"--arch: must be a preset name \(" + re.escape(", ".join(preset_names()))
     + r"\) or a YAML file, not 'nope'"),
    (["sim", "--arch", "systolic-int8-8x8", "--gemm", "8x8.5x8"],
     r"--gemm: must be MxKxN with positive integers up to 10000000 \(e\.g\. 512x512x512\), "
     r"not '8x8\.5x8'"),
    (["sim", "--arch", "systolic-int8-8x8", "--gemm", "0x8x8"],
     r"--gemm: must be MxKxN .*not '0x8x8'"),
    (["sim", "--arch", "systolic-int8-8x8", "--gemm", "8x8x8", "--dataflow", "xs"],
     r"--dataflow: must be one of 'ws', 'os', 'is', not 'xs'"),
    (["sim", "--arch", "systolic-int8-8x8", "--gemm", "8x8x8", "--engine", "turbo"],
     r"engine: must be one of fast, reference, not 'turbo'"),
    (["sim", "--arch", "systolic-int8-8x8", "--gemm", "8x8x8", "--out", "table.xlsx"],
     r"--out: must end in one of \.csv, \.parquet, \.json, not 'table\.xlsx'"),
    (["sim", "--arch", "does/not/exist.yaml", "--gemm", "8x8x8"],
     r"--arch: must be an existing YAML file, not 'does/not/exist\.yaml'"),
]
IDS = ["unknown-preset", "non-integer-shape", "zero-shape", "unknown-dataflow",
       "unknown-engine", "bad-out-suffix", "missing-yaml"]


@pytest.mark.parametrize("argv,message", CASES, ids=IDS)
def test_one_clear_error(capsys, argv, message):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"qaccel {argv[0]}: error: ")
    assert re.fullmatch(message, lines[0].split(": error: ", 1)[1]), lines[0]


def test_malformed_yaml_through_cli(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: x\npe_array: {rows: 4\n")
    code, _, err = run_cli(capsys, "sim", "--arch", str(bad), "--gemm", "8x8x8")
    assert code == 2
    assert f"in {bad}: line 4: is not valid YAML" in err
    assert "Traceback" not in err


def test_every_yaml_problem_listed(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: x\nclock_mhz: fast\npe_array: {family: systolic_int8, "
                   "rows: 0, cols: 4, dataflow: ws}\nbuffers: {}\ndram: {bits_per_cycle: 8, "
                   "pj_per_bit: 4}\ntech: {node_nm: 28}\n")
    code, _, err = run_cli(capsys, "sim", "--arch", str(bad), "--gemm", "8x8x8")
    assert code == 2
    assert "5 problems" in err
    for piece in ("clock_mhz (line 3): must be a number in 1..10000 (unit: MHz), not 'fast'",
                  "pe_array.rows (line 4): must be an int in 1..4096, not 0",
                  "buffers.weight (line 5): is missing", "buffers.input (line 5): is missing",
                  "buffers.output (line 5): is missing"):
        assert piece in err


def test_no_traceback_in_a_real_process():
    proc = subprocess.run([sys.executable, "-m", "qaccel", "sim", "--arch", "systolic-int8-8x8",
                           "--gemm", "axbxc"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("qaccel sim: error: --gemm: must be MxKxN")


def test_sim_gemm_prints_table_and_writes_out(capsys, tmp_path):
    out = tmp_path / "r.csv"
    code, stdout, _ = run_cli(capsys, "sim", "--arch", "systolic-int8-32x32", "--gemm",
                              "64x64x64", "--out", str(out))
    assert code == 0
    # 2x2 folds of 2*32 + 32 + 64 - 2 = 158 cycles (ws) = 632 compute cycles
    assert "632" in stdout and "TOTAL" in stdout
    import pandas as pd

    df = pd.read_csv(out)
    assert df.loc[0, "compute_cycles"] == 632


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json"])
def test_out_formats(capsys, tmp_path, suffix):
    import pandas as pd

    out = tmp_path / f"r{suffix}"
    code, _, _ = run_cli(capsys, "sim", "--arch", "systolic-int8-8x8", "--gemm", "16x16x16",
                         "--dataflow", "is", "--out", str(out))
    assert code == 0
    reader = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".json": pd.read_json}[suffix]
    df = reader(out)
    # is 8x8: rows <- K (2 blocks), cols <- M (2 blocks): 4 folds of 16+8+16-2 = 38 -> 152
    assert int(df.loc[0, "compute_cycles"]) == 152 and df.loc[0, "dataflow"] == "is"
