"""olive RTL against golden() and timing(), and the pair decoder against the software decoder.

* ``PairDecoder``: every code pair of every mode (4-bit int and flint: 256 pairs each; 8-bit:
  65,536) through the generated hardware on Amaranth's simulator, compared with the pure
  :func:`qaccel.models.olive.decode_pair` (value = sig << exp) and with
  :func:`qaccel.arch.pe.olive.decode_sig_exp` (sig and exp).
* Array: one case table run at two levels, ``amaranth`` (first tiles of each case) and
  ``verilator`` (every tile); cases of one array size and width share one Verilator build.
  Among the cases, "sweep" tiles put every code pair through the left-edge (streamed) and the
  top-edge (stationary) decoders of the exported Verilog.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import pytest
from amaranth.hdl import Fragment
from amaranth.sim import Simulator

from qaccel.arch.pe.olive import MODES, OliVeArray, OliveOperand, decode_sig_exp
from qaccel.arch.pe.tile import Tile
from qaccel.arch.spec import Dataflow
from qaccel.models import olive as olive_fmt
from qaccel.rtl.pe import olive as olive_rtl
from qaccel.rtl.pe._olive_decoder import PairDecoder, decoder_widths
from qaccel.rtl.systolic import pe_signature
from qaccel.rtl.tb.driver import Corruption
from qaccel.rtl.tb.stimulus import gemm_tiles, random_tiles
from tests.rtl import support
from tests.rtl.support import assert_report_matches, require_tool

pytestmark = pytest.mark.rtl

#: (bits, normal type) of every decoder mode
DECODER_MODES = [(bits, normal) for bits, normals in MODES.items() for normal in normals]


# ---- the pair decoder, exhaustively ------------------------------------------------------
def simulate_decoder(bits: int, normal: str) -> np.ndarray:
    """(sig0, exp0, sig1, exp1) of every pair (c0, c1), shape (2^bits, 2^bits, 4), from the
    generated decoder on Amaranth's simulator (one decoder, a tight set/get loop: 65,536
    pairs take about 2 s)."""
    dut = PairDecoder(bits)
    n = 1 << bits
    out = np.zeros((n, n, 4), dtype=np.int64)

    async def bench(ctx: object) -> None:
        if dut.mode_bits:
            ctx.set(dut.mode, MODES[bits].index(normal))
        for c0 in range(n):
            ctx.set(dut.c0, c0)
            for c1 in range(n):
                ctx.set(dut.c1, c1)
                out[c0, c1] = (ctx.get(dut.sig0), ctx.get(dut.exp0), ctx.get(dut.sig1),
                               ctx.get(dut.exp1))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    return out


@pytest.mark.parametrize(("bits", "normal"), DECODER_MODES, ids=lambda v: str(v))
def test_decoder_matches_software_decoders_on_every_pair(bits: int, normal: str) -> None:
    hw = simulate_decoder(bits, normal)
    n = 1 << bits
    c0, c1 = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    pairs = np.stack([c0.ravel(), c1.ravel()], axis=1).astype(np.uint8)
    sig, exp = decode_sig_exp(pairs, bits, normal)
    hw = hw.reshape(n * n, 4)
    assert np.array_equal(hw[:, [0, 2]], sig), "sig differs from decode_sig_exp"
    assert np.array_equal(hw[:, [1, 3]], exp), "exp differs from decode_sig_exp"
    values = hw[:, [0, 2]] << hw[:, [1, 3]]
    want = np.array([olive_fmt.decode_pair(int(a), int(b), bits=bits, normal=normal)
                     for a, b in pairs.tolist()])
    bad = np.argwhere(values != want)
    assert not len(bad), f"{len(bad)} values differ from decode_pair, first pair " \
                         f"{pairs[bad[0][0]].tolist()}: {values[bad[0][0]]} != {want[bad[0][0]]}"


def test_decoder_widths_and_ports() -> None:
    assert decoder_widths(4) == (4, 3, 1)   # flint outliers shift up to 5
    assert decoder_widths(8) == (8, 3, 0)   # int8 outliers shift up to 4; one normal type
    assert "mode" in PairDecoder(4).signature.members
    assert "mode" not in PairDecoder(8).signature.members
    with pytest.raises(ValueError, match=r"^bits must be one of \(4, 8\), not 6$"):
        decoder_widths(6)


# ---- the array: case table ---------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One RTL run (one simulation): array, width, dataflow, tile sources, handshakes.

    ``sources``: (source, count) in order; source "random" (``random_tiles``: encoded OliVe
    data with outliers), "uniform" (raw uniform codes), "mlp" (real layers), "sweep_a" /
    "sweep_w" (every code pair through the left / top edge decoders); count is the number of
    random / uniform tiles (0 for the others, whose tile count is fixed).
    """

    name: str
    rows: int
    cols: int
    bits: int
    sources: tuple[tuple[str, int], ...]
    dataflow: str = "ws"
    max_streamed: int = 24
    gap: float = 0.0       # LOAD idle probability per cycle
    stall: float = 0.0     # DRAIN back-pressure probability per cycle

    @property
    def params(self) -> OliVeArray:
        return OliVeArray(rows=self.rows, cols=self.cols, dataflow=Dataflow(self.dataflow),
                          bits=self.bits)


#: Everything one simulation can check on one design, in one Verilator run per case (each
#: run costs ~10 s of simulator start-up, each design ~30 s of build).
ALL_SOURCES = (("random", 120), ("uniform", 60), ("mlp", 0), ("sweep_a", 0), ("sweep_w", 0))
#: What the Verilator suite covers. Two sizes (4x4, 8x8) at 4 bits (int and flint normals,
#: drawn per tensor) and 8 bits; random encoded tiles (partial tiles, odd K included);
#: uniform raw codes (double victims, victims in lone positions); the fold tiles of a
#: captured three-layer MLP (>= 200 tiles per width at 4x4 and 8x8); input-stationary; LOAD gaps and
#: DRAIN back-pressure; and the sweeps, every code pair of every mode through the Verilog's
#: left-edge and top-edge decoders. Four Verilator builds: olive4 and olive8 at 4x4 and 8x8.
RTL_CASES = [
    Case("4x4-b4-random-handshakes", 4, 4, 4, (("random", 120), ("mlp", 0)), gap=0.3,
         stall=0.3),
    Case("4x4-b4-is-random", 4, 4, 4, (("random", 40),), dataflow="is"),
    Case("4x4-b8-random", 4, 4, 8, (("random", 100), ("mlp", 0))),
    Case("8x8-b4-all", 8, 8, 4, ALL_SOURCES, max_streamed=32),
    Case("8x8-b8-all", 8, 8, 8, ALL_SOURCES, max_streamed=32),
]
#: Amaranth's simulator runs a few k cycles/s: the first tiles of each case only.
AMARANTH_TILES = 3


def mlp_tiles(params: OliVeArray) -> list[Tile]:
    """Fold tiles of every layer of a seeded torch MLP captured with qaccel.models, operands
    OliVe-encoded per tensor by ``OliVeArray.layer_operands`` (K = 45 in the second layer:
    an odd K, so its last fold ends on a lone code)."""
    import torch

    from qaccel.models import capture

    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(64, 45), torch.nn.ReLU(),
                              torch.nn.Linear(45, 30), torch.nn.ReLU(), torch.nn.Linear(30, 10))
    trace = capture(mlp, (torch.randn(40, 64),))
    tiles = []
    for layer in trace.layers:
        for a, b in params.layer_operands(layer):
            tiles += gemm_tiles(params, a, b, max_streamed=16)
    return tiles


def uniform_tiles(params: OliVeArray, count: int, max_streamed: int) -> list[Tile]:
    """Tiles of uniformly random codes (every code equally likely: victim pairs, victims
    next to victims), normal types drawn per tensor; shapes as ``random_tiles``."""
    rng = np.random.default_rng(5)
    tiles = []
    for _ in range(count):
        k = int(rng.integers(1, params.rows + 1))
        m = int(rng.integers(1, max_streamed + 1))
        n = int(rng.integers(1, params.cols + 1))
        ops = []
        for shape, axis in (((m, k), 1), ((k, n), 0)):
            codes = rng.integers(0, 1 << params.bits, shape).astype(np.uint8)
            normal = str(rng.choice(MODES[params.bits]))
            ops.append(OliveOperand(codes, params.bits, normal, axis))
        tiles.append(Tile(*ops))
    return tiles


def all_pairs(bits: int) -> np.ndarray:
    """Every (c0, c1) code pair, c0 major: shape (4^bits, 2), uint8."""
    n = 1 << bits
    return np.stack(np.divmod(np.arange(n * n), n), axis=1).astype(np.uint8)


def one_hot(params: OliVeArray, shape: tuple[int, int], axis: int) -> OliveOperand:
    """Codes of the identity (value 1 on the diagonal, normal 0 elsewhere), int normals."""
    codes = np.eye(*shape, dtype=np.uint8)  # int code 1 is the value 1, code 0 the value 0
    return OliveOperand(codes, params.bits, "int", axis)


def sweep_tiles(params: OliVeArray, side: str) -> list[Tile]:
    """Tiles that expose the decoded value of every code pair of every normal type, so that
    ``out`` *is* the decoder's output.

    ``a``: the pairs are streamed (A, M x K = R, R/2 pairs per row) against an identity B
    (K x N = R x R, needs C >= R), so ``out[m, k] = value(a[m, k])``. ``w``: the pairs are
    stationary (B, K x N = R x C, pairs down each column) against an identity A (M x K = R x
    R), so ``out[k, n] = value(b[k, n])``.
    """
    r, c = params.rows, params.cols
    tiles = []
    for normal in MODES[params.bits]:
        codes = all_pairs(params.bits).reshape(-1)
        if side == "a":
            per_tile = 256 * r  # 256 streamed rows (the buffer)
            for i in range(0, codes.size, per_tile):
                block = codes[i:i + per_tile].reshape(-1, r)
                tiles.append(Tile(OliveOperand(block, params.bits, normal, 1),
                                  one_hot(params, (r, r), 0)))
        else:
            per_tile = r * c
            for i in range(0, codes.size, per_tile):
                block = codes[i:i + per_tile].reshape(c, r).T  # column n: pairs down K
                tiles.append(Tile(one_hot(params, (r, r), 1),
                                  OliveOperand(np.ascontiguousarray(block), params.bits,
                                               normal, 0)))
    return tiles


def source_tiles(params: OliVeArray, source: str, count: int,
                 max_streamed: int) -> list[Tile]:
    if source == "random":
        return random_tiles(params, count, seed=7, max_streamed=max_streamed)
    if source == "uniform":
        return uniform_tiles(params, count, max_streamed)
    if source == "mlp":
        return mlp_tiles(params)
    return sweep_tiles(params, source.removeprefix("sweep_"))


@cache
def case_tiles(case: Case) -> tuple[Tile, ...]:
    """The case's tiles (computed once per session; nothing mutates them)."""
    return tuple(t for source, count in case.sources
                 for t in source_tiles(case.params, source, count, case.max_streamed))


def run_level(level: str, case: Case, tiles: Sequence[Tile], **kw: object):
    return support.run_level(level, case.params, tiles, amaranth_tiles=AMARANTH_TILES, **kw)


@pytest.mark.parametrize("level", ["amaranth", "verilator"])
@pytest.mark.parametrize("case", RTL_CASES, ids=lambda c: c.name)
def test_rtl_matches_golden_and_timing(level: str, case: Case) -> None:
    tiles = case_tiles(case)
    report = run_level(level, case, tiles, gap=case.gap, stall=case.stall, seed=3)
    checked = tiles if level == "verilator" else tiles[:AMARANTH_TILES]
    assert_report_matches(report, case.params, checked)
    assert all(case.params.timing(t) == 2 * case.rows + case.cols + t.M - 2 for t in checked
               if case.dataflow == "ws")


# ---- the stimulus itself -----------------------------------------------------------------
def test_case_table_meets_acceptance() -> None:
    """Both sizes at both widths, 4-bit cases with int and flint tensors, >= 200 real-layer
    tiles per width (odd K among them), outliers and victims, odd K, both sweeps."""
    by_key: dict[tuple[int, int, int], list[Tile]] = {}
    for case in RTL_CASES:
        by_key.setdefault((case.rows, case.cols, case.bits), []).extend(case_tiles(case))
    assert set(by_key) == {(4, 4, 4), (4, 4, 8), (8, 8, 4), (8, 8, 8)}
    for (_, _, bits), tiles in by_key.items():
        ops = [op for t in tiles for op in (t.a, t.b)]
        assert {op.normal for op in ops} == set(MODES[bits])
        victim = olive_fmt.spec(bits, "int").victim
        assert sum(int((op.codes == victim).sum()) for op in ops) > 0
        assert any(t.K % 2 for t in tiles)
    for bits in sorted(MODES):
        cases = [c for c in RTL_CASES if c.bits == bits and ("mlp", 0) in c.sources]
        assert {c.rows for c in cases} == {4, 8}
        for case in cases:
            tiles = mlp_tiles(case.params)
            assert len(tiles) >= 200, f"{case.name}: {len(tiles)} tiles"
            assert any(t.K % 2 for t in tiles)  # the K = 45 layer
        case = next(c for c in cases if c.rows == 8)
        assert {"sweep_a", "sweep_w"} <= {source for source, _ in case.sources}


@pytest.mark.parametrize("bits", sorted(MODES))
def test_random_operands_are_encoded_olive_with_outliers(bits: int) -> None:
    params = OliVeArray(rows=8, cols=8, dataflow=Dataflow.WS, bits=bits)
    tiles = random_tiles(params, 40, seed=7, max_streamed=32)
    victim = olive_fmt.spec(bits, "int").victim
    outliers = 0
    for t in tiles:
        assert t.a.pair_axis == 1 and t.b.pair_axis == 0
        for op in (t.a, t.b):
            pairs = op.codes if op.pair_axis == 1 else op.codes.T
            k = pairs.shape[1] - pairs.shape[1] % 2
            both = (pairs[:, 0:k:2] == victim) & (pairs[:, 1:k:2] == victim)
            assert not both.any()  # the encoder never writes two victims
            outliers += int((pairs[:, :k] == victim).sum())
    assert outliers >= 20


def test_sweep_tiles_expose_decode_pair() -> None:
    """The sweep tiles' golden() is the pure decode_pair table (so the sweep cases check the
    RTL's decoders against it, not only against golden)."""
    for bits in sorted(MODES):
        params = OliVeArray(rows=8, cols=8, dataflow=Dataflow.WS, bits=bits)
        for side in ("a", "w"):
            got: list[int] = []
            for t in sweep_tiles(params, side):
                out = params.golden(t)
                got += (out if side == "a" else out.T).reshape(-1).tolist()
            want = [v for normal in MODES[bits] for a, b in all_pairs(bits).tolist()
                    for v in olive_fmt.decode_pair(a, b, bits=bits, normal=normal)]
            assert got == want, (bits, side)


# ---- faults, errors, structure -----------------------------------------------------------
@pytest.mark.parametrize("level", ["amaranth", "verilator"])
def test_scoreboard_catches_a_corrupted_weight_code(level: str) -> None:
    """Flip bit 0 of weight b[2, 1] of tile 1 (int code 3 -> 2, value 3 -> 2) on the wires
    into the DUT (the model still sees the intended tile): exactly that tile's column 1 must
    be reported, everywhere a[:, 2] != 0, and nothing else."""
    case = Case("mutation", 4, 4, 4, ())
    rng = np.random.default_rng(11)
    victim = olive_fmt.spec(4, "int").victim
    normal_codes = np.array([c for c in range(16) if c != victim], dtype=np.uint8)
    tiles = [Tile(OliveOperand(rng.choice(normal_codes, (5, 4)), 4, "int", 1),
                  OliveOperand(rng.choice(normal_codes, (4, 3)), 4, "int", 0))
             for _ in range(3)]
    tiles[1].a.codes[:, 2] = [3, 0, 9, 1, 0]     # values 3 0 -1 1 0: rows 1, 4 miss it
    tiles[1].b.codes[2, 1] = 3
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
    with pytest.raises(ValueError, match=r"^olive dataflow must be 'ws' or 'is' for RTL, "
                                         r"not 'os'$"):
        olive_rtl.create(OliVeArray(rows=2, cols=2, dataflow=Dataflow.OS))


def test_tile_streams_reject_other_operands() -> None:
    params = OliVeArray(rows=2, cols=2, dataflow=Dataflow.WS, bits=4)
    tile = Tile(np.zeros((1, 2), dtype=np.int8), np.zeros((2, 1), dtype=np.int8))
    with pytest.raises(TypeError, match=r"^tile\.a must be an OliveOperand of 4 bits, "
                                        r"not ndarray$"):
        olive_rtl.tile_streams(params, tile)


def test_tile_streams_words_by_hand() -> None:
    """Stationary word = own | partner << 4 | mode << 8 (9 bits, two's complement); streamed
    word = code | mode << 4 (5 bits). Worked by hand for K = 3 (a lone last row)."""
    params = OliVeArray(rows=4, cols=2, dataflow=Dataflow.WS, bits=4)
    a = OliveOperand(np.array([[0x1, 0x8, 0xF]], dtype=np.uint8), 4, "flint", 1)
    b = OliveOperand(np.array([[0x2], [0x8], [0x7]], dtype=np.uint8), 4, "int", 0)
    w, s = olive_rtl.tile_streams(params, Tile(a, b))
    assert w.tolist() == [[0x082], [0x028], [0x007]]
    # 0x11, 0x18, 0x1F as signed 5-bit words
    assert s.tolist() == [[0x11 - 32, 0x18 - 32, 0x1F - 32]]


def test_registry_create_returns_the_array_top() -> None:
    top = OliVeArray(rows=4, cols=6, dataflow=Dataflow.WS, bits=4).create()
    widths = {name: len(getattr(top, name)) for name in top.signature.members}
    # 6 stationary words of 9 bits, 4 streamed words of 5 bits, 6 int32 results per beat
    assert widths == {"w_valid": 1, "w_ready": 1, "w_data": 54, "w_last": 1,
                      "a_valid": 1, "a_ready": 1, "a_data": 20, "a_last": 1,
                      "start": 1, "busy": 1, "done": 1, "cycles": 32,
                      "o_valid": 1, "o_ready": 1, "o_data": 192, "o_last": 1}
    assert top.design.name == "olive4_4x6_d256_t16"
    Fragment.get(top, None)  # it elaborates (and is not reported as unused)


@pytest.mark.parametrize(("bits", "word"), [(4, 7), (8, 11)])
def test_create_pe_has_the_decoded_word_widths(bits: int, word: int) -> None:
    """PE words are Cat(sig, exp): 4 + 3 bits (4-bit array), 8 + 3 bits (8-bit array)."""
    params = OliVeArray(rows=2, cols=2, dataflow=Dataflow.WS, bits=bits)
    pe = olive_rtl.create_pe(params)
    assert pe.signature == pe_signature(word, word, 32)
    assert olive_rtl.pe_config(params).startswith(f"OliVe{bits} ")
    Fragment.get(pe, None)


def test_lint_is_clean_with_the_waivers() -> None:
    from qaccel.rtl.lint import lint

    require_tool("verilator")
    for bits in sorted(MODES):
        result = lint(olive_rtl.create(OliVeArray(rows=4, cols=4, dataflow=Dataflow.WS,
                                                  bits=bits)))
        assert result.clean, "\n".join(result.warnings[:20])
