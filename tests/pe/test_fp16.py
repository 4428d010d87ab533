"""``fp16`` PE family: golden against an exact rational reference, hand-worked cycles, the two
engines bit-exact against each other, energy per PE cycle, presets and the CLI path."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qaccel import sim
from qaccel.arch import load_accelerator
from qaccel.arch.components import scale_to
from qaccel.arch.pe.fp16 import Fp16
from qaccel.arch.pe.tile import Tile
from qaccel.models.workloads import build_workload
from qaccel.sim.gemm import gemm_layer
from tests.conftest import assert_same_frame, make_accel
from tests.pe.support import assert_engines_agree


# ---- an independent reference: exact rationals, explicit RNE rounding ---------------------
def _round_rne(x: Fraction, mant_bits: int, min_exp: int) -> Fraction:
    """``x`` rounded to nearest even on a binary float grid with ``mant_bits`` fraction bits
    and normal exponents >= ``min_exp``, unbounded above (the caller handles overflow)."""
    if x == 0:
        return Fraction(0)
    e = abs(x.numerator).bit_length() - abs(x.denominator).bit_length()
    if Fraction(2) ** e > abs(x):
        e -= 1
    ulp = Fraction(2) ** (max(e, min_exp) - mant_bits)
    q = x / ulp
    n = q.numerator // q.denominator
    rem = q - n
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and n % 2):
        n += 1
    return n * ulp


def _ref_fp16_gemm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact products, FP32 (24-bit, emin -126) RNE after each add over k in order, FP16
    (11-bit, emin -14) RNE at the end -- the stated rounding order, without NumPy floats."""
    fa = [[Fraction(float(v)) for v in row] for row in a]
    fb = [[Fraction(float(v)) for v in row] for row in b]
    out = np.zeros((a.shape[0], b.shape[1]), dtype=np.float64)
    for m in range(a.shape[0]):
        for n in range(b.shape[1]):
            acc = Fraction(0)
            for k in range(a.shape[1]):
                acc = _round_rne(acc + fa[m][k] * fb[k][n], 23, -126)
            r = _round_rne(acc, 10, -14)
            # past the largest half (65504) the unbounded grid's next step is 2^16: IEEE inf
            out[m, n] = float(r) if abs(r) < 2**16 else (np.inf if r > 0 else -np.inf)
    return out


def _halves(rng: np.random.Generator, shape: tuple[int, ...], spread: float) -> np.ndarray:
    # wide dynamic range (incl. subnormal halves) so FP32 additions really round
    x = rng.standard_normal(shape) * np.exp2(rng.integers(-int(spread), int(spread) + 1, shape))
    return np.clip(x, -60000, 60000).astype(np.float16)


@pytest.mark.parametrize("seed", range(4))
def test_golden_matches_exact_rational_reference(seed):
    rng = np.random.default_rng(seed)
    pe = Fp16(rows=16, cols=8, dataflow="ws")
    a, b = _halves(rng, (5, 16), 12), _halves(rng, (16, 8), 12)
    got = pe.round_output(pe.golden(Tile(a, b)))
    np.testing.assert_array_equal(got.astype(np.float64), _ref_fp16_gemm(a, b))


def test_golden_rounds_each_fp32_add():
    # 2^24 + 1 is not an FP32: sequential FP32 gives 2^24 (RNE), then + 1 -> 2^24 again,
    # whereas exact accumulation would give 2^24 + 2.  Products: 4096*4096 = 2^24, 1*1.
    a = np.array([[4096, 1, 1]], dtype=np.float16)
    b = np.array([[4096], [1], [1]], dtype=np.float16)
    acc = Fp16(rows=4, cols=4, dataflow="ws").golden(Tile(a, b))
    assert acc[0, 0] == np.float32(2**24)


def test_golden_continues_from_acc_in():
    pe = Fp16(rows=4, cols=4, dataflow="ws")
    rng = np.random.default_rng(1)
    a, b = _halves(rng, (3, 8), 6), _halves(rng, (8, 4), 6)
    first = Fp16(rows=8, cols=4, dataflow="ws").golden(Tile(a, b))
    half = pe.golden(Tile(a[:, :4], b[:4]))
    both = pe.golden(Tile(a[:, 4:], b[4:], meta={"acc_in": half}))
    np.testing.assert_array_equal(both.view(np.uint32), first.view(np.uint32))


def test_golden_rejects_integer_tiles():
    pe = Fp16(rows=4, cols=4, dataflow="ws")
    with pytest.raises(TypeError, match=r"^tile\.a must be a float16 array, not int8$"):
        pe.golden(Tile(np.zeros((2, 2), np.int8), np.zeros((2, 2), np.float16)))


# ---- hand-worked cycles (same SCALE-Sim fold rules as systolic_int8) ----------------------
CASES = [
    # (rows, cols, dataflow, M, K, N, folds, compute_cycles)
    # ws 4x4, M=10 K=6 N=5: folds = ceil(6/4)*ceil(5/4) = 4; fold = 2*4+4+10-2 = 20 -> 80
    (4, 4, "ws", 10, 6, 5, 4, 80),
    # os 4x4: folds = ceil(10/4)*ceil(5/4) = 6; fold = 4+4+6-2 = 12 -> 72
    (4, 4, "os", 10, 6, 5, 6, 72),
    # is 4x4: folds = ceil(6/4)*ceil(10/4) = 6; fold = 2*4+4+5-2 = 15 -> 90
    (4, 4, "is", 10, 6, 5, 6, 90),
    # ws 32x24 (fp16-prefill array), 256x64x48: folds = 2*2 = 4; fold = 64+24+256-2 = 342
    # -> 1368
    (32, 24, "ws", 256, 64, 48, 4, 1368),
    # ws 64x12 (fp16-decode array), M=1 K=128 N=24: folds = 2*2 = 4; fold = 128+12+1-2 = 139
    # -> 556
    (64, 12, "ws", 1, 128, 24, 4, 556),
]


@pytest.mark.parametrize("engine", sim.ENGINES)
@pytest.mark.parametrize("rows,cols,flow,M,K,N,folds,cycles", CASES,
                         ids=[f"{c[2]}-{c[0]}x{c[1]}-{c[3]}x{c[4]}x{c[5]}" for c in CASES])
def test_compute_cycles_by_hand(engine, rows, cols, flow, M, K, N, folds, cycles):
    accel = make_accel(rows=rows, cols=cols, dataflow=flow, family="fp16")
    row = sim.run([gemm_layer(M, K, N)], accel, engine=engine).frame.iloc[0]
    assert (row.folds, row.compute_cycles, row.fmt) == (folds, cycles, "fp16")


# ---- the two engines agree exactly ----------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(M=st.integers(1, 24), K=st.integers(1, 40), N=st.integers(1, 24),
       rows=st.integers(1, 9), cols=st.integers(1, 9),
       flow=st.sampled_from(["ws", "os", "is"]), kib=st.sampled_from([0.5, 4.0, 64.0]),
       count=st.integers(1, 2), seed=st.integers(0, 2**16))
def test_engines_agree(M, K, N, rows, cols, flow, kib, count, seed):
    accel = make_accel(rows=rows, cols=cols, dataflow=flow, kib=kib, family="fp16")
    layer = gemm_layer(M, K, N, count=count, seed=seed)
    assert_engines_agree(layer, accel, out_dtype=np.float16)


def test_fast_matches_rational_reference_on_a_layer():
    accel = make_accel(rows=4, cols=3, dataflow="ws", family="fp16")
    layer = gemm_layer(3, 11, 5, seed=5)
    out = sim.run([layer], accel, engine="fast", values=True).outputs[layer.name][0]
    (a, b), = accel.pe_array.layer_operands(layer)
    np.testing.assert_array_equal(out.astype(np.float64), _ref_fp16_gemm(a, b))


# ---- energy ---------------------------------------------------------------------------------
def test_pe_energy_per_cycle_at_28nm():
    # FP16 mult 1.1 pJ + FP32 add 0.9 pJ (Horowitz 45 nm) = 2.0 pJ; x0.513 at 28 nm = 1.026 pJ
    # per MAC = per PE cycle at full use. DESIGN.md's FP16 PE is 0.77 pJ/cycle: this is 33 %
    # above it. (FP16 mult + FP16 add, i.e. an FP16 accumulator, would be 1.5 * 0.513 =
    # 0.7695: the 0.77 figure appears to assume FP16 accumulation; we keep FP32 and report.)
    pj = scale_to(Fp16(rows=1, cols=1, dataflow="ws").pe_cost(), 28).energy_pj
    assert pj == pytest.approx(1.026)
    assert pj / 0.77 == pytest.approx(1.3325, abs=1e-3)


def test_energy_columns_price_macs():
    accel = make_accel(rows=4, cols=4, dataflow="ws", family="fp16")
    row = sim.run([gemm_layer(8, 8, 8)], accel).frame.iloc[0]
    assert row.energy_pj_pe == pytest.approx(512 * 1.026)
    assert row.energy_pj_decoder == 0.0


# ---- presets and CLI --------------------------------------------------------------------------
@pytest.mark.parametrize("name,rows,cols", [("fp16-prefill", 32, 24), ("fp16-decode", 64, 12)])
def test_presets_load(name, rows, cols):
    accel = load_accelerator(name)
    pe = accel.pe_array
    assert (pe.family, pe.rows, pe.cols, accel.clock_mhz) == ("fp16", rows, cols, 1000.0)
    assert accel.weight_buffer.size_kib == accel.input_buffer.size_kib == 512
    assert (accel.dram.bits_per_cycle, accel.dram.pj_per_bit) == (256, 18.75)


@pytest.mark.parametrize("phase", ["prefill", "decode"])
def test_workload_runs_timing_only(phase):
    accel = load_accelerator(f"fp16-{phase}")
    trace = build_workload("llama-2-7b", phase=phase, tokens=256, blocks=1)
    fast = sim.run(trace, accel, engine="fast")
    assert (fast.frame.compute_cycles > 0).all()
    assert set(fast.frame.fmt) == {"fp16"}
    if phase == "decode":  # the reference fold loop is slow on prefill's ~20k folds per layer
        assert_same_frame(sim.run(trace, accel, engine="reference").frame,
                                      fast.frame)


def test_cli_arch_family_phase(tmp_path):
    from qaccel.cli import main

    out = tmp_path / "r.csv"
    rc = main(["sim", "--arch", "fp16", "--phase", "prefill", "--gemm", "64x64x64",
               "--mapping", "fixed",
               "--out", str(out)])
    assert rc in (0, None)
    frame = pd.read_csv(out)
    # fixed mapping (ws 32x24, 64x64x64): folds = 2*3 = 6; fold = 64+24+64-2 = 150 -> 900
    assert (frame.family[0], frame.compute_cycles[0]) == ("fp16", 900)


def test_create_returns_the_array_top():
    from amaranth.hdl import Fragment

    from qaccel.rtl.controller import ArrayTop

    top = Fp16(rows=2, cols=3, dataflow="ws").create(buffer_rows=64, max_tiles=4)
    assert isinstance(top, ArrayTop)
    assert top.design.name == "fp16_2x3_d64_t4"
    Fragment.get(top, None)  # it elaborates (and is not reported as unused)
