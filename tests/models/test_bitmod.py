"""BitMoD FP4 / FP3: code tables, groups where each of the four types wins (codes worked out by
hand), the lower-entry tie rule, scale clamping, bits per weight, and a nearest-value /
minimum-error property in exact arithmetic."""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from qaccel import ConfigError
from qaccel.models.bitmod import SCALE_MAX, SCALE_MIN, BitMoD, lut
from qaccel.models.formats import FORMATS
from qaccel.models.formats import decode as decode_any

# The authors' tables (auto_dtype.py), FP4 entries halved: E2M1 magnitudes plus the special
# value each type puts on the -0 code.
FP4_BASE = [0, 0.5, 1, 1.5, 2, 3, 4, 6]
FP4_SPECIAL = [5, -5, 8, -8]
FP3_BASE = [0, 1, 2, 4]
FP3_SPECIAL = [3, -3, 6, -6]


def test_code_tables():
    # code = sign bit | magnitude index; code 0b1000 (FP4) / 0b100 (FP3) is the special value
    for t in range(4):
        np.testing.assert_array_equal(lut(4)[t], FP4_BASE + [FP4_SPECIAL[t]]
                                      + [-m for m in FP4_BASE[1:]])
        np.testing.assert_array_equal(lut(3)[t], FP3_BASE + [FP3_SPECIAL[t]]
                                      + [-m for m in FP3_BASE[1:]])
    np.testing.assert_array_equal(BitMoD(4).values(2), sorted(
        [-m for m in FP4_BASE[1:]] + FP4_BASE + [8]))
    assert BitMoD(4).max_value(0) == 6 and BitMoD(4).max_value(3) == 8
    assert BitMoD(3).max_value(1) == 4 and BitMoD(3).max_value(2) == 6


# Groups of 4 (BitMoD(4, group_size=4)); every winning scale below is exact in FP16.
#  er_pos: [6, 5, 1, 0]: s = 6/6 = 1, all exact (5 is the special value): error 0.
#          er_neg has no +5: 5 sits between 4 and 6 -> tie -> lower 4 (error 1);
#          ea_* scale 6/8 = 0.75 cannot hit 5 (5 / .75 = 6.67 -> 6 -> 4.5).
#          codes: 6 = 0b0111 = 7, 5 = special 0b1000 = 8, 1 = 0b0010 = 2, 0 = 0
#  er_neg: [6, -5, 1, 0]: the mirror image: codes 7, 8, 2, 0
#  ea_pos: [8, 6, 0, 0]: s = 8/8 = 1, 8 is the special value: error 0; er_* scale 8/6 puts 6
#          at 4.5 (-> 5 or 4, error .44): codes 8, 7, 0, 0
#  ea_neg: [-8, -6, 0, 0]: codes 8, 0b1111 = 15, 0, 0
WINNERS = [
    ([6, 5, 1, 0], 0, [7, 8, 2, 0]),
    ([6, -5, 1, 0], 1, [7, 8, 2, 0]),
    ([8, 6, 0, 0], 2, [8, 7, 0, 0]),
    ([-8, -6, 0, 0], 3, [8, 15, 0, 0]),
]


def test_each_type_wins_a_group():
    fmt = BitMoD(4, group_size=4)
    x = np.array([g for g, _, _ in WINNERS], np.float32).reshape(1, 16)
    enc = fmt.encode(x)
    assert enc.codes.shape == (1, 4, 4) and enc.extra["type_ids"].shape == (1, 4, 1)
    np.testing.assert_array_equal(enc.extra["type_ids"].ravel(), [t for _, t, _ in WINNERS])
    np.testing.assert_array_equal(enc.codes.reshape(4, 4), [c for _, _, c in WINNERS])
    np.testing.assert_array_equal(enc.scales.ravel(), [1, 1, 1, 1])
    np.testing.assert_array_equal(fmt.decode(enc), x)           # every group exact
    np.testing.assert_array_equal(decode_any(enc), x)
    assert enc.meta["format"] == "bitmod_fp4_g4" and enc.meta["bits"] == 4


def test_midpoint_goes_to_the_lower_entry():
    # [6, 5, +-2.5, 0]: er_pos wins (s = 1, error .25; ea_pos: 5 -> 4.5 and 2.5 -> 2.25, error
    # .3125). 2.5 is halfway between 2 and 3 -> 2 (code 0b0100 = 4); -2.5 is halfway between
    # -3 and -2 -> -3 (code 0b1101 = 13).
    fmt = BitMoD(4, group_size=4)
    enc = fmt.encode(np.array([[6, 5, 2.5, 0], [6, 5, -2.5, 0]], np.float32))
    np.testing.assert_array_equal(enc.extra["type_ids"].ravel(), [0, 0])
    np.testing.assert_array_equal(enc.codes.reshape(2, 4), [[7, 8, 4, 0], [7, 8, 13, 0]])
    np.testing.assert_array_equal(fmt.decode(enc), [[6, 5, 2, 0], [6, 5, -3, 0]])


def test_fp3_groups():
    # FP3 er_neg: [4, -3, 1, 0]: s = 4/4 = 1, -3 special (code 0b100 = 4); 4 = 0b011 = 3
    # FP3 ea_pos: [6, 4, 2, 0]: s = 6/6 = 1, 6 special: codes 4, 3, 2, 0
    fmt = BitMoD(3, group_size=4)
    enc = fmt.encode(np.array([4, -3, 1, 0, 6, 4, 2, 0], np.float32))
    np.testing.assert_array_equal(enc.extra["type_ids"].ravel(), [1, 2])
    np.testing.assert_array_equal(enc.codes.reshape(2, 4), [[3, 4, 1, 0], [4, 3, 2, 0]])
    np.testing.assert_array_equal(fmt.decode(enc), [4, -3, 1, 0, 6, 4, 2, 0])
    assert int(enc.codes.max()) < 8


def test_zero_constant_huge_tiny_and_padding():
    fmt = BitMoD(4, group_size=4)
    # all zero: every type has error 0 -> the lowest id; scale clamped up to fp16(1e-5)
    zero = fmt.encode(np.zeros(4, np.float32))
    assert zero.extra["type_ids"].ravel()[0] == 0 and zero.scales.ravel()[0] == SCALE_MIN
    np.testing.assert_array_equal(fmt.decode(zero), 0)
    # a constant -3: er scale 3/6 = .5 -> -6 exact; the first such type (er_pos) wins
    const = fmt.encode(np.full(4, -3.0, np.float32))
    np.testing.assert_array_equal(fmt.decode(const), -3.0)
    assert const.extra["type_ids"].ravel()[0] == 0
    # max|w| = 1e6: scale clamped to 1e4, the group saturates at +-6e4 / +-8e4 (ea wins)
    huge = fmt.encode(np.array([1e6, -1.0, 0, 0], np.float32))
    assert huge.scales.ravel()[0] == SCALE_MAX == 1e4
    np.testing.assert_array_equal(fmt.decode(huge), [8e4, 0, 0, 0])
    # 1e-7 / 1e-5 = 0.01 -> 0
    np.testing.assert_array_equal(fmt.decode(fmt.encode(np.array([1e-7, 0, 0, 0]))), 0)
    # 6 elements, groups of 4: the second group is padded with zeros
    pad = fmt.encode(np.array([[6, 5, 1, 0, 8, 6]], np.float32))
    assert pad.codes.shape == (1, 2, 4)
    np.testing.assert_array_equal(fmt.decode(pad), [[6, 5, 1, 0, 8, 6]])


def test_bits_per_weight():
    assert BitMoD(4).bits_per_weight(8) == 4.0625      # the authors' simulator
    assert BitMoD(3).bits_per_weight(8) == 3.0625
    assert BitMoD(4).bits_per_weight(10) == 4.078125   # 2-bit type id + 8-bit scale
    assert BitMoD(4).bits_per_weight() == 4 + 18 / 128  # as stored: FP16 scale + type id
    assert FORMATS["bitmod_fp4"] == BitMoD(4) and FORMATS["bitmod_fp3"] == BitMoD(3)


@pytest.mark.parametrize(("make", "message"), [
    (lambda: BitMoD(5), "bitmod bits: must be 3 or 4, not 5"),
    (lambda: BitMoD(4, 0), "bitmod group_size: must be a positive int, not 0"),
    (lambda: BitMoD(4).encode(np.array([1.0, np.nan]), name="layer up weight"),
     "layer up weight: must be finite, not 1 NaN value"),
    (lambda: BitMoD(4).encode(np.array([np.inf]), name="w"), "w: must be finite, not 1 Inf "
     "value"),
])
def test_errors(make, message):
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        make()


# -- property: per group, each type's scale and nearest entries (ties lower) in exact
#    arithmetic, and the stored type has the smallest error (ties: lowest id) ---------------

def oracle(group: list[float], bits: int) -> list[tuple[Fraction, float, list[Fraction]]]:
    """(error, scale, values) of each type for one group."""
    out = []
    for t in range(4):
        table = sorted(Fraction(float(v)) for v in lut(bits)[t])
        top = max(abs(v) for v in table)
        amax = max(abs(v) for v in group)
        s = float(np.float16(min(max(amax / float(top), 1e-5), 1e4)))
        fs = Fraction(s)
        vals = []
        for v in group:
            q = Fraction(v) / fs
            best = min(table, key=lambda e: (abs(q - e), e))  # nearest, ties: lower entry
            vals.append(best * fs)
        err = sum((Fraction(v) - w) ** 2 for v, w in zip(group, vals, strict=True))
        out.append((err, s, vals))
    return out


@settings(max_examples=80, deadline=None)
@given(data=st.data(), bits=st.sampled_from([3, 4]), group=st.sampled_from([1, 3, 4, 8]))
def test_decode_is_nearest_and_type_is_best(data, bits, group):
    fmt = BitMoD(bits, group_size=group)
    x = data.draw(hnp.arrays(np.float32, st.tuples(st.integers(1, 2), st.integers(1, 9)),
                             elements=st.floats(-1e5, 1e5, width=32)
                             | st.sampled_from([0.0, 0.5, -1.5, 2.5, 5.0, -8.0])))
    enc = fmt.encode(x)
    assert enc.codes.dtype == np.uint8 and int(enc.codes.max()) < 1 << bits
    assert int(enc.extra["type_ids"].max()) < 4 and np.all(np.isfinite(enc.scales))
    got = fmt.decode(enc).astype(np.float64)
    ids = enc.extra["type_ids"].reshape(x.shape[0], -1)
    scales = enc.scales.reshape(x.shape[0], -1)
    for r in range(x.shape[0]):
        row = [float(v) for v in x[r]] + [0.0] * (-x.shape[1] % group)
        for gi in range(len(row) // group):
            grp = row[gi * group:(gi + 1) * group]
            cands = oracle(grp, bits)
            best = min(range(4), key=lambda t: (cands[t][0], t))
            assert ids[r, gi] == best
            assert scales[r, gi] == cands[best][1]
            width = min(group, x.shape[1] - gi * group)
            want = [float(v) for v in cands[best][2][:width]]
            np.testing.assert_array_equal(got[r, gi * group:gi * group + width], want)
