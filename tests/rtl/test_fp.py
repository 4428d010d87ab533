"""rtl/fp.py against NumPy's IEEE arithmetic and an exact rational (Fraction) oracle.

Each component is simulated with Amaranth's simulator (combinational: ``ctx.set`` then
``ctx.get``, about 5k vectors/s). Hand-picked edge cases carry hex results worked by hand
and are cross-checked against the oracles; seeded random vectors are drawn so that the
interesting regions (ties, cancellation, subnormals, overflow) are hit often.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import pytest
from amaranth.sim import Simulator

from qaccel.rtl.fp import Fp16MulExact, Fp32Add, Fp32FromScaledInt, Fp32ToFp16

pytestmark = pytest.mark.rtl


# ---- oracles -------------------------------------------------------------------------------
def fl_bits(x: Fraction, exp_bits: int, frac_bits: int, *, negative_zero: bool = False) -> int:
    """IEEE bit pattern of ``x`` rounded to nearest even (subnormals, overflow to inf), in
    the binary format with ``exp_bits`` exponent and ``frac_bits`` fraction bits."""
    bias = (1 << (exp_bits - 1)) - 1
    sign = int(x < 0 or (x == 0 and negative_zero)) << (exp_bits + frac_bits)
    x = abs(x)
    if x == 0:
        return sign
    e = x.numerator.bit_length() - x.denominator.bit_length()
    if Fraction(2) ** e > x:
        e -= 1                              # now 2^e <= x < 2^(e+1)
    e = max(e, 1 - bias)                    # subnormals share the smallest exponent
    q = x / Fraction(2) ** (e - frac_bits)
    n, rem = divmod(q.numerator, q.denominator)
    if 2 * rem > q.denominator or (2 * rem == q.denominator and n % 2):
        n += 1
    if n == 1 << (frac_bits + 1):           # rounding carried into the next binade
        n, e = n >> 1, e + 1
    if e > bias:
        return sign | (((1 << exp_bits) - 1) << frac_bits)
    if n < 1 << frac_bits:                  # subnormal
        return sign | n
    return sign | ((e + bias) << frac_bits) | (n - (1 << frac_bits))


def value(bits: int, exp_bits: int, frac_bits: int) -> Fraction:
    """The exact value of a finite IEEE bit pattern."""
    bias = (1 << (exp_bits - 1)) - 1
    field = (bits >> frac_bits) & ((1 << exp_bits) - 1)
    frac = bits & ((1 << frac_bits) - 1)
    mag = (Fraction(frac, 1 << frac_bits) + (field != 0)) * Fraction(2) ** (max(field, 1) - bias)
    return -mag if bits >> (exp_bits + frac_bits) else mag


def f32(bits: int) -> Fraction:
    return value(bits, 8, 23)


def f16(bits: int) -> Fraction:
    return value(bits, 5, 10)


# ---- simulation ----------------------------------------------------------------------------
def evaluate(dut: object, inputs: dict[str, Sequence[int]], output: str) -> list[int]:
    """Drive each vector onto the combinational ``dut`` and read ``output`` back."""
    names = list(inputs)
    vectors = list(zip(*(inputs[n] for n in names), strict=True))
    got: list[int] = []

    async def bench(ctx: object) -> None:
        for vec in vectors:
            for name, v in zip(names, vec, strict=True):
                ctx.set(getattr(dut, name), int(v))
            got.append(ctx.get(getattr(dut, output)))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    return got


def hexes(xs: Sequence[int]) -> list[str]:
    return [f"{int(x):#x}" for x in xs]


# ---- Fp32Add ------------------------------------------------------------------------------
#: (a, b, a + b) as binary32 bit patterns, worked by hand
ADD_CASES = [
    (0x3F800000, 0x33800000, 0x3F800000),  # 1 + 2^-24: tie, 1.0 is even -> 1.0
    (0x3F800001, 0x33800000, 0x3F800002),  # (1 + 2^-23) + 2^-24: tie, odd -> up
    (0x3F800000, 0x33800001, 0x3F800001),  # just above the tie -> up
    (0x3FFFFFFF, 0x34000000, 0x40000000),  # (2 - 2^-23) + 2^-23 = 2: carry out
    (0x3FFFFFFF, 0x33800000, 0x40000000),  # (2 - 2^-23) + 2^-24: tie, odd -> 2.0
    (0x3F800000, 0xBF800000, 0x00000000),  # 1 + (-1) = +0 (RNE)
    (0xBF800000, 0x3F800000, 0x00000000),  # -1 + 1 = +0
    (0x80000000, 0x80000000, 0x80000000),  # -0 + -0 = -0
    (0x00000000, 0x80000000, 0x00000000),  # +0 + -0 = +0
    (0x80000000, 0x40400000, 0x40400000),  # -0 + 3 = 3
    (0x3F800000, 0xBF7FFFFF, 0x33800000),  # 1 - (1 - 2^-24) = 2^-24: cancellation
    (0x4B800001, 0xCB800000, 0x40000000),  # (2^24 + 2) - 2^24 = 2
    (0x7F7FFFFF, 0x7F7FFFFF, 0x7F800000),  # max + max = +inf
    (0xFF7FFFFF, 0xF3000000, 0xFF800000),  # -max - 2^103 (half an ulp): tie, odd -> -inf
    (0x7F7FFFFF, 0x72800000, 0x7F7FFFFF),  # max + 2^102 (a quarter ulp) stays max
    (0x00000001, 0x00000001, 0x00000002),  # subnormal + subnormal
    (0x00800000, 0x80000001, 0x007FFFFF),  # 2^-126 - 2^-149: normal -> subnormal
    (0x007FFFFF, 0x00000001, 0x00800000),  # subnormal -> smallest normal
    (0x00C00000, 0x80800000, 0x00400000),  # 1.5 * 2^-126 - 2^-126 = 2^-127 (subnormal)
    (0x3F800000, 0x00000001, 0x3F800000),  # 1 + 2^-149: all sticky
    (0x4B000000, 0xBF000000, 0x4AFFFFFF),  # 2^23 - 0.5 is exact
    (0x4B800000, 0xBF800000, 0x4B7FFFFF),  # 2^24 - 1 is exact
    (0x4B800000, 0xBF000000, 0x4B800000),  # 2^24 - 0.5: tie between 2^24 - 1 and 2^24 -> 2^24
    (0x4B800000, 0xBF000001, 0x4B7FFFFF),  # 2^24 - (0.5 + eps) -> 2^24 - 1
]


def _finite32(bits: np.ndarray) -> np.ndarray:
    return bits[np.isfinite(bits.view(np.float32))]


def _add_vectors(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Random operand pairs, in five kinds: any bits; exponents 0..30 apart; near-negated
    (cancellation); subnormal / tiny; near overflow."""
    u32 = np.uint32

    def bits(n: int) -> np.ndarray:
        return rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(u32)

    def with_exp(x: np.ndarray, exp: np.ndarray) -> np.ndarray:
        return ((x & u32(0x807FFFFF)) | (exp.astype(u32) << u32(23))).astype(u32)

    n = count // 5
    a1, b1 = bits(n), bits(n)
    ea = rng.integers(1, 224, n)
    a2 = with_exp(bits(n), ea)
    b2 = with_exp(bits(n), ea + rng.integers(0, 31, n))
    a3 = bits(n)
    flip = rng.integers(0, 1 << rng.integers(1, 24, n), dtype=np.uint64).astype(u32)
    b3 = (a3 ^ u32(0x80000000) ^ flip).astype(u32)
    a4 = with_exp(bits(n), rng.integers(0, 4, n))
    b4 = with_exp(bits(n), rng.integers(0, 26, n))
    a5 = with_exp(bits(n), rng.integers(250, 255, n))
    b5 = with_exp(bits(n), rng.integers(200, 255, n))
    a = np.concatenate([a1, a2, a3, a4, a5])
    b = np.concatenate([b1, b2, b3, b4, b5])
    keep = np.isfinite(a.view(np.float32)) & np.isfinite(b.view(np.float32))
    swap = rng.random(len(a)) < 0.5
    return np.where(swap, b, a)[keep], np.where(swap, a, b)[keep]


def test_add_cases_agree_with_the_oracles() -> None:
    """The hand-worked table is right: exact rational + RNE, and NumPy float32."""
    for a, b, want in ADD_CASES:
        neg_zero = a == b == 0x80000000
        assert fl_bits(f32(a) + f32(b), 8, 23, negative_zero=neg_zero) == want, hex(a)
        with np.errstate(over="ignore"):
            got = (np.uint32(a).view(np.float32) + np.uint32(b).view(np.float32))
        assert int(got.view(np.uint32)) == want, hex(a)


def test_add_cases() -> None:
    a, b, want = zip(*ADD_CASES, strict=True)
    assert hexes(evaluate(Fp32Add(), {"a": a, "b": b}, "s")) == hexes(want)


def test_add_random_against_numpy() -> None:
    rng = np.random.default_rng(1)
    a, b = _add_vectors(rng, 6000)
    with np.errstate(over="ignore"):
        want = (a.view(np.float32) + b.view(np.float32)).view(np.uint32)
    got = np.array(evaluate(Fp32Add(), {"a": a.tolist(), "b": b.tolist()}, "s"), np.uint64)
    bad = np.nonzero(got != want)[0]
    assert not len(bad), [(hex(a[i]), hex(b[i]), hex(got[i]), hex(want[i])) for i in bad[:5]]


def test_add_is_commutative_on_random_pairs() -> None:
    """A swap-path check independent of NumPy: a + b and b + a give the same bits."""
    a, b = _add_vectors(np.random.default_rng(2), 1000)
    dut = Fp32Add()
    assert evaluate(dut, {"a": a.tolist(), "b": b.tolist()}, "s") == \
        evaluate(dut, {"a": b.tolist(), "b": a.tolist()}, "s")


# ---- Fp16MulExact -------------------------------------------------------------------------
#: (a, b, a * b) as binary16, binary16, binary32 bit patterns, worked by hand
MUL_CASES = [
    (0x3C00, 0x3C00, 0x3F800000),  # 1 * 1
    (0x3E00, 0xC000, 0xC0400000),  # 1.5 * -2 = -3
    (0x0001, 0x0001, 0x27800000),  # 2^-24 * 2^-24 = 2^-48 (biased exponent 79)
    (0x0001, 0x7800, 0x3B000000),  # 2^-24 * 2^15 = 2^-9
    (0x03FF, 0x3C00, 0x387FC000),  # largest subnormal 1023 * 2^-24 (normal in FP32)
    (0x7BFF, 0x7BFF, 0x4F7FC004),  # 65504^2 = 2^31 * (2 - 2^-9 + 2^-21), exact
    (0x3BFF, 0x3BFF, 0x3F7FC004),  # (1 - 2^-11)^2 = 2^-1 * (2 - 2^-9 + 2^-21), exact
    (0x8000, 0x3C00, 0x80000000),  # -0 * 1 = -0
    (0x0000, 0xC500, 0x80000000),  # 0 * -5 = -0
    (0x8000, 0x8000, 0x00000000),  # -0 * -0 = +0
    (0x0000, 0x0001, 0x00000000),  # 0 * subnormal
]


def test_mul_cases_agree_with_the_oracle() -> None:
    for a, b, want in MUL_CASES:
        exact = f16(a) * f16(b)
        neg = bool((a ^ b) & 0x8000)
        assert fl_bits(exact, 8, 23, negative_zero=neg) == want, hex(a)
        assert f32(want) == exact  # nothing was rounded


def test_mul_cases() -> None:
    a, b, want = zip(*MUL_CASES, strict=True)
    assert hexes(evaluate(Fp16MulExact(), {"a": a, "b": b}, "p")) == hexes(want)


def test_mul_random_is_exact() -> None:
    """Random finite halves (a third subnormal or zero); float64 holds the exact product of
    two halves (22-bit significand), so its float32 cast must be exact too."""
    rng = np.random.default_rng(3)
    a = rng.integers(0, 1 << 16, 4000).astype(np.uint16)
    b = rng.integers(0, 1 << 16, 4000).astype(np.uint16)
    tiny = rng.random(4000) < 0.33
    b = np.where(tiny, b & np.uint16(0x83FF), b).astype(np.uint16)
    keep = np.isfinite(a.view(np.float16)) & np.isfinite(b.view(np.float16))
    a, b = a[keep], b[keep]
    exact = a.view(np.float16).astype(np.float64) * b.view(np.float16).astype(np.float64)
    want = exact.astype(np.float32)
    assert np.array_equal(want.astype(np.float64), exact)
    got = np.array(evaluate(Fp16MulExact(), {"a": a.tolist(), "b": b.tolist()}, "p"),
                   np.uint64)
    bad = np.nonzero(got != want.view(np.uint32))[0]
    assert not len(bad), [(hex(a[i]), hex(b[i]), hex(got[i])) for i in bad[:5]]


# ---- Fp32FromScaledInt --------------------------------------------------------------------
#: (p, x, fl32(p * 2^x)) worked by hand, for int_bits = 32, exp_bits = 9
SCALED_CASES = [
    (0, 0, 0x00000000),
    (1, 0, 0x3F800000),
    (-1, 0, 0xBF800000),
    (3, -1, 0x3FC00000),              # 1.5
    ((1 << 24) + 1, 0, 0x4B800000),   # tie, even -> 2^24
    ((1 << 24) + 3, 0, 0x4B800002),   # tie, odd -> 2^24 + 4
    ((1 << 25) - 1, 0, 0x4C000000),   # rounds up to 2^25: carry out
    (-(1 << 31), 0, 0xCF000000),      # the most negative p: -2^31
    ((1 << 31) - 1, -31, 0x3F800000),  # (2^31 - 1) / 2^31 rounds to 1.0
    (1, -149, 0x00000001),            # smallest subnormal
    (1, -150, 0x00000000),            # half of it: tie to even -> +0
    (3, -151, 0x00000001),            # 0.75 of it -> up
    (-3, -150, 0x80000002),           # 1.5 of it: tie, odd -> 2 (negative)
    ((1 << 24) - 1, -150, 0x00800000),  # rounds up into the smallest normal
    (1, -126, 0x00800000),            # smallest normal
    (1, 127, 0x7F000000),             # 2^127
    (1, 128, 0x7F800000),             # 2^128: overflow -> +inf
    (-((1 << 24) - 1), 104, 0xFF7FFFFF),  # -max finite
    (-((1 << 25) - 1), 103, 0xFF800000),  # -(2^128 - 2^103) is a tie at max: odd -> -inf
]

#: (int_bits, exp_bits) of the instances checked with random vectors (MixPE's and BitMoD's
#: are inside this range; 54 bits exceeds float64, so only the Fraction oracle applies)
SCALED_SHAPES = [(32, 9), (8, 4), (54, 10)]


def test_scaled_cases_agree_with_the_oracle() -> None:
    for p, x, want in SCALED_CASES:
        assert fl_bits(Fraction(p) * Fraction(2) ** x, 8, 23) == want, (p, x)


def test_scaled_cases() -> None:
    p, x, want = zip(*SCALED_CASES, strict=True)
    got = evaluate(Fp32FromScaledInt(32, 9), {"p": p, "x": x}, "f")
    assert hexes(got) == hexes(want)


@pytest.mark.parametrize("int_bits,exp_bits", SCALED_SHAPES)
def test_scaled_random_against_fractions(int_bits: int, exp_bits: int) -> None:
    rng = np.random.default_rng(int_bits)
    count = 1500
    lo = -(1 << (int_bits - 1))
    p = [int(rng.integers(lo, -lo, dtype=np.int64)) >> int(rng.integers(0, int_bits))
         for _ in range(count)]
    x = rng.integers(-(1 << (exp_bits - 1)), 1 << (exp_bits - 1), count).tolist()
    got = evaluate(Fp32FromScaledInt(int_bits, exp_bits), {"p": p, "x": x}, "f")
    want = [fl_bits(Fraction(pp) * Fraction(2) ** xx, 8, 23) for pp, xx in zip(p, x, strict=True)]
    bad = [(p[i], x[i], hex(got[i]), hex(want[i])) for i in range(count) if got[i] != want[i]]
    assert not bad, bad[:5]


@pytest.mark.parametrize("kwargs,message", [
    ({"int_bits": 1, "exp_bits": 8}, r"^int_bits must be an int in 2\.\.64, not 1$"),
    ({"int_bits": 32, "exp_bits": 17}, r"^exp_bits must be an int in 2\.\.16, not 17$"),
    ({"int_bits": 8.0, "exp_bits": 8}, r"^int_bits must be an int in 2\.\.64, not 8\.0$"),
])
def test_scaled_rejects_bad_widths(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Fp32FromScaledInt(**kwargs)


# ---- Fp32ToFp16 ---------------------------------------------------------------------------
#: (binary32, binary16) bit patterns worked by hand
TO_FP16_CASES = [
    (0x3F800000, 0x3C00),   # 1.0
    (0x3F801000, 0x3C00),   # 1 + 2^-11: tie, even -> 1.0
    (0x3F803000, 0x3C02),   # 1 + 3 * 2^-11: tie, odd -> up
    (0x3F801001, 0x3C01),   # just above the tie -> up
    (0x477FE000, 0x7BFF),   # 65504 = max half
    (0x477FEFFF, 0x7BFF),   # just below 65520 -> max
    (0x477FF000, 0x7C00),   # 65520: tie, odd -> 2^16 -> +inf
    (0xC8000000, 0xFC00),   # -131072 -> -inf
    (0x7F800000, 0x7C00),   # +inf
    (0xFF800000, 0xFC00),   # -inf
    (0x80000000, 0x8000),   # -0
    (0x33800000, 0x0001),   # 2^-24: smallest subnormal half
    (0x33000000, 0x0000),   # 2^-25: tie, even -> +0
    (0x33000001, 0x0001),   # just above -> up
    (0x33C00000, 0x0002),   # 1.5 * 2^-24: tie, odd -> 2
    (0xB3C00000, 0x8002),   # negative of the above
    (0x387FC000, 0x03FF),   # largest subnormal half (1023 * 2^-24)
    (0x387FE000, 0x0400),   # 1023.5 * 2^-24: tie, odd -> smallest normal
    (0x38800000, 0x0400),   # 2^-14: smallest normal half
    (0x00000001, 0x0000),   # FP32 subnormal -> +0
    (0x2F800000, 0x0000),   # 2^-32 -> +0
]


def test_to_fp16_cases_agree_with_the_oracles() -> None:
    for a, want in TO_FP16_CASES:
        if a & 0x7F800000 != 0x7F800000:
            assert fl_bits(f32(a), 5, 10, negative_zero=bool(a >> 31)) == want, hex(a)
        with np.errstate(over="ignore"):
            got = np.uint32(a).view(np.float32).astype(np.float16).view(np.uint16)
        assert int(got) == want, hex(a)


def test_to_fp16_cases() -> None:
    a, want = zip(*TO_FP16_CASES, strict=True)
    assert hexes(evaluate(Fp32ToFp16(), {"a": a}, "h")) == hexes(want)


def test_to_fp16_random_against_numpy() -> None:
    """Any finite bits, and (70 %) exponents 95..145: half subnormals, normals, overflow."""
    rng = np.random.default_rng(4)
    a = rng.integers(0, 1 << 32, 5000, dtype=np.uint64).astype(np.uint32)
    exp = rng.integers(95, 146, 5000).astype(np.uint32)
    near = ((a & np.uint32(0x807FFFFF)) | (exp << np.uint32(23))).astype(np.uint32)
    a = np.where(rng.random(5000) < 0.7, near, a).astype(np.uint32)
    a = a[~np.isnan(a.view(np.float32))]
    with np.errstate(over="ignore"):
        want = a.view(np.float32).astype(np.float16).view(np.uint16)
    got = np.array(evaluate(Fp32ToFp16(), {"a": a.tolist()}, "h"), np.uint64)
    bad = np.nonzero(got != want)[0]
    assert not len(bad), [(hex(a[i]), hex(got[i]), hex(want[i])) for i in bad[:5]]
