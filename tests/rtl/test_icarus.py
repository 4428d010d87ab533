"""Every family's case table on Icarus Verilog: the cocotb bench is simulator-portable.

The same cases as the Verilator suite (each family's ``RTL_CASES``), replayed by the same
bench on Icarus in its default ``-g2012`` mode (the cocotb runner's), bit- and cycle-exact
against ``golden()`` and ``batch_timing()``. Icarus runs a few thousand cycles/s on these
arrays, so each case keeps :data:`ICARUS_TILES` of its tiles, spread evenly over the case
(every source of a case is sampled). Each simulation costs ~8 s of start-up (cocotb's
embedded Python importing qaccel), so the cases of a table that share a design run in one
simulation (:class:`IcarusRun`), and each family's first design runs with X power-up (every
initial value stripped) instead of a separate run: 22 simulations and 22 Icarus builds
(under ``build/rtl/icarus/``). The overlapped-preload table (``test_preload``: the same PEs
under the ws-with-shadows schedule) stays on Verilator, to keep this file within ~4 minutes
of CI.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
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
class IcarusRun:
    """One Icarus simulation: the cases of one family's table that share a design (same
    parameters), :data:`ICARUS_TILES` tiles of each, LOAD gaps / DRAIN back-pressure as the
    most demanding of them. ``x_power_up``: with every initial value stripped (the family's
    first design: X power-up, see :func:`qaccel.rtl.verilator.strip_initial_values`)."""

    name: str
    module: Any
    cases: tuple[Any, ...]
    x_power_up: bool

    @property
    def params(self) -> Any:
        return self.cases[0].params

    def tiles(self) -> list[Tile]:
        return [t for c in self.cases for t in spread(self.module.case_tiles(c), ICARUS_TILES)]


def spread(tiles: Sequence[Tile], count: int) -> list[Tile]:
    """``count`` tiles evenly spaced over ``tiles`` (all of them when there are fewer)."""
    n = len(tiles)
    return list(tiles) if n <= count else [tiles[i * n // count] for i in range(count)]


def _runs() -> list[IcarusRun]:
    out = []
    for family, module in FAMILY_TABLES.items():
        groups: dict[str, list[Any]] = {}
        for case in module.RTL_CASES:
            groups.setdefault(repr(case.params), []).append(case)
        for i, cases in enumerate(groups.values()):
            name = f"{family}-" + "+".join(c.name for c in cases) + ("-x" if i == 0 else "")
            out.append(IcarusRun(name, module, tuple(cases), x_power_up=i == 0))
    return out


ICARUS_RUNS = _runs()


@pytest.mark.parametrize("run", ICARUS_RUNS, ids=lambda r: r.name)
def test_case_table_on_icarus(run: IcarusRun) -> None:
    """Bit- and cycle-exact on Icarus; with X power-up (``-x``), after the bench's reset the
    outputs must be as exact as before, so every register that reaches the result is reset
    or overwritten before it is read (X elsewhere, e.g. in o_data lanes outside the result,
    is a don't-care the scoreboard tolerates)."""
    tiles = run.tiles()
    report = run.module.run_level("icarus", run.cases[0], tiles,
                                  gap=max(c.gap for c in run.cases),
                                  stall=max(c.stall for c in run.cases), seed=3,
                                  x_power_up=run.x_power_up)
    assert "icarus" in report.simulator.lower(), report.simulator
    assert_report_matches(report, run.params, tiles)


def test_strip_initial_values_keeps_roms_and_the_time_0_trigger() -> None:
    verilog = ("module t(input clk);\n"
               "  reg \\$auto$verilog_backend.cc:2355:dump_module$1  = 0;\n"
               "  reg [7:0] \\$signal$20  = 8'h00;\n"
               "  reg done = 1'h0;\n"
               "  reg [1:0] mem [3:0];\n"
               "  initial begin\n"
               "    mem[0] = 2'h0;\n"
               "    mem[1] = 2'h0;\n"
               "  end\n"
               "  reg [1:0] rom [1:0];\n"
               "  initial begin\n"
               "    rom[0] = 2'h1;\n"
               "    rom[1] = 2'h2;\n"
               "  end\n"
               "  always @(posedge clk) done <= 1'h1;\n"
               "  always @(posedge clk) mem[0] <= rom[1];\n"
               "endmodule\n")
    assert strip_initial_values(verilog) == (
        "module t(input clk);\n"
        "  reg \\$auto$verilog_backend.cc:2355:dump_module$1  = 0;\n"
        "  reg [7:0] \\$signal$20 ;\n"
        "  reg done ;\n"
        "  reg [1:0] mem [3:0];\n"
        "  reg [1:0] rom [1:0];\n"
        "  initial begin\n"
        "    rom[0] = 2'h1;\n"
        "    rom[1] = 2'h2;\n"
        "  end\n"
        "  always @(posedge clk) done <= 1'h1;\n"
        "  always @(posedge clk) mem[0] <= rom[1];\n"
        "endmodule\n")


def test_x_power_up_needs_icarus() -> None:
    from qaccel.arch.pe.systolic_int8 import SystolicInt8
    from qaccel.arch.spec import Dataflow

    with pytest.raises(ValueError, match=r"^Cannot power up with X on verilator because only "
                                         r"Icarus simulates X \(Verilator is two-state\)$"):
        verify(SystolicInt8(rows=2, cols=2, dataflow=Dataflow.WS), [], x_power_up=True)


@pytest.mark.parametrize("family", sorted(FAMILY_TABLES))
def test_every_memory_is_written(family: str) -> None:
    """No dead memory: every memory of the emitted Verilog is written or is a ROM (a table
    with non-zero contents). os tops once kept the ws schedule's ``kmem``, read but never
    written (all zeros before X power-up, X after)."""
    from qaccel.rtl.export import create_top, verilog_text

    verilog = verilog_text(create_top(FAMILY_TABLES[family].RTL_CASES[0].params))
    memories = re.findall(r"^\s*reg\s+(?:\[[^\]]*\]\s*)?(\S+)\s*\[[^\]]*\];", verilog, re.M)
    assert memories
    dead = []
    for name in set(memories):
        written = re.search(rf"(?<![\w$]){re.escape(name)}\[[^\n]*\]\s*<=", verilog)
        init = re.findall(rf"^\s*{re.escape(name)}\[\d+\] = \d+'[hdb]([0-9a-fA-F]+);",
                          verilog, re.M)
        if not written and not any(int(v, 16) for v in init):
            dead.append(name)
    assert dead == []


def test_every_family_with_rtl_runs_on_icarus() -> None:
    with_rtl = {f for f, cls in PE_FAMILIES.items() if "rtl" not in cls.absent_levels}
    assert set(FAMILY_TABLES) == with_rtl
    assert sum(r.x_power_up for r in ICARUS_RUNS) == len(FAMILY_TABLES)
    # every case of every table is in one run
    assert sum(len(r.cases) for r in ICARUS_RUNS) == sum(len(m.RTL_CASES)
                                                          for m in FAMILY_TABLES.values())


def test_spread_samples_the_whole_case() -> None:
    tiles: list[Any] = list(range(20))
    assert spread(tiles, 4) == [0, 5, 10, 15]
    assert spread(tiles[:3], 4) == [0, 1, 2]
