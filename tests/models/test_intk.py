"""INTk (k = 2..8) per group / per channel, asymmetric or symmetric, FP16 scales: hand-worked
codes, edge cases, errors, and an exact-arithmetic nearest-value property."""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from qaccel import ConfigError
from qaccel.models.formats import FORMATS, get_format
from qaccel.models.formats import decode as decode_any
from qaccel.models.intk import IntK, signed_codes


def test_hand_vector_asymmetric_groups():
    # IntK(2, 4): codes 0..3, value (q - z) * s.
    # group 0 = [-1, 0.5, 2, 0]: lo = -1, hi = 2 -> s = 3 / 3 = 1, z = round(1 / 1) = 1;
    #   q = round(x) + 1: -1 -> 0, 0.5 -> round half even 0 -> 1, 2 -> 3, 0 -> 1
    # group 1 = [3, 3, 3, 1.5]: lo widened to 0, hi = 3 -> s = 1, z = 0;
    #   1.5 -> 2 (half to even)
    fmt = IntK(2, 4)
    x = np.array([[-1.0, 0.5, 2.0, 0.0, 3.0, 3.0, 3.0, 1.5]], np.float32)
    enc = fmt.encode(x)
    assert fmt.name == "int2_g4" and enc.format == "int2_g4"
    assert enc.codes.shape == (1, 2, 4) and enc.scales.shape == (1, 2, 1)
    np.testing.assert_array_equal(enc.codes, [[[0, 1, 3, 1], [3, 3, 3, 2]]])
    np.testing.assert_array_equal(enc.scales.ravel(), [1, 1])
    np.testing.assert_array_equal(enc.extra["zero_points"].ravel(), [1, 0])
    np.testing.assert_array_equal(fmt.decode(enc), [[-1, 0, 2, 0, 3, 3, 3, 2]])
    np.testing.assert_array_equal(decode_any(enc), fmt.decode(enc))


def test_hand_vector_symmetric_per_channel():
    # IntK(4, None, symmetric): max 7 -> s = 7 / 7 = 1; round half to even:
    # 1.5 -> 2, -7 -> -7 = 0b1001 (two's complement in 4 bits) = 9, 0.5 -> 0, 2.5 -> 2,
    # -0.5 -> 0, 7 -> 7
    fmt = IntK(4, None, symmetric=True)
    enc = fmt.encode(np.array([[1.5, -7.0, 0.5, 2.5, -0.5, 7.0]], np.float32))
    assert fmt.name == "int4_pc_sym" and enc.codes.shape == (1, 6)
    np.testing.assert_array_equal(enc.codes, [[2, 9, 0, 2, 0, 7]])
    np.testing.assert_array_equal(signed_codes(enc), [[2, -7, 0, 2, 0, 7]])
    np.testing.assert_array_equal(fmt.decode(enc), [[2, -7, 0, 2, 0, 7]])
    assert enc.extra == {}


def test_fp16_scale_and_zero_point_rounding():
    # [-1, 2.75] with 4 bits: s = 3.75 / 15 = 0.25 exactly, z = round(1 / 0.25) = 4;
    # 2.75 / 0.25 = 11 -> q = 15. A range of 1 / 3: s = fp16(1 / 45) = 0.022216796875
    # (1/45 = 0.0222222.. rounded to 11 bits) is stored exactly.
    enc = IntK(4, 4).encode(np.array([-1.0, 2.75, 0.0, 0.0], np.float32))
    assert enc.scales.ravel()[0] == 0.25 and enc.extra["zero_points"].ravel()[0] == 4
    np.testing.assert_array_equal(enc.codes.ravel(), [0, 15, 4, 4])
    small = IntK(4, 2).encode(np.array([1 / 3, 0.0]))
    assert small.scales.ravel()[0] == np.float32(0.022216796875)
    assert np.float16(small.scales.ravel()[0]) == small.scales.ravel()[0]


def test_padding_zero_constant_empty_rows():
    fmt = IntK(3, 4)
    x = np.arange(6, dtype=np.float32).reshape(1, 6)      # groups [0..3], [4, 5, pad, pad]
    enc = fmt.encode(x)
    assert enc.codes.shape == (1, 2, 4) and enc.meta["shape"] == [1, 6]
    assert fmt.decode(enc).shape == (1, 6)
    # all zero: s = 1, z = 0, codes 0. A positive constant c: the range widens to [0, c], so
    # s = fp16(c / 15), z = 0, q = 15: 7.5 / 15 = 0.5 is exact; 5 / 15 rounds to 0.333251953125
    # (11 bits), so 5 decodes to 15 * that = 4.998779296875, the nearest value on that grid
    zero = fmt.encode(np.zeros((2, 8)))
    np.testing.assert_array_equal(zero.scales, 1)
    np.testing.assert_array_equal(zero.codes, 0)
    const = IntK(4, None).encode(np.full((3, 5), 7.5, np.float32))
    np.testing.assert_array_equal(const.codes, 15)
    np.testing.assert_array_equal(IntK(4, None).decode(const), 7.5)
    five = IntK(4, None).encode(np.full((1, 2), 5.0, np.float32))
    np.testing.assert_array_equal(IntK(4, None).decode(five), 4.998779296875)
    # symmetric: -3.5 / 7 = 0.5 exactly, q = -7
    neg = IntK(4, 128, symmetric=True).encode(np.full(5, -3.5, np.float32))
    np.testing.assert_array_equal(IntK(4, 128, symmetric=True).decode(neg), -3.5)
    assert IntK(4, 4).encode(np.zeros((0, 8))).codes.shape == (0, 2, 4)


def test_huge_and_tiny():
    # a range of 2e6 over 15 steps needs a scale of 133333 > 65504: no float16 scale
    with pytest.raises(ConfigError, match=r"^w: must have a range small enough for a finite "
                       r"float16 scale \(at most 65504 per step\), not 1\.333e\+05 per step$"):
        IntK(4, 4).encode(np.array([1e6, -1e6, 0, 0]), name="w")
    # the largest range that fits: 65504 * 15 -> every code exact
    big = IntK(4, 2).encode(np.array([0.0, 65504.0 * 15]))
    np.testing.assert_array_equal(IntK(4, 2).decode(big), [0, 65504.0 * 15])
    # a scale below the smallest half (2^-24) is floored there: 1e-9 / 2^-24 = 0.017 -> 0
    tiny = IntK(8, 2, symmetric=True).encode(np.array([1e-9, 0.0]))
    assert tiny.scales.ravel()[0] == 2.0 ** -24
    np.testing.assert_array_equal(IntK(8, 2, symmetric=True).decode(tiny), 0)


@pytest.mark.parametrize(("x", "message"), [
    ([np.nan, 1.0], "must be finite, not 1 NaN value"),
    ([np.inf, np.nan, 0.0], "must be finite, not 1 NaN and 1 Inf values"),
    (5.0, "must have a non-empty last axis, not shape ()"),
])
def test_bad_inputs_name_the_tensor(x, message):
    with pytest.raises(ConfigError, match=f"^layer q weight: {re.escape(message)}$"):
        IntK(4, 128).encode(np.array(x, np.float32), name="layer q weight")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"bits": 9}, "intk bits: must be an int in 2..8, not 9"),
    ({"bits": 4, "group_size": 0}, "intk group_size: must be a positive int or None "
     "(per channel), not 0"),
])
def test_bad_config(kwargs, message):
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        IntK(**kwargs)


def test_names_registry_and_bits():
    assert IntK.from_name("int3_g64") == IntK(3, 64)
    assert IntK.from_name("int4_pc_sym") == IntK(4, None, symmetric=True)
    assert IntK.from_name("int9_g64") is None and IntK.from_name("fp16") is None
    assert get_format("int5_g32") == IntK(5, 32)
    for name in ("int4_g128", "int3_g128", "int4_pc", "int4_pc_sym"):
        assert FORMATS[name].name == name
    assert FORMATS["int4_g128"].bits_per_weight() == 4 + (16 + 4) / 128
    assert FORMATS["int4_g128"].bits_per_weight(metadata_bits=8) == 4.0625
    np.testing.assert_array_equal(IntK(3, 8).values(), np.arange(8))
    np.testing.assert_array_equal(IntK(3, 8, symmetric=True).values(), np.arange(-3, 4))


# -- property: decode(encode(x)) is the nearest value of the group's grid ------------------

def expected(x: np.ndarray, fmt: IntK) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Independent oracle per row x (1-d): scales, zero points, step counts, by the
    documented rules in exact arithmetic (Python's round() of a Fraction: half to even)."""
    g = fmt.group_size or len(x)
    xs = [float(v) for v in x] + [0.0] * (-len(x) % g)
    scales, zeros, steps = [], [], []
    for i in range(0, len(xs), g):
        grp = xs[i:i + g]
        if fmt.symmetric:
            top = max(abs(v) for v in grp)
            s = float(np.float16(top / fmt.qmax)) if top else 1.0
            s = s if s or not top else 2.0 ** -24
            z = 0
            lo_q, hi_q = -fmt.qmax, fmt.qmax
        else:
            lo, hi = min(min(grp), 0.0), max(max(grp), 0.0)
            s = float(np.float16((hi - lo) / fmt.qmax)) if hi > lo else 1.0
            s = s if s or hi == lo else 2.0 ** -24
            z = max(0, min(fmt.qmax, round(Fraction(-lo) / Fraction(s))))
            lo_q, hi_q = -z, fmt.qmax - z
        scales.append(s)
        zeros.append(z)
        steps += [max(lo_q, min(hi_q, round(Fraction(v) / Fraction(s)))) for v in grp]
    return np.array(scales), np.array(zeros), np.array(steps[:len(x)])


@settings(max_examples=120, deadline=None)
@given(data=st.data(), bits=st.integers(2, 8), group=st.sampled_from([None, 1, 3, 4, 8]),
       symmetric=st.booleans())
def test_decode_is_nearest_on_the_grid(data, bits, group, symmetric):
    fmt = IntK(bits, group, symmetric=symmetric)
    x = data.draw(hnp.arrays(np.float32, st.tuples(st.integers(1, 3), st.integers(1, 10)),
                             elements=st.floats(-60000, 60000, width=32)))
    enc = fmt.encode(x)
    assert enc.codes.dtype == np.uint8 and int(enc.codes.max()) < 1 << bits
    assert np.all(np.isfinite(enc.scales)) and np.all(enc.scales > 0)
    assert np.array_equal(enc.scales.astype(np.float16).astype(np.float32), enc.scales)
    got = fmt.decode(enc)
    assert got.shape == x.shape and got.dtype == np.float32
    steps = signed_codes(enc).reshape(x.shape[0], -1)[:, :x.shape[1]]
    for row in range(x.shape[0]):
        scales, zeros, want = expected(x[row], fmt)
        np.testing.assert_array_equal(enc.scales.reshape(x.shape[0], -1)[row], scales)
        if not symmetric:
            np.testing.assert_array_equal(enc.extra["zero_points"].reshape(x.shape[0], -1)[row],
                                          zeros)
        np.testing.assert_array_equal(steps[row], want)
        g = group or x.shape[1]
        per_elem = np.repeat(scales, g)[:x.shape[1]]
        np.testing.assert_array_equal(got[row], (want * per_elem).astype(np.float32))
