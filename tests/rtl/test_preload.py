"""Overlapped stationary preload (shadow registers) on every family of the systolic core.

With ``preload: overlapped`` the ws/is grid shifts tile i+1's stationary rows into shadow
registers while tile i streams (rtl/core.py gives the schedule), so every tile after a
batch's first costs ``R + C + S - 2`` cycles. The expected cycles come from the arch model,
``params.batch_timing(batch)`` (via the tb model and ``support.assert_report_matches``), the
values from ``golden()``. One table over the four families, run at every level; the timing
mutations (controller faults) are written once and parametrized over the families.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from amaranth.hdl import Fragment

from qaccel.arch.pe.ant import AntArray
from qaccel.arch.pe.fp16 import Fp16
from qaccel.arch.pe.olive import OliVeArray
from qaccel.arch.pe.systolic_int8 import SystolicInt8
from qaccel.arch.pe.tile import Tile
from qaccel.arch.spec import Dataflow, PEArray
from qaccel.rtl.controller import ControllerFault
from qaccel.rtl.export import create_top, verilog_text
from qaccel.rtl.tb.stimulus import gemm_tiles, random_tiles
from tests.rtl import support
from tests.rtl.support import assert_report_matches, expected_cycles

pytestmark = pytest.mark.rtl

#: family -> parameters of an overlapped-preload array (4-bit modes for olive and ant)
FAMILIES: dict[str, Callable[..., PEArray]] = {
    "systolic_int8": lambda **kw: SystolicInt8(**kw),
    "fp16": lambda **kw: Fp16(**kw),
    "olive": lambda **kw: OliVeArray(bits=4, **kw),
    "ant": lambda **kw: AntArray(bits=4, **kw),
}
#: array sizes run on Verilator, one build per (family, size): square, and non-square with
#: R > C (olive needs even rows); real layers give partial tiles (K < R, N < C) at both
SIZES = ((4, 4), (6, 3))
#: longest streamed extent of a real-layer tile (16 tiles of a batch fill the 256-row buffer)
MAX_STREAMED = 16
#: tiles of each real-layer run also replayed on Amaranth's simulator (several batches)
AMARANTH_TILES = 10
AMARANTH_MAX_TILES = 4


def overlapped(family: str, rows: int, cols: int, dataflow: str = "ws") -> PEArray:
    return FAMILIES[family](rows=rows, cols=cols, dataflow=Dataflow(dataflow),
                            preload="overlapped")


def block_tiles(params: PEArray) -> list[Tile]:
    """Fold tiles of every GEMM of a seeded torch block captured with qaccel.models (two
    linears with GELU, two projections and a Q K^T matmul), operands as the family sees them
    (``params.layer_operands``), cut at the array sides and ``MAX_STREAMED``."""
    import torch

    from qaccel.models import capture

    class Block(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.up, self.down = torch.nn.Linear(24, 30), torch.nn.Linear(30, 22)
            self.q, self.k = torch.nn.Linear(22, 12), torch.nn.Linear(22, 12)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.down(torch.nn.functional.gelu(self.up(x)))
            return torch.matmul(self.q(h), self.k(h).T)

    torch.manual_seed(0)
    trace = capture(Block(), (torch.randn(40, 24),))
    tiles = []
    for layer in trace.layers:
        for a, b in params.layer_operands(layer):
            tiles += gemm_tiles(params, a, b, max_streamed=MAX_STREAMED)
    return tiles


@dataclass(frozen=True)
class Case:
    """One run: family, array, dataflow, tile source, handshake randomization."""

    family: str
    rows: int
    cols: int
    source: str = "block"       # "block" (real layers) | "random"
    dataflow: str = "ws"
    tiles: int = 0              # random tiles
    gap: float = 0.0            # LOAD idle probability per cycle
    stall: float = 0.0          # DRAIN back-pressure probability per cycle

    @property
    def name(self) -> str:
        return f"{self.family}-{self.rows}x{self.cols}-{self.dataflow}-{self.source}"

    @property
    def params(self) -> PEArray:
        return overlapped(self.family, self.rows, self.cols, self.dataflow)

    def tiles_(self) -> list[Tile]:
        if self.source == "block":
            return block_tiles(self.params)
        return random_tiles(self.params, self.tiles, seed=5, max_streamed=24)


#: What the Verilator suite covers: each family at both sizes on the real-layer tiles (>= 200
#: each, in batches of up to 16 tiles per RUN); one build and one simulation per case (each
#: ~30 s of build and ~13 s of simulator start-up and run on the 2-core box). The first tiles
#: of each also run on Amaranth.
RTL_CASES = [Case(f, r, c) for f in FAMILIES for r, c in SIZES]
#: Amaranth only: input-stationary random tiles with LOAD gaps and DRAIN back-pressure (the
#: same Verilog as ws, whose tile mapping and handshakes the family tables check on Verilator)
AMARANTH_CASES = [Case(f, *SIZES[0], source="random", dataflow="is", tiles=AMARANTH_TILES,
                       gap=0.3, stall=0.3) for f in FAMILIES]
LEVEL_CASES = [(level, c) for c in RTL_CASES for level in ("amaranth", "verilator")] + [
    ("amaranth", c) for c in AMARANTH_CASES]


@pytest.mark.parametrize(("level", "case"), LEVEL_CASES,
                         ids=[f"{c.name}-{level}" for level, c in LEVEL_CASES])
def test_overlapped_preload_matches_golden_and_batch_timing(level: str, case: Case) -> None:
    tiles = case.tiles_()
    if level == "amaranth":
        tiles = tiles[:AMARANTH_TILES]
        report = support.run_level(level, case.params, tiles, max_tiles=AMARANTH_MAX_TILES,
                                   gap=case.gap, stall=case.stall, seed=3)
    else:
        report = support.run_level(level, case.params, tiles, gap=case.gap, stall=case.stall,
                                   seed=3)
    assert_report_matches(report, case.params, tiles)
    assert len(report.batch_tiles) >= 2 and max(report.batch_tiles) >= 4, report.batch_tiles
    # what the overlap saves: R cycles per tile after each batch's first
    serial = FAMILIES[case.family](rows=case.rows, cols=case.cols,
                                   dataflow=Dataflow(case.dataflow))
    saved = expected_cycles(serial, tiles, report.batch_tiles) - report.run_cycles
    assert saved == case.rows * (len(tiles) - len(report.batch_tiles))


def test_case_table_meets_acceptance() -> None:
    """Every family at two sizes with >= 200 real-layer tiles each, partial tiles included."""
    for family in FAMILIES:
        sizes = {(c.rows, c.cols) for c in RTL_CASES if c.family == family
                 and c.source == "block"}
        assert sizes == set(SIZES)
        for rows, cols in SIZES:
            tiles = block_tiles(overlapped(family, rows, cols))
            assert len(tiles) >= 200, f"{family} {rows}x{cols}: {len(tiles)} tiles"
            assert any(t.K < rows for t in tiles) and any(t.N < cols for t in tiles)


#: degenerate sides (R = 1 and/or C = 1: a tile can be a single cycle, and with C = 1 the
#: next tile's preload may start in a tile's cycle 0), Amaranth only
CORNER_SIZES = ((1, 1), (2, 1), (1, 3))


@pytest.mark.parametrize(("rows", "cols"), CORNER_SIZES, ids=str)
def test_overlapped_preload_corner_sizes_on_amaranth(rows: int, cols: int) -> None:
    params = overlapped("systolic_int8", rows, cols)
    tiles = random_tiles(params, 24, seed=5, max_streamed=3)
    report = support.run_level("amaranth", params, tiles, max_tiles=6)
    assert_report_matches(report, params, tiles)
    assert any(t.M == 1 for t in tiles)


# ---- timing mutations: the scoreboard must catch a controller that is late ----------------
#: tile of the batch whose preload the preload faults break
FAULT_TILE = 2


def fault_tiles(family: str) -> tuple[PEArray, list[Tile]]:
    """5 real-layer tiles of a 4x4 overlapped array (one batch), tile 2 with another weight
    block than tile 1 (so a missed swap shows in the values)."""
    params = overlapped(family, 4, 4)
    tiles = block_tiles(params)[:5]
    return params, tiles


@pytest.mark.parametrize("family", list(FAMILIES))
def test_scoreboard_catches_done_one_cycle_late(family: str) -> None:
    """``done`` one cycle late (the ``cycles`` port still right): the scoreboard reports the
    batch's first tile measured one clock period longer than ``batch_timing()``."""
    params, tiles = fault_tiles(family)
    want = params.batch_timing(tiles)
    report = support.run_level("amaranth", params, tiles, fault=ControllerFault("done_late"))
    assert not report.passed
    first = report.mismatches[0]
    assert re.match(rf"^tile 0: measured: {want[0] + 1} clock periods start->done != "
                    rf"batch_timing\(\) {want[0]} \(M=\d+ K=\d+ N=\d+\)$", first), first
    assert not any(": cycles: " in m for m in report.mismatches), report.summary()


@pytest.mark.parametrize("family", list(FAMILIES))
def test_scoreboard_catches_one_preload_not_overlapped(family: str) -> None:
    """Tile 2's preload runs serially in its own cycles instead of during tile 1: values
    stay right, so only the cycle checks can see it, and they must (R cycles late)."""
    params, tiles = fault_tiles(family)
    want = params.batch_timing(tiles)[FAULT_TILE]
    late = params.timing(tiles[FAULT_TILE])           # the serial preload's cycles
    assert late == want + params.rows
    report = support.run_level("amaranth", params, tiles,
                               fault=ControllerFault("preload_serial", FAULT_TILE))
    assert not report.passed and report.errors == []
    t = tiles[FAULT_TILE]
    shape = rf"\(M={t.M} K={t.K} N={t.N}\)"
    assert len(report.mismatches) == 2, report.summary()
    assert re.match(rf"^tile 2: cycles: cycles port {late} != batch_timing\(\) {want} "
                    rf"{shape}$", report.mismatches[0]), report.mismatches[0]
    assert re.match(rf"^tile 2: measured: {late} clock periods start->done != "
                    rf"batch_timing\(\) {want} {shape}$", report.mismatches[1])
    assert report.tiles_checked == len(tiles)        # every tile's values still matched


@pytest.mark.parametrize("family", list(FAMILIES))
def test_scoreboard_catches_one_shadow_swap_skipped(family: str) -> None:
    """Tile 2's rows shift into the shadow registers but the swap is suppressed: it computes
    with tile 1's stationary block, and exactly that tile's values are reported."""
    params, tiles = fault_tiles(family)
    report = support.run_level("amaranth", params, tiles,
                               fault=ControllerFault("swap_skipped", FAULT_TILE))
    assert not report.passed and report.errors == []
    assert len(report.mismatches) == 1, report.summary()
    assert report.mismatches[0].startswith("tile 2: values: "), report.mismatches[0]


# ---- structure ------------------------------------------------------------------------------
@pytest.mark.parametrize("family", list(FAMILIES))
def test_serial_verilog_has_no_shadow_registers(family: str) -> None:
    """``preload: serial`` builds the grid without shadow registers (no ``w_swap``, no
    ``shadow``), under its old name; ``overlapped`` adds one per PE and ``_ovl`` to the name."""
    serial = create_top(FAMILIES[family](rows=2, cols=2, dataflow=Dataflow.WS))
    ovl = create_top(overlapped(family, 2, 2))
    assert not ovl.design.name.removesuffix("_ovl").endswith("_ovl")
    assert ovl.design.name == f"{serial.design.name}_ovl"
    text_serial, text_ovl = verilog_text(serial), verilog_text(ovl)
    assert "w_swap" not in text_serial and "shadow" not in text_serial
    assert len(re.findall(r"reg \[\d+:0\] shadow\b", text_ovl)) == 4


def test_controller_rejects_a_mismatched_preload_and_fault() -> None:
    from qaccel.rtl.pe import systolic_int8 as rtl

    params = SystolicInt8(rows=2, cols=2, dataflow=Dataflow.WS, preload="overlapped")
    core = rtl.create_core(SystolicInt8(rows=2, cols=2, dataflow=Dataflow.WS))
    from qaccel.rtl.controller import ArrayTop

    with pytest.raises(ValueError, match=r"^Cannot build x with preload 'overlapped' because "
                                         r"its core has no shadow stationary registers$"):
        ArrayTop(core.spec, core, params=params.to_dict(), name="x")
    Fragment.get(core, None)  # used (it elaborates)
    top = create_top(SystolicInt8(rows=2, cols=2, dataflow=Dataflow.WS))
    with pytest.raises(ValueError, match=r"^Cannot inject the fault 'swap_skipped' into "
                                         r"systolic_int8_2x2_d256_t16 because it has no "
                                         r"shadow stationary registers$"):
        top.with_fault(ControllerFault("swap_skipped"))
    Fragment.get(top.core, None)
    with pytest.raises(ValueError, match=r"^ControllerFault.tile must be an int >= 1, not 0$"):
        ControllerFault("preload_serial", 0)
    Fragment.get(create_top(params), None)
