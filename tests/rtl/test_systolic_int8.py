"""systolic_int8 RTL against golden() and timing(): one case table, run at every level.

Levels: ``amaranth`` (Amaranth's simulator, in process, a few tiles of each case) and
``verilator`` (cocotb on Verilator through the runner, every tile). Each case is one
simulation; cases of one array size share one Verilator build.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pytest
from amaranth.hdl import Fragment

from qaccel.arch.pe.systolic_int8 import SystolicInt8
from qaccel.arch.pe.tile import Tile
from qaccel.arch.spec import Dataflow
from qaccel.rtl.pe.systolic_int8 import create
from qaccel.rtl.tb.driver import Corruption
from qaccel.rtl.tb.stimulus import gemm_tiles, random_tiles
from tests.rtl import support
from tests.rtl.support import assert_report_matches

pytestmark = pytest.mark.rtl

#: Fixed vectors with outside expected values (worked by hand, hex = int32 two's complement):
#: (a, b, expected out). Checked against golden() here and run through the RTL below.
LITERAL_TILES = [
    ([[1, 2], [3, 4]], [[5, 6], [7, 8]], [[0x13, 0x16], [0x2B, 0x32]]),   # 19 22 / 43 50
    ([[-128, -128]], [[-128], [-128]], [[0x00008000]]),                    # 2 * 16384
    ([[127, -128]], [[-128], [127]], [[0xFFFF8100]]),                      # -16256 - 16256
    ([[-1], [2], [-3]], [[-1, 1]], [[0x1, 0xFFFFFFFF], [0xFFFFFFFE, 0x2],
                                    [0x3, 0xFFFFFFFD]]),                   # K = 1 < R
]


@dataclass(frozen=True)
class Case:
    """One RTL run: array, dataflow, tile source, handshake randomization."""

    name: str
    rows: int
    cols: int
    dataflow: str
    source: str            # "random" | "mlp" (a captured real model) | "literal"
    tiles: int = 0         # random tiles
    max_streamed: int = 24
    gap: float = 0.0       # LOAD idle probability per cycle
    stall: float = 0.0     # DRAIN back-pressure probability per cycle

    @property
    def params(self) -> SystolicInt8:
        return SystolicInt8(rows=self.rows, cols=self.cols, dataflow=Dataflow(self.dataflow))


#: What the Verilator suite covers (the acceptance set: 2x2, 4x4 and 8x8 over >= 100 random
#: tiles each), plus input-stationary, handshake gaps/back-pressure, the fixed vectors and
#: the fold tiles of a captured two-layer MLP. Random tiles include partial tiles (K < R,
#: N < C) and M from 1 to max_streamed.
RTL_CASES = [
    Case("2x2-ws-random", 2, 2, "ws", "random", tiles=120, max_streamed=16),
    Case("2x2-ws-literal", 2, 2, "ws", "literal"),
    Case("4x4-ws-random-handshakes", 4, 4, "ws", "random", tiles=120, gap=0.3, stall=0.3),
    Case("4x4-is-random", 4, 4, "is", "random", tiles=40),
    Case("8x8-ws-random", 8, 8, "ws", "random", tiles=120, max_streamed=32),
    Case("8x8-ws-mlp", 8, 8, "ws", "mlp"),
]
#: Amaranth's simulator runs ~10k cycles/s: the first tiles of each case only.
AMARANTH_TILES = 6


def mlp_tiles(params: SystolicInt8) -> list[Tile]:
    """Fold tiles of both layers of a seeded torch MLP captured with qaccel.models."""
    import torch

    from qaccel.models import capture

    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(20, 12), torch.nn.ReLU(), torch.nn.Linear(12, 10))
    trace = capture(mlp, (torch.randn(30, 20),))
    tiles = []
    for layer in trace.layers:
        a, b = layer.operands()
        for g in range(a.shape[0]):
            tiles += gemm_tiles(params, a[g], b[g], max_streamed=16)
    return tiles


def case_tiles(case: Case) -> list[Tile]:
    if case.source == "random":
        return random_tiles(case.params, case.tiles, seed=7, max_streamed=case.max_streamed)
    if case.source == "mlp":
        return mlp_tiles(case.params)
    return [Tile(np.array(a, dtype=np.int8), np.array(b, dtype=np.int8))
            for a, b, _ in LITERAL_TILES]


def run_level(level: str, case: Case, tiles: list[Tile], **kw: object):
    return support.run_level(level, case.params, tiles, amaranth_tiles=AMARANTH_TILES, **kw)


@pytest.mark.parametrize("level", ["amaranth", "verilator"])
@pytest.mark.parametrize("case", RTL_CASES, ids=lambda c: c.name)
def test_rtl_matches_golden_and_timing(level: str, case: Case) -> None:
    tiles = case_tiles(case)
    report = run_level(level, case, tiles, gap=case.gap, stall=case.stall, seed=3)
    checked = tiles if level == "verilator" else tiles[:AMARANTH_TILES]
    assert_report_matches(report, case.params, checked)


def test_case_table_meets_acceptance() -> None:
    """2x2, 4x4 and 8x8 each get >= 100 tiles on Verilator; the MLP gives several folds."""
    for side in (2, 4, 8):
        count = sum(len(case_tiles(c)) for c in RTL_CASES if (c.rows, c.cols) == (side, side))
        assert count >= 100, f"{side}x{side}: {count} tiles"
    mlp = next(c for c in RTL_CASES if c.source == "mlp")
    tiles = case_tiles(mlp)
    # 20->12: K 20 in 3 row folds, N 12 in 2 col folds, M 30 in 2 chunks; 12->10: 2 x 2 x 2
    assert len(tiles) == 3 * 2 * 2 + 2 * 2 * 2
    assert any(t.K < mlp.rows for t in tiles) and any(t.N < mlp.cols for t in tiles)


@pytest.mark.parametrize("index", range(len(LITERAL_TILES)))
def test_golden_matches_literal_vectors(index: int) -> None:
    a, b, expected = LITERAL_TILES[index]
    tile = Tile(np.array(a, dtype=np.int8), np.array(b, dtype=np.int8))
    got = SystolicInt8(rows=2, cols=2, dataflow=Dataflow.WS).golden(tile)
    assert got.tolist() == np.array(expected, dtype=np.uint32).view(np.int32).tolist()


@pytest.mark.parametrize("level", ["amaranth", "verilator"])
def test_scoreboard_catches_a_corrupted_weight_code(level: str) -> None:
    """Flip one bit of weight b[2, 1] of tile 1 on the wires into the DUT (the model still
    sees the intended tile): exactly that tile's column 1 must be reported, everywhere
    a[:, 2] != 0, and nothing else."""
    case = Case("mutation", 4, 4, "ws", "random")
    rng = np.random.default_rng(11)
    tiles = [Tile(rng.integers(-128, 128, (5, 4), dtype=np.int8),
                  rng.integers(-128, 128, (4, 3), dtype=np.int8)) for _ in range(3)]
    tiles[1].a[:, 2] = [3, 0, -7, 1, 0]          # rows 1 and 4 do not see the weight
    corrupt = Corruption(tile=1, row=2, lane=1, xor=0x01)
    report = run_level(level, case, tiles, corrupt=corrupt)
    assert not report.passed
    assert report.errors == []
    assert len(report.mismatches) == 1, report.summary()
    message = report.mismatches[0]
    assert re.match(r"^tile 1: values: 3 of 15 differ \(M=5 K=4 N=3\): out\[0,1\] ", message)
    assert "out[2,1]" in message and "out[3,1]" in message
    assert report.cycles_compared == 3  # the fault changes values, not timing


def test_create_rejects_dataflow_without_rtl() -> None:
    with pytest.raises(ValueError, match=r"^systolic_int8 dataflow must be 'ws' or 'is' for "
                                         r"RTL, not 'os'$"):
        create(SystolicInt8(rows=2, cols=2, dataflow=Dataflow.OS))


def test_registry_create_returns_the_array_top() -> None:
    top = SystolicInt8(rows=3, cols=5, dataflow=Dataflow.WS).create()
    widths = {name: len(getattr(top, name)) for name in top.signature.members}
    # 5 weight codes, 3 activation codes, 5 int32 results per beat
    assert widths == {"w_valid": 1, "w_ready": 1, "w_data": 40, "w_last": 1,
                      "a_valid": 1, "a_ready": 1, "a_data": 24, "a_last": 1,
                      "start": 1, "busy": 1, "done": 1, "cycles": 32,
                      "o_valid": 1, "o_ready": 1, "o_data": 160, "o_last": 1}
    assert top.design.name == "systolic_int8_3x5_d256_t16"
    Fragment.get(top, None)  # it elaborates (and is not reported as unused)
