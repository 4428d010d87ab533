"""mixpe RTL (W4A8) against golden() and timing(): one case table, run at every level.

Levels: ``amaranth`` (Amaranth's simulator, in process, the first tiles of each case) and
``verilator`` (cocotb on Verilator, every tile). Cases of one array size share one Verilator
build. Values are compared as FP32 bit patterns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pytest
from amaranth.hdl import Fragment

from qaccel.arch.pe.mixpe import G_SIZE, GroupWeights, MixPE
from qaccel.arch.pe.tile import Tile
from qaccel.arch.spec import Dataflow
from qaccel.rtl.pe.mixpe import META_WORD_BITS, create, tile_meta
from qaccel.rtl.tb.driver import Corruption
from qaccel.rtl.tb.stimulus import gemm_tiles, random_tiles
from qaccel.rtl.verify import verify
from tests.rtl.support import BUILD_ROOT, require_tool

pytestmark = pytest.mark.rtl

#: K up to 3 groups per tile; one batch of tiles holds 512 K steps
BUFFER_ROWS = 512
MAX_TILES = 8


def _fp16(bits: int) -> float:
    return float(np.array([bits], dtype=np.uint16).view(np.float16)[0])


def _literal(a: list[list[int]], q: list[list[int]], s_bits: list[list[int]],
             z: list[list[int]]) -> Tile:
    s = np.array([[_fp16(b) for b in row] for row in s_bits], dtype=np.float32)
    return Tile(np.array(a, dtype=np.int8), GroupWeights(np.array(q, dtype=np.uint8), s,
                                                         np.array(z, dtype=np.uint8)))


#: Fixed vectors worked by hand: (tile, expected FP32 bits of out).
LITERAL_TILES = [
    # D = (5-2)*3 + (1-2)*(-2) = 11; s = 0.5 (0x3800): 5.5 = 0x40B00000
    (_literal([[3, -2]], [[5], [1]], [[0x3800]], [[2]]), [[0x40B00000]]),
    # rounding point 2: K = 128, a = 127, sum q = 127 (one q = 0), z = 0: D = 16129;
    # s = 0x3FFF = 2047/1024: s*D = 33016063/1024, 25 significant bits, a tie -> even
    # 33016064/1024 = 32242.25 = 2^14 * (1 + 15858.25/16384) = 0x46FBE480
    (_literal([[127] * 128], [[1]] * 127 + [[0]], [[0x3FFF]], [[0]]), [[0x46FBE480]]),
    # rounding point 3: group 0 (128 x a=-128, q=1, s=1024) gives -2^24, group 1 (K = 129:
    # a=-1, q=1, s=1.0) gives -1; -16777217 is a tie -> even: -2^24 = 0xCB800000
    (_literal([[-128] * 128 + [-1]], [[1]] * 129, [[0x6400], [0x3C00]], [[0], [0]]),
     [[0xCB800000]]),
]


@dataclass(frozen=True)
class Case:
    """One RTL run (one simulation): array, tile sources in order, handshake randomization."""

    name: str
    rows: int
    cols: int
    sources: tuple[str, ...]   # "literal" | "edges" | "random" | "mlp"
    tiles: int = 0             # random tiles
    max_streamed: int = 3 * G_SIZE
    gap: float = 0.0
    stall: float = 0.0

    @property
    def params(self) -> MixPE:
        return MixPE(rows=self.rows, cols=self.cols, dataflow=Dataflow.OS, a_bits=8)


#: Two array sizes (square 4x4, non-square 8x6); K over 1..3 groups with partial last groups,
#: K near group boundaries and last groups shorter than R (the dequantizer then waits on the
#: previous group: ``f_{G-2} > t_{G-1}``), hand-worked vectors, the fold tiles of a captured
#: three-layer MLP (>= 200 tiles at 4x4, with LOAD gaps and DRAIN back-pressure; K cut at 128
#: at 8x6). Few cases, many tiles each: every case costs one simulator start.
RTL_CASES = [
    Case("4x4-literal-random", 4, 4, ("literal", "random"), tiles=100),
    Case("4x4-mlp-handshakes", 4, 4, ("mlp",), gap=0.25, stall=0.25),
    Case("8x6-edges-random", 8, 6, ("edges", "random"), tiles=60),
    Case("8x6-mlp-k128", 8, 6, ("mlp",), max_streamed=G_SIZE),
]
#: Amaranth's simulator runs a few thousand cycles/s: the first tiles of each case only.
AMARANTH_TILES = 3
#: K values at and around group boundaries (and within R = 8 of them)
EDGE_K = (1, 2, 7, 8, 9, 127, 128, 129, 131, 135, 136, 137, 255, 256, 257, 262, 263, 264,
          265, 383, 384)


def mlp_tiles(params: MixPE, max_streamed: int) -> list[Tile]:
    """Fold tiles of every layer of a seeded torch MLP captured with qaccel.models, operands
    from ``MixPE.layer_operands`` (INT8 activations, INT4 g128 weights)."""
    import torch

    from qaccel.models import capture

    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(300, 40), torch.nn.ReLU(),
                              torch.nn.Linear(40, 36), torch.nn.ReLU(), torch.nn.Linear(36, 20))
    trace = capture(mlp, (torch.randn(40, 300),))
    tiles = []
    for layer in trace.layers:
        for a, w in params.layer_operands(layer):
            tiles += gemm_tiles(params, a, w, max_streamed=max_streamed)
    return tiles


def edge_tiles(params: MixPE) -> list[Tile]:
    from qaccel.rtl.pe.mixpe import random_operands

    rng = np.random.default_rng(5)
    return [Tile(*random_operands(params, rng, int(rng.integers(1, params.rows + 1)), k,
                                  int(rng.integers(1, params.cols + 1)))) for k in EDGE_K]


def case_tiles(case: Case) -> list[Tile]:
    tiles: list[Tile] = []
    for source in case.sources:
        if source == "random":
            tiles += random_tiles(case.params, case.tiles, seed=7,
                                  max_streamed=case.max_streamed)
        elif source == "mlp":
            tiles += mlp_tiles(case.params, case.max_streamed)
        elif source == "edges":
            tiles += edge_tiles(case.params)
        else:
            tiles += [tile for tile, _ in LITERAL_TILES]
    return tiles


def run_level(level: str, case: Case, tiles: list[Tile], **kw: object):
    kw = {"buffer_rows": BUFFER_ROWS, "max_tiles": MAX_TILES, **kw}
    if level == "verilator":
        require_tool("verilator")
        return verify(case.params, tiles, simulator="verilator", build_root=BUILD_ROOT, **kw)
    return verify(case.params, tiles[:AMARANTH_TILES], simulator="amaranth", **kw)


@pytest.mark.parametrize("level", ["amaranth", "verilator"])
@pytest.mark.parametrize("case", RTL_CASES, ids=lambda c: c.name)
def test_rtl_matches_golden_and_timing(level: str, case: Case) -> None:
    tiles = case_tiles(case)
    report = run_level(level, case, tiles, gap=case.gap, stall=case.stall, seed=3)
    checked = tiles if level == "verilator" else tiles[:AMARANTH_TILES]
    assert report.passed, report.summary()
    assert report.tiles_checked == report.cycles_compared == len(checked)
    assert report.values_compared == sum(t.M * t.N for t in checked)
    assert report.run_cycles == sum(case.params.timing(t) for t in checked)


def test_case_table_covers_groups_and_real_layers() -> None:
    """K spans 1..3 groups with partial last groups and last groups shorter than R; the MLP
    gives >= 200 real tiles, and the 8x6 K-cut tiles start at group boundaries."""
    for case in RTL_CASES:
        if "random" in case.sources:
            ks = {t.K for t in case_tiles(case)}
            assert {-(-k // G_SIZE) for k in ks} == {1, 2, 3}, case.name
            assert any(k % G_SIZE for k in ks if k > G_SIZE), case.name
    edges = next(c for c in RTL_CASES if "edges" in c.sources)
    assert any(0 < k % G_SIZE < edges.rows for k in EDGE_K if k > G_SIZE)
    mlp = [t for c in RTL_CASES if c.sources == ("mlp",) for t in case_tiles(c)]
    assert len(mlp) >= 200
    cut = case_tiles(next(c for c in RTL_CASES if c.name == "8x6-mlp-k128"))
    assert {t.K for t in cut} >= {G_SIZE, 300 - 2 * G_SIZE}   # layer 0: 128, 128, 44


@pytest.mark.parametrize("index", range(len(LITERAL_TILES)))
def test_golden_matches_literal_vectors(index: int) -> None:
    tile, expected = LITERAL_TILES[index]
    got = MixPE(rows=4, cols=4, dataflow=Dataflow.OS, a_bits=8).golden(tile)
    assert got.view(np.uint32).tolist() == expected


def test_tile_meta_packs_scale_and_zero_point_per_column() -> None:
    tile = _literal([[1, 2]], [[1, 2], [3, 4]], [[0x3C00, 0xBC00]], [[5, 15]])
    word = (0x3C00 | 5 << 16) | (0xBC00 | 15 << 16) << META_WORD_BITS
    assert tile_meta(MixPE(rows=2, cols=2, dataflow=Dataflow.OS, a_bits=8), tile) == [word]


@pytest.mark.parametrize("level", ["amaranth", "verilator"])
def test_scoreboard_catches_a_corrupted_scale(level: str) -> None:
    """Flip the top exponent bit of column 1's scale of tile 1's group 0 on the metadata
    wires (the model sees the intended tile): exactly tile 1's column-1 outputs differ."""
    case = Case("mutation", 4, 4, ("random",))
    rng = np.random.default_rng(11)
    from qaccel.rtl.pe.mixpe import random_operands

    tiles = [Tile(*random_operands(case.params, rng, 3, 20, 3)) for _ in range(3)]
    corrupt = Corruption(tile=1, row=0, lane=META_WORD_BITS * 1 + 14, xor=1, stream="m")
    report = run_level(level, case, tiles, corrupt=corrupt)
    assert not report.passed
    assert report.errors == []
    assert len(report.mismatches) == 1, report.summary()
    want = case.params.golden(tiles[1])[:, 1]
    nonzero = int(np.count_nonzero(want))
    assert nonzero > 0
    message = report.mismatches[0]
    assert re.match(rf"^tile 1: values: {nonzero} of 9 differ \(M=3 K=20 N=3\): ", message)
    assert set(re.findall(r"out\[\d+,(\d+)\]", message)) == {"1"}
    assert report.cycles_compared == 3


def test_create_rejects_what_has_no_rtl() -> None:
    with pytest.raises(ValueError, match=r"^mixpe a_bits must be 8 \(W4A8\) for RTL, not 16$"):
        create(MixPE(rows=2, cols=2, dataflow=Dataflow.OS, a_bits=16))
    with pytest.raises(ValueError, match=r"^mixpe rows must be <= 128 for RTL, not 129$"):
        create(MixPE(rows=129, cols=2, dataflow=Dataflow.OS, a_bits=8))


def test_registry_create_returns_the_array_top() -> None:
    top = MixPE(rows=3, cols=5, dataflow=Dataflow.OS, a_bits=8).create()
    widths = {name: len(getattr(top, name)) for name in top.signature.members}
    # 5 weight codes, 3 activation codes, 5 x (FP16 scale + zero point), 5 FP32 results
    assert widths == {"w_valid": 1, "w_ready": 1, "w_data": 20, "w_last": 1,
                      "a_valid": 1, "a_ready": 1, "a_data": 24, "a_last": 1,
                      "m_valid": 1, "m_ready": 1, "m_data": 100, "m_last": 1,
                      "start": 1, "busy": 1, "done": 1, "cycles": 32,
                      "o_valid": 1, "o_ready": 1, "o_data": 160, "o_last": 1}
    assert top.design.name == "mixpe_w4a8_3x5_d512_t8"
    assert (top.design.schedule, top.design.meta_bits) == ("os", 100)
    Fragment.get(top, None)


@pytest.mark.parametrize(("rows", "cols"), [(1, 1), (3, 5), (8, 6)], ids=lambda v: str(v))
def test_lint_is_clean_with_the_waivers(rows: int, cols: int) -> None:
    """1x1 degenerates the skew and sweep counters; 3x5 has row indices past R (padded)."""
    from qaccel.rtl.export import create_top
    from qaccel.rtl.lint import lint

    require_tool("verilator")
    params = MixPE(rows=rows, cols=cols, dataflow=Dataflow.OS, a_bits=8)
    result = lint(create_top(params, buffer_rows=BUFFER_ROWS, max_tiles=MAX_TILES))
    assert result.clean, "\n".join(result.warnings[:20])
