"""``mixpe`` PE family: golden against an exact decode-then-compute reference (Python ints and
fractions), hand-worked cycles with the dequantizer, the two engines bit-exact against each
other, energy, presets and a workload run."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qaccel import sim
from qaccel.arch import load_accelerator
from qaccel.arch.components import scale_to
from qaccel.arch.pe.mixpe import GroupWeights, MixPE
from qaccel.arch.pe.tile import Tile
from qaccel.models.workloads import build_workload
from qaccel.sim.gemm import gemm_layer
from tests.conftest import assert_same_frame, make_accel
from tests.pe.support import assert_engines_agree


def _accel(rows, cols, a_bits, kib=64.0):
    return make_accel(rows=rows, cols=cols, dataflow="os", kib=kib, family="mixpe",
                      a_bits=a_bits)


def _round_f32(x: Fraction) -> Fraction:
    """RNE onto the FP32 grid (24-bit significand; the tests stay normal and in range)."""
    if x == 0:
        return Fraction(0)
    e = math.floor(math.log2(abs(x)))
    e += 1 if Fraction(2) ** (e + 1) <= abs(x) else 0
    e -= 1 if Fraction(2) ** e > abs(x) else 0
    ulp = Fraction(2) ** (e - 23)
    q = x / ulp
    n = math.floor(q)
    rem = q - n
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and n % 2):
        n += 1
    return n * ulp


def _reference(a: np.ndarray, w: GroupWeights, a_bits: int) -> np.ndarray:
    """Decode-then-compute with exact integers: per group D = sum q*A - z*sum A; FP32 steps
    fl32(s*D*2^u) and fl32(acc + t). W4A16 alignment from math.frexp, independently of the
    bit tricks in ``align_fp16``."""
    m_dim, k_dim = a.shape
    n_dim = w.q.shape[1]
    out = np.zeros((m_dim, n_dim))
    for m in range(m_dim):
        for n in range(n_dim):
            acc = Fraction(0)
            for g in range(w.s.shape[0]):
                ks = range(g * 128, min(g * 128 + 128, k_dim))
                if a_bits == 8:
                    vals, u = [int(a[m, k]) for k in ks], 0
                else:
                    # FP16 exponent of a = 1.f * 2^e (subnormals and zero: -14)
                    exps = [max(math.frexp(float(a[m, k]))[1] - 1, -14) if a[m, k] else -14
                            for k in ks]
                    big_e = max(exps)
                    vals = [int(Fraction(float(a[m, k])) * Fraction(2) ** (15 - big_e))
                            for k in ks]  # int() truncates toward zero
                    u = big_e - 15
                p = sum(int(w.q[k, n]) * v for k, v in zip(ks, vals, strict=True))
                d = p - int(w.z[g, n]) * sum(vals)
                t = _round_f32(Fraction(float(w.s[g, n])) * d * Fraction(2) ** u)
                acc = _round_f32(acc + t)
            out[m, n] = float(acc)
    return out


def _operands(rng, m, k, n, a_bits):
    w = GroupWeights.from_float(rng.standard_normal((k, n)))
    if a_bits == 8:
        a = rng.integers(-127, 128, (m, k)).astype(np.int8)
    else:  # wide exponent spread inside a group so alignment really truncates
        a = (rng.standard_normal((m, k)) * np.exp2(rng.integers(-8, 9, (m, k)))).astype(
            np.float16)
    return a, w


@pytest.mark.parametrize("a_bits", [8, 16])
@pytest.mark.parametrize("seed", range(2))
def test_golden_matches_exact_reference(a_bits, seed):
    rng = np.random.default_rng(seed)
    a, w = _operands(rng, 3, 300, 4, a_bits)
    pe = MixPE(rows=4, cols=4, dataflow="os", a_bits=a_bits)
    got = pe.golden(Tile(a, w))
    np.testing.assert_array_equal(got.astype(np.float64), _reference(a, w, a_bits))


@pytest.mark.parametrize("a_bits", [8, 16])
def test_golden_close_to_float_decode(a_bits):
    # sanity: within float error of A . decode(W) (W4A16 also loses the aligned-away bits)
    rng = np.random.default_rng(3)
    a, w = _operands(rng, 4, 256, 4, a_bits)
    deq = (w.q.astype(np.float64) - np.repeat(w.z, 128, 0)) * np.repeat(w.s, 128, 0)
    ref = a.astype(np.float64) @ deq
    got = MixPE(rows=4, cols=4, dataflow="os", a_bits=a_bits).golden(Tile(a, w))
    assert np.max(np.abs(got - ref)) <= 1e-3 * np.max(np.abs(ref))


def test_w4a16_alignment_truncates_small_activations():
    # group max exponent E = 0 (a = 1.0): 2^-20 aligns to trunc(2^-20 * 2^15) = 0, so it is lost
    a = np.zeros((1, 128), np.float16)
    a[0, 0], a[0, 1] = 1.0, 2.0**-20
    w = GroupWeights(np.ones((128, 1), np.uint8), np.ones((1, 1), np.float32),
                     np.zeros((1, 1), np.uint8))
    out = MixPE(rows=1, cols=1, dataflow="os", a_bits=16).golden(Tile(a, w))
    assert out[0, 0] == np.float32(1.0)


def test_only_output_stationary():
    with pytest.raises(ValueError, match=r"^dataflow must be one of 'os' for the mixpe array, "
                                         r"not 'ws'$"):
        MixPE(rows=4, cols=4, dataflow="ws", a_bits=8)
    with pytest.raises(ValueError, match=r"^a_bits must be 8 \(W4A8\) or 16 \(W4A16\), not 12$"):
        MixPE(rows=4, cols=4, dataflow="os", a_bits=12)


# ---- hand-worked cycles ---------------------------------------------------------------------
# fold = R + C - 2 + f_{G-1} + 2 (+ min(K, 128) for W4A16, the aligner's look-ahead),
# f_g = max(t_g, f_{g-1}) + R, t_g = min(128(g+1), K)
CASES = [
    # (rows, cols, a_bits, M, K, N, folds, compute_cycles)
    # 4x3, M=5 K=300 N=7: folds = ceil(5/4)*ceil(7/3) = 2*3 = 6; t = 128, 256, 300;
    # f = 132, 260, 304; fold = 4+3-2+304+2 = 311 -> 1866
    (4, 3, 8, 5, 300, 7, 6, 1866),
    # 4x4, M=4 K=130 N=4: 1 fold; t = 128, 130; f0 = 132, f1 = max(130, 132)+4 = 136
    # (the 2-element last group waits for the unit); W4A16 look-ahead min(130, 128) = 128;
    # fold = 4+4-2+136+2+128 = 272
    (4, 4, 16, 4, 130, 4, 1, 272),
    # W4A16, K = 50 < 128 (one partial group): t0 = 50, f0 = 50+3 = 53; look-ahead 50;
    # fold = 3+2-2+53+2+50 = 108
    (3, 2, 16, 3, 50, 2, 1, 108),
    # 200x2 (R > 128: the unit falls behind), M=200 K=256 N=2: 1 fold; t = 128, 256;
    # f0 = 328, f1 = max(256, 328)+200 = 528; fold = 200+2-2+528+2 = 730
    (200, 2, 8, 200, 256, 2, 1, 730),
    # mixpe-w4a8 array 64x64, M=64 K=4096 N=128: 2 folds; 32 groups, f_31 = 4096+64;
    # fold = 64+64-2+4160+2 = 4288 -> 8576
    (64, 64, 8, 64, 4096, 128, 2, 8576),
]


@pytest.mark.parametrize("engine", sim.ENGINES)
@pytest.mark.parametrize("rows,cols,a_bits,M,K,N,folds,cycles", CASES,
                         ids=[f"{c[0]}x{c[1]}-a{c[2]}-{c[3]}x{c[4]}x{c[5]}" for c in CASES])
def test_compute_cycles_by_hand(engine, rows, cols, a_bits, M, K, N, folds, cycles):
    row = sim.run([gemm_layer(M, K, N)], _accel(rows, cols, a_bits), engine=engine).frame.iloc[0]
    assert (row.folds, row.compute_cycles, row.fmt) == (folds, cycles, f"w4a{a_bits}")


# ---- the two engines agree exactly ----------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(M=st.integers(1, 12), K=st.integers(1, 300), N=st.integers(1, 12),
       rows=st.integers(1, 6), cols=st.integers(1, 6), a_bits=st.sampled_from([8, 16]),
       kib=st.sampled_from([0.5, 64.0]), count=st.integers(1, 2), seed=st.integers(0, 2**16))
def test_engines_agree(M, K, N, rows, cols, a_bits, kib, count, seed):
    accel = _accel(rows, cols, a_bits, kib)
    layer = gemm_layer(M, K, N, count=count, seed=seed)
    assert_engines_agree(layer, accel, out_dtype=np.float32)


# ---- energy ---------------------------------------------------------------------------------
def test_pe_energy_per_cycle_at_28nm():
    # W4A8: int4 x int8 multiplier = 0.2 * (32/64)^0.98855 = 0.100797 pJ, 19-bit psum adder
    # = 0.05 + 3/16 * 0.05 = 0.059375 pJ; 0.160172 * 0.513 = 0.082168 pJ/cycle at 28 nm.
    # W4A16 (17-bit aligned A): 0.2 * (68/64)^0.98855 = 0.212353, 28-bit adder 0.0875;
    # 0.299853 * 0.513 = 0.153824. DESIGN.md gives no MixPE figure to compare with.
    e8 = scale_to(MixPE(rows=1, cols=1, dataflow="os", a_bits=8).pe_cost(), 28).energy_pj
    e16 = scale_to(MixPE(rows=1, cols=1, dataflow="os", a_bits=16).pe_cost(), 28).energy_pj
    assert e8 == pytest.approx(0.082168, rel=1e-4)
    assert e16 == pytest.approx(0.153824, rel=1e-4)


def test_dequant_events_counted_once_per_group():
    # M=3 K=300 N=5: G = 3 groups -> 3*5*3 = 45 dequants; 3*300*5 = 4500 MACs
    layer = gemm_layer(3, 300, 5)
    for engine in sim.ENGINES:
        ev = sim.run([layer], _accel(4, 4, 8), engine=engine).events[layer.name]
        assert (ev["dequant"], ev["mac_shift_add"], ev["act_align"]) == (45, 4500, 0)


# ---- presets and a workload -------------------------------------------------------------------
@pytest.mark.parametrize("name,side,a_bits", [("mixpe-w4a8", 64, 8), ("mixpe-w4a16", 32, 16)])
def test_presets_load_and_run(name, side, a_bits):
    accel = load_accelerator(name)
    pe = accel.pe_array
    assert (pe.family, pe.rows, pe.cols, pe.a_bits, accel.clock_mhz) == (
        "mixpe", side, side, a_bits, 500.0)
    trace = build_workload("llama-2-7b", phase="prefill", tokens=256, blocks=1)
    ref = sim.run(trace, accel, engine="reference")
    fast = sim.run(trace, accel, engine="fast")
    assert_same_frame(ref.frame, fast.frame)
    assert (fast.frame.compute_cycles > 0).all()


def test_rtl_level_builds_both_variants():
    # rtl/pe/mixpe.py: W4A8 and W4A16 (FP16 words on a_data) array tops
    from amaranth.hdl import Fragment

    for a_bits in (8, 16):
        top = MixPE(rows=2, cols=2, dataflow="os", a_bits=a_bits).create()
        assert (top.design.schedule, len(top.a_data)) == ("os", 2 * a_bits)
        Fragment.get(top, None)  # it elaborates (and is not reported as unused)


def test_captured_int4_g128_weight_matches_models_group_gemm():
    # a captured weight is used as stored; models.mixpe.group_gemm (float64) is the format
    # owner's decode-then-compute, so the FP32 result must be within float32 rounding of it
    from qaccel.models import fp16
    from qaccel.models.mixpe import WEIGHT_FORMAT, group_gemm
    from qaccel.models.trace import Layer

    rng = np.random.default_rng(0)
    we = WEIGHT_FORMAT.encode(rng.standard_normal((20, 200)).astype(np.float32))
    xe = fp16.encode(rng.standard_normal((5, 200)).astype(np.float32))
    layer = Layer("l", "linear", 5, 200, 20, weight=we, act=xe)
    accel = load_accelerator("mixpe-w4a16")
    (_, w), = accel.pe_array.layer_operands(layer)
    np.testing.assert_array_equal(w.q.T, we.codes.reshape(20, -1)[:, :200])
    out = sim.run([layer], accel, engine="fast", values=True).outputs["l"][0]
    ref = group_gemm(xe.codes.view(np.float16).astype(np.float64), we)
    assert np.max(np.abs(out - ref)) <= 1e-4 * np.max(np.abs(ref))
