"""ant RTL (4-bit mode) against golden() and timing(), and the edge decoder against the format.

* ``AntDecoder``: every (code, type id) through the generated hardware on Amaranth's
  simulator, compared with :func:`qaccel.arch.pe.ant.decoder_tables` (sig, exp) and with the
  format's own code table :func:`qaccel.models.ant.code_values` (value = sig << exp / 2^frac).
* Array: one case table run at two levels, ``amaranth`` (first tiles of each case) and
  ``verilator`` (every tile); cases of one array size share one Verilator build (ws and is
  are the same Verilog). Among the cases, "sweep" tiles put every code of every type through
  the left-edge (streamed) and the top-edge (stationary) decoders of the exported Verilog.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pytest
from amaranth.hdl import Fragment
from amaranth.sim import Simulator

from qaccel.arch.pe.ant import AntArray, AntOperand, decoder_tables
from qaccel.arch.pe.tile import Tile
from qaccel.arch.spec import Dataflow
from qaccel.models import ant as ant_fmt
from qaccel.rtl.pe import ant as ant_rtl
from qaccel.rtl.pe._ant_decoder import EXP_BITS, SIG_BITS, TYPE_BITS, AntDecoder
from qaccel.rtl.tb.driver import Corruption
from qaccel.rtl.tb.stimulus import gemm_tiles, random_tiles
from tests.rtl import support
from tests.rtl.support import assert_report_matches, require_tool

pytestmark = pytest.mark.rtl

TYPES = ant_fmt.TYPES
#: every (A type, B type) combination of the 4-bit mode
TYPE_PAIRS = {(ta, tb) for ta in TYPES for tb in TYPES}


# ---- the edge decoder, exhaustively --------------------------------------------------------
def simulate_decoder() -> np.ndarray:
    """(sig, exp) of every (type id, code), shape (4, 16, 2), from the generated decoder on
    Amaranth's simulator (type id 3 is unused)."""
    dut = AntDecoder()
    out = np.zeros((1 << TYPE_BITS, 16, 2), dtype=np.int64)

    async def bench(ctx: object) -> None:
        for t in range(1 << TYPE_BITS):
            ctx.set(dut.type_id, t)
            for code in range(16):
                ctx.set(dut.code, code)
                out[t, code] = ctx.get(dut.sig), ctx.get(dut.exp)

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    return out


def test_decoder_matches_tables_and_format_on_every_code() -> None:
    hw = simulate_decoder()
    for t, type_name in enumerate(TYPES):
        sig, exp, frac = decoder_tables(type_name)
        assert hw[t, :, 0].tolist() == sig.tolist(), f"{type_name} sig"
        assert hw[t, :, 1].tolist() == exp.tolist(), f"{type_name} exp"
        values = (hw[t, :, 0] << hw[t, :, 1]) / 2.0**frac
        want = ant_fmt.code_values(4, type_name)
        assert np.array_equal(values, want), f"{type_name}: {values} != {want}"
        assert np.abs(hw[t, :, 0]).max() <= 7  # a signed 4-bit multiplier operand
    assert not hw[len(TYPES)].any()  # the unused type id decodes to (0, 0)


def test_decoder_widths() -> None:
    # flint4 4.0 = 4 << 2 quarters; pot4 64 = 4 << 4: exponents up to 4 need 3 bits
    assert (SIG_BITS, EXP_BITS, TYPE_BITS) == (4, 3, 2)


# ---- the array: case table -------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One RTL run: array, dataflow, tile sources, handshake randomization. A Verilator run
    costs seconds of start-up (export, simulator launch), so one case holds several sources
    and runs them in one simulation."""

    name: str
    rows: int
    cols: int
    sources: tuple[str, ...]   # "random", "block", "hand", "sweep_a", "sweep_w"
    dataflow: str = "ws"
    tiles: int = 0             # random tiles
    max_streamed: int = 24
    gap: float = 0.0           # LOAD idle probability per cycle
    stall: float = 0.0         # DRAIN back-pressure probability per cycle

    @property
    def params(self) -> AntArray:
        return AntArray(rows=self.rows, cols=self.cols, dataflow=Dataflow(self.dataflow),
                        bits=4)


FIXED = ("hand", "sweep_a", "sweep_w")
#: What the Verilator suite covers. Two sizes (4x4, 8x8); random tiles of ANT-encoded data
#: with every (A type, B type) combination (partial tiles included); the fold tiles of a
#: captured seeded torch block (>= 200 per size; int, flint and pot tensors); a hand-worked
#: tile; the sweeps, every code of every type through the Verilog's left-edge and top-edge
#: decoders; input-stationary; LOAD gaps and DRAIN back-pressure (4x4).
RTL_CASES = [
    Case("4x4-ws", 4, 4, ("random", "block") + FIXED, tiles=150, gap=0.3, stall=0.3),
    Case("4x4-is", 4, 4, ("random",), dataflow="is", tiles=60),
    Case("8x8-ws", 8, 8, ("random", "block") + FIXED, tiles=150, max_streamed=32),
    Case("8x8-is", 8, 8, ("random",), dataflow="is", tiles=40, max_streamed=32),
]
#: Amaranth's simulator runs a few k cycles/s: the first tiles of each source only.
AMARANTH_TILES = 2


def block_tiles(params: AntArray) -> list[Tile]:
    """Fold tiles of every GEMM of a seeded torch block captured with qaccel.models (two
    linears with GELU, two projections and a Q K^T matmul), operands ANT-encoded per tensor
    by ``AntArray.layer_operands`` (types chosen by the format's MSE search). ``down`` has
    power-of-two weights (as a POT-trained layer), so pot tensors occur among int and flint.
    """
    import torch

    from qaccel.models import capture

    class Block(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.up, self.down = torch.nn.Linear(32, 48), torch.nn.Linear(48, 24)
            self.q, self.k = torch.nn.Linear(24, 16), torch.nn.Linear(24, 16)
            with torch.no_grad():
                w = self.down.weight
                w.copy_(torch.randn(w.shape).sign()
                        * torch.exp2(torch.randint(0, 7, w.shape).float()) * 0.01)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.down(torch.nn.functional.gelu(self.up(x)))
            return torch.matmul(self.q(h), self.k(h).T)

    torch.manual_seed(0)
    trace = capture(Block(), (torch.randn(64, 32),))
    tiles = []
    for layer in trace.layers:
        for a, b in params.layer_operands(layer):
            tiles += gemm_tiles(params, a, b, max_streamed=16)
    return tiles


def identity(side: int) -> AntOperand:
    """An int4 identity (code 1 is the value 1, code 0 the value 0)."""
    return AntOperand(np.eye(side, dtype=np.uint8), 4, "int")


def sweep_tiles(params: AntArray, side: str) -> list[Tile]:
    """One tile per type whose ``out`` *is* the decoded value of every code (in units of
    2^-frac), so the RTL's decoders are checked code by code.

    ``a``: the 16 codes streamed (A, 16/R rows of K = R) against an identity B (needs
    C >= R): ``out[m, k] = value(a[m, k])``. ``w``: the codes stationary (B, K x N = R x
    16/R, needs C >= 16/R) against an identity A (R x R): ``out[k, n] = value(b[k, n])``.
    """
    r = params.rows
    codes = np.arange(16, dtype=np.uint8).reshape(-1, r)
    tiles = []
    for type_name in TYPES:
        if side == "a":
            tiles.append(Tile(AntOperand(codes, 4, type_name), identity(r)))
        else:
            tiles.append(Tile(identity(r),
                              AntOperand(np.ascontiguousarray(codes.T), 4, type_name)))
    return tiles


def hand_tiles() -> list[Tile]:
    """:data:`HAND_OUT`'s tile: A flint (M x K = 2 x 2), B pot (K x N = 2 x 3)."""
    a = AntOperand(np.array([[0x7, 0xD], [0x2, 0x0]], dtype=np.uint8), 4, "flint")
    b = AntOperand(np.array([[0x7, 0x1, 0x0], [0xB, 0x9, 0x4]], dtype=np.uint8), 4, "pot")
    return [Tile(a, b)]


#: Worked by hand, in units of 2^-2 (flint quarters times pot integers). A: 0x7 = 4.0 = 16,
#: 0xD = -1.5 = -6, 0x2 = 0.5 = 2, 0x0 = 0. B: 0x7 = 64, 0x1 = 1, 0x0 = 0, 0xB = -4,
#: 0x9 = -1, 0x4 = 8. out[0] = (16*64 + -6*-4, 16*1 + -6*-1, 0 + -6*8) = (1048, 22, -48);
#: out[1] = (2*64, 2*1, 0) = (128, 2, 0).
HAND_OUT = np.array([[0x418, 0x16, -0x30], [0x80, 0x2, 0x0]])


def source_tiles(case: Case, source: str) -> list[Tile]:
    params = case.params
    if source == "random":
        return random_tiles(params, case.tiles, seed=7, max_streamed=case.max_streamed)
    if source == "block":
        return block_tiles(params)
    if source == "hand":
        return hand_tiles()
    return sweep_tiles(params, source.removeprefix("sweep_"))


def case_tiles(case: Case, level: str = "verilator") -> list[Tile]:
    """Every tile of every source (``amaranth``: the first ``AMARANTH_TILES`` of each)."""
    keep = None if level == "verilator" else AMARANTH_TILES
    return [t for source in case.sources for t in source_tiles(case, source)[:keep]]


def run_level(level: str, case: Case, tiles: list[Tile], **kw: object):
    return support.run_level(level, case.params, tiles, **kw)


@pytest.mark.parametrize("level", ["amaranth", "verilator"])
@pytest.mark.parametrize("case", RTL_CASES, ids=lambda c: c.name)
def test_rtl_matches_golden_and_timing(level: str, case: Case) -> None:
    tiles = case_tiles(case, level)
    report = run_level(level, case, tiles, gap=case.gap, stall=case.stall, seed=3)
    assert_report_matches(report, case.params, tiles)
    streamed = {"ws": "M", "is": "N"}[case.dataflow]
    assert all(case.params.timing(t) == 2 * case.rows + case.cols + t.dims[streamed] - 2
               for t in tiles)


# ---- the stimulus itself -------------------------------------------------------------------
def test_case_table_meets_acceptance() -> None:
    """Both sizes; every (A type, B type) combination per size; >= 200 real-layer tiles per
    size with int, flint and pot tensors among them."""
    by_size: dict[tuple[int, int], list[Tile]] = {}
    for case in RTL_CASES:
        by_size.setdefault((case.rows, case.cols), []).extend(case_tiles(case))
        if "block" in case.sources:
            tiles = source_tiles(case, "block")
            assert len(tiles) >= 200, f"{case.name}: {len(tiles)} tiles"
            assert {op.type_name for t in tiles for op in (t.a, t.b)} == set(TYPES)
    assert set(by_size) == {(4, 4), (8, 8)}
    for size, tiles in by_size.items():
        pairs = {(t.a.type_name, t.b.type_name) for t in tiles}
        assert pairs == TYPE_PAIRS, f"{size}: missing {TYPE_PAIRS - pairs}"


def test_random_operands_are_ant_encoded() -> None:
    """Random tiles are the format's codes: flint and pot never use their -0 code (8), and
    every type appears for A and for B."""
    params = AntArray(rows=8, cols=8, dataflow=Dataflow.WS, bits=4)
    tiles = random_tiles(params, 60, seed=7, max_streamed=32)
    for side in ("a", "b"):
        ops = [getattr(t, side) for t in tiles]
        assert {op.type_name for op in ops} == set(TYPES)
        for op in ops:
            assert op.codes.max() < 16
            if op.type_name != "int":
                assert not (op.codes == 8).any()


def test_sweep_and_hand_tiles_expose_the_format() -> None:
    """The sweep tiles' golden() is the format's code table times 2^frac (so the sweep cases
    check the RTL's decoders against it), and golden() agrees with the hand-worked tile."""
    for rows in (4, 8):
        params = AntArray(rows=rows, cols=rows, dataflow=Dataflow.WS, bits=4)
        for side in ("a", "w"):
            for type_name, t in zip(TYPES, sweep_tiles(params, side), strict=True):
                out = params.golden(t)
                got = (out if side == "a" else out.T).reshape(-1)
                want = ant_fmt.code_values(4, type_name) * 2**decoder_tables(type_name)[2]
                assert got.tolist() == want.tolist(), (rows, side, type_name)
    params = AntArray(rows=4, cols=4, dataflow=Dataflow.WS, bits=4)
    assert params.golden(hand_tiles()[0]).tolist() == HAND_OUT.tolist()


# ---- faults, errors, structure -----------------------------------------------------------
@pytest.mark.parametrize("level", ["amaranth", "verilator"])
@pytest.mark.parametrize("xor", [0x01, 0x20], ids=["code-bit", "type-bit"])
def test_scoreboard_catches_a_corrupted_weight_word(level: str, xor: int) -> None:
    """Flip one bit of the stationary word of b[2, 1] of tile 1 on the wires into the DUT
    (the model still sees the intended tile): code bit 0 (int 3 -> 2) or type bit 1 (int 3
    -> pot code 3 = 4), value 3 -> 2 or 4. Exactly that tile's column 1 must be reported,
    everywhere a[:, 2] != 0, and nothing else."""
    case = Case("mutation", 4, 4, ())
    rng = np.random.default_rng(11)
    tiles = [Tile(AntOperand(rng.integers(0, 16, (5, 4)).astype(np.uint8), 4, "int"),
                  AntOperand(rng.integers(0, 16, (4, 3)).astype(np.uint8), 4, "int"))
             for _ in range(3)]
    tiles[1].a.codes[:, 2] = [3, 0, 15, 1, 0]     # values 3 0 -1 1 0: rows 1, 4 miss it
    tiles[1].b.codes[2, 1] = 3
    corrupt = Corruption(tile=1, row=2, lane=1, xor=xor)
    report = run_level(level, case, tiles, corrupt=corrupt)
    assert not report.passed
    assert report.errors == []
    assert len(report.mismatches) == 1, report.summary()
    message = report.mismatches[0]
    assert re.match(r"^tile 1: values: 3 of 15 differ \(M=5 K=4 N=3\): out\[0,1\] ", message)
    assert "out[2,1]" in message and "out[3,1]" in message
    assert report.cycles_compared == 3  # the fault changes values, not timing


def test_create_rejects_what_has_no_rtl() -> None:
    with pytest.raises(ValueError, match=r"^ant dataflow must be 'ws' or 'is' for RTL, "
                                         r"not 'os'$"):
        ant_rtl.create(AntArray(rows=2, cols=2, dataflow=Dataflow.OS))
    with pytest.raises(ValueError, match=r"^ant bits must be 4 for RTL \(the fused INT8 mode "
                                         r"holds each row four cycles, which the ws "
                                         r"controller does not\), not 8$"):
        AntArray(rows=2, cols=2, dataflow=Dataflow.WS, bits=8).create()


def test_tile_streams_reject_other_operands() -> None:
    params = AntArray(rows=2, cols=2, dataflow=Dataflow.WS, bits=4)
    tile = Tile(np.zeros((1, 2), dtype=np.int8), np.zeros((2, 1), dtype=np.int8))
    with pytest.raises(TypeError, match=r"^tile\.a must be an AntOperand of 4 bits, "
                                        r"not ndarray$"):
        ant_rtl.tile_streams(params, tile)


def test_tile_streams_words_by_hand() -> None:
    """Word = code | type_id << 4 (int 0, flint 1, pot 2); ws sends (b, a), is (a.T, b.T)."""
    a, b = hand_tiles()[0].a, hand_tiles()[0].b       # flint, pot
    ws = AntArray(rows=4, cols=4, dataflow=Dataflow.WS, bits=4)
    w, s = ant_rtl.tile_streams(ws, Tile(a, b))
    assert w.tolist() == [[0x27, 0x21, 0x20], [0x2B, 0x29, 0x24]]
    assert s.tolist() == [[0x17, 0x1D], [0x12, 0x10]]
    is_ = AntArray(rows=4, cols=4, dataflow=Dataflow.IS, bits=4)
    w, s = ant_rtl.tile_streams(is_, Tile(a, b))
    assert w.tolist() == [[0x17, 0x12], [0x1D, 0x10]]
    assert s.tolist() == [[0x27, 0x2B], [0x21, 0x29], [0x20, 0x24]]


def test_registry_create_returns_the_array_top() -> None:
    top = AntArray(rows=4, cols=6, dataflow=Dataflow.WS, bits=4).create()
    widths = {name: len(getattr(top, name)) for name in top.signature.members}
    # 6 stationary words of 6 bits, 4 streamed words of 6 bits, 6 int32 results per beat
    assert widths == {"w_valid": 1, "w_ready": 1, "w_data": 36, "w_last": 1,
                      "a_valid": 1, "a_ready": 1, "a_data": 24, "a_last": 1,
                      "start": 1, "busy": 1, "done": 1, "cycles": 32,
                      "o_valid": 1, "o_ready": 1, "o_data": 192, "o_last": 1}
    assert top.design.name == "ant4_4x6_d256_t16"
    assert ant_rtl.pe_config(AntArray(rows=2, cols=2, dataflow=Dataflow.WS)) == \
        "ANT4 (int/flint/pot) 4x4 MAC, exp shift -> INT32"
    Fragment.get(top, None)  # it elaborates (and is not reported as unused)
    Fragment.get(ant_rtl.create_pe(AntArray(rows=2, cols=2, dataflow=Dataflow.WS)), None)


def test_lint_is_clean_with_the_waivers() -> None:
    from qaccel.rtl.lint import lint

    require_tool("verilator")
    for rows, cols, flow in ((4, 4, Dataflow.WS), (3, 5, Dataflow.IS)):
        result = lint(ant_rtl.create(AntArray(rows=rows, cols=cols, dataflow=flow, bits=4)))
        assert result.clean, "\n".join(result.warnings[:20])
