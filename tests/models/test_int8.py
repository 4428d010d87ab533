"""INT8 format: hand-worked vectors, an exact-arithmetic property test, edge cases, errors."""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from qaccel import ConfigError
from qaccel.models import FORMATS, Encoded, get_format, int8
from qaccel.models.formats import decode as decode_any

TINY = 2.0 ** -149  # smallest positive float32 (subnormal)


def codes_of(values: list[int]) -> np.ndarray:
    """Two's complement uint8 codes of signed values, computed by hand: v mod 256."""
    return np.array([v % 256 for v in values], dtype=np.uint8)


def test_hand_vector_per_tensor():
    # max|x| = 1.27 -> scale = float32(1.27 / 127) = float32(0.01); x / scale:
    # 0.5 -> 50, -1.0 -> -100, 0.25 -> 25, 1.27 -> 127 (all within 1e-6 of an integer)
    x = np.array([0.5, -1.0, 0.25, 1.27], dtype=np.float32)
    enc = int8.encode(x, "per_tensor")
    assert enc.codes.dtype == np.uint8
    np.testing.assert_array_equal(enc.codes, [0x32, 0x9C, 0x19, 0x7F])  # -100 -> 256-100=0x9c
    assert enc.scales.shape == (1,) and enc.scales.dtype == np.float32
    assert enc.scales[0] == np.float32(0.01)
    assert enc.meta == {"format": "int8", "bits": 8, "granularity": "per_tensor", "axis": None}
    np.testing.assert_array_equal(int8.to_int8(enc), [50, -100, 25, 127])
    np.testing.assert_allclose(int8.decode(enc), x, rtol=1e-6)


def test_ties_round_to_even():
    # max|x| = 127 -> scale exactly 1.0, so x / scale = x: ties 2.5 -> 2, 1.5 -> 2, 0.5 -> 0,
    # -0.5 -> 0, -2.5 -> -2, 3.5 -> 4, -126.5 -> -126
    x = np.array([2.5, 1.5, 0.5, -0.5, -2.5, 3.5, -126.5, 127.0], dtype=np.float32)
    enc = int8.encode(x)
    np.testing.assert_array_equal(enc.codes, codes_of([2, 2, 0, 0, -2, 4, -126, 127]))
    np.testing.assert_array_equal(int8.decode(enc), [2, 2, 0, 0, -2, 4, -126, 127])


def test_per_channel_rows_of_a_linear_weight():
    # row 0: max 127 -> scale 1: [127, -63.5 -> -64 (tie, even), 1]
    # row 1: max 254 -> scale 2: [254/2=127, 3/2=1.5 -> 2, -5/2=-2.5 -> -2]
    w = np.array([[127.0, -63.5, 1.0], [254.0, 3.0, -5.0]], dtype=np.float32)
    enc = int8.encode(w, "per_channel", axis=0)
    np.testing.assert_array_equal(enc.scales, [[1.0], [2.0]])
    np.testing.assert_array_equal(enc.codes, codes_of([127, -64, 1, 127, 2, -2]).reshape(2, 3))
    np.testing.assert_array_equal(int8.decode(enc), [[127, -64, 1], [254, 4, -4]])
    assert enc.meta["axis"] == 0


def test_per_channel_other_axis_and_per_token():
    x = np.array([[1.0, 2.0, 127.0], [0.0, 0.0, 0.0]], dtype=np.float32)
    cols = int8.encode(x, "per_channel", axis=-1)  # one scale per column: max 1, 2, 127
    np.testing.assert_array_equal(cols.scales, np.float32([[1 / 127, 2 / 127, 1.0]]))
    np.testing.assert_array_equal(int8.to_int8(cols), [[127, 127, 127], [0, 0, 0]])
    assert cols.meta["axis"] == 1
    # per token: row 0 max 127 -> scale 1; row 1 all zero -> scale 1.0 by definition
    rows = int8.encode(x, "per_token")
    np.testing.assert_array_equal(rows.scales, [[1.0], [1.0]])
    np.testing.assert_array_equal(int8.to_int8(rows), [[1, 2, 127], [0, 0, 0]])
    assert rows.meta == {"format": "int8", "bits": 8, "granularity": "per_token", "axis": 1}


def test_all_zero_constant_and_empty():
    zero = int8.encode(np.zeros((3, 4), np.float32), "per_channel")
    np.testing.assert_array_equal(zero.scales, np.ones((3, 1)))
    np.testing.assert_array_equal(zero.codes, 0)
    np.testing.assert_array_equal(int8.decode(zero), 0)
    # a constant tensor is its own max: every code 127 (-127 for a negative constant)
    const = int8.encode(np.full(5, -3.7, np.float32))
    np.testing.assert_array_equal(int8.to_int8(const), -127)
    np.testing.assert_allclose(int8.decode(const), -3.7, rtol=1e-6)
    empty = int8.encode(np.zeros((0, 4), np.float32), "per_channel")
    assert empty.codes.shape == (0, 4) and empty.scales.shape == (0, 1)
    scalar = int8.encode(np.float32(-2.0))
    assert int8.to_int8(scalar) == -127 and scalar.scales.shape == ()


def test_huge_and_tiny_values():
    big = np.array([3e38, -3e38, 1.5e37], dtype=np.float32)  # near float32 max
    np.testing.assert_array_equal(int8.to_int8(int8.encode(big)), [127, -127, 6])
    # 1.5e37 / (3e38 / 127) = 127 / 20 = 6.35 -> 6
    # float32 max / 127 rounds up, so 127 * scale would overflow: the scale steps one ulp down
    top = np.finfo(np.float32).max
    enc = int8.encode(np.array([top, -top], np.float32))
    np.testing.assert_array_equal(int8.to_int8(enc), [127, -127])
    assert np.isfinite(int8.decode(enc)).all()
    assert float(enc.scales[0]) * 127 <= float(top)
    # subnormal: 100 * 2^-149 / 127 = 0.79 * 2^-149 rounds to a scale of 2^-149 -> code 100, exact
    small = np.array([100 * TINY, -3 * TINY], dtype=np.float32)
    enc = int8.encode(small)
    assert enc.scales[0] == np.float32(TINY)
    np.testing.assert_array_equal(int8.to_int8(enc), [100, -3])
    np.testing.assert_array_equal(int8.decode(enc), small)
    # 190 * 2^-149 / 127 = 1.496 * 2^-149 rounds to 2^-149: 190 steps saturate at 127
    sat = int8.encode(np.array([190 * TINY], dtype=np.float32))
    assert sat.scales[0] == np.float32(TINY) and int8.to_int8(sat)[0] == 127
    # below float32 entirely (float64 input): the scale underflows to 0 -> floor 2^-149
    under = int8.encode(np.array([0.3 * TINY, 0.0]))
    assert under.scales[0] == np.float32(TINY)
    np.testing.assert_array_equal(int8.to_int8(under), [0, 0])


def test_values_table_and_views():
    table = int8.values()
    assert table.dtype == np.float32 and len(table) == 255
    assert table[0] == -127 and table[-1] == 127 and -128 not in table
    np.testing.assert_array_equal(np.diff(table), 1)
    enc = int8.encode(np.array([-1.0, 127.0], np.float32))
    assert enc.codes[0] == 0xFF and int8.to_int8(enc)[0] == -1
    assert np.shares_memory(int8.to_int8(enc), enc.codes)


def test_registry():
    assert FORMATS["int8"] is int8 and get_format("int8") is int8
    enc = int8.encode(np.array([1.0, -0.5], np.float32))
    np.testing.assert_array_equal(decode_any(enc), int8.decode(enc))
    names = ", ".join(map(repr, FORMATS))  # the registry grows with every format
    assert names.startswith("'int8', ")
    with pytest.raises(ConfigError, match=f"^format: must be one of {re.escape(names)}, "
                       f"not 'int3'$"):
        get_format("int3")


@pytest.mark.parametrize(("x", "message"), [
    ([np.nan, 1.0, np.nan, np.inf, np.nan], "must be finite, not 3 NaN and 1 Inf values"),
    ([1.0, np.nan], "must be finite, not 1 NaN value"),
    ([-np.inf, np.inf], "must be finite, not 2 Inf values"),
], ids=["nan-and-inf", "one-nan", "two-inf"])
def test_non_finite_input_names_the_tensor(x, message):
    name = "layer encoder.layer.0.attention.self.query weight"
    with pytest.raises(ConfigError, match=f"^{re.escape(name)}: {message}$"):
        int8.encode(np.array(x, np.float32), name=name)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"granularity": "per_group"}, "w granularity: must be one of 'per_tensor', "
     "'per_channel', 'per_token', not 'per_group'"),
    ({"granularity": "per_channel", "axis": 2}, "w axis: must be an int in -2..1 for a 2-d "
     "tensor, not 2"),
    ({"granularity": "per_tensor", "axis": 0}, "w axis: must be None for per_tensor scales, "
     "not 0"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        int8.encode(np.ones((2, 3), np.float32), name="w", **kwargs)


def test_bad_values():
    with pytest.raises(ConfigError, match=r"^t: must have magnitudes at most 4\.322e\+40 so "
                       r"the float32 scale is finite, not max 1e\+300$"):
        int8.encode(np.array([1e300, 1.0]), name="t")
    with pytest.raises(ConfigError, match=r"^t: must be a real-valued array, not dtype bool$"):
        int8.encode(np.array([True]), name="t")


def test_encoded_checks_its_fields():
    meta = {"format": "int8", "bits": 8}
    with pytest.raises(ValueError, match="codes must be an unsigned integer array, not dtype"):
        Encoded(np.zeros(2, np.int8), np.ones(1, np.float32), meta)
    with pytest.raises(ValueError, match="scales must be float32, not dtype float64"):
        Encoded(np.zeros(2, np.uint8), np.ones(1), meta)
    with pytest.raises(ValueError, match=r"scales of shape \(3,\) must broadcast"):
        Encoded(np.zeros(2, np.uint8), np.ones(3, np.float32), meta)
    with pytest.raises(ValueError, match="meta must name 'bits'"):
        Encoded(np.zeros(2, np.uint8), np.ones(1, np.float32), {"format": "int8"})
    enc = int8.encode(np.ones((4, 3), np.float32), "per_channel")
    assert repr(enc) == ("Encoded(int8, 8 bits, codes uint8[4, 3], scales [4, 1], "
                         "granularity='per_channel', axis=0)")


# -- property: decode(encode(x)) is the nearest table value, ties to even ------------------

finite32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5)


def expected_codes(x: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Independent oracle in exact rational arithmetic: Python's round() on a Fraction rounds
    half to even; then saturate at +-127."""
    s = np.broadcast_to(scales, x.shape)
    out = [max(-127, min(127, round(Fraction(float(v)) / Fraction(float(sc)))))
           for v, sc in zip(x.ravel(), s.ravel(), strict=True)]
    return np.array(out, dtype=np.int64).reshape(x.shape)


@settings(max_examples=150, deadline=None)
@given(x=hnp.arrays(np.float32, shapes, elements=finite32),
       granularity=st.sampled_from(["per_tensor", "per_channel", "per_token"]))
def test_decode_is_nearest_representable(x, granularity):
    enc = int8.encode(x, granularity)
    q = int8.to_int8(enc)
    assert enc.codes.dtype == np.uint8 and enc.codes.shape == x.shape
    assert q.min() >= -127  # -128 never produced
    # the scale is max|x| / 127 rounded once to float32 (1.0 for all-zero slices)
    axes = {"per_tensor": None, "per_channel": tuple(range(1, x.ndim)),
            "per_token": (x.ndim - 1,)}[granularity]
    amax = np.max(np.abs(x.astype(np.float64)), axis=axes, keepdims=True)
    want = np.maximum((amax / 127).astype(np.float32), np.float32(TINY))
    # documented exception: one ulp down where 127 * scale would pass the float32 maximum
    over = want.astype(np.float64) * 127 > np.finfo(np.float32).max
    want = np.where(over, np.nextafter(want, np.float32(0)), want)
    want = np.where(amax == 0, np.float32(1.0), want)
    np.testing.assert_array_equal(np.broadcast_to(enc.scales, amax.shape), want)
    np.testing.assert_array_equal(q, expected_codes(x, enc.scales))
    # and decode is the float32 product of code and scale
    np.testing.assert_array_equal(int8.decode(enc), (q.astype(np.float64) *
                                                     enc.scales).astype(np.float32))
