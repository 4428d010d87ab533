"""FP16 format: hand-worked IEEE half codes, ties to even, range errors, nearest-value property."""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from qaccel import ConfigError
from qaccel.models import fp16
from qaccel.models.formats import FORMATS
from qaccel.models.formats import decode as decode_any


def test_hand_vector():
    # sign | exponent (bias 15) | mantissa:
    #   1.0      = 0 01111 0000000000 = 0x3c00      -2.0 = 1 10000 0000000000 = 0xc000
    #   0.5      = 0 01110 ...        = 0x3800   65504.0 = 0 11110 1111111111 = 0x7bff
    #   3e-8 > 2^-25 (half the smallest subnormal 2^-24) -> 2^-24 = 0x0001
    #   1e-8 < 2^-25 -> +0 = 0x0000;  -0.0 keeps its sign: 0x8000
    x = np.array([1.0, -2.0, 0.5, 65504.0, 3e-8, 1e-8, -0.0], dtype=np.float32)
    enc = fp16.encode(x)
    assert enc.codes.dtype == np.uint16
    np.testing.assert_array_equal(enc.codes, [0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001, 0x0000,
                                              0x8000])
    np.testing.assert_array_equal(fp16.decode(enc), [1, -2, 0.5, 65504, 2.0 ** -24, 0, 0])
    assert enc.meta == {"format": "fp16", "family": "fp16", "bits": 16,
                        "granularity": "per_tensor"}
    assert enc.scales.shape == (1,) and enc.scales[0] == 1
    assert FORMATS["fp16"] is fp16
    np.testing.assert_array_equal(decode_any(enc), fp16.decode(enc))


def test_ties_to_even():
    # 1 + 2^-11 is halfway between 1 (mantissa 0, even) and 1 + 2^-10 (mantissa 1): -> 0x3c00
    # 1 + 3*2^-11 is halfway between mantissa 1 (odd) and 2 (even): -> 0x3c02
    # 65519 is below 65520 (halfway to the next binade): -> 65504
    x = np.array([1 + 2.0 ** -11, 1 + 3 * 2.0 ** -11, 65519.0], dtype=np.float32)
    np.testing.assert_array_equal(fp16.encode(x).codes, [0x3C00, 0x3C02, 0x7BFF])


def test_float64_and_int_inputs_round_once():
    # 1 + 2^-11 + 2^-40 is just above the tie in float64: rounds up (no double rounding)
    assert fp16.encode(np.array([1 + 2.0 ** -11 + 2.0 ** -40])).codes[0] == 0x3C01
    # 2049 is halfway between 2048 and 2050 (spacing 2): ties to even mantissa -> 2048
    np.testing.assert_array_equal(fp16.decode(fp16.encode(np.array([2049, 3, -7]))),
                                  [2048, 3, -7])


@pytest.mark.parametrize(("x", "message"), [
    ([1.0, 65520.0], "must have magnitudes below 65520 to fit float16, not max 6.552e+04"),
    ([np.nan, 1.0], "must be finite, not 1 NaN value"),
    ([np.inf, -np.inf], "must be finite, not 2 Inf values"),
])
def test_errors_name_the_tensor(x, message):
    with pytest.raises(ConfigError, match=f"^layer fc input: {re.escape(message)}$"):
        fp16.encode(np.array(x, np.float32), name="layer fc input")


def test_values_table():
    table = fp16.values()
    assert table.dtype == np.float32 and len(table) == 2 * 0x7BFF + 1  # one zero
    assert table[0] == -65504 and table[-1] == 65504 and np.all(np.diff(table) > 0)
    assert 2.0 ** -24 in table and 1 + 2.0 ** -10 in table
    assert fp16.bits_per_weight() == 16


def test_zero_constant_and_empty():
    np.testing.assert_array_equal(fp16.encode(np.zeros((2, 3))).codes, 0)
    np.testing.assert_array_equal(fp16.decode(fp16.encode(np.full(4, 0.1))),
                                  np.float32(np.float16(0.1)))
    assert fp16.encode(np.zeros((0, 3), np.float32)).codes.shape == (0, 3)


# -- property: decode(encode(x)) is the nearest half, ties to even -------------------------

def neighbours(h: np.float16) -> list[float]:
    """The finite halves just below and above ``h``."""
    table = fp16.values()
    i = int(np.searchsorted(table, np.float32(h)))
    return [float(table[j]) for j in (i - 1, i + 1) if 0 <= j < len(table)]


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float32, hnp.array_shapes(max_dims=2, max_side=6),
                  elements=st.floats(-65519.98828125, 65519.98828125, width=32)))
def test_decode_is_nearest_half(x):
    enc = fp16.encode(x)
    got = fp16.decode(enc)
    for v, g, code in zip(x.ravel(), got.ravel(), enc.codes.ravel(), strict=True):
        exact = Fraction(float(v))
        dist = abs(exact - Fraction(float(g)))
        for n in neighbours(np.float16(g)):
            d = abs(exact - Fraction(n))
            assert dist < d or (dist == d and int(code) % 2 == 0), (v, g, n)
