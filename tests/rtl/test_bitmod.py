"""bitmod RTL against golden(), timing() and the cycle-by-cycle PE model.

Levels: the PE alone in Amaranth's simulator against ``sim.reference.bitmod.run_pe`` (cycle
by cycle); the array top on ``amaranth`` (a few tiles of each case, in process) and
``verilator`` (every tile). Each case is one simulation; cases of one design share one
Verilator build (two builds: 4x4 FP4 and 8x8 FP3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pytest
from amaranth.hdl import Cat, Fragment, Module, Signal
from amaranth.sim import Simulator

from qaccel.arch.pe.bitmod import (
    BitmodArray,
    BitmodWeights,
    align_activations,
    round_fp32,
    to_fp16,
)
from qaccel.arch.pe.tile import Tile
from qaccel.rtl.lint import lint
from qaccel.rtl.pe._bitmod_core import X_OFFSET
from qaccel.rtl.pe._bitmod_pe import Aligner, BitmodPE, PeWidths, TermDecoder
from qaccel.rtl.pe.bitmod import create, random_operands
from qaccel.rtl.tb.driver import Corruption
from qaccel.rtl.tb.stimulus import gemm_tiles, random_tiles
from qaccel.rtl.verify import verify
from qaccel.sim.reference.bitmod import run_pe
from tests.rtl import support
from tests.rtl.support import assert_report_matches, require_tool

pytestmark = pytest.mark.rtl


def make_params(rows: int, cols: int, fmt: str = "bitmod_fp4", lanes: int = 4,
                guard_bits: int = 3) -> BitmodArray:
    return BitmodArray(rows=rows, cols=cols, dataflow="os", weight_format=fmt,
                       guard_bits=guard_bits, lanes=lanes, metadata_bits=18)


def halves(codes: list[int]) -> np.ndarray:
    return np.array(codes, np.uint16).view(np.float16)[None, :]


def one_group(codes: list[int], type_id: int, scale: float, bits: int = 4) -> BitmodWeights:
    """One output column of ``len(codes)`` weights (K <= 128)."""
    return BitmodWeights(np.array(codes, np.uint8)[:, None], np.array([[type_id]], np.uint8),
                         np.array([[scale]], np.float32), bits)


#: Hand-worked vectors: (FP16 activation bits, FP4 codes, type id, scale, FP16 result bits).
#: er_pos (type 0) codes: 0x3 = +1.5, 0xC = -2, 0x8 = the special +5, 0x1 = +0.5, 0x9 = -0.5.
LITERAL_TILES = [
    # [1, 2, -0.5, 3] . [1.5, -2, 5, 0.5] = 1.5 - 4 - 2.5 + 1.5 = -3.5; * 0.25 = -0.875
    ([0x3C00, 0x4000, 0xB800, 0x4200], [0x3, 0xC, 0x8, 0x1], 0, 0.25, 0xBB00),
    # [2^-24 (smallest subnormal), 1] . [5, -0.5] = 5*2^-24 - 0.5: Emax = 15, 2^-24 aligns
    # to (1 << 3) >> 14 = 0 (truncated, rounding point 1): -0.5 * 2 = -1.0
    ([0x0001, 0x3C00], [0x8, 0x9], 0, 2.0, 0xBC00),
    # one activation, K = 1 (3 lanes idle): 65504 * 6 * 2 = 786048 -> FP16 overflow to +inf
    ([0x7BFF], [0x7], 0, 2.0, 0x7C00),
]


def literal_tile(row: tuple) -> Tile:
    a, codes, tid, scale, _ = row
    return Tile(halves(a), one_group(codes, tid, scale))


@dataclass(frozen=True)
class Case:
    """One RTL run: array, weight format, tile source, handshake randomization."""

    name: str
    rows: int
    cols: int
    fmt: str
    source: str            # "random" (after the hand vectors) | "layers" (a torch model)
    tiles: int = 0         # random tiles
    max_k: int = 300       # random tiles: K in 1..max_k (up to 3 groups)
    gap: float = 0.0       # LOAD idle probability per cycle
    stall: float = 0.0     # DRAIN back-pressure probability per cycle
    tokens: int = 64       # "layers": tokens through the captured MLP

    @property
    def params(self) -> BitmodArray:
        return make_params(self.rows, self.cols, self.fmt)


#: The Verilator suite: two designs (4x4 FP4, 8x8 FP3), each with >= 200 random tiles (FP16
#: activations with zeros, subnormals and per-token exponent ranges; partial tiles M < C,
#: N < R; K from 1 to 300, so one to three groups and short last groups; every random case
#: starts with the hand vectors) and the fold tiles of a captured three-layer torch MLP
#: (224 on 4x4 with 64 tokens, 200 on 8x8 with 200 tokens); LOAD gaps and DRAIN back-pressure.
RTL_CASES = [
    Case("4x4-fp4-random", 4, 4, "bitmod_fp4", "random", tiles=200),
    Case("4x4-fp4-handshakes", 4, 4, "bitmod_fp4", "random", tiles=40, gap=0.3, stall=0.3),
    Case("4x4-fp4-layers", 4, 4, "bitmod_fp4", "layers"),
    Case("8x8-fp3-random", 8, 8, "bitmod_fp3", "random", tiles=200),
    Case("8x8-fp3-layers", 8, 8, "bitmod_fp3", "layers", tokens=200),
]
#: Amaranth's simulator runs a few k cycles/s: the first tiles of each case only (the 4x4
#: random case: the three hand vectors and two random tiles).
AMARANTH_TILES = 5


def layer_tiles(params: BitmodArray, tokens: int = 64) -> list[Tile]:
    """Fold tiles of the three layers of a seeded torch MLP captured with qaccel.models
    (K = 200 spans two groups), operands from ``BitmodArray.layer_operands``."""
    import torch

    from qaccel.models import capture

    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(200, 24), torch.nn.GELU(),
                              torch.nn.Linear(24, 12), torch.nn.ReLU(), torch.nn.Linear(12, 20))
    trace = capture(mlp, (torch.randn(tokens, 200),))
    tiles = []
    for layer in trace.layers:
        for a, w in params.layer_operands(layer):
            tiles += gemm_tiles(params, a, w, max_streamed=256)
    return tiles


def case_tiles(case: Case) -> list[Tile]:
    if case.source == "layers":
        return layer_tiles(case.params, case.tokens)
    hand = [literal_tile(row) for row in LITERAL_TILES] if case.params.bits == 4 else []
    return hand + random_tiles(case.params, case.tiles, seed=7, max_streamed=case.max_k)


def run_level(level: str, case: Case, tiles: list[Tile], **kw: object):
    return support.run_level(level, case.params, tiles, amaranth_tiles=AMARANTH_TILES, **kw)


# ---- the PE alone, cycle by cycle against run_pe -------------------------------------------

def _pe_harness(w: PeWidths) -> tuple[Module, BitmodPE, dict]:
    """One PE fed by ``lanes`` column aligners and row decoders (the array's edges)."""
    m = Module()
    pe = BitmodPE(w)
    m.submodules.pe = pe
    ins = {"x": [Signal(16, name=f"x{i}") for i in range(w.lanes)],
           "code": [Signal(w.bits, name=f"code{i}") for i in range(w.lanes)],
           "emax": Signal(5), "tid": Signal(2), "j": Signal(range(w.cpw))}
    als, decs = [], []
    for lane in range(w.lanes):
        al, dec = Aligner(w), TermDecoder(w)
        m.submodules[f"al{lane}"], m.submodules[f"dec{lane}"] = al, dec
        m.d.comb += [al.x.eq(ins["x"][lane]), al.emax.eq(ins["emax"]),
                     dec.code.eq(ins["code"][lane]), dec.tid.eq(ins["tid"]),
                     dec.j.eq(ins["j"])]
        als.append(al)
        decs.append(dec)
    m.d.comb += [pe.a.eq(Cat(al.a for al in als)), pe.nz.eq(Cat(d.nz for d in decs)),
                 pe.neg.eq(Cat(d.neg for d in decs)), pe.shift.eq(Cat(d.shift for d in decs)),
                 pe.dq_en.eq(1)]
    return m, pe, ins


def _trace_state(line: str) -> tuple[int | None, int, int | None]:
    """(acc or None, dequantizer steps done (0 = idle), P or None) of a run_pe trace line."""
    acc = re.search(r"acc +([+-]0x[0-9a-f]+)", line)
    dq = re.search(r"dq +(\d+)/11 P ([+-]0x[0-9a-f]+)", line)
    return (int(acc.group(1), 16) if acc else None, int(dq.group(1)) if dq else 0,
            int(dq.group(2), 16) if dq else None)


def simulate_pe(params: BitmodArray, a_row: np.ndarray, w: BitmodWeights) -> dict:
    """Drive the PE harness with one dot product the way the array does; per-cycle state."""
    pw = PeWidths.of(params)
    m, pe, ins = _pe_harness(pw)
    k, lanes, g_size = a_row.shape[0], params.lanes, params.group_size
    _, emax = align_activations(a_row.reshape(1, k), g_size, params.guard_bits)
    a_bits = a_row.view(np.uint16)
    scales = w.scales[:, 0].astype(np.float16).view(np.uint16)
    seen: dict = {"acc": [], "dq": [], "p": [], "results": []}

    async def bench(ctx: object) -> None:
        async def tick() -> None:
            await ctx.tick()
            seen["acc"].append(ctx.get(pe.acc))
            left = ctx.get(pe.dq_left)
            seen["dq"].append(11 - left if left else 0)
            seen["p"].append(ctx.get(pe.dq_p))
            if ctx.get(pe.p_valid):
                seen["results"].append((ctx.get(pe.p), ctx.get(pe.p_esum)))

        for g in range(w.groups):
            end = min((g + 1) * g_size, k)
            bits = int(scales[g])
            e_s = max((bits >> 10) & 0x1F, 1)
            ctx.set(pe.ms, (bits & 0x3FF) | (int((bits >> 10) & 0x1F > 0) << 10))
            ctx.set(pe.s_neg, bits >> 15)
            ctx.set(pe.esum, int(emax[0, g]) + e_s)
            ctx.set(ins["emax"], int(emax[0, g]))
            ctx.set(ins["tid"], int(w.type_ids[g, 0]))
            for k0 in range(g * g_size, end, lanes):
                for lane in range(lanes):
                    kk = k0 + lane
                    ctx.set(ins["x"][lane], int(a_bits[kk]) if kk < end else 0)
                    ctx.set(ins["code"][lane], int(w.codes[kk, 0]) if kk < end else 0)
                for j in range(params.cpw):
                    ctx.set(ins["j"], j)
                    ctx.set(pe.step, 1)
                    ctx.set(pe.g_last, int(j == params.cpw - 1 and k0 + lanes >= end))
                    await tick()
        ctx.set(pe.step, 0)
        ctx.set(pe.g_last, 0)
        while ctx.get(pe.dq_left) or ctx.get(pe.hold_v):
            await tick()

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return seen


PE_CASES = [  # (format, lanes, guard bits, K, seed): one group, a short last group, lanes 1
    # and 16, no guard bits and many
    ("bitmod_fp4", 4, 3, 12, 0), ("bitmod_fp4", 4, 3, 200, 1), ("bitmod_fp3", 4, 3, 131, 2),
    ("bitmod_fp4", 1, 0, 40, 3), ("bitmod_fp3", 16, 3, 300, 4), ("bitmod_fp4", 8, 12, 260, 5),
]


@pytest.mark.parametrize(("fmt", "lanes", "guard_bits", "k", "seed"), PE_CASES)
def test_pe_matches_the_cycle_model(fmt: str, lanes: int, guard_bits: int, k: int,
                                    seed: int) -> None:
    """Accumulator and dequantizer state in every cycle equal ``run_pe``'s trace; the
    delivered (P, Emax + Es) through the golden model's own rounding give run_pe's output."""
    params = make_params(1, 1, fmt, lanes, guard_bits)
    rng = np.random.default_rng(seed)
    a, w = random_operands(params, rng, 1, k, 1)
    ref = run_pe(params, a[0], w, trace=True)
    seen = simulate_pe(params, a[0], w)
    assert len(seen["acc"]) == len(ref.lines) == ref.compute_cycles + ref.drain_cycles
    for cycle, line in enumerate(ref.lines):
        acc, dq_steps, p = _trace_state(line)
        if acc is not None and (cycle + 1) % (params.group_cycles) and cycle + 1 != \
                ref.compute_cycles:  # the RTL restarts the accumulator at a group's end
            assert seen["acc"][cycle] == acc, line
        assert seen["dq"][cycle] == dq_steps, line
        if p is not None:
            assert seen["p"][cycle] == p, line
    assert len(seen["results"]) == w.groups
    x_off = X_OFFSET + params.guard_bits + (1 if params.bits == 4 else 0)  # 50 + F + wf
    acc32 = np.float32(0.0)
    for p, esum in seen["results"]:
        acc32 = np.float32(acc32 + round_fp32(np.int64(p), np.int64(esum - x_off)))
    assert to_fp16(acc32).view(np.uint16) == ref.out.view(np.uint16)


# ---- the array top -------------------------------------------------------------------------

@pytest.mark.parametrize("level", ["amaranth", "verilator"])
@pytest.mark.parametrize("case", RTL_CASES, ids=lambda c: c.name)
def test_rtl_matches_golden_and_timing(level: str, case: Case) -> None:
    tiles = case_tiles(case)
    report = run_level(level, case, tiles, gap=case.gap, stall=case.stall, seed=3)
    checked = tiles if level == "verilator" else tiles[:AMARANTH_TILES]
    assert_report_matches(report, case.params, checked)


@pytest.mark.parametrize(("rows", "cols", "fmt", "guard_bits"),
                         [(1, 1, "bitmod_fp4", 0), (2, 3, "bitmod_fp3", 12)])
def test_other_shapes_and_guard_bits_on_amaranth(rows: int, cols: int, fmt: str,
                                                 guard_bits: int) -> None:
    """The smallest array (one PE, one output unit) without guard bits, and a non-square
    FP3 array with wide aligned activations; up to three groups and partial beats."""
    params = make_params(rows, cols, fmt, guard_bits=guard_bits)
    tiles = random_tiles(params, 3, seed=5, max_streamed=300)
    report = verify(params, tiles, simulator="amaranth")
    assert report.passed, report.summary()


def test_case_table_meets_acceptance() -> None:
    """Both designs see >= 200 random and >= 200 real-layer tiles (4x4: the layers alone),
    with one, two and three groups and partial tiles."""
    for side, fmt in ((4, "bitmod_fp4"), (8, "bitmod_fp3")):
        cases = [c for c in RTL_CASES if (c.rows, c.fmt) == (side, fmt)]
        rand = [t for c in cases if c.source == "random" for t in case_tiles(c)]
        assert len(rand) >= 200
        assert {-(-t.K // 128) for t in rand} == {1, 2, 3}
        assert any(t.M < side for t in rand) and any(t.N < side for t in rand)
    layers = layer_tiles(make_params(4, 4))
    # 200->24: 16 M blocks x 6 N blocks; 24->12: 16 x 3; 12->20: 16 x 5
    assert len(layers) == 16 * (6 + 3 + 5) == 224
    assert {t.K for t in layers} == {200, 24, 12}
    # 8x8, 200 tokens: 25 M blocks x (3 + 2 + 3) N blocks
    big = next(c for c in RTL_CASES if c.name == "8x8-fp3-layers")
    assert len(case_tiles(big)) == 25 * (3 + 2 + 3) == 200


@pytest.mark.parametrize("index", range(len(LITERAL_TILES)))
def test_golden_matches_literal_vectors(index: int) -> None:
    row = LITERAL_TILES[index]
    got = make_params(4, 4).golden(literal_tile(row))
    assert got.view(np.uint16).tolist() == [[row[-1]]]


def test_timing_of_the_short_last_group_on_the_rtl() -> None:
    """With 32 columns and K = 132 the last group waits for the output units (z = t0 + C,
    as in the 8x32 case of tests/pe/test_bitmod.py::test_single_tile_timing_by_hand): run a
    2x32 array on Amaranth's simulator (two tiles, values and cycles checked by the bench)."""
    params = make_params(2, 32)
    rng = np.random.default_rng(2)
    tiles = [Tile(*random_operands(params, rng, m, 132, 2)) for m in (32, 5)]
    report = verify(params, tiles, simulator="amaranth")
    assert report.passed, report.summary()
    assert report.run_cycles == 2 * params.tile_cycles(132)


@pytest.mark.parametrize("level", ["amaranth", "verilator"])
def test_scoreboard_catches_a_corrupted_weight_code(level: str) -> None:
    """Flip the sign bit of weight b[5, 2] (beat 1, word 2, lane 1 of the row operand) of
    tile 1 on the wires: exactly that tile's output column n = 2 must be reported wherever
    a[:, 5] != 0 and the weight is not zero, and nothing else."""
    case = Case("mutation", 4, 4, "bitmod_fp4", "random")
    rng = np.random.default_rng(11)
    tiles = [Tile(*random_operands(case.params, rng, 3, 8, 3)) for _ in range(3)]
    tiles[1].a[:] = np.float16(rng.uniform(0.5, 1.0, (3, 8)))  # no term hides the change
    tiles[1].a[:, 5] = np.float16([1.5, 0.0, -3.0])   # token 1 does not see the weight
    tiles[1].b.codes[5, 2] = 0x3                        # +1.5 in every type
    corrupt = Corruption(tile=1, row=1, lane=2, xor=0x8 << 4, stream="a")
    report = run_level(level, case, tiles, corrupt=corrupt)
    assert not report.passed
    assert report.errors == []
    assert len(report.mismatches) == 1, report.summary()
    message = report.mismatches[0]
    assert re.match(r"^tile 1: values: 2 of 9 differ \(M=3 K=8 N=3\): out\[0,2\] ", message)
    assert "out[2,2]" in message
    assert report.cycles_compared == 3  # the fault changes values, not timing


def test_scoreboard_catches_a_corrupted_group_scale() -> None:
    """Flip the lowest exponent bit of output channel 1's group-0 scale in tile 1's metadata
    beat (bit 1 * 18 + 10): the scale doubles or halves, so exactly column n = 1 of tile 1
    differs, for every token (Amaranth only: the metadata path is the same Verilog)."""
    params = make_params(2, 2)
    rng = np.random.default_rng(4)
    tiles = []
    for _ in range(2):
        a = np.float16(rng.uniform(0.5, 1.0, (2, 20)))
        w = BitmodWeights.from_float(rng.uniform(0.5, 1.0, (20, 2)), params.weight_fmt)
        tiles.append(Tile(a, w))
    corrupt = Corruption(tile=1, row=0, lane=1 * 18 + 10, xor=1, stream="m")
    report = verify(params, tiles, simulator="amaranth", corrupt=corrupt)
    assert len(report.mismatches) == 1, report.summary()
    assert re.match(r"^tile 1: values: 2 of 4 differ \(M=2 K=20 N=2\): out\[0,1\] .*"
                    r"out\[1,1\] ", report.mismatches[0])


def test_lint_clean() -> None:
    require_tool("verilator")
    result = lint(create(make_params(2, 3, "bitmod_fp3")))
    assert result.clean, "\n".join(result.warnings)


def test_create_rejects_shared_output_units() -> None:
    with pytest.raises(ValueError, match=r"^bitmod RTL needs one output unit per row \(cols "
                                         r"<= 16, the cycles of one group\), not 2 for 32 "
                                         r"columns$"):
        create(make_params(2, 32, lanes=16))


def test_registry_create_returns_the_array_top() -> None:
    top = make_params(3, 5, "bitmod_fp3").create()
    widths = {name: len(getattr(top, name)) for name in top.signature.members}
    # 5 columns x 4 lanes x FP16, 3 rows x 4 lanes x 3-bit codes, 3 rows x 18 metadata bits
    assert widths == {"w_valid": 1, "w_ready": 1, "w_data": 320, "w_last": 1,
                      "a_valid": 1, "a_ready": 1, "a_data": 36, "a_last": 1,
                      "m_valid": 1, "m_ready": 1, "m_data": 54, "m_last": 1,
                      "start": 1, "busy": 1, "done": 1, "cycles": 32,
                      "o_valid": 1, "o_ready": 1, "o_data": 80, "o_last": 1}
    assert top.design.name == "bitmod_fp3_3x5_l4_d256_t16"
    Fragment.get(top, None)  # it elaborates (and is not reported as unused)
