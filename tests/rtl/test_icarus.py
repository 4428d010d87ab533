"""Every family's case table on Icarus Verilog: the cocotb bench is simulator-portable.

The same cases as the Verilator suite (each family's ``RTL_CASES``), replayed by the same
bench on Icarus in its default ``-g2012`` mode (the cocotb runner's), bit- and cycle-exact
against ``golden()`` and ``batch_timing()``. Icarus runs a few thousand cycles/s on these
arrays, so each case keeps :data:`ICARUS_TILES` of its tiles, spread evenly over the case
(every source of a case is sampled). One Icarus build per design, under
``build/rtl/icarus/``. Each simulation costs ~8 s of start-up (cocotb's embedded Python
importing qaccel), so the overlapped-preload table (``test_preload``: the same PEs under the
ws-with-shadows schedule) stays on Verilator, to keep this file within ~4 minutes of CI.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from qaccel.arch.pe.registry import PE_FAMILIES
from qaccel.arch.pe.tile import Tile
from qaccel.rtl.verify import verify
from qaccel.rtl.verilator import strip_initial_values
from tests.rtl import (
    test_ant,
    test_bitmod,
    test_fp16,
    test_mixpe,
    test_olive,
    test_systolic_int8,
)
from tests.rtl.support import assert_report_matches

pytestmark = pytest.mark.rtl

#: tiles per case on Icarus (spread over the case's tile list); see the module docstring
ICARUS_TILES = 6

#: each family's case-table module (its ``RTL_CASES``, ``case_tiles`` and ``run_level``)
FAMILY_TABLES = {"ant": test_ant, "bitmod": test_bitmod, "fp16": test_fp16,
                 "mixpe": test_mixpe, "olive": test_olive,
                 "systolic_int8": test_systolic_int8}


@dataclass(frozen=True)
class IcarusCase:
    """One case of a Verilator table, with how to get its tiles and run a level."""

    name: str
    case: Any
    tiles: Callable[[], Sequence[Tile]]
    run: Callable[..., Any]


def spread(tiles: Sequence[Tile], count: int) -> list[Tile]:
    """``count`` tiles evenly spaced over ``tiles`` (all of them when there are fewer)."""
    n = len(tiles)
    return list(tiles) if n <= count else [tiles[i * n // count] for i in range(count)]


def _cases() -> list[IcarusCase]:
    out = []
    for family, module in FAMILY_TABLES.items():
        for case in module.RTL_CASES:
            out.append(IcarusCase(f"{family}-{case.name}", case,
                                  lambda m=module, c=case: m.case_tiles(c),
                                  lambda *a, m=module, **kw: m.run_level(*a, **kw)))
    return out


ICARUS_CASES = _cases()


@pytest.mark.parametrize("icase", ICARUS_CASES, ids=lambda c: c.name)
def test_case_table_on_icarus(icase: IcarusCase) -> None:
    case = icase.case
    tiles = spread(icase.tiles(), ICARUS_TILES)
    report = icase.run("icarus", case, tiles, gap=case.gap, stall=case.stall, seed=3)
    assert "icarus" in report.simulator.lower(), report.simulator
    assert_report_matches(report, case.params, tiles)


#: X power-up: the first (smallest) case of each family's table
X_CASES = [c for family in FAMILY_TABLES for c in ICARUS_CASES
           if c.name == f"{family}-{FAMILY_TABLES[family].RTL_CASES[0].name}"]


@pytest.mark.parametrize("icase", X_CASES, ids=lambda c: c.name)
def test_case_table_with_x_power_up_on_icarus(icase: IcarusCase) -> None:
    """Every initial value stripped from the Verilog (registers and memories power up X, as
    silicon does): after the bench's reset the outputs must be as exact as before, so every
    register that reaches an output is reset or overwritten before it is read."""
    case = icase.case
    tiles = spread(icase.tiles(), ICARUS_TILES)
    report = icase.run("icarus", case, tiles, gap=case.gap, stall=case.stall, seed=3,
                       x_power_up=True)
    assert_report_matches(report, case.params, tiles)


def test_strip_initial_values_keeps_the_time_0_trigger() -> None:
    verilog = ("module t(input clk);\n"
               "  reg \\$auto$verilog_backend.cc:2355:dump_module$1  = 0;\n"
               "  reg [7:0] \\$signal$20  = 8'h00;\n"
               "  reg done = 1'h0;\n"
               "  reg [1:0] mem [3:0];\n"
               "  initial begin\n"
               "    mem[0] = 2'h0;\n"
               "    mem[1] = 2'h0;\n"
               "  end\n"
               "  always @(posedge clk) done <= 1'h1;\n"
               "endmodule\n")
    assert strip_initial_values(verilog) == (
        "module t(input clk);\n"
        "  reg \\$auto$verilog_backend.cc:2355:dump_module$1  = 0;\n"
        "  reg [7:0] \\$signal$20 ;\n"
        "  reg done ;\n"
        "  reg [1:0] mem [3:0];\n"
        "  always @(posedge clk) done <= 1'h1;\n"
        "endmodule\n")


def test_x_power_up_needs_icarus() -> None:
    from qaccel.arch.pe.systolic_int8 import SystolicInt8
    from qaccel.arch.spec import Dataflow

    with pytest.raises(ValueError, match=r"^Cannot power up with X on verilator because only "
                                         r"Icarus simulates X \(Verilator is two-state\)$"):
        verify(SystolicInt8(rows=2, cols=2, dataflow=Dataflow.WS), [], x_power_up=True)


def test_every_family_with_rtl_runs_on_icarus() -> None:
    with_rtl = {f for f, cls in PE_FAMILIES.items() if "rtl" not in cls.absent_levels}
    assert set(FAMILY_TABLES) == with_rtl
    assert len(X_CASES) == len(FAMILY_TABLES)


def test_spread_samples_the_whole_case() -> None:
    tiles: list[Any] = list(range(20))
    assert spread(tiles, 4) == [0, 5, 10, 15]
    assert spread(tiles[:3], 4) == [0, 1, 2]
