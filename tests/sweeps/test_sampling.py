"""Sampling: grid order, distinct random draws, Latin-hypercube stratification."""

from __future__ import annotations

import math
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from qaccel.sweeps.sampling import grid, latin_hypercube, lhs_columns, random_subset

sizes_st = st.lists(st.integers(1, 6), min_size=1, max_size=4)


def test_grid_is_product_order():
    assert grid([2, 3]) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]


@given(sizes=sizes_st, points=st.integers(1, 40), seed=st.integers(0, 2**32))
@settings(max_examples=60, deadline=None)
def test_random_subset_distinct_in_range_and_seeded(sizes, points, seed):
    draws = random_subset(sizes, points, seed)
    assert len(draws) == min(points, math.prod(sizes))
    assert len(set(draws)) == len(draws)
    assert all(0 <= i < n for d in draws for i, n in zip(d, sizes, strict=True))
    assert draws == random_subset(sizes, points, seed)


@given(sizes=sizes_st, points=st.integers(1, 40), seed=st.integers(0, 2**32))
@settings(max_examples=60, deadline=None)
def test_latin_hypercube_balances_every_axis(sizes, points, seed):
    """Each value of an axis with n values is drawn floor or ceil(points / n) times; the
    returned draws are those, de-duplicated, in range."""
    columns = lhs_columns(sizes, points, seed)
    for n, col in zip(sizes, columns, strict=True):
        counts = Counter(col.tolist())
        want = {points // n, -(-points // n)}
        assert set(counts) <= set(range(n))
        assert all(counts.get(v, 0) in want for v in range(n)), (n, points, counts)
    draws = latin_hypercube(sizes, points, seed)
    assert draws == list(dict.fromkeys(zip(*(c.tolist() for c in columns), strict=True)))
    assert len(set(draws)) == len(draws) <= points
