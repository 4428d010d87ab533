"""Bad input and interrupted output, as a user meets them (issue 17 "Crashes and silent
damage"): each case exits 2 with one message, or quietly, and leaves no half-written file."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from qaccel import ConfigError, sim
from qaccel.arch import load_accelerator
from qaccel.cli import BROKEN_PIPE_STATUS, main
from qaccel.models import demo
from qaccel.models.capture import capture
from qaccel.sim.gemm import parse_gemm
from qaccel.tables import write_table
from tests.conftest import accel_dict

ARCH = "systolic-int8-32x32"


@pytest.fixture(scope="module")
def trace_dir(tmp_path_factory):
    """A small captured trace folder (the seeded MLP demo)."""
    folder = tmp_path_factory.mktemp("trace") / "mlp"
    module, inputs = demo.mlp_demo(seed=0)
    capture(module, inputs, seed=0, name="mlp").save(folder)
    return folder


def cli(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_truncated_tensors_exit_2_in_sim(trace_dir, tmp_path, capsys):
    bad = tmp_path / "cut"
    bad.mkdir()
    (bad / "manifest.json").write_bytes((trace_dir / "manifest.json").read_bytes())
    data = (trace_dir / "tensors.safetensors").read_bytes()
    (bad / "tensors.safetensors").write_bytes(data[:len(data) // 2])
    code, out, err = cli(["sim", "--arch", ARCH, "--trace", str(bad)], capsys)
    assert code == 2
    assert err.startswith(f"qaccel sim: error: --trace: tensors.safetensors in {str(bad)!r} "
                          f"must be a whole safetensors file, not unreadable (")
    assert "Traceback" not in err and out == ""


def test_wrong_dtype_and_shape_in_tensors_named(trace_dir, tmp_path, capsys):
    import safetensors.numpy

    bad = tmp_path / "wrong"
    bad.mkdir()
    (bad / "manifest.json").write_bytes((trace_dir / "manifest.json").read_bytes())
    tensors = safetensors.numpy.load_file(trace_dir / "tensors.safetensors")
    tensors["0.act.codes"] = tensors["0.act.codes"].astype(np.float32)      # dtype
    tensors["1.weight.codes"] = tensors["1.weight.codes"][:1].copy()         # shape
    safetensors.numpy.save_file(tensors, bad / "tensors.safetensors")
    code, _, err = cli(["sim", "--arch", ARCH, "--trace", str(bad)], capsys)
    assert code == 2 and "Traceback" not in err
    assert "2 problems" in err
    assert "0.act.codes: must be a valid encoded tensor" in err and "float32" in err
    assert "1.weight.codes: must hold" in err


def test_closed_stdout_ends_quietly():
    """``qaccel sim ... | head -2``: the reader is gone before the table is printed."""
    proc = subprocess.Popen([sys.executable, "-m", "qaccel", "sim", "--arch", ARCH, "--gemm",
                             "64x64x64"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # as `head` exits
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == BROKEN_PIPE_STATUS
    assert err == ""


@pytest.mark.parametrize("command", [
    ["capture", "--model", "mlp-demo"],
    ["workloads", "show", "opt-1.3b", "--blocks", "1", "--tokens", "4"],
], ids=["capture", "workloads-show"])
def test_out_dir_with_files_needs_force(command, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("QACCEL_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "trace"
    out.mkdir()
    (out / "manifest.json").write_text("mine")
    code, _, err = cli([*command, "--out-dir", str(out)], capsys)
    assert code == 2
    assert err == (f"qaccel {command[0]}: error: --out-dir: must be a new or empty folder, "
                   f"not {str(out)!r}, which holds files (add --force to replace them)\n")
    assert (out / "manifest.json").read_text() == "mine"
    code, _, _ = cli([*command, "--out-dir", str(out), "--force"], capsys)
    assert code == 0
    assert (out / "manifest.json").read_text().startswith("{")


def test_numpy_integer_scalars_accepted():
    data = accel_dict(rows=4, cols=4)
    data["pe_array"].update(rows=np.int64(16), cols=np.int32(8))
    data["clock_mhz"] = np.float32(500.0)
    data["tech"]["node_nm"] = np.int64(28)
    accel = load_accelerator(data)
    assert (accel.pe_array.rows, accel.pe_array.cols, accel.clock_mhz) == (16, 8, 500.0)
    assert type(accel.pe_array.rows) is int
    with pytest.raises(ConfigError, match=r"pe_array.rows: must be an int in 1..4096, "
                                          r"not True$"):
        load_accelerator(accel_dict(rows=True))


@pytest.mark.parametrize("values", ["yes", 1, "False"])
def test_values_must_be_a_bool(values):
    accel = load_accelerator(accel_dict(rows=4, cols=4))
    with pytest.raises(ConfigError, match=rf"^values: must be True, False or None, not "
                                          rf"{values!r}$"):
        sim.run([parse_gemm("8x8x8")], accel, values=values)


def test_tech_node_refused_at_load_with_its_line(tmp_path):
    path = tmp_path / "n7.yaml"
    path.write_text(textwrap.dedent("""\
        version: 1
        name: n7
        clock_mhz: 1000
        pe_array: {family: systolic_int8, rows: 8, cols: 8, dataflow: ws}
        buffers:
          weight: {size_kib: 64, word_bits: 256, banks: 4}
          input:  {size_kib: 64, word_bits: 256, banks: 4}
          output: {size_kib: 64, word_bits: 1024, banks: 4}
        dram: {bits_per_cycle: 128, pj_per_bit: 8.0}
        tech: {node_nm: 7}
        """))
    with pytest.raises(ConfigError) as info:
        load_accelerator(path)
    assert str(info.value) == (f"in {path}: tech.node_nm (line 10): must be one of 28, 45 "
                               f"for the energy/area model (no scaling anchor for other "
                               f"nodes), not 7")


def test_interrupted_out_write_leaves_the_old_file(tmp_path, monkeypatch):
    """A write cut short (Ctrl-C half way) keeps the previous --out file whole and leaves no
    temporary beside it."""
    out = tmp_path / "table.csv"
    out.write_text("old,table\n1,2\n")

    def half_then_interrupt(self, path, *args, **kwargs):
        with open(path, "w") as f:
            f.write("layer,cyc")
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_table(pd.DataFrame({"a": [1]}), out)
    assert out.read_text() == "old,table\n1,2\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_interrupted_trace_save_leaves_no_manifest(tmp_path, monkeypatch):
    """A trace folder is whole or has no manifest: the tensors are renamed into place
    first, the manifest last."""
    import safetensors.numpy

    module, inputs = demo.mlp_demo(seed=0)
    trace = capture(module, inputs, seed=0, name="mlp")

    def cut(tensors, path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"\x08\x00")
        raise KeyboardInterrupt

    monkeypatch.setattr(safetensors.numpy, "save_file", cut)
    with pytest.raises(KeyboardInterrupt):
        trace.save(tmp_path / "t")
    assert list((tmp_path / "t").iterdir()) == []


def test_arch_cross_field_rules_reported_beside_field_problems():
    """Stage two (a buffer must hold two weight tiles, byte-wide words) runs beside a bad
    field elsewhere, so one load reports all three."""
    data = accel_dict(rows=64, cols=64, kib=1.0)
    data["dram"]["bits_per_cycle"] = 0
    data["buffers"]["input"]["word_bits"] = 12
    with pytest.raises(ConfigError) as info:
        load_accelerator(data)
    assert str(info.value).splitlines() == [
        "in <dict>: 3 problems:",
        "  - dram.bits_per_cycle: must be an int in 1..65536, not 0",
        "  - buffers.input.word_bits: must be a multiple of 8 (byte-addressable), not 12",
        "  - buffers.weight.size_kib: must hold two 64x64 weight tiles (8 KiB, "
        "double-buffered), not 1"]
