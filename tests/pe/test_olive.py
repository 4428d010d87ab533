"""``olive`` PE family: golden against an independent decode-then-multiply reference (Python
integers through the format's scalar pair decoder), hand-worked cycles and decoder events,
the two engines exact against each other, PE energy per cycle, presets and the CLI path."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qaccel import sim
from qaccel.arch import load_accelerator
from qaccel.arch.components import int_add, int_mult, scale_to
from qaccel.arch.pe.olive import OliVeArray, OliveOperand, sig_exp_tables
from qaccel.arch.pe.tile import Tile
from qaccel.cli import main as cli_main
from qaccel.models import olive as olive_fmt
from qaccel.models.trace import Layer
from qaccel.models.workloads import build_workload
from qaccel.sim.gemm import gemm_layer
from tests.conftest import make_accel
from tests.pe.support import assert_engines_agree


def olive_accel(rows=4, cols=4, dataflow="ws", bits=4, kib=64.0, bits_per_cycle=32):
    return make_accel(rows=rows, cols=cols, dataflow=dataflow, kib=kib,
                      bits_per_cycle=bits_per_cycle, family="olive", bits=bits)


# ---- an independent reference: the format's scalar pair decoder, Python integers --------
def reference_product(a: OliveOperand, b: OliveOperand) -> np.ndarray:
    """Decode every pair with :func:`qaccel.models.olive.decode_pair`, multiply-accumulate in
    Python ints, wrap to int32."""
    def decode_rows(codes, normal, bits):  # pairs along the last axis
        rows = []
        for row in codes.tolist():
            vals = []
            for i in range(0, len(row) - 1, 2):
                vals += olive_fmt.decode_pair(row[i], row[i + 1], bits=bits, normal=normal)
            if len(row) % 2:
                vals += olive_fmt.decode_pair(row[-1], 0, bits=bits, normal=normal)[:1]
            rows.append(vals)
        return rows

    av = decode_rows(a.codes, a.normal, a.bits)
    bv = decode_rows(b.codes.T, b.normal, b.bits)          # N rows of K
    out = np.zeros((len(av), len(bv)), dtype=np.int64)
    for m, ar in enumerate(av):
        for n, br in enumerate(bv):
            s = sum(x * y for x, y in zip(ar, br, strict=True))
            out[m, n] = (s + 2**31) % 2**32 - 2**31
    return out


def operands(codes_a, codes_b_t, bits=4, normal_a="int", normal_b="int"):
    """A from M x K codes, B from N x K codes (both paired along K)."""
    a = OliveOperand(np.asarray(codes_a, dtype=np.uint8), bits, normal_a, 1)
    b = OliveOperand(np.ascontiguousarray(np.asarray(codes_b_t, dtype=np.uint8).T), bits,
                     normal_b, 0)
    return a, b


# ---- golden: fixed vectors worked by hand ------------------------------------------------
GOLDEN_CASES = [
    # int4: A = [victim 0x8, outlier 0x3 | 0x2, 0xA] = [0, (2+1)<<(1+3-1) = 24 | 2, -2]
    #       B = [0x5, 0xF | outlier 0x9, victim 0x8] = [5, -7 | -12, 0]
    #       0*5 + 24*(-7) + 2*(-12) + (-2)*0 = -192
    (4, "int", "int", [[0x8, 0x3, 0x2, 0xA]], [[0x5, 0xF, 0x9, 0x8]], [[-192]]),
    # flint4 A = [outlier 0x7, victim] = [(2+1) << (3+3) = 192, 0]; int4 B = [5, 1]: 960
    (4, "flint", "int", [[0x7, 0x8]], [[0x5, 0x1]], [[960]]),
    # flint4 normals: 0x5 -> 6, 0x7 -> 16, 0xE -> -8; int4 B = [3, 2 | 1, 0]:
    # 6*3 + 16*2 + (-8)*1 + 0 = 42  (a lone third pair member checks nothing else)
    (4, "flint", "int", [[0x5, 0x7, 0xE, 0x0]], [[0x3, 0x2, 0x1, 0x0]], [[42]]),
    # int8: A = [outlier 0x7F, victim 0x80] = [(32+31) << (3+2) = 2016, 0];
    #       B = [0xFF, 0x01] = [-127, 1]: 2016 * -127 = -256032
    (8, "int", "int", [[0x7F, 0x80]], [[0xFF, 0x01]], [[-256032]]),
    # odd K (os streams it whole): the lone last code is a normal value: A = [1, 2 | 3],
    # B = [4, 5 | 6]: 4 + 10 + 18 = 32
    (4, "int", "int", [[0x1, 0x2, 0x3]], [[0x4, 0x5, 0x6]], [[32]]),
]


@pytest.mark.parametrize("bits,na,nb,ca,cbt,expected", GOLDEN_CASES)
def test_golden_by_hand(bits, na, nb, ca, cbt, expected):
    a, b = operands(ca, cbt, bits, na, nb)
    pe = OliVeArray(rows=2, cols=2, dataflow="os", bits=bits)
    out = pe.golden(Tile(a, b))
    np.testing.assert_array_equal(out, np.array(expected, dtype=np.int32))
    np.testing.assert_array_equal(reference_product(a, b), expected)


def test_golden_wraps_like_int32_accumulators():
    # 530 pairs (2016, 0) x (2016, 0): 530 * 2016^2 = 2,154,055,680 = 2^31 + 6,572,032,
    # which a 32-bit accumulator holds as -2^31 + 6,572,032 = -2,140,911,616
    codes = [[0x7F, 0x80] * 530]
    a, b = operands(codes, codes, bits=8)
    pe = OliVeArray(rows=1, cols=1, dataflow="os", bits=8)
    assert int(pe.golden(Tile(a, b))[0, 0]) == -2_140_911_616


def test_decoder_tables_fit_the_multiplier():
    # int4 outliers 12..96 = sig << exp, the smallest exp with |sig| <= 7:
    # 12 = 6<<1, 16 = 4<<2, 96 = 6<<4; code 0xF (mag 7, negative) = -96 = -6<<4
    t = sig_exp_tables(4, "int")
    assert (t["sig_outlier"][[1, 2, 7, 15]].tolist(),
            t["exp_outlier"][[1, 2, 7, 15]].tolist()) == ([6, 4, 6, -6], [1, 2, 4, 4])
    for bits, normal in ((4, "int"), (4, "flint"), (8, "int")):
        t = sig_exp_tables(bits, normal)
        norm, out = olive_fmt.pair_tables(olive_fmt.spec(bits, normal))
        for kind, vals in (("normal", norm), ("outlier", out)):
            assert np.all(np.abs(t[f"sig_{kind}"]) <= 2 ** (bits - 1) - 1)
            np.testing.assert_array_equal(t[f"sig_{kind}"] << t[f"exp_{kind}"], vals)


def _encoded(rng, shape, bits, normal):
    """OliVe codes of heavy-tailed floats (so that outlier-victim pairs occur)."""
    x = rng.standard_t(2, size=shape).astype(np.float32)
    enc = olive_fmt.OliVe(bits, normal).encode(x)
    return enc.codes


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 6), k=st.integers(1, 12), n=st.integers(1, 6),
       mode=st.sampled_from([(4, "int", "int"), (4, "flint", "int"), (4, "flint", "flint"),
                             (8, "int", "int")]), seed=st.integers(0, 2**16))
def test_golden_equals_decode_then_multiply(m, k, n, mode, seed):
    bits, na, nb = mode
    rng = np.random.default_rng(seed)
    a, b = operands(_encoded(rng, (m, k), bits, na), _encoded(rng, (n, k), bits, nb),
                    bits, na, nb)
    pe = OliVeArray(rows=m, cols=n, dataflow="os", bits=bits)
    np.testing.assert_array_equal(pe.golden(Tile(a, b)), reference_product(a, b))


# ---- timing and decoder events by hand ------------------------------------------------------
CYCLE_CASES = [
    # (rows, cols, flow, bits, M, K, N, folds, compute_cycles, decoder_pairs)
    # ws 4x4, 10x6x5: folds = ceil(6/4)*ceil(5/4) = 4; fold = 2*4+4+10-2 = 20 -> 80.
    # pairs: K blocks 4, 2 -> 2 + 1 = 3 per A row / B col; per fold M + N_t with N blocks
    # 4, 1: 3 * ((10 + 4) + (10 + 1)) = 75
    (4, 4, "ws", 4, 10, 6, 5, 4, 80, 75),
    # os 4x4: folds = ceil(10/4)*ceil(5/4) = 6; fold = 4+4+6-2 = 12 -> 72.
    # pairs: ceil(6/2) = 3 per row/col, every fold: 3 * (sum M_t + sum N_t)
    # = 3 * (10*2 + 5*3) = 105
    (4, 4, "os", 4, 10, 6, 5, 6, 72, 105),
    # is 4x2, 5x7x3: K on rows, M on cols: folds = ceil(7/4)*ceil(5/2) = 6;
    # fold = 2*4+2+3-2 = 11 -> 66. pairs: K blocks 4, 3 -> 2 + 2 = 4; M blocks 2, 2, 1:
    # 4 * ((2+3) + (2+3) + (1+3)) = 56
    (4, 2, "is", 4, 5, 7, 3, 6, 66, 56),
    # 8-bit mode, os 2x2, 1x1x1: one fold of 2+2+1-2 = 3 cycles; one pair each for A and B
    (2, 2, "os", 8, 1, 1, 1, 1, 3, 2),
    # the prefill preset's array, ws 36x32, 64x72x64: folds = 2*2 = 4;
    # fold = 72+32+64-2 = 166 -> 664. pairs: 36 * ((64+32) + (64+32)) = 6912
    (36, 32, "ws", 4, 64, 72, 64, 4, 664, 6912),
]


@pytest.mark.parametrize("engine", sim.ENGINES)
@pytest.mark.parametrize("rows,cols,flow,bits,M,K,N,folds,cycles,pairs", CYCLE_CASES,
                         ids=[f"{c[2]}-{c[0]}x{c[1]}-w{c[3]}-{c[4]}x{c[5]}x{c[6]}"
                              for c in CYCLE_CASES])
def test_cycles_and_decoder_events_by_hand(engine, rows, cols, flow, bits, M, K, N, folds,
                                           cycles, pairs):
    accel = olive_accel(rows, cols, flow, bits)
    res = sim.run([gemm_layer(M, K, N)], accel, engine=engine)
    row = res.frame.iloc[0]
    assert (row.folds, row.compute_cycles, row.fmt) == (folds, cycles, f"olive{bits}")
    ev = res.events[row.layer]
    assert (ev["mac"], ev["decoder_pairs"]) == (M * K * N, pairs)


def test_odd_rows_refused_when_k_is_on_the_rows():
    with pytest.raises(ValueError, match=r"^rows must be even for the ws dataflow .* not 3$"):
        OliVeArray(rows=3, cols=2, dataflow="ws")
    OliVeArray(rows=3, cols=2, dataflow="os")  # os streams K whole: any rows
    with pytest.raises(ValueError, match=r"^bits must be 4 or 8, not 6$"):
        OliVeArray(rows=2, cols=2, dataflow="ws", bits=6)


def test_slicing_keeps_pairs_whole():
    a = OliveOperand(np.zeros((2, 6), np.uint8), 4, "int", 1)
    assert a[0:2, 2:6].shape == (2, 4)
    with pytest.raises(ValueError, match="keep outlier-victim pairs whole"):
        a[0:2, 1:3]


# ---- the two engines agree exactly -------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(M=st.integers(1, 24), K=st.integers(1, 24), N=st.integers(1, 24),
       half_rows=st.integers(1, 4), cols=st.integers(1, 7),
       flow=st.sampled_from(["ws", "os", "is"]), bits=st.sampled_from([4, 8]),
       kib=st.sampled_from([0.25, 1.0, 64.0]), count=st.integers(1, 2),
       seed=st.integers(0, 2**16))
def test_engines_agree_with_values(M, K, N, half_rows, cols, flow, bits, kib, count, seed):
    accel = olive_accel(2 * half_rows, cols, flow, bits, kib=kib)
    layer = gemm_layer(M, K, N, count=count, seed=seed)
    assert_engines_agree(layer, accel, reference_product)


@settings(max_examples=15, deadline=None)
@given(M=st.integers(1, 1500), K=st.integers(1, 1500), N=st.integers(1, 1500),
       rows=st.sampled_from([8, 36]), cols=st.sampled_from([8, 32]),
       flow=st.sampled_from(["ws", "os", "is"]), kib=st.sampled_from([2.0, 256.0]))
def test_engines_agree_on_big_shapes_timing_only(M, K, N, rows, cols, flow, kib):
    accel = olive_accel(rows, cols, flow, kib=kib, bits_per_cycle=64)
    layer = gemm_layer(M, K, N)
    assert_engines_agree(layer, accel)


def test_captured_olive_tensors_are_used_as_coded():
    rng = np.random.default_rng(7)
    fmt = olive_fmt.OliVe(4)
    act = fmt.encode(rng.standard_t(2, size=(3, 8)).astype(np.float32))
    w = fmt.encode(rng.standard_t(2, size=(5, 8)).astype(np.float32))
    layer = Layer("fc", "linear", 3, 8, 5, weight=w, act=act)
    pe = OliVeArray(rows=4, cols=8, dataflow="os", bits=4)
    [(a, b)] = pe.layer_operands(layer)
    np.testing.assert_array_equal(a.codes, act.codes)
    np.testing.assert_array_equal(b.codes, w.codes.T)
    # the integer result times both scales is the float GEMM of the decoded tensors
    out = pe.golden(Tile(a, b)).astype(np.float64) * act.scales * w.scales.reshape(1, -1)
    ref = olive_fmt.decode(act).astype(np.float64) @ olive_fmt.decode(w).astype(np.float64).T
    np.testing.assert_allclose(out, ref, rtol=1e-6)


def test_captured_activation_b_is_paired_again_along_k():
    # a captured attention B [K x N] was paired along N (its last axis); the array needs pairs
    # along K, so B is decoded and encoded again as B^T with OliVe(4)
    rng = np.random.default_rng(11)
    fmt = olive_fmt.OliVe(4)
    act = fmt.encode(rng.standard_t(2, size=(2, 6)).astype(np.float32))
    act_b = fmt.encode(rng.standard_t(2, size=(6, 4)).astype(np.float32))
    layer = Layer("qk", "matmul", 2, 6, 4, act=act, act_b=act_b,
                  meta={"batch": 1, "b_source": "activation"})
    pe = OliVeArray(rows=2, cols=4, dataflow="os", bits=4)
    [(a, b)] = pe.layer_operands(layer)
    again = fmt.encode(np.ascontiguousarray(olive_fmt.decode(act_b).T))
    np.testing.assert_array_equal(a.codes, act.codes)
    np.testing.assert_array_equal(b.codes, again.codes.T)
    assert (b.pair_axis, b.normal) == (0, again.meta["normal"])


# ---- energy ---------------------------------------------------------------------------------
#: DESIGN.md "Energy/area model": OliVe PE at 28 nm, 1 GHz (the BitMoD authors' figure,
#: bitmod_sim/test_olive.py pe_energy = 0.613)
DESIGN_PJ_PER_CYCLE = 0.613


def test_pe_energy_per_cycle():
    # 4-bit PE at 45 nm: 4x4 mult 0.2*(16/64)^0.9885 = 0.05069 pJ, 4-bit exponent adder
    # 0.03 - 4/8*0.02 = 0.02 pJ, 32-bit accumulator 0.1 pJ: 0.17069 pJ; x0.513 at 28 nm
    # = 0.08756 pJ per busy PE cycle (one MAC per PE per cycle).
    accel = olive_accel(4, 4, "os", 4)
    row = sim.run([gemm_layer(4, 64, 4)], accel).frame.iloc[0]
    per_mac = row.energy_pj_pe / row.macs
    assert per_mac == pytest.approx(0.17069 * 0.513, rel=1e-3)
    assert per_mac == pytest.approx(
        scale_to(int_mult(4, 4) + int_add(4) + int_add(32), 28).energy_pj)
    # Known gap, reported rather than tuned: our components (no registers, clock, shifter or
    # decoder muxes: no anchor) give 14% of DESIGN.md's 0.613 pJ/cycle. If a later model adds
    # those, this check fails and the figure must be looked at again.
    assert per_mac < 0.8 * DESIGN_PJ_PER_CYCLE
    # decoder energy lands in its own column: 2 x 4-bit adders per pair = 0.04 pJ at 45 nm
    pairs = 32 * (4 + 4)  # os, one fold: ceil(64/2) pairs per A row and per B column
    assert row.energy_pj_decoder == pytest.approx(pairs * 0.04 * 0.513)


# ---- presets and the CLI ----------------------------------------------------------------
@pytest.mark.parametrize("name,rows,cols", [("olive-prefill", 36, 32), ("olive-decode", 72, 16)])
def test_presets_load_and_run_a_workload(name, rows, cols):
    accel = load_accelerator(name)
    pe = accel.pe_array
    assert (pe.family, pe.rows, pe.cols, pe.bits, accel.clock_mhz) == ("olive", rows, cols, 4,
                                                                       1000.0)
    phase = name.split("-")[1]
    trace = build_workload("llama-2-7b", phase=phase, tokens=256, blocks=1)
    res = sim.run(trace, accel)
    assert (res.frame.family == "olive").all() and (res.frame.compute_cycles > 0).all()
    assert (res.frame.energy_pj_decoder > 0).all()


def test_cli_sim_with_family_name(capsys):
    assert cli_main(["sim", "--arch", "olive", "--phase", "decode", "--gemm", "1x4096x4096"]) == 0
    assert "olive" in capsys.readouterr().out
