"""Drawing combinations of axis values: every one (grid), a uniform random subset, or a
Latin hypercube over the axes' value indices.

Each function returns index tuples (one index per axis, into that axis's value list) in a
deterministic order for a given seed:

- ``grid``: all of them, last axis fastest (``itertools.product`` order);
- ``random``: ``points`` distinct combinations drawn uniformly without replacement (the whole
  grid when it has no more than ``points``);
- ``lhs``: ``points`` draws, a Latin hypercube on discrete axes: for an axis of ``n`` values,
  stratum ``k`` of ``points`` equal strata of the unit interval maps to value
  ``floor(k * n / points)``, and each axis visits its strata in its own random order. Every
  value of an axis is thus drawn ``floor(points / n)`` or ``ceil(points / n)`` times, and
  the axes are paired at random. Repeated combinations are kept once.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

__all__ = ["grid", "random_subset", "latin_hypercube", "lhs_columns", "MAX_GRID"]

#: the most combinations a plan may hold
MAX_GRID = 1_000_000


def grid(sizes: Sequence[int]) -> list[tuple[int, ...]]:
    """Every index combination, last axis fastest."""
    return list(itertools.product(*(range(n) for n in sizes)))


def random_subset(sizes: Sequence[int], points: int, seed: int) -> list[tuple[int, ...]]:
    """``points`` distinct combinations, uniformly without replacement, in draw order."""
    total = math.prod(sizes)
    if total <= points:
        return grid(sizes)
    rng = np.random.default_rng(seed)
    if total <= 10 * MAX_GRID:
        flat = rng.choice(total, size=points, replace=False)
        return [tuple(int(i) for i in ix) for ix in zip(*np.unravel_index(flat, tuple(sizes)),
                                                         strict=True)]
    # total > 10^7 >= 10 x points: few repeats, so rejection is cheap
    seen: set[tuple[int, ...]] = set()
    out: list[tuple[int, ...]] = []
    while len(out) < points:
        draw = tuple(int(rng.integers(n)) for n in sizes)
        if draw not in seen:
            seen.add(draw)
            out.append(draw)
    return out


def lhs_columns(sizes: Sequence[int], points: int, seed: int) -> list[np.ndarray]:
    """Per axis, the value index of each of the ``points`` draws (before de-duplication)."""
    rng = np.random.default_rng(seed)
    strata = np.arange(points, dtype=np.int64)
    return [rng.permutation(strata * n // points) for n in sizes]


def latin_hypercube(sizes: Sequence[int], points: int, seed: int) -> list[tuple[int, ...]]:
    """``points`` Latin-hypercube draws of value indices, duplicates removed (first kept)."""
    columns = lhs_columns(sizes, points, seed)
    draws = zip(*(c.tolist() for c in columns), strict=True) if columns else [()] * points
    return list(dict.fromkeys(tuple(d) for d in draws))
