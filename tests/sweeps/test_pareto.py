"""Pareto fronts against the O(n^2) definition of dominance."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from qaccel.sweeps import pareto_front, pareto_mask


def brute_force(values: np.ndarray, goals: list[str]) -> np.ndarray:
    """Row i is on the front unless some row j is no worse everywhere and better somewhere."""
    sign = np.array([1.0 if g == "min" else -1.0 for g in goals])
    x = values * sign
    n = len(x)
    out = np.ones(n, dtype=bool)
    for i in range(n):
        if np.isnan(x[i]).any():
            out[i] = False
            continue
        for j in range(n):
            if not np.isnan(x[j]).any() and (x[j] <= x[i]).all() and (x[j] < x[i]).any():
                out[i] = False
                break
    return out


@st.composite
def problems(draw):
    k = draw(st.integers(2, 3))
    n = draw(st.integers(0, 40))
    # small integer ranges make ties and duplicate points common
    cells = st.one_of(st.integers(0, 5).map(float), st.just(float("nan")))
    values = draw(st.lists(st.lists(cells, min_size=k, max_size=k), min_size=n, max_size=n))
    goals = draw(st.lists(st.sampled_from(["min", "max"]), min_size=k, max_size=k))
    return np.array(values, dtype=float).reshape(n, k), goals


@given(problems())
@settings(max_examples=300, deadline=None)
def test_mask_equals_brute_force(problem):
    values, goals = problem
    np.testing.assert_array_equal(pareto_mask(values, goals), brute_force(values, goals))


def test_front_by_hand():
    df = pd.DataFrame({"cycles": [10, 20, 30, 10, 25, 40],
                       "area": [9.0, 5.0, 1.0, 9.0, 6.0, 0.5],
                       "acc": [0.1, 0.2, 0.3, 0.5, 0.9, 0.0]})
    front = pareto_front(df, [("cycles", "min"), ("area", "min")])
    assert front.index.tolist() == [0, 3, 1, 2, 5]  # the tie (0, 3) stays; (25, 6) is dominated
    front3 = pareto_front(df, [("cycles", "min"), ("area", "min"), ("acc", "max")])
    assert sorted(front3.index.tolist()) == [1, 2, 3, 4, 5]  # 0 is dominated by 3 (acc 0.5)
