"""OliVe outlier-victim pairs: the pair decoder (hand vectors, exhaustive agreement with the
vectorized decoder), hand-worked pair encodings where neither, one or both values are
outliers, the scale search, edge cases, and an exact nearest-value property."""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from qaccel import ConfigError
from qaccel.models.formats import FORMATS
from qaccel.models.formats import decode as decode_any
from qaccel.models.olive import OliVe, decode_pair, decode_pairs, encode_pairs, spec


def test_tables():
    # abfloat (2-bit exponent, M mantissa bits) starting past the normal range, the first
    # value (the threshold itself) left out: int4 (2 + m) << (e + 2), flint4 (2 + m) << (e + 3)
    assert spec(4, "int").outlier_mags == (12, 16, 24, 32, 48, 64, 96)
    assert spec(4, "flint").outlier_mags == (24, 32, 48, 64, 96, 128, 192)
    assert spec(4, "flint").normal_mags == (0, 1, 2, 3, 4, 6, 8, 16)  # ANT flint4 x 4
    s8 = spec(8, "int")
    assert s8.outlier_mags[:3] == (132, 136, 140) and s8.outlier_mags[-1] == (32 + 31) << 5
    assert (spec(4, "int").victim, s8.victim) == (0x8, 0x80)
    np.testing.assert_array_equal(OliVe(4, "int").values()[:3], [-96, -64, -48])


@pytest.mark.parametrize(("codes", "normal", "values"), [
    # neither is an outlier: sign-magnitude normals. 0b0011 = 3, 0b1010 = -2
    ((0x3, 0xA), "int", (3, -2)),
    # victim on the left: the right is abfloat 0b0101: e = 2, m = 1 -> (2 + 1) << 4 = 48
    ((0x8, 0x5), "int", (0, 48)),
    # victim on the right: 0b1111: sign, e = 3, m = 1 -> -(3 << 5) = -96
    ((0xF, 0x8), "int", (-96, 0)),
    # flint normals: rank 7 = 16, rank 1 = 1; flint outlier 0b0001: (2 + 1) << 3 = 24
    ((0x7, 0x1), "flint", (16, 1)),
    ((0x8, 0x1), "flint", (0, 24)),
    # 8 bits: 0x80 victim; 0x01: e = 0, m = 1 -> (32 + 1) << 2 = 132; 0xFF -> -(63 << 5)
    ((0x80, 0x01), "int", (0, 132)),
    ((0xFF, 0x80), "int", (-2016, 0)),
    ((0x7F, 0x81), "int", (127, -1)),
    # two victims are never produced; they decode to zeros
    ((0x8, 0x8), "int", (0, 0)),
])
def test_decode_pair_hand(codes, normal, values):
    bits = 8 if max(codes) > 15 else 4
    assert decode_pair(*codes, bits=bits, normal=normal) == values


@pytest.mark.parametrize(("bits", "normal"), [(4, "int"), (4, "flint"), (8, "int")])
def test_vectorized_decoder_matches_pair_decoder(bits, normal):
    n = 1 << bits
    pairs = np.array([(a, b) for a in range(n) for b in range(n)])
    got = decode_pairs(pairs, bits, normal)
    want = [decode_pair(int(a), int(b), bits=bits, normal=normal) for a, b in pairs]
    np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match=f"^OliVe code must be in 0..{n - 1}, not {n}$"):
        decode_pair(n, 0, bits=bits, normal=normal)


def test_encode_pairs_hand_int4():
    # scale 1, int4 normal 0..7, outliers 12 16 24 32 48 64 96 (cut between 7 and 12: 9.5)
    # (1, 2): neither is an outlier -> codes 1, 2
    # (20, 1): 20 is halfway between 16 and 24 -> the larger, 24 = 3 << 3: e = 1, m = 1,
    #          code 0b0011 = 3; its partner 1 is the victim 0x8
    # (1, -30): -30 -> -32 = 2 << 4: e = 2, m = 0 -> 0b1100 = 12; 1 -> victim
    # (40, -50): both outliers (40 -> 48 on the tie, -50 -> -48); |-50| > |40| keeps -48
    #          = 0b1101 = 13, 40 is the victim
    # 3: the odd last element is unpaired and normal -> 3
    sp = spec(4, "int")
    x = np.array([1, 2, 20, 1, 1, -30, 40, -50, 3], np.float64)
    codes = encode_pairs(x, np.abs(x), sp)
    np.testing.assert_array_equal(codes, [1, 2, 3, 8, 8, 12, 8, 13, 3])
    np.testing.assert_array_equal(decode_pairs(codes, 4, "int"), [1, 2, 24, 0, 0, -32, 0, -48, 3])


def test_encode_pairs_hand_flint4_and_int8():
    # flint4 (x4 units) normal 0 1 2 3 4 6 8 16, outliers from 24, cut 20:
    # (16, 2.5): 16 normal rank 7; 2.5 halfway 2|3 -> 3 (rank 3)
    # (20, .4): 20 is the cut -> outlier 24 (e = 0, m = 1: code 1); .4 -> victim
    # (-7, 5): -7 halfway -6|-8 -> -8 (rank 6, 0b1110 = 14); 5 halfway 4|6 -> 6 (rank 5)
    sp = spec(4, "flint")
    x = np.array([16, 2.5, 20, .4, -7, 5], np.float64)
    codes = encode_pairs(x, np.abs(x), sp)
    np.testing.assert_array_equal(codes, [7, 3, 1, 8, 14, 5])
    np.testing.assert_array_equal(decode_pairs(codes, 4, "flint"), [16, 3, 24, 0, -8, 6])
    # int8: normal 0..127, outliers from 132, cut 129.5
    # (127.4, 129.5): 129.5 -> 132 (code 0x01), 127.4 the victim 0x80
    # (-2016, -3000): both outliers, -3000 saturates at -2016 (0xFF) and stays (larger |x|)
    s8 = spec(8, "int")
    x8 = np.array([127.4, 129.5, -2016, -3000, 5], np.float64)
    c8 = encode_pairs(x8, np.abs(x8), s8)
    np.testing.assert_array_equal(c8, [0x80, 0x01, 0x80, 0xFF, 5])
    # equal magnitudes: the first of the pair stays
    eq = encode_pairs(np.array([-50.0, 50.0]), np.array([50.0, 50.0]), spec(4, "int"))
    np.testing.assert_array_equal(decode_pairs(eq, 4, "int"), [-48, 0])


def test_scale_from_three_sigma_base():
    # one ratio: s = r * max(|mean + 3 std|, |mean - 3 std|) / 7 (unbiased std), per tensor
    x = np.array([[0.5, -1.0, 2.0, 0.25], [3.0, -0.5, 0.0, 1.0]], np.float32)
    xs = x.astype(np.float64)
    base = max(abs(xs.mean() + 3 * xs.std(ddof=1)), abs(xs.mean() - 3 * xs.std(ddof=1)))
    enc = OliVe(4, "int", clip_ratios=(0.8,)).encode(x)
    assert enc.scales.shape == (1, 1) and enc.scales[0, 0] == np.float32(0.8 * base / 7)
    pc = OliVe(4, "int", "per_channel", clip_ratios=(1.0,)).encode(x)
    assert pc.scales.shape == (2, 1)
    for r in range(2):
        b = max(abs(xs[r].mean() + 3 * xs[r].std(ddof=1)),
                abs(xs[r].mean() - 3 * xs[r].std(ddof=1)))
        assert pc.scales[r, 0] == np.float32(b / 7)


def test_edges():
    fmt = FORMATS["olive4"]
    zero = fmt.encode(np.zeros((2, 4), np.float32))
    assert zero.scales.ravel()[0] == 1 and not zero.codes.any()
    const = OliVe(4, "int", clip_ratios=(1.0,)).encode(np.full(6, 2.0, np.float32))
    # std 0: base = |mean| = 2, s = 2 / 7 -> every element is 7 * s
    np.testing.assert_array_equal(const.codes, 7)
    np.testing.assert_allclose(fmt.decode(const), 2.0, rtol=1e-6)
    big = fmt.encode(np.array([3e38, -3e38, 1.0, 2.0], np.float32))
    assert np.all(np.isfinite(fmt.decode(big)))
    tiny = fmt.encode(np.array([1e-45, -1e-45, 0.0], np.float32))
    assert tiny.scales.ravel()[0] > 0 and np.all(np.isfinite(fmt.decode(tiny)))
    assert FORMATS["olive8"].encode(np.arange(5, dtype=np.float32)).meta["normal"] == "int"


@pytest.mark.parametrize(("make", "message"), [
    (lambda: OliVe(6), "olive bits: must be 4 or 8, not 6"),
    (lambda: OliVe(8, "flint"), "olive normal: must be 'int' or 'flint' with 4 bits or "
     "'int' with 8 bits, not 'flint' with 8 bits"),
    (lambda: OliVe(4, granularity="per_token"), "olive granularity: must be one of "
     "'per_tensor', 'per_channel', not 'per_token'"),
    (lambda: OliVe(4).encode(np.array([np.nan, np.inf]), name="layer o input"),
     "layer o input: must be finite, not 1 NaN and 1 Inf values"),
    (lambda: FORMATS["olive4_pc"].encode(np.ones(4), name="v"), "v: must have at least two "
     "axes for per_channel scales (channels x pairs), not shape (4,)"),
    (lambda: OliVe(4).encode(np.ones((3, 0)), name="v"), "v: must have a non-empty last "
     "axis, not shape (3, 0)"),
])
def test_errors(make, message):
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        make()


# -- properties ---------------------------------------------------------------------------

def oracle(x: list[float], s: float, bits: int, normal: str) -> list[Fraction]:
    """Expected values (units of the scale) in exact arithmetic: nearest magnitude (ties to
    the larger), outlier pairs keep the larger |x|, odd last element normal only."""
    sp = spec(bits, normal)
    comb = [Fraction(m) for m in sp.normal_mags + sp.outlier_mags]
    norm = comb[:len(sp.normal_mags)]

    def near(v: float, table: list[Fraction]) -> Fraction:
        q = abs(Fraction(v) / Fraction(s))
        m = min(table, key=lambda e: (abs(q - e), -e))
        return -m if v < 0 else m

    out: list[Fraction] = []
    for i in range(0, len(x) - 1, 2):
        a, b = near(x[i], comb), near(x[i + 1], comb)
        nmax = norm[-1]
        oa, ob = abs(a) > nmax, abs(b) > nmax
        if oa and (not ob or abs(x[i]) >= abs(x[i + 1])):
            out += [a, Fraction(0)]
        elif ob:
            out += [Fraction(0), b]
        else:
            out += [a, b]
    if len(x) % 2:
        out.append(near(x[-1], norm))
    return out


@settings(max_examples=60, deadline=None)
@given(x=hnp.arrays(np.float32, st.tuples(st.integers(1, 2), st.integers(1, 9)),
                    elements=st.floats(-1e4, 1e4, width=32)
                    | st.sampled_from([0.0, 100.0, -900.0, 5000.0])),
       name=st.sampled_from(["olive4", "olive8", "olive4_pc"]))
def test_decode_follows_the_pair_rules(x, name):
    fmt = FORMATS[name]
    enc = fmt.encode(x)
    bits = fmt.bits
    assert enc.codes.dtype == np.uint8 and int(enc.codes.max()) < 1 << bits
    assert np.all(np.isfinite(enc.scales)) and np.all(enc.scales > 0)
    ints = decode_pairs(enc.codes, bits, enc.meta["normal"])
    scales = np.broadcast_to(enc.scales, x.shape)
    sp = spec(bits, enc.meta["normal"])
    for r in range(x.shape[0]):
        want = oracle([float(v) for v in x[r]], float(scales[r, 0]), bits, enc.meta["normal"])
        assert [int(v) for v in ints[r]] == [int(v) for v in want], (x[r], scales[r, 0])
        # no pair is two victims, and an outlier's magnitude code is never 0
        c = enc.codes[r]
        for i in range(0, len(c) - 1, 2):
            assert not (c[i] == sp.victim and c[i + 1] == sp.victim)
            for me, other in ((c[i], c[i + 1]), (c[i + 1], c[i])):
                if other == sp.victim:
                    assert me & (sp.victim - 1) != 0
    np.testing.assert_array_equal(decode_any(enc), fmt.decode(enc))
    np.testing.assert_array_equal(fmt.decode(enc),
                                  (ints * enc.scales.astype(np.float64)).astype(np.float32))


def sq_error(fmt: OliVe, x: np.ndarray) -> float:
    return float(np.sum((fmt.decode(fmt.encode(x)).astype(np.float64) - x) ** 2))


@settings(max_examples=25, deadline=None)
@given(hnp.arrays(np.float32, 20, elements=st.floats(-10, 10, width=32)
                  | st.sampled_from([40.0, -60.0])))
def test_search_picks_the_smallest_error(x):
    ratios = (0.75, 1.0, 1.33, 1.9, 2.49)
    fmt = OliVe(4, clip_ratios=ratios)
    best = sq_error(fmt, x)
    errors = {(n, r): sq_error(OliVe(4, n, clip_ratios=(r,)), x)
              for n in ("int", "flint") for r in ratios}
    # minimal up to the rounding of the scale to float32: that moves each decoded value by
    # at most 2^-24 relative, the error by at most ~ 2 * 2^-24 * sum x^2
    assert best <= min(errors.values()) + 1e-6 * float(np.sum(x.astype(np.float64) ** 2))
