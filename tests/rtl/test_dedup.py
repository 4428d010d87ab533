"""Merging modules identical up to their names (qaccel.rtl.dedup) before hierarchical
synthesis: hand-written cases, and yosys' equivalence checker on a real core."""

from __future__ import annotations

from pathlib import Path

import pytest

from qaccel.rtl.dedup import dedup_verilog
from qaccel.rtl.synth import SynthError, _yosys

pytestmark = pytest.mark.rtl

#: a top with three leaves: a0 and a1 differ only in their escaped names (ports, wires,
#: yosys' init register), b adds 2 instead of 1. Written the way yosys' write_verilog does.
HAND = r"""/* hand-written */

(* top =  1  *)
module top(x, y, z, w);
  input [3:0] x;
  output [3:0] y;
  output [3:0] z;
  output [3:0] w;
  \top.a0  a0 (
    .\port$5$0 (x),
    .q(y)
  );
  \top.a1  a1 (
    .\port$9$0 (y),
    .q(z)
  );
  \top.b  b (
    .\port$5$0 (x),
    .q(w)
  );
endmodule

module \top.a0 (\port$5$0 , q);
  reg \$auto$verilog_backend.cc:2355:dump_module$1  = 0;
  input [3:0] \port$5$0 ;
  output [3:0] q;
  wire [3:0] \$7 ;
  assign \$7  = \port$5$0  + 4'h1;
  assign q = \$7 ;
endmodule

module \top.a1 (\port$9$0 , q);
  reg \$auto$verilog_backend.cc:2355:dump_module$2  = 0;
  input [3:0] \port$9$0 ;
  output [3:0] q;
  wire [3:0] \$11 ;
  assign \$11  = \port$9$0  + 4'h1;
  assign q = \$11 ;
endmodule

module \top.b (\port$5$0 , q);
  reg \$auto$verilog_backend.cc:2355:dump_module$3  = 0;
  input [3:0] \port$5$0 ;
  output [3:0] q;
  wire [3:0] \$7 ;
  assign \$7  = \port$5$0  + 4'h2;
  assign q = \$7 ;
endmodule
"""


def test_modules_identical_up_to_names_are_merged() -> None:
    merged = dedup_verilog(HAND)
    assert merged.top == "top"
    assert merged.modules == 4
    assert merged.classes == 3       # top, a (a0 = a1), b
    assert merged.members == {"\\top.a0": ["\\top.a0", "\\top.a1"], "\\top.b": ["\\top.b"],
                              "top": ["top"]}
    # a1's instance now names a0's module and a0's port name for its input
    assert "\\top.a1" not in merged.text
    assert merged.text.count("\\top.a0 a") == 2
    assert merged.text.count(".\\n0 (x)") == 2 and ".\\n0 (y)" in merged.text


def test_a_parent_is_merged_when_its_children_are() -> None:
    """Two wrappers around the two identical leaves become one class as well."""
    wrap = HAND.replace(
        "endmodule\n\nmodule \\top.a0",
        "  \\top.w0  w0 (\n    .\\port$5$0 (x)\n  );\n  \\top.w1  w1 (\n"
        "    .\\port$9$0 (x)\n  );\nendmodule\n\n"
        "module \\top.w0 (\\port$5$0 );\n  input [3:0] \\port$5$0 ;\n  \\top.a0  l (\n"
        "    .\\port$5$0 (\\port$5$0 ),\n    .q()\n  );\nendmodule\n\n"
        "module \\top.w1 (\\port$9$0 );\n  input [3:0] \\port$9$0 ;\n  \\top.a1  l (\n"
        "    .\\port$9$0 (\\port$9$0 ),\n    .q()\n  );\nendmodule\n\nmodule \\top.a0", 1)
    merged = dedup_verilog(wrap)
    assert (merged.modules, merged.classes) == (6, 4)   # top, w, a, b
    assert merged.members["\\top.w0"] == ["\\top.w0", "\\top.w1"]


def _equivalent(gold: str, gate: str, folder: Path) -> bool:
    """yosys' equivalence checker (equiv_make / equiv_simple / equiv_induct) on the two
    flattened designs, top module ``core``."""
    (folder / "gold.v").write_text(gold)
    (folder / "gate.v").write_text(gate)
    steps = []
    for name in ("gold", "gate"):
        steps += [f"read_verilog {name}.v", "hierarchy -top core", "proc", "memory",
                  "flatten", f"rename core {name}", f"design -stash {name}"]
    steps += ["design -copy-from gold -as gold gold", "design -copy-from gate -as gate gate",
              "equiv_make gold gate equiv", "hierarchy -top equiv", "async2sync",
              "equiv_struct", "equiv_simple -seq 2", "equiv_induct -seq 2",
              "equiv_status -assert"]
    try:
        _yosys("\n".join(steps) + "\n", folder)
    except SynthError:
        return False
    return True


def test_merged_core_is_equivalent_to_the_original(tmp_path: Path) -> None:
    """A 2x3 ANT core (12 modules: the core, 5 decoders, 6 PEs; 7 distinct: one decoder for
    both edges, PE(0,0) and PE(0,1) alike since the core registers the decoded streamed row
    -- ``CoreSpec.a_early``; before, PE(0,0)'s input came from the decoder and made an 8th)
    proves equivalent to Amaranth's Verilog; the same check fails when one adder of the
    merged design becomes a subtractor."""
    from amaranth.back import verilog

    from qaccel.arch.pe.registry import level_module
    from qaccel.rtl.calibrate import _params

    core = level_module("ant", "rtl").create_core(_params("ant", 2, 3))
    original = verilog.convert(core, name="core", emit_src=False)
    merged = dedup_verilog(original)
    assert (merged.modules, merged.classes) == (12, 7)
    assert _equivalent(original, merged.text, tmp_path)
    at = merged.text.index(" + ")
    broken = merged.text[:at] + " - " + merged.text[at + 3:]
    assert not _equivalent(original, broken, tmp_path)
