"""Squared-error queries for the clip/scale searches of ANT and OliVe, from one pass over the data.

Quantizing a set of values to the nearest entry of a table scaled by ``step`` sends every
value between two neighbouring midpoints to one level, so the summed squared error is, per
such interval, ``S2 - 2 q S1 + n q^2`` with ``n, S1, S2`` the count, sum and sum of squares of
the values in it. A search asks this for a known set of thresholds (every table midpoint
times every candidate step), so :class:`Buckets` sorts those thresholds once and sums count,
values and squares of each row's values between neighbouring thresholds in one pass
(:func:`qaccel.models.kernels.bucket_sums`, parallel); a query then costs prefix sums over
buckets: no sort of the data, no copy of it. Values exactly on a midpoint count towards the
upper level (``v < t`` is below ``t``). The sums are float64, accumulated per chunk of
:data:`~qaccel.models.kernels.CHUNK` values (the result is clamped at 0 against
cancellation); the codes themselves never come from here (see
:class:`qaccel.models.numerics.Grid`).
"""

from __future__ import annotations

import numpy as np

from qaccel.models.kernels import Lut, bucket_sums, level_errors, step_errors

__all__ = ["Buckets", "thresholds"]


def thresholds(table: np.ndarray, step: float | np.ndarray) -> np.ndarray:
    """The midpoints of ascending ``table`` times ``step`` (a scalar: 1-d; a 1-d array, one
    step per row or per query: len(step) x midpoints), the exact float64 values
    :meth:`Buckets.sq_error` and :meth:`Buckets.sq_errors` ask about."""
    table = np.asarray(table, dtype=np.float64)
    mids = (table[1:] + table[:-1]) / 2
    step = np.asarray(step, dtype=np.float64)
    return mids * step if step.ndim == 0 else mids[None, :] * step[:, None]


class Buckets:
    """Per row: count, sum and sum of squares of the values between neighbouring
    ``thresholds`` (every threshold a later :meth:`sq_error` query uses must be among them).

    ``pc, p1, p2``: rows x (T + 2) float64 prefix sums of the count, values and squares,
    column ``j + 1`` summing the values below ``t[j]`` (column 0 is 0, the last one all).
    """

    def __init__(self, t: np.ndarray, pc: np.ndarray, p1: np.ndarray, p2: np.ndarray) -> None:
        self.t = t
        self.rows = pc.shape[0]
        self.pc, self.p1, self.p2 = pc, p1, p2

    @classmethod
    def of(cls, x: np.ndarray, rows: int, div: np.ndarray, wanted: np.ndarray,
           absolute: bool = False) -> Buckets:
        """Buckets of ``v = x / div[row]`` (0 where ``div`` is 0; ``|v|`` if ``absolute``),
        ``x`` a C-contiguous float32 / float64 array of ``rows`` equal rows, ``wanted`` every
        threshold the queries will use."""
        lut = Lut(np.unique(np.asarray(wanted, dtype=np.float64)), x.size)
        n = x.size // rows if rows else 0
        acc = bucket_sums(x.reshape(-1), rows, n, np.asarray(div, np.float64), absolute,
                          *lut.args)
        return cls(lut.t, acc[..., 0], acc[..., 1], acc[..., 2])

    def _edges(self, t: np.ndarray) -> np.ndarray:
        """Prefix columns of the bucket edges below and above each level, thresholds ``t``
        (one row per row or step): ``0, j(t_1) + 1, ..., last``."""
        j = np.searchsorted(self.t, t)
        if np.any(self.t[np.minimum(j, len(self.t) - 1)] != t):
            raise ValueError("Buckets.sq_error thresholds must be among the bucket edges")
        edges = np.empty((t.shape[0], t.shape[1] + 2), dtype=np.int64)
        edges[:, 0], edges[:, -1] = 0, self.pc.shape[1] - 1
        edges[:, 1:-1] = j + 1
        return edges

    def sq_errors(self, table: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """:meth:`sq_error` for each of ``steps`` (scalars): steps x rows, in one call."""
        table = np.asarray(table, dtype=np.float64)
        steps = np.asarray(steps, dtype=np.float64).reshape(-1)
        edges = self._edges(thresholds(table, steps))
        q = table[None, :] * steps[:, None]
        return np.maximum(step_errors(self.pc, self.p1, self.p2, edges, q,
                                      work=q.size * self.rows), 0.0)

    def sq_error(self, table: np.ndarray, step: float | np.ndarray) -> np.ndarray:
        """Per row: sum of (value - nearest entry of ``table * step``)^2, ``table``
        ascending, ``step`` a scalar or one positive number per row."""
        table = np.asarray(table, dtype=np.float64)
        step = np.broadcast_to(np.asarray(step, dtype=np.float64), (self.rows,))
        edges = self._edges(thresholds(table, step))
        q = np.broadcast_to(table[None, :] * step[:, None], (self.rows, len(table)))
        return np.maximum(level_errors(self.pc, self.p1, self.p2, edges, q), 0.0)
