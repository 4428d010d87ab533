"""Fast squared-error queries for the clip/scale searches of ANT and OliVe.

Quantizing a set of values to the nearest entry of a table scaled by ``step`` sends every
value between two neighbouring midpoints to one level, so the summed squared error is, per
such interval, ``S2 - 2 q S1 + n q^2`` with ``n, S1, S2`` the count, sum and sum of squares of
the values in it. :class:`SortedRows` sorts each row once and keeps prefix sums; one query then
costs a binary search per table midpoint and row instead of a pass over the data, so the
searches can afford fine ratio grids. Values exactly on a midpoint count towards the upper
level. The binary searches run on one flat array of keys ``value + offset(row)``, so a value
within about 1e-16 of the rows' value range of a midpoint may land on either side of it (its
error changes by that much). The sums are float64 (the result is clamped at 0 against
cancellation); the codes themselves never come from here (see
:class:`qaccel.models.numerics.Grid`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["SortedRows"]


class SortedRows:
    """Rows of values (``rows x n``), each sorted, with prefix sums of values and squares."""

    def __init__(self, values: np.ndarray, presorted: bool = False) -> None:
        v = np.asarray(values, dtype=np.float64)
        if v.ndim != 2:
            raise ValueError(f"SortedRows values must be 2-d (rows x n), not shape {v.shape}")
        self.rows, self.n = v.shape
        self.sorted = v if presorted else np.sort(v, axis=1)
        lo = float(self.sorted.min()) if v.size else 0.0
        hi = float(self.sorted.max()) if v.size else 0.0
        self._lo, self._hi = lo, hi
        self._width = (hi - lo) + 4.0
        self._row_base = np.arange(self.rows, dtype=np.float64) * self._width
        # keys increase along the flattened array: row r lives in [r*W + 1, r*W + W - 3]
        self._keys = (self.sorted - lo + 1.0 + self._row_base[:, None]).ravel()
        self.p1 = np.zeros((self.rows, self.n + 1))
        self.p2 = np.zeros((self.rows, self.n + 1))
        np.cumsum(self.sorted, axis=1, out=self.p1[:, 1:])
        np.cumsum(self.sorted ** 2, axis=1, out=self.p2[:, 1:])

    def count_below(self, thresholds: np.ndarray) -> np.ndarray:
        """Per row, how many values are < each threshold (``thresholds``: rows x T)."""
        t = np.clip(np.asarray(thresholds, dtype=np.float64), self._lo - 0.5, self._hi + 0.5)
        keys = t - self._lo + 1.0 + self._row_base[:, None]
        pos = np.searchsorted(self._keys, keys.ravel(), side="left").reshape(t.shape)
        return pos - (np.arange(self.rows) * self.n)[:, None]

    def sq_error(self, table: np.ndarray, step: float | np.ndarray) -> np.ndarray:
        """Per row: sum of (value - nearest entry of ``table * step``)^2, ``table``
        ascending, ``step`` a scalar or one positive number per row."""
        table = np.asarray(table, dtype=np.float64)
        step = np.broadcast_to(np.asarray(step, dtype=np.float64), (self.rows,))
        if self.n == 0:
            return np.zeros(self.rows)
        mids = (table[1:] + table[:-1]) / 2
        edges = np.empty((self.rows, len(table) + 1), dtype=np.intp)
        edges[:, 0], edges[:, -1] = 0, self.n
        edges[:, 1:-1] = self.count_below(mids[None, :] * step[:, None])
        s1 = np.diff(np.take_along_axis(self.p1, edges, axis=1), axis=1)
        s2 = np.diff(np.take_along_axis(self.p2, edges, axis=1), axis=1)
        cnt = np.diff(edges, axis=1)
        q = table[None, :] * step[:, None]
        err = np.sum(s2 - 2 * q * s1 + cnt * q * q, axis=1)
        return np.maximum(err, 0.0)
