"""mixpe RTL (W4A8 and W4A16) against golden() and timing(): one case table, every level.

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
from tests.rtl import support
from tests.rtl.support import assert_report_matches, require_tool

pytestmark = pytest.mark.rtl

#: K up to 3 groups per tile; one batch of tiles holds 512 K steps
BUFFER_ROWS = 512
MAX_TILES = 8


def _fp16(bits: int) -> float:
    return float(np.array([bits], dtype=np.uint16).view(np.float16)[0])


def _literal(a: list[list[int]], q: list[list[int]], s_bits: list[list[int]],
             z: list[list[int]], *, fp16: bool = False) -> Tile:
    """A tile from INT8 codes (``fp16``: FP16 bit patterns), codes, scale bits, zeros."""
    s = np.array([[_fp16(b) for b in row] for row in s_bits], dtype=np.float32)
    acts = (np.array(a, dtype=np.uint16).view(np.float16) if fp16
            else np.array(a, dtype=np.int8))
    return Tile(acts, GroupWeights(np.array(q, dtype=np.uint8), s, np.array(z, dtype=np.uint8)))


#: Fixed W4A8 vectors worked by hand: (tile, expected FP32 bits of out).
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

#: Fixed W4A16 vectors worked by hand (activations as FP16 bits; A = trunc(a * 2^(15 - E)),
#: u = E - 15): (tile, expected FP32 bits of out).
LITERAL_TILES_W4A16 = [
    # a = 1.5 (0x3E00, e=0), -0.25 (0xB400, e=-2): E = 0, A = 49152, -8192; z = 2:
    # D = 3*49152 + (-1)*(-8192) = 155648; s = 0.5: t = 0.5 * 155648 * 2^-15 = 2.375
    # = 2^1 * 1.1875 = 0x40180000
    (_literal([[0x3E00, 0xB400]], [[5], [1]], [[0x3800]], [[2]], fp16=True), [[0x40180000]]),
    # rounding point 1: a = 1024 (0x6400, E = 10), -2047/1024 (0xBFFF), 2^-24 (0x0001):
    # A = 1024*32 = 32768, trunc(-2047/32) = -63 (toward zero), trunc(2^-19) = 0;
    # q = 1, 1, 15, z = 0, s = 1: D = 32705, u = -5: 32705/32 = 1022.03125
    # = 2^9 * (1 + 8356352/2^23) = 0x447F8200
    (_literal([[0x6400, 0xBFFF, 0x0001]], [[1], [1], [15]], [[0x3C00]], [[0]], fp16=True),
     [[0x447F8200]]),
    # rounding points 1 and 3: group 0 = 128 x 2048 (0x6800, E = 11, A = 32768), q = 1,
    # s = 64: 2^6 * 2^22 * 2^-4 = 2^24; group 1 = 1.0, 2^-24 (E = 0: A = 32768, 0), s = 1:
    # t = 1 (the exact sum 2^24 + 1 + 2^-24 would round up; the truncated one is a tie)
    # -> even: 2^24 = 0x4B800000
    (_literal([[0x6800] * 128 + [0x3C00, 0x0001]], [[1]] * 130, [[0x5400], [0x3C00]],
              [[0], [0]], fp16=True), [[0x4B800000]]),
]


@dataclass(frozen=True)
class Case:
    """One RTL run (one simulation): array, tile sources in order, handshake randomization."""

    name: str
    rows: int
    cols: int
    sources: tuple[str, ...]   # "literal" | "edges" | "random" | "mlp"
    tiles: int = 0             # random tiles
    max_streamed: int = 3 * G_SIZE   # random tiles' K
    gap: float = 0.0
    stall: float = 0.0
    a_bits: int = 8
    tokens: int = 40           # MLP input rows
    mlp_cut: int = 3 * G_SIZE  # MLP tiles' K is cut here

    @property
    def params(self) -> MixPE:
        return MixPE(rows=self.rows, cols=self.cols, dataflow=Dataflow.OS, a_bits=self.a_bits)


#: Both variants at two array sizes (square 4x4, non-square 8x6); K over 1..3 groups with
#: partial last groups, K near group boundaries and last groups shorter than R (the
#: dequantizer then waits on the previous group: ``f_{G-2} > t_{G-1}``), hand-worked vectors,
#: the fold tiles of a captured three-layer MLP (>= 200 tiles at each size and variant, with
#: LOAD gaps and DRAIN back-pressure at 4x4; K cut at 128 at 8x6). W4A16 random activations
#: (``random_fp16``) mix per-group exponent spreads, subnormals and zeros. Few cases, many
#: tiles each: one simulation (a simulator start of ~6 s) per (size, variant) build.
RTL_CASES = [
    Case("w4a8-4x4-literal-random-mlp-handshakes", 4, 4, ("literal", "random", "mlp"),
         tiles=100, gap=0.25, stall=0.25),
    Case("w4a8-8x6-edges-random-mlp-k128", 8, 6, ("edges", "random", "mlp"), tiles=60,
         tokens=64, mlp_cut=G_SIZE),
    Case("w4a16-4x4-literal-random-mlp-handshakes", 4, 4, ("literal", "random", "mlp"),
         tiles=80, gap=0.25, stall=0.25, a_bits=16),
    Case("w4a16-8x6-edges-random-mlp-k128", 8, 6, ("edges", "random", "mlp"), tiles=50,
         tokens=64, mlp_cut=G_SIZE, a_bits=16),
]
#: Amaranth's simulator runs a few thousand cycles/s: the first tiles of each source only.
AMARANTH_TILES = 2
#: K values at and around group boundaries (and within R = 8 of them)
EDGE_K = (1, 2, 7, 8, 9, 127, 128, 129, 131, 135, 136, 137, 255, 256, 257, 262, 263, 264,
          265, 383, 384)


def mlp_tiles(params: MixPE, max_streamed: int, tokens: int = 40) -> list[Tile]:
    """Fold tiles of every layer of a seeded torch MLP (``tokens`` input rows) captured with
    qaccel.models, operands from ``MixPE.layer_operands`` (INT8 or FP16 activations, INT4
    g128 weights)."""
    import torch

    from qaccel.models import capture

    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(300, 40), torch.nn.ReLU(),
                              torch.nn.Linear(40, 36), torch.nn.ReLU(), torch.nn.Linear(36, 20))
    trace = capture(mlp, (torch.randn(tokens, 300),))
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


def source_tiles(case: Case, source: str) -> list[Tile]:
    """The tiles of one of the case's sources."""
    if source == "random":
        return random_tiles(case.params, case.tiles, seed=7, max_streamed=case.max_streamed)
    if source == "mlp":
        return mlp_tiles(case.params, case.mlp_cut, case.tokens)
    if source == "edges":
        return edge_tiles(case.params)
    return [tile for tile, _ in (LITERAL_TILES if case.a_bits == 8 else LITERAL_TILES_W4A16)]


def case_tiles(case: Case, per_source: int | None = None) -> list[Tile]:
    """The case's tiles, sources in order (``per_source``: only the first few of each)."""
    return [t for source in case.sources for t in source_tiles(case, source)[:per_source]]


def run_level(level: str, case: Case, tiles: list[Tile], **kw: object):
    kw = {"buffer_rows": BUFFER_ROWS, "max_tiles": MAX_TILES, **kw}
    return support.run_level(level, case.params, tiles, **kw)


@pytest.mark.parametrize("level", ["amaranth", "verilator"])
@pytest.mark.parametrize("case", RTL_CASES, ids=lambda c: c.name)
def test_rtl_matches_golden_and_timing(level: str, case: Case) -> None:
    checked = case_tiles(case, None if level == "verilator" else AMARANTH_TILES)
    report = run_level(level, case, checked, gap=case.gap, stall=case.stall, seed=3)
    assert_report_matches(report, case.params, checked)


def test_case_table_meets_acceptance() -> None:
    """Per variant: two array sizes; K spans 1..3 groups with partial last groups and last
    groups shorter than R; the MLP gives >= 200 real tiles at each size (the 8x6 K-cut tiles
    start at group boundaries); W4A16 random groups hold zeros, subnormals and wide
    exponent ranges."""
    for a_bits in (8, 16):
        cases = [c for c in RTL_CASES if c.a_bits == a_bits]
        assert {(c.rows, c.cols) for c in cases} == {(4, 4), (8, 6)}
        for case in cases:
            ks = {t.K for t in source_tiles(case, "random")}
            assert {-(-k // G_SIZE) for k in ks} == {1, 2, 3}, case.name
            assert any(k % G_SIZE for k in ks if k > G_SIZE), case.name
            assert len(source_tiles(case, "mlp")) >= 200, case.name
        edges = next(c for c in cases if "edges" in c.sources)
        assert any(0 < k % G_SIZE < edges.rows for k in EDGE_K if k > G_SIZE)
        cut = source_tiles(next(c for c in cases if c.mlp_cut == G_SIZE), "mlp")
        assert {t.K for t in cut} >= {G_SIZE, 300 - 2 * G_SIZE}   # layer 0: 128, 128, 44
    w4a16 = [c for c in RTL_CASES if c.a_bits == 16]
    bits = np.concatenate([t.a.view(np.uint16).ravel() for c in w4a16
                           for t in source_tiles(c, "random")])
    field, frac = (bits >> 10) & 0x1F, bits & 0x3FF
    assert ((field == 0) & (frac != 0)).any() and ((field == 0) & (frac == 0)).any()
    assert field.max() == 30 and not (field == 31).any()    # finite only
    spans = [int(np.ptp(row[g:g + G_SIZE])) for c in w4a16 for t in source_tiles(c, "random")
             for row in ((t.a.view(np.uint16) >> 10) & 0x1F) for g in range(0, t.K, G_SIZE)]
    assert min(spans) == 0 and max(spans) >= 25   # one binade up to nearly the whole range


@pytest.mark.parametrize(("a_bits", "index"),
                         [(8, i) for i in range(len(LITERAL_TILES))]
                         + [(16, i) for i in range(len(LITERAL_TILES_W4A16))])
def test_golden_matches_literal_vectors(a_bits: int, index: int) -> None:
    tile, expected = (LITERAL_TILES if a_bits == 8 else LITERAL_TILES_W4A16)[index]
    got = MixPE(rows=4, cols=4, dataflow=Dataflow.OS, a_bits=a_bits).golden(tile)
    assert got.view(np.uint32).tolist() == expected


def test_random_fp16_is_finite_and_tile_streams_carry_its_bits() -> None:
    from qaccel.rtl.pe.mixpe import random_fp16, tile_streams

    a = random_fp16(np.random.default_rng(0), 3, 300)
    assert np.isfinite(a).all()
    params = MixPE(rows=4, cols=4, dataflow=Dataflow.OS, a_bits=16)
    w = GroupWeights.from_float(np.ones((300, 2), dtype=np.float32))
    _, rows = tile_streams(params, Tile(a, w))
    assert rows.tolist() == a.view(np.uint16).T.astype(np.int64).tolist()


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


@pytest.mark.parametrize("level", ["amaranth", "verilator"])
def test_scoreboard_catches_a_corrupted_fp16_activation(level: str) -> None:
    """W4A16: flip exponent bit 13 of activation (row 1, k = 5) of tile 1 on the ``a`` wires
    (0x1400 = 2^-10 becomes 0x3400 = 0.25, the row's new group maximum E): exactly the
    outputs of tile 1 that the corrupted tile's golden() changes differ, all in row 1."""
    case = Case("mutation-w4a16", 4, 4, ("random",), a_bits=16)
    rng = np.random.default_rng(12)
    from qaccel.rtl.pe.mixpe import random_operands

    tiles = [Tile(*random_operands(case.params, rng, 3, 20, 3)) for _ in range(3)]
    a = tiles[1].a.view(np.uint16).copy()
    a[1] = 0x1000 | rng.integers(0, 1 << 10, size=20)      # row 1: [2^-11, 2^-10)
    a[1, 5] = 0x1400
    tiles[1] = Tile(a.view(np.float16), tiles[1].b)
    bad = a.copy()
    bad[1, 5] ^= 0x2000
    golden = case.params.golden
    changed = (golden(Tile(bad.view(np.float16), tiles[1].b)).view(np.uint32)
               != golden(tiles[1]).view(np.uint32))   # values compared as bit patterns
    assert changed[1].any() and not changed[[0, 2]].any()
    corrupt = Corruption(tile=1, row=5, lane=1, xor=0x2000, stream="a")
    report = run_level(level, case, tiles, corrupt=corrupt)
    assert not report.passed
    assert report.errors == []
    assert len(report.mismatches) == 1, report.summary()
    message = report.mismatches[0]
    count = int(changed.sum())
    assert re.match(rf"^tile 1: values: {count} of 9 differ \(M=3 K=20 N=3\): ", message)
    assert set(re.findall(r"out\[(\d+),\d+\]", message)) == {"1"}
    assert report.cycles_compared == 3


def test_create_rejects_what_has_no_rtl() -> None:
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
    top16 = MixPE(rows=3, cols=5, dataflow=Dataflow.OS, a_bits=16).create()
    assert len(top16.a_data) == 3 * 16   # FP16 activation bits
    assert top16.design.name == "mixpe_w4a16_3x5_d512_t8"
    Fragment.get(top16, None)


@pytest.mark.parametrize("a_bits", [8, 16])
@pytest.mark.parametrize(("rows", "cols"), [(1, 1), (3, 5), (8, 6)], ids=lambda v: str(v))
def test_lint_is_clean_with_the_waivers(rows: int, cols: int, a_bits: int) -> None:
    """1x1 degenerates the skew and sweep counters; 3x5 has row indices past R (padded)."""
    from qaccel.rtl.export import create_top
    from qaccel.rtl.lint import lint

    require_tool("verilator")
    params = MixPE(rows=rows, cols=cols, dataflow=Dataflow.OS, a_bits=a_bits)
    result = lint(create_top(params, buffer_rows=BUFFER_ROWS, max_tiles=MAX_TILES))
    assert result.clean, "\n".join(result.warnings[:20])
