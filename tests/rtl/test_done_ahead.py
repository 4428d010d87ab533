"""The controller's registered ``tile_done`` (issue 18 item 5: ``go`` off the result writes).

With a core that drives ``o_next`` (``CoreSpec.o_next``, rtl/core.py "Result look-ahead")
the controller decides in cycle T - 1 that a tile's last result is written in cycle T, so
``tile_done`` (and with it ``go``, the next tile's start) comes out of a flip-flop. These
tests read that structure from the exported Verilog and check the core's half of the
contract in simulation; the family case tables (tests/rtl/test_<family>.py, test_preload.py)
check that every tile's ``cycles`` is unchanged.
"""

from __future__ import annotations

import random
import re

import pytest
from amaranth.sim import Simulator

from qaccel.arch.pe.systolic_int8 import SystolicInt8
from qaccel.arch.spec import Dataflow
from qaccel.cli.rtl import rtl_params
from qaccel.rtl.export import create_top, verilog_text
from qaccel.rtl.pe.systolic_int8 import create_core

pytestmark = pytest.mark.rtl


def _top_module(text: str) -> str:
    """The first module of the exported Verilog (the array top; submodules follow)."""
    return text[:text.index("endmodule")]


def _drivers(module: str, name: str) -> list[str]:
    """Every statement of ``module`` that assigns ``name``: ``assign name = ...``, a
    blocking ``name = ...`` (an ``always @*`` process) or ``name <= ...``, each with the
    ``always`` header it sits under (the nearest one above it)."""
    found = []
    for hit in re.finditer(rf"^\s*(assign\s+)?{re.escape(name)}\s*(<=|=)(?!=)", module, re.M):
        header = module.rfind("always", 0, hit.start())
        context = module[header:module.index("\n", header)] if header >= 0 else ""
        found.append(f"{'assign' if hit.group(1) else context.strip()} {hit.group(2)}")
    return found


@pytest.mark.parametrize(("family", "rows", "cols", "preload"), [
    ("systolic_int8", 4, 4, "serial"), ("systolic_int8", 3, 2, "overlapped"),
    ("systolic_int8", 1, 1, "overlapped"), ("ant", 2, 3, "serial"),
    ("olive", 2, 2, "overlapped"), ("fp16", 1, 2, "serial"),
])
def test_tile_done_is_a_register_output(family: str, rows: int, cols: int,
                                        preload: str) -> None:
    """``tile_done`` has one driver, a non-blocking assignment in ``always @(posedge
    clk)``: no combinational logic (the result-write compares) between it and ``go``."""
    params = rtl_params(family, rows, cols, None, {"preload": preload})
    top = create_top(params)
    assert top.spec.o_next
    module = _top_module(verilog_text(top))
    assert _drivers(module, "tile_done") == ["always @(posedge clk) <="], module[:300]
    # go reads `tile_done` and the `more_tiles` register, not the per-column pointers
    assert _drivers(module, "more_tiles") == ["always @(posedge clk) <="]


def test_systolic_core_o_next_is_o_valid_one_cycle_ahead() -> None:
    """SystolicCore's look-ahead: over a random a_valid pattern, ``o_next`` in cycle t
    equals ``o_valid`` in cycle t + 1 for every column (3x4 grid: column n's o_valid is
    a_valid delayed 3 + n cycles, so o_next is a_valid delayed 2 + n)."""
    core = create_core(SystolicInt8(rows=3, cols=4, dataflow=Dataflow.WS))
    rng = random.Random(5)
    pattern = [rng.random() < 0.4 for _ in range(40)]
    nxt, val = [], []

    async def bench(ctx: object) -> None:
        for bit in pattern:
            ctx.set(core.a_valid, int(bit))
            nxt.append(ctx.get(core.o_next))
            val.append(ctx.get(core.o_valid))
            await ctx.tick()

    sim = Simulator(core)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert nxt[:-1] == val[1:]
    # and o_valid is the a_valid pattern delayed R + n cycles (rtl/systolic.py), by hand
    for n in range(4):
        lag = 3 + n
        assert [(v >> n) & 1 for v in val[lag:]] == [int(b) for b in pattern[:-lag]]
    assert any(val), "the pattern produced results"
