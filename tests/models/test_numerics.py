"""Shared format numerics: tie rules of Grid, FP16 scale rounding, grouping, and the bucketed
squared-error queries of the clip searches against brute force."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from qaccel import ConfigError
from qaccel.models.formats import FORMATS, format_from_dict, format_to_dict
from qaccel.models.intk import IntK
from qaccel.models.numerics import Grid, Tie, fp16_scale, group_view, ungroup
from qaccel.models.search import Buckets, thresholds


@pytest.mark.parametrize(("tie", "want"), [
    # table -1, 0, 1, 3: midpoints -.5, .5, 2
    ("lower", [-1, -1, 0, 1, 1, 3]),
    ("upper", [-1, 0, 1, 1, 3, 3]),
    ("away", [-1, -1, 1, 1, 3, 3]),
])
def test_grid_tie_rules(tie, want):
    grid = Grid([-1, 0, 1, 3], tie)
    np.testing.assert_array_equal(grid.nearest(np.array([-0.7, -0.5, 0.5, 1.9, 2.0, 9.0])),
                                  want)


@pytest.mark.parametrize("name", list(FORMATS), ids=list(FORMATS))
def test_every_format_round_trips_through_a_dict(name):
    d = format_to_dict(FORMATS[name])
    assert d["version"] == 1 and format_from_dict(d) == FORMATS[name]


def test_format_dict_errors_and_repr():
    assert repr(FORMATS["bitmod_fp4"]) == "BitMoD(bits=4, group_size=128)"
    assert repr(FORMATS["olive8"]) == "OliVe(bits=8, normal='auto', granularity='per_tensor')"
    assert format_to_dict(IntK(3, 64)) == {"family": "intk", "version": 1, "bits": 3,
                                           "group_size": 64, "symmetric": False}
    with pytest.raises(ConfigError, match=r"^format family: must be one of 'int8', 'fp16', "
                       r"'intk', 'ant', 'bitmod', 'olive', not 'nf4'$"):
        format_from_dict({"family": "nf4"})
    with pytest.raises(ConfigError, match=r"^format: must be family 'intk' version 1, not "
                       r"family 'intk' version 2$"):
        format_from_dict({"family": "intk", "version": 2, "bits": 4})
    with pytest.raises(ConfigError, match=r"^format intk: must have fields among bits, "
                       r"group_size, symmetric, not scale$"):
        format_from_dict({"family": "intk", "version": 1, "bits": 4, "scale": 2})


def test_grid_rejects_unsorted_tables():
    with pytest.raises(ValueError, match="strictly increasing"):
        Grid([0, 0, 1], Tie.LOWER)


def test_fp16_scale():
    # 1/3 -> 0.333251953125 (11-bit significand); 1e-9 underflows -> 2^-24; 0 stays 0
    np.testing.assert_array_equal(fp16_scale(np.array([1 / 3, 1e-9, 0.0]), "s"),
                                  np.float32([0.333251953125, 2.0 ** -24, 0.0]))
    with pytest.raises(ConfigError, match=re.escape("s: must have a range small enough for a "
                       "finite float16 scale (at most 65504 per step), not 7e+04 per step")):
        fp16_scale(np.array([70000.0]), "s")


def test_group_view_pads_and_ungroup_drops():
    x = np.arange(10, dtype=np.float32).reshape(2, 5)
    g = group_view(x, 2)
    assert g.shape == (2, 3, 2) and g[0, 2, 1] == 0 and g[1, 2, 0] == 9
    np.testing.assert_array_equal(ungroup(g, x.shape), x)


def brute(values: np.ndarray, table: np.ndarray, step: np.ndarray) -> np.ndarray:
    q = table[None, None, :] * step[:, None, None]
    err = (values[:, :, None] - q) ** 2
    return err.min(axis=2).sum(axis=1)


@settings(max_examples=60, deadline=None)
@given(v=hnp.arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(0, 12)),
                    elements=st.integers(-3200, 3200).map(lambda i: i / 64)),
       step=st.sampled_from([0.125, 0.5, 1.0, 3.0, 16.0]),
       table=st.sampled_from([[0, 1, 2, 3], [-8, -1, 0, 0.5, 7], [0, 1, 2, 4, 8, 12, 16, 96]]),
       div=st.sampled_from([1.0, 0.0, 0.75]), absolute=st.booleans())
def test_buckets_match_brute_force(v, step, table, div, absolute):
    t = np.array(table, np.float64)
    divs = np.full(v.shape[0], div)
    u = v / div if div > 0 else np.zeros_like(v)
    u = np.abs(u) if absolute else u
    # every threshold of two steps: the second query must not see the first one's edges
    wanted = np.concatenate([thresholds(t, step), thresholds(t, 2 * step)])
    rows = Buckets.of(v, v.shape[0], divs, wanted, absolute)
    for s in (step, 2 * step):
        np.testing.assert_allclose(rows.sq_error(t, s), brute(u, t, np.full(v.shape[0], s)),
                                   rtol=1e-9, atol=1e-9)
    # all steps at once: the same arithmetic, so the same bits
    np.testing.assert_array_equal(rows.sq_errors(t, [step, 2 * step]),
                                  [rows.sq_error(t, step), rows.sq_error(t, 2 * step)])
    # counts per bucket: values exactly on a threshold count above it
    edges = np.unique(wanted)
    want = (u[:, :, None] < edges[None, None, :]).sum(axis=1)
    np.testing.assert_array_equal(rows.pc[:, 1:-1], want)
    with pytest.raises(ValueError, match="^Buckets.sq_error thresholds must be among"):
        rows.sq_error(t, 3 * step)
