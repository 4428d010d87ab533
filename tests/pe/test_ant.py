"""``ant`` PE family: golden against an independent decode-then-multiply reference (exact
rationals from the format's own value table, or plain INT8), hand-worked cycles and decoder
events, the two engines exact against each other, PE energy per cycle, presets and the CLI."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qaccel import sim
from qaccel.arch import load_accelerator
from qaccel.arch.components import int_add, int_mult, scale_to
from qaccel.arch.pe.ant import AntArray, AntOperand, decoder_tables
from qaccel.arch.pe.tile import Tile
from qaccel.cli import main as cli_main
from qaccel.models import ant as ant_fmt
from qaccel.models.trace import Layer
from qaccel.models.workloads import build_workload
from qaccel.sim.gemm import gemm_layer
from tests.conftest import make_accel
from tests.pe.support import assert_engines_agree


def ant_accel(rows=4, cols=4, dataflow="ws", bits=4, kib=64.0, bits_per_cycle=32):
    return make_accel(rows=rows, cols=cols, dataflow=dataflow, kib=kib,
                      bits_per_cycle=bits_per_cycle, family="ant", bits=bits)


# ---- an independent reference: exact rationals from the format's value table -------------
def reference_product(a: AntOperand, b: AntOperand) -> np.ndarray:
    """sum_k value_a * value_b in Fractions, expressed in units of 2^-(frac_a + frac_b)
    (the unit golden() documents), wrapped to int32."""
    def vals(op):
        if op.bits == 8:
            return [[Fraction(int(v)) for v in row] for row in op.codes.view(np.int8).tolist()]
        table = ant_fmt.code_values(4, op.type_name)
        return [[Fraction(float(table[c])) for c in row] for row in op.codes.tolist()]

    av, bv = vals(a), vals(b)
    unit = 2 ** (a.frac + b.frac)
    out = np.zeros((len(av), len(bv[0]) if bv else 0), dtype=np.int64)
    for m, ar in enumerate(av):
        for n in range(out.shape[1]):
            s = sum(ar[k] * bv[k][n] for k in range(len(ar))) * unit
            assert s.denominator == 1
            out[m, n] = (int(s) + 2**31) % 2**32 - 2**31
    return out


def operands(codes_a, codes_b_t, bits=4, type_a="int", type_b="int"):
    """A from M x K codes, B from N x K codes."""
    a = AntOperand(np.asarray(codes_a, dtype=np.uint8), bits, type_a)
    b = AntOperand(np.ascontiguousarray(np.asarray(codes_b_t, dtype=np.uint8).T), bits, type_b)
    return a, b


GOLDEN_CASES = [
    # int4 x int4: A = [0x7, 0x8] = [7, -8], B = [0x9, 0x2] = [-7, 2]: -49 - 16 = -65
    (4, "int", "int", [[0x7, 0x8]], [[0x9, 0x2]], [[-65]]),
    # flint4 (quarters) x int4: A = [0x7, 0xD] = [4.0, -1.5] = [16, -6] quarters,
    # B = [3, 0xF = -1]: 48 + 6 = 54 quarters (= 13.5)
    (4, "flint", "int", [[0x7, 0xD]], [[0x3, 0xF]], [[54]]),
    # pot4 x flint4: A = [0x7, 0x9] = [64, -1], B = [0x1, 0x6] = [0.25, 2] = [1, 8] quarters:
    # 64 - 8 = 56 quarters (= 14)
    (4, "pot", "flint", [[0x7, 0x9]], [[0x1, 0x6]], [[56]]),
    # flint x flint: [0x6, 0x3] = [2, .75] = [8, 3] quarters; same B: 64 + 9 = 73 sixteenths
    (4, "flint", "flint", [[0x6, 0x3]], [[0x6, 0x3]], [[73]]),
    # INT8 fused: A = [-128, 127], B = [-128, 1]: 16384 + 127 = 16511
    (8, "int", "int", [[0x80, 0x7F]], [[0x80, 0x01]], [[16511]]),
]


@pytest.mark.parametrize("bits,ta,tb,ca,cbt,expected", GOLDEN_CASES)
def test_golden_by_hand(bits, ta, tb, ca, cbt, expected):
    a, b = operands(ca, cbt, bits, ta, tb)
    pe = AntArray(rows=2, cols=2, dataflow="os", bits=bits)
    np.testing.assert_array_equal(pe.golden(Tile(a, b)), np.array(expected, dtype=np.int32))
    np.testing.assert_array_equal(reference_product(a, b), expected)


def test_fused_int8_golden_wraps_like_int32_accumulators():
    # K = 133,152 products 127*127 = 16129 sum to 2^31 + 124,960 -> -2^31 + 124,960
    k = 133_152
    a, b = operands(np.full((1, k), 0x7F), np.full((1, k), 0x7F), bits=8)
    pe = AntArray(rows=1, cols=1, dataflow="os", bits=8)
    assert int(pe.golden(Tile(a, b))[0, 0]) == -(2**31) + 124_960


def test_decoder_tables_fit_a_4bit_multiplier():
    # flint4 in quarters: 16 = 4 << 2 (smallest shift with |sig| <= 7), 6 = 6 << 0;
    # pot4: 64 = 4 << 4
    sig, exp, frac = decoder_tables("flint")
    assert (frac, int(sig[7]), int(exp[7]), int(sig[5]), int(exp[5])) == (2, 4, 2, 6, 0)
    sig, exp, frac = decoder_tables("pot")
    assert (frac, int(sig[7]), int(exp[7])) == (0, 4, 4)
    for t in ant_fmt.TYPES:
        sig, exp, frac = decoder_tables(t)
        assert np.all(np.abs(sig) <= 7)
        np.testing.assert_array_equal(sig << exp, ant_fmt.code_values(4, t) * 2**frac)


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 5), k=st.integers(1, 10), n=st.integers(1, 5),
       ta=st.sampled_from(ant_fmt.TYPES), tb=st.sampled_from(ant_fmt.TYPES),
       bits=st.sampled_from([4, 8]), seed=st.integers(0, 2**16))
def test_golden_equals_decode_then_multiply(m, k, n, ta, tb, bits, seed):
    rng = np.random.default_rng(seed)
    if bits == 8:
        ta = tb = "int"
    a, b = operands(rng.integers(0, 1 << bits, (m, k)), rng.integers(0, 1 << bits, (n, k)),
                    bits, ta, tb)
    pe = AntArray(rows=m, cols=n, dataflow="os", bits=bits)
    np.testing.assert_array_equal(pe.golden(Tile(a, b)), reference_product(a, b))


# ---- timing and events by hand --------------------------------------------------------------
CYCLE_CASES = [
    # (rows, cols, flow, bits, M, K, N, folds, compute_cycles, mac4, decodes)
    # ws 4x4, 10x6x5, 4-bit: folds = ceil(6/4)*ceil(5/4) = 4; fold = 8+4+10-2 = 20 -> 80.
    # decodes: sum over folds of K_t*(M + N_t) = (4+2) * ((10+4) + (10+1)) = 150
    (4, 4, "ws", 4, 10, 6, 5, 4, 80, 300, 150),
    # the same in the fused 8-bit mode: 4 passes per step -> 4 * 80 = 320; 4 * 300 mac4;
    # INT8 operands need no decoder
    (4, 4, "ws", 8, 10, 6, 5, 4, 320, 1200, 0),
    # os 2x8, 5x7x9, 8-bit: folds = ceil(5/2)*ceil(9/8) = 6; fold = 4*(2+8+7-2) = 60 -> 360
    (2, 8, "os", 8, 5, 7, 9, 6, 360, 4 * 315, 0),
    # is 3x5, 11x3x4, 4-bit: folds = ceil(3/3)*ceil(11/5) = 3; fold = 6+5+4-2 = 13 -> 39.
    # decodes: K * (M + N * 3 M-blocks) = 3 * (11 + 12) = 69
    (3, 5, "is", 4, 11, 3, 4, 3, 39, 132, 69),
    # the prefill preset's array, ws 32x32, 64x64x64: 4 folds of 64+32+64-2 = 158 -> 632;
    # decodes: 64 * (64*2 + 64*1) = 12288
    (32, 32, "ws", 4, 64, 64, 64, 4, 632, 64**3, 12288),
]


@pytest.mark.parametrize("engine", sim.ENGINES)
@pytest.mark.parametrize("rows,cols,flow,bits,M,K,N,folds,cycles,mac4,decodes", CYCLE_CASES,
                         ids=[f"{c[2]}-{c[0]}x{c[1]}-w{c[3]}-{c[4]}x{c[5]}x{c[6]}"
                              for c in CYCLE_CASES])
def test_cycles_and_events_by_hand(engine, rows, cols, flow, bits, M, K, N, folds, cycles,
                                   mac4, decodes):
    res = sim.run([gemm_layer(M, K, N)], ant_accel(rows, cols, flow, bits), engine=engine)
    row = res.frame.iloc[0]
    assert (row.folds, row.compute_cycles) == (folds, cycles)
    assert row.fmt == ("ant4" if bits == 4 else "int8")
    ev = res.events[row.layer]
    assert (ev["mac4"], ev["decoder_values"]) == (mac4, decodes)


def test_bad_mode_message():
    with pytest.raises(ValueError, match=r"^bits must be 4 or 8, not 5$"):
        AntArray(rows=2, cols=2, dataflow="ws", bits=5)


# ---- the two engines agree exactly -------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(M=st.integers(1, 24), K=st.integers(1, 24), N=st.integers(1, 24),
       rows=st.integers(1, 7), cols=st.integers(1, 7),
       flow=st.sampled_from(["ws", "os", "is"]), bits=st.sampled_from([4, 8]),
       kib=st.sampled_from([0.25, 1.0, 64.0]), count=st.integers(1, 2),
       seed=st.integers(0, 2**16))
def test_engines_agree_with_values(M, K, N, rows, cols, flow, bits, kib, count, seed):
    accel = ant_accel(rows, cols, flow, bits, kib=kib)
    layer = gemm_layer(M, K, N, count=count, seed=seed)
    assert_engines_agree(layer, accel, reference_product)


@settings(max_examples=15, deadline=None)
@given(M=st.integers(1, 1500), K=st.integers(1, 1500), N=st.integers(1, 1500),
       rows=st.sampled_from([8, 32]), cols=st.sampled_from([8, 32]),
       flow=st.sampled_from(["ws", "os", "is"]), bits=st.sampled_from([4, 8]),
       kib=st.sampled_from([2.0, 256.0]))
def test_engines_agree_on_big_shapes_timing_only(M, K, N, rows, cols, flow, bits, kib):
    accel = ant_accel(rows, cols, flow, bits, kib=kib, bits_per_cycle=64)
    layer = gemm_layer(M, K, N)
    assert_engines_agree(layer, accel)


def test_captured_ant_tensors_are_used_as_coded():
    rng = np.random.default_rng(3)
    fmt = ant_fmt.Ant(4)
    act = fmt.encode(rng.normal(size=(3, 8)).astype(np.float32))
    w = fmt.encode(rng.laplace(size=(5, 8)).astype(np.float32))
    layer = Layer("fc", "linear", 3, 8, 5, weight=w, act=act)
    pe = AntArray(rows=4, cols=8, dataflow="os", bits=4)
    [(a, b)] = pe.layer_operands(layer)
    np.testing.assert_array_equal(a.codes, act.codes)
    np.testing.assert_array_equal(b.codes, w.codes.T)
    unit = 2.0 ** -(a.frac + b.frac)
    out = pe.golden(Tile(a, b)) * unit * act.scales.astype(np.float64) \
        * w.scales.astype(np.float64).reshape(1, -1)
    ref = ant_fmt.decode(act).astype(np.float64) @ ant_fmt.decode(w).astype(np.float64).T
    np.testing.assert_allclose(out, ref, rtol=1e-6)


# ---- energy ---------------------------------------------------------------------------------
#: DESIGN.md "Energy/area model": ANT PE at 28 nm, 1 GHz (bitmod_sim/test_ant.py pe_energy)
DESIGN_PJ_PER_CYCLE = 0.56


@pytest.mark.parametrize("bits", [4, 8])
def test_pe_energy_per_cycle(bits):
    # one 4x4 sub-product per busy PE cycle in both modes: 4x4 mult 0.05069 pJ + 4-bit
    # exponent adder 0.02 + 32-bit accumulator 0.1 = 0.17069 pJ at 45 nm, x0.513 = 0.08756
    row = sim.run([gemm_layer(4, 64, 4)], ant_accel(4, 4, "os", bits)).frame.iloc[0]
    per_busy_cycle = row.energy_pj_pe / (row.macs * (1 if bits == 4 else 4))
    assert per_busy_cycle == pytest.approx(0.17069 * 0.513, rel=1e-3)
    assert per_busy_cycle == pytest.approx(
        scale_to(int_mult(4, 4) + int_add(4) + int_add(32), 28).energy_pj)
    # Known gap, reported rather than tuned: 16% of DESIGN.md's 0.56 pJ/cycle (registers,
    # clock, shifter and decoder muxes have no anchor). Fails once the model grows them.
    assert per_busy_cycle < 0.8 * DESIGN_PJ_PER_CYCLE
    # 4-bit decodes (one 4-bit adder each, 0.02 pJ at 45 nm) land in the decoder column:
    # os, one fold: 64 * (4 + 4) codes
    expected = 64 * 8 * 0.02 * 0.513 if bits == 4 else 0.0
    assert row.energy_pj_decoder == pytest.approx(expected)


# ---- presets and the CLI ----------------------------------------------------------------
@pytest.mark.parametrize("name,rows,cols", [("ant-prefill", 32, 32), ("ant-decode", 64, 16)])
def test_presets_load_and_run_a_workload(name, rows, cols):
    accel = load_accelerator(name)
    pe = accel.pe_array
    assert (pe.family, pe.rows, pe.cols, pe.bits, accel.clock_mhz) == ("ant", rows, cols, 4,
                                                                       1000.0)
    trace = build_workload("llama-2-7b", phase=name.split("-")[1], tokens=256, blocks=1)
    res = sim.run(trace, accel)
    assert (res.frame.family == "ant").all() and (res.frame.compute_cycles > 0).all()


def test_cli_sim_with_family_name(capsys):
    assert cli_main(["sim", "--arch", "ant", "--phase", "decode", "--gemm", "1x4096x4096"]) == 0
    assert "ant" in capsys.readouterr().out
