"""ANT (int / flint / pot per tensor by MSE): value tables against the authors' generators,
hand-worked codes, the upper-entry tie rule, type and clip selection, edge cases and a
nearest-value property."""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from qaccel import ConfigError
from qaccel.models.ant import DEFAULT_CLIP_RATIOS, Ant, code_values, flint_magnitudes, type_codes
from qaccel.models.formats import FORMATS
from qaccel.models.formats import decode as decode_any


def test_tables():
    # flint4 (DESIGN.md): {0, .25, .5, .75, 1, 1.5, 2, 4}; flint5 from the authors'
    # flint_value with 4 value bits: exponents -1 (4 mantissa steps), -2 (2), -3 (1), 0 (4),
    # 1 (2), 2 (1) and the maximum 2^3
    assert flint_magnitudes(3) == [0, .25, .5, .75, 1, 1.5, 2, 4]
    assert flint_magnitudes(4) == [0, .125, .25, .375, .5, .625, .75, .875, 1, 1.25, 1.5,
                                   1.75, 2, 3, 4, 8]
    # int4 two's complement -8..7; pot4 sign + exponent code: 0, 1, 2, ..., 64
    np.testing.assert_array_equal(code_values(4, "int"),
                                  [0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1])
    np.testing.assert_array_equal(code_values(4, "pot"),
                                  [0, 1, 2, 4, 8, 16, 32, 64, 0, -1, -2, -4, -8, -16, -32, -64])
    # flint4 codes are the magnitude's rank = ANT's first-one code: 0b01m = .5(1 + m/2),
    # 0b10m = 1 + m/2, 0b110 = 2, 0b111 = 4, 0b001 = .25
    np.testing.assert_array_equal(code_values(4, "flint")[:8], [0, .25, .5, .75, 1, 1.5, 2, 4])
    codes, vals = type_codes(4, "flint")
    assert 8 not in codes and len(vals) == 15               # -0 (0b1000) never produced
    assert DEFAULT_CLIP_RATIOS[0] == 0.75 and 1.0 in DEFAULT_CLIP_RATIOS


def test_hand_vector_flint():
    # flint only, clip ratio 1: s = max|x| / 4 = 1. 4 -> 0b0111 = 7, 2 -> 6, 1 -> 4,
    # .5 -> 2, -1.5 -> 0b1000 | 5 = 13, .3 -> .25 (1), -.375 is halfway between -.5 and -.25
    # -> upper (-.25) = 0b1001 = 9
    fmt = Ant(4, "per_tensor", ("flint",), (1.0,))
    enc = fmt.encode(np.array([4, 2, 1, .5, -1.5, .3, -.375], np.float32))
    np.testing.assert_array_equal(enc.codes, [7, 6, 4, 2, 13, 1, 9])
    np.testing.assert_array_equal(fmt.decode(enc), [4, 2, 1, .5, -1.5, .25, -.25])
    assert enc.meta["type"] == "flint" and enc.scales.ravel()[0] == 1
    np.testing.assert_array_equal(decode_any(enc), fmt.decode(enc))


def test_hand_vector_int_and_ties_up():
    # int only, clip ratio .875 of max|x| = 8: s = 7 / 7 = 1. -8 -> 0b1000 = 8, 7 -> 7,
    # 2.5 -> 3 (upper), -2.5 -> -2 (upper) = 0b1110 = 14, -.5 -> 0
    fmt = Ant(4, "per_tensor", ("int",), (0.875,))
    enc = fmt.encode(np.array([-8, 7, 2.5, -2.5, -.5], np.float32))
    assert enc.scales.ravel()[0] == 1
    np.testing.assert_array_equal(enc.codes, [8, 7, 3, 14, 0])
    np.testing.assert_array_equal(fmt.decode(enc), [-8, 7, 3, -2, 0])


@pytest.mark.parametrize(("x", "kind"), [
    ([-7, -3, 0, 1, 2, 5, 7], "int"),                          # exact on int4, r = 1
    ([0, .25, .5, .75, 1, 1.5, 2, 4, -4, -.25], "flint"),      # exact on flint4 only
    ([1, 2, 4, 8, 16, 32, 64, -64, -1], "pot"),                # exact on pot4 only
])
def test_type_chosen_by_mse(x, kind):
    enc = FORMATS["ant4_pt"].encode(np.array(x, np.float32))
    assert enc.meta["type"] == kind
    np.testing.assert_array_equal(FORMATS["ant4_pt"].decode(enc), x)


def test_per_channel_scales_and_edges():
    fmt = FORMATS["ant4"]
    w = np.array([[4, 2, 1, .5], [0, 0, 0, 0], [-64, 32, 1, 0]], np.float32)
    enc = fmt.encode(w)
    assert enc.scales.shape == (3, 1) and enc.meta["axis"] == 0
    assert enc.scales[1, 0] == 1                               # all-zero channel
    np.testing.assert_array_equal(fmt.decode(enc)[1], 0)
    # huge values keep every decoded value finite; tiny ones keep their scale positive
    big = fmt.encode(np.array([[3e38, -3e38, 1e38]], np.float32))
    assert np.all(np.isfinite(fmt.decode(big)))
    tiny = fmt.encode(np.array([[1e-45, -2e-45]], np.float32))
    assert tiny.scales[0, 0] > 0 and np.all(np.isfinite(fmt.decode(tiny)))
    with pytest.raises(ConfigError, match=r"^w: must have at least one axis for per_channel "
                       r"scales, not shape \(\)$"):
        fmt.encode(np.float32(1), name="w")


@pytest.mark.parametrize(("make", "message"), [
    (lambda: Ant(7), "ant bits: must be an int in 3..6, not 7"),
    (lambda: Ant(4, "per_row"), "ant granularity: must be one of 'per_channel', "
     "'per_tensor', not 'per_row'"),
    (lambda: Ant(4, types=("fp",)), "ant types: must be a non-empty subset of ('int', "
     "'flint', 'pot'), not ('fp',)"),
    (lambda: Ant(4).encode(np.array([[1.0, np.nan]]), name="layer k weight"),
     "layer k weight: must be finite, not 1 NaN value"),
])
def test_errors(make, message):
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        make()


# -- properties ---------------------------------------------------------------------------

def nearest_upper(table: list[float], q: Fraction) -> Fraction:
    """Nearest entry, a midpoint going to the upper entry (exact)."""
    return min((Fraction(e) for e in table), key=lambda e: (abs(q - e), -e))


@settings(max_examples=60, deadline=None)
@given(x=hnp.arrays(np.float32, st.tuples(st.integers(1, 3), st.integers(1, 8)),
                    elements=st.floats(-1e6, 1e6, width=32)
                    | st.sampled_from([0.0, 0.5, -2.5, 3.0])),
       bits=st.sampled_from([3, 4, 5]), granularity=st.sampled_from(["per_channel",
                                                                     "per_tensor"]))
def test_decode_is_nearest_entry(x, bits, granularity):
    fmt = Ant(bits, granularity)
    enc = fmt.encode(x)
    assert enc.codes.dtype == np.uint8 and int(enc.codes.max()) < 1 << bits
    assert np.all(np.isfinite(enc.scales)) and np.all(enc.scales > 0)
    table = [float(v) for v in type_codes(bits, enc.meta["type"])[1]]
    scales = np.broadcast_to(enc.scales, x.shape)
    got = fmt.decode(enc)
    for v, s, g in zip(x.ravel(), scales.ravel(), got.ravel(), strict=True):
        want = nearest_upper(table, Fraction(float(v)) / Fraction(float(s))) * Fraction(float(s))
        assert g == np.float32(float(want)), (v, s, g, want)


def sq_error(fmt: Ant, x: np.ndarray) -> float:
    return float(np.sum((fmt.decode(fmt.encode(x)).astype(np.float64) - x) ** 2))


@settings(max_examples=25, deadline=None)
@given(hnp.arrays(np.float32, 24, elements=st.floats(-10, 10, width=32)))
def test_search_picks_the_smallest_error(x):
    # per tensor: the chosen (type, ratio) is the best of every single-candidate encoding
    ratios = (0.75, 0.9, 1.0, 1.2, 1.45)
    enc = Ant(4, "per_tensor", clip_ratios=ratios).encode(x)
    best = sq_error(Ant(4, "per_tensor", clip_ratios=ratios), x)
    errors = {(t, r): sq_error(Ant(4, "per_tensor", (t,), (r,)), x)
              for t in ("int", "flint", "pot") for r in ratios}
    # minimal up to the rounding of the scale to float32: that moves each decoded value by
    # at most 2^-24 relative, the error by at most ~ 2 * 2^-24 * sum x^2
    tol = 1e-6 * float(np.sum(x.astype(np.float64) ** 2))
    assert best <= min(errors.values()) + tol
    chosen = [k for k, e in errors.items() if k[0] == enc.meta["type"]]
    assert min(errors[k] for k in chosen) <= best + tol
