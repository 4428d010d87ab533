"""fp16 RTL against golden() and timing(): one case table, run at every level.

Levels: ``amaranth`` (Amaranth's simulator, in process, a few tiles of each case) and
``verilator`` (cocotb on Verilator through the runner, every tile). Each case is one
simulation; cases of one array size share one Verilator build. Values are compared as
binary32 bit patterns (the scoreboard compares float results by their bits).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pytest
from amaranth.hdl import Fragment

from qaccel.arch.pe.fp16 import Fp16
from qaccel.arch.pe.tile import Tile
from qaccel.arch.spec import Dataflow
from qaccel.rtl.controller import ArrayTop
from qaccel.rtl.pe.fp16 import create, random_operands
from qaccel.rtl.tb.driver import Corruption
from qaccel.rtl.tb.stimulus import gemm_tiles, random_tiles
from tests.rtl import support
from tests.rtl.support import assert_report_matches

pytestmark = pytest.mark.rtl

#: Fixed vectors with expected FP32 sums worked by hand (hex = binary32 bit pattern):
#: (a, b, expected out). Checked against golden() here and run through the RTL below.
LITERAL_TILES = [
    # 4096 * 4096 = 2^24, then + 1 + 1: each FP32 add rounds 2^24 + 1 back to 2^24 (tie,
    # even), where exact accumulation would give 2^24 + 2
    ([[4096, 1, 1]], [[4096], [1], [1]], [[0x4B800000]]),
    # the same products in the other order: 1 + 1 = 2, 2 + 2^24 is exact
    ([[1, 1, 4096]], [[1], [1], [4096]], [[0x4B800001]]),
    # 65504^2 = 2^31 * (2 - 2^-9 + 2^-21); + 0.5 is below half an ulp (2^7); - 65504^2 -> +0
    ([[65504, 0.5, -65504]], [[65504], [1], [65504]], [[0x00000000]]),
    # products -0 and -0: +0 + -0 = +0 (RNE), twice
    ([[-0.0, 0.0]], [[1], [-1]], [[0x00000000]]),
    # subnormal halves: 2^-24 * 2^-24 = 2^-48; 2^-24 * 2^-14 + 2^-48 = 2^-38 + 2^-48 (exact)
    ([[2.0**-24, 2.0**-24]], [[2.0**-24, 2.0**-14], [0, 2.0**-24]],
     [[0x27800000, 0x2C802000]]),
    # K = 1 < R, M = 3, N = 2: 1.5 * -2 = -3, 1.5 * 0.25 = 0.375, -0.5 * -2 = 1,
    # -0.5 * 0.25 = -0.125, 0 * -2 = -0 (+0 + -0 = +0), 0 * 0.25 = +0
    ([[1.5], [-0.5], [0.0]], [[-2, 0.25]],
     [[0xC0400000, 0x3EC00000], [0x3F800000, 0xBE000000], [0x00000000, 0x00000000]]),
]


@dataclass(frozen=True)
class Case:
    """One RTL run: array, dataflow, tile source, handshake randomization."""

    name: str
    rows: int
    cols: int
    dataflow: str
    source: str            # "random" | "mlp" (a captured real model)
    tiles: int = 0         # random tiles
    literal: bool = False  # the fixed vectors first (one simulation less than a case)
    max_streamed: int = 16
    gap: float = 0.0       # LOAD idle probability per cycle
    stall: float = 0.0     # DRAIN back-pressure probability per cycle

    @property
    def params(self) -> Fp16:
        return Fp16(rows=self.rows, cols=self.cols, dataflow=Dataflow(self.dataflow))


#: What the Verilator suite covers: 4x4 and 8x8 over >= 100 random tiles each (binary16
#: operands of mixed magnitudes with subnormals, +-0 and exact cancellations, from
#: ``rtl.pe.fp16.random_operands``; partial tiles K < R, N < C), input-stationary with
#: handshake gaps/back-pressure, the fixed vectors, and the 234 fold tiles of a captured
#: two-layer torch MLP (real FP16 values).
RTL_CASES = [
    Case("4x4-ws-literal-random", 4, 4, "ws", "random", tiles=150, literal=True),
    Case("4x4-is-random-handshakes", 4, 4, "is", "random", tiles=40, gap=0.3, stall=0.3),
    Case("8x8-ws-random", 8, 8, "ws", "random", tiles=120, max_streamed=32),
    Case("4x4-ws-mlp", 4, 4, "ws", "mlp"),
    Case("8x8-ws-mlp", 8, 8, "ws", "mlp"),
]
#: Amaranth's simulator runs ~1-2k cycles/s on these arrays: the first tiles of each case.
AMARANTH_TILES = 4


def mlp_tiles(params: Fp16) -> list[Tile]:
    """Fold tiles of both layers of a seeded torch MLP captured with qaccel.models, with
    the operands the fp16 array sees (``Fp16.layer_operands``)."""
    import torch

    from qaccel.models import capture

    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(64, 48), torch.nn.ReLU(),
                              torch.nn.Linear(48, 40))
    trace = capture(mlp, (torch.randn(40, 64),))
    tiles = []
    for layer in trace.layers:
        for a, b in params.layer_operands(layer):
            tiles += gemm_tiles(params, a, b, max_streamed=16)
    return tiles


def literal_tiles() -> list[Tile]:
    return [Tile(np.array(a, dtype=np.float16), np.array(b, dtype=np.float16))
            for a, b, _ in LITERAL_TILES]


def case_tiles(case: Case) -> list[Tile]:
    fixed = literal_tiles() if case.literal else []
    if case.source == "random":
        return fixed + random_tiles(case.params, case.tiles, seed=7,
                                    max_streamed=case.max_streamed)
    return fixed + mlp_tiles(case.params)


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
    """4x4 and 8x8 each get >= 100 random tiles on Verilator, the MLP >= 200 real tiles,
    and the random operands hold what they are meant to (subnormals, -0, cancellation)."""
    for side in (4, 8):
        count = sum(c.tiles for c in RTL_CASES
                    if (c.rows, c.cols) == (side, side) and c.source == "random")
        assert count >= 100, f"{side}x{side}: {count} tiles"
    mlp = next(c for c in RTL_CASES if c.source == "mlp" and c.rows == 8)
    tiles = case_tiles(mlp)
    # 64->48: K 64 in 8 row folds, N 48 in 6 col folds, M 40 in 3 chunks; 48->40: 6 x 5 x 3
    assert len(tiles) == 8 * 6 * 3 + 6 * 5 * 3
    small = next(c for c in RTL_CASES if c.source == "mlp" and c.rows == 4)
    # 4x4: 64->48: 16 x 12 x 3; 48->40: 12 x 10 x 3
    assert len(case_tiles(small)) == 16 * 12 * 3 + 12 * 10 * 3
    assert any(t.M < 16 for t in tiles)
    rand = case_tiles(RTL_CASES[0])[len(LITERAL_TILES):]
    ops = [x for t in rand for x in (t.a, t.b)]
    bits = np.concatenate([x.view(np.uint16).ravel() for x in ops])
    assert np.isfinite(np.concatenate([x.ravel() for x in ops])).all()
    assert ((bits & 0x7C00) == 0).sum() > 50 and ((bits & 0x7FFF) != 0).sum() > 0
    assert (bits == 0x8000).sum() > 20 and (bits == 0).sum() > 20  # signed zeros
    assert any((-t.a[:, i] == t.a[:, j]).all() and (t.b[i] == t.b[j]).all()
               for t in rand for i in range(t.K) for j in range(t.K)
               if i != j and t.a[:, i].any())


@pytest.mark.parametrize("index", range(len(LITERAL_TILES)))
def test_golden_matches_literal_vectors(index: int) -> None:
    a, b, expected = LITERAL_TILES[index]
    got = Fp16(rows=4, cols=4, dataflow=Dataflow.WS).golden(literal_tiles()[index])
    assert [[f"{v:#010x}" for v in row] for row in got.view(np.uint32).tolist()] == \
        [[f"{v:#010x}" for v in row] for row in expected]


@pytest.mark.parametrize("level", ["amaranth", "verilator"])
def test_scoreboard_catches_a_corrupted_weight_code(level: str) -> None:
    """Flip the exponent's low bit of weight b[2, 1] = 3.0 of tile 1 on the wires into the
    DUT (3.0 -> 1.5; the model still sees the intended tile): exactly that tile's column 1
    must be reported, everywhere a[:, 2] != 0, and nothing else. Integer-valued operands
    keep every sum exact, so the difference cannot round away."""
    case = Case("mutation", 4, 4, "ws", "random")
    rng = np.random.default_rng(11)
    tiles = [Tile(rng.integers(-8, 9, (5, 4)).astype(np.float16),
                  rng.integers(-8, 9, (4, 3)).astype(np.float16)) for _ in range(3)]
    tiles[1].a[:, 2] = [3, 0, -7, 1, 0]          # rows 1 and 4 do not see the weight
    tiles[1].b[2, 1] = 3.0                       # 0x4200 -> 0x3E00 = 1.5
    corrupt = Corruption(tile=1, row=2, lane=1, xor=0x0400)
    report = run_level(level, case, tiles, corrupt=corrupt)
    assert not report.passed
    assert report.errors == []
    assert len(report.mismatches) == 1, report.summary()
    message = report.mismatches[0]
    assert re.match(r"^tile 1: values: 3 of 15 differ \(M=5 K=4 N=3\): out\[0,1\] ", message)
    assert "out[2,1]" in message and "out[3,1]" in message
    assert report.cycles_compared == 3  # the fault changes values, not timing


def test_random_operands_shapes_and_dtype() -> None:
    a, b = random_operands(Fp16(rows=4, cols=4, dataflow="ws"),
                           np.random.default_rng(0), 3, 4, 2)
    assert (a.shape, b.shape, a.dtype, b.dtype) == ((3, 4), (4, 2), np.float16, np.float16)


def test_create_rejects_dataflow_without_rtl() -> None:
    with pytest.raises(ValueError, match=r"^fp16 dataflow must be 'ws' or 'is' for "
                                         r"RTL, not 'os'$"):
        create(Fp16(rows=2, cols=2, dataflow=Dataflow.OS))


def test_registry_create_returns_the_array_top() -> None:
    top = Fp16(rows=3, cols=5, dataflow=Dataflow.WS).create()
    assert isinstance(top, ArrayTop)
    widths = {name: len(getattr(top, name)) for name in top.signature.members}
    # 5 binary16 weights, 3 binary16 activations, 5 binary32 sums per beat
    assert widths == {"w_valid": 1, "w_ready": 1, "w_data": 80, "w_last": 1,
                      "a_valid": 1, "a_ready": 1, "a_data": 48, "a_last": 1,
                      "start": 1, "busy": 1, "done": 1, "cycles": 32,
                      "o_valid": 1, "o_ready": 1, "o_data": 160, "o_last": 1}
    assert top.design.name == "fp16_3x5_d256_t16"
    Fragment.get(top, None)  # it elaborates (and is not reported as unused)
