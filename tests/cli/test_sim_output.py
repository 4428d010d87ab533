"""What ``qaccel sim`` prints and writes: energy in mJ per layer and in the totals line, and
with ``--values`` each layer's output checksum and statistics, checked against an int64
matmul of the same operands (an independent computation)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from qaccel.arch import load_accelerator
from qaccel.cli import main
from qaccel.sim.gemm import parse_gemm

ARCH = "systolic-int8-32x32"


def _run(argv, capsys):
    assert main(argv) == 0
    return capsys.readouterr().out


def test_energy_column_and_total_in_mj(capsys):
    out = _run(["sim", "--arch", ARCH, "--gemm", "512x512x512"], capsys)
    lines = out.splitlines()
    header = lines[1].split()
    assert header[-1] == "energy_mj"
    from qaccel import sim

    tot = sim.run([parse_gemm("512x512x512")], load_accelerator(ARCH)).totals()
    mj = tot["energy_pj_total"] / 1e9
    total_row = next(line for line in lines if line.lstrip().startswith("TOTAL"))
    assert float(total_row.split()[-1]) == pytest.approx(mj, rel=5e-3)  # 3 digits shown
    assert f"energy {mj:.3g} mJ" in out or f"energy {mj:,.3f} mJ" in out


def test_values_print_checksum_and_statistics(tmp_path, capsys):
    layer = parse_gemm("48x300x20")
    a, b = layer.operands()  # the seeded int8 operands the simulator uses
    expected = (a.astype(np.int64) @ b.astype(np.int64)).astype("<i4")  # |sum| < 2^31
    digest = hashlib.sha256(expected.tobytes()).hexdigest()[:16]
    out = _run(["sim", "--arch", ARCH, "--gemm", "48x300x20", "--values", "--out-values",
                str(tmp_path / "vals")], capsys)
    row = next(line for line in out.splitlines() if line.startswith("gemm_48x300x20 1x48x20"))
    _, shape, dtype, sha, lo, hi, mean, std = row.split()
    assert (shape, dtype, sha) == ("1x48x20", "int32", digest)
    assert int(lo.replace(",", "")) == expected.min()
    assert int(hi.replace(",", "")) == expected.max()
    assert float(mean.replace(",", "")) == pytest.approx(expected.mean(), rel=1e-5)
    assert float(std.replace(",", "")) == pytest.approx(expected.std(), rel=1e-5)
    import safetensors.numpy

    saved = safetensors.numpy.load_file(tmp_path / "vals" / "outputs.safetensors")
    assert list(saved) == ["gemm_48x300x20"]
    np.testing.assert_array_equal(saved["gemm_48x300x20"], expected)


def test_out_values_refuses_no_values_and_files(tmp_path, capsys):
    assert main(["sim", "--arch", ARCH, "--gemm", "8x8x8", "--no-values", "--out-values",
                 str(tmp_path / "v")]) == 2
    assert "--out-values: needs the outputs" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["sim", "--arch", ARCH, "--gemm", "8x8x8", "--out-values",
                 str(tmp_path / "file")]) == 2
    assert capsys.readouterr().err == (f"qaccel sim: error: --out-values: must be a folder, "
                                       f"not the file {str(tmp_path / 'file')!r}\n")
