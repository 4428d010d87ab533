"""Numba kernels of the searched quantizers: one pass over the data per step, no float64 copy.

Each kernel reads the input in its own dtype (float32 or float64; a value is widened to
float64 exactly before any arithmetic) and repeats, operation for operation, the float64
NumPy expression of the encoder it serves, so codes are bit-identical to the NumPy code they
replaced (tests/models/test_quantizer_pins.py holds the codes of commit 018e362):

- nearest-entry searches are ranks among sorted midpoints, ``#(t <= v)`` or ``#(t < v)`` as
  ``np.searchsorted`` sides right / left: counted branch-free up to :data:`SHORT`
  thresholds, else through :class:`Lut` (a uniform table finds a start, two loops finish it
  exactly);
- sums whose rounding matters (BitMoD's group error, OliVe's mean and std) use NumPy's own
  pairwise summation order (:func:`pairwise_sum`: blocks of 8 accumulators up to 128 values,
  halves split at multiples of 8 above);
- no fused multiply-add (numba does not contract without ``fastmath``).

Kernels run in parallel over rows or chunks of :func:`span` values (``numba.prange``) when
the input is large (:class:`kernel`).
"""

from __future__ import annotations

import types

import numba as nb
import numpy as np

__all__ = ["CHUNK", "Lut", "flat", "pairwise_sum", "rank_right", "rank_left", "row_absmax",
           "row_moments", "bucket_sums", "add", "prefix", "span", "level_errors", "step_errors",
           "kernel", "PARALLEL_MIN"]

#: values per parallel work item when a row is long (unit: elements) ...
CHUNK = 1 << 16
#: ... unless that makes more than this many items per row (each holds its own bucket sums)
MAX_CHUNKS = 64


#: below this much work (elements), a kernel runs on one thread: a parallel region waits for
#: every thread to wake, which costs milliseconds on a busy machine
PARALLEL_MIN = 1 << 21


class kernel:  # noqa: N801 - used as a decorator
    """A kernel compiled twice, serial and parallel (``prange``); a call takes the parallel
    one when ``work`` (default: the first argument's size) is at least
    :data:`PARALLEL_MIN`."""

    def __init__(self, fn) -> None:
        self.__doc__, self.__name__ = fn.__doc__, fn.__name__
        self.parallel = nb.njit(parallel=True, cache=True)(fn)
        # a copy under another name: numba's cache files are named after the function
        one = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_serial")
        one.__qualname__ = fn.__qualname__ + "_serial"
        self.serial = nb.njit(cache=True)(one)

    def __call__(self, *args, work: int | None = None):
        work = np.size(args[0]) if work is None else work
        return (self.parallel if work >= PARALLEL_MIN else self.serial)(*args)


@nb.njit(inline="always")
def span(n):
    """Values per work item of a row of ``n``: :data:`CHUNK`, at most :data:`MAX_CHUNKS`
    items."""
    return max(CHUNK, (n + MAX_CHUNKS - 1) // MAX_CHUNKS)


def flat(x: np.ndarray) -> np.ndarray:
    """``x`` as a flat C-ordered float32 or float64 array for the kernels (no copy if it
    already is one; other dtypes are widened to float64, as the encoders' ``astype`` did)."""
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    return np.ascontiguousarray(x).reshape(-1)


class Lut:
    """Sorted thresholds ``t`` (float64) with a uniform start table: a rank query of ``v``
    starts at ``lut[cell(v)]``, the number of thresholds in the cells below ``v``'s, and
    walks to the exact rank. ``values``: about how many queries follow; the table grows with
    them (up to 256 cells per threshold, 2^20 in all), as a finer one saves walking."""

    def __init__(self, t: np.ndarray, values: int = 0) -> None:
        t = np.ascontiguousarray(t, dtype=np.float64)
        self.t = t
        lo, hi = (float(t[0]), float(t[-1])) if t.size else (0.0, 0.0)
        self.ncell = int(min(1 << 20, max(16, 16 * t.size, min(256 * t.size, values // 8))))
        width = (hi - lo) / self.ncell if hi > lo else 1.0
        self.lo, self.inv = lo, 1.0 / width
        cells = np.clip(np.floor((t - lo) * self.inv).astype(np.int64) + 1, 0, self.ncell + 1)
        counts = np.bincount(cells, minlength=self.ncell + 2)[:self.ncell + 1]
        self.lut = np.cumsum(counts).astype(np.int32)

    @property
    def args(self) -> tuple:
        """The arrays and constants a kernel's rank query takes."""
        return self.t, self.lut, self.lo, self.inv, self.ncell


@nb.njit(inline="always")
def _cell(v, lo, inv, ncell):
    c = (v - lo) * inv
    if c <= 0.0:
        return 0
    if c >= ncell:
        return ncell
    return int(c)


#: up to this many thresholds a rank is counted branch-free (faster than the table)
SHORT = 32


@nb.njit(inline="always")
def rank_right(v, t, lut, lo, inv, ncell):
    """``#(t <= v)`` = ``np.searchsorted(t, v, "right")``."""
    n = t.shape[0]
    if n <= SHORT:
        c = 0
        for h in range(n):
            c += t[h] <= v
        return c
    b = lut[_cell(v, lo, inv, ncell)]
    while b < n and t[b] <= v:
        b += 1
    while b > 0 and t[b - 1] > v:
        b -= 1
    return b


@nb.njit(inline="always")
def rank_left(v, t, lut, lo, inv, ncell):
    """``#(t < v)`` = ``np.searchsorted(t, v, "left")``."""
    n = t.shape[0]
    if n <= SHORT:
        c = 0
        for h in range(n):
            c += t[h] < v
        return c
    b = lut[_cell(v, lo, inv, ncell)]
    while b < n and t[b] < v:
        b += 1
    while b > 0 and t[b - 1] >= v:
        b -= 1
    return b


@nb.njit(inline="always")
def _term(x, i, center):
    v = np.float64(x[i])
    if np.isnan(center):
        return v
    v = v - center
    return v * v


@nb.njit(cache=True)
def _leaf(x, start, n, center):
    """NumPy's pairwise block (``n <= 128``): 8 accumulators, then the rest in order."""
    if n < 8:
        res = -0.0
        for i in range(n):
            res += _term(x, start + i, center)
        return res
    r0, r1 = _term(x, start, center), _term(x, start + 1, center)
    r2, r3 = _term(x, start + 2, center), _term(x, start + 3, center)
    r4, r5 = _term(x, start + 4, center), _term(x, start + 5, center)
    r6, r7 = _term(x, start + 6, center), _term(x, start + 7, center)
    i = 8
    while i < n - n % 8:
        j = start + i
        r0 += _term(x, j, center)
        r1 += _term(x, j + 1, center)
        r2 += _term(x, j + 2, center)
        r3 += _term(x, j + 3, center)
        r4 += _term(x, j + 4, center)
        r5 += _term(x, j + 5, center)
        r6 += _term(x, j + 6, center)
        r7 += _term(x, j + 7, center)
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += _term(x, start + i, center)
        i += 1
    return res


@nb.njit(cache=True)
def pairwise_sum(x, start, n, center):
    """NumPy's float64 ``add.reduce`` of ``float64(x[start:start + n])`` in its pairwise
    order (halves split at a multiple of 8 above 128 values), or of ``(float64(x) - center)
    ** 2`` unless ``center`` is NaN. Iterative: numba's cache mishandles recursion."""
    if n <= 128:
        return _leaf(x, start, n, center)
    s_start = np.empty(64, np.int64)
    s_n = np.empty(64, np.int64)
    s_stage = np.zeros(64, np.int64)
    s_left = np.zeros(64)
    top, ret = 0, 0.0
    s_start[0], s_n[0] = start, n
    while top >= 0:
        st, m = s_start[top], s_n[top]
        if m <= 128:
            ret = _leaf(x, st, m, center)
            top -= 1
            continue
        n2 = m // 2
        n2 -= n2 % 8
        if s_stage[top] == 0:
            s_stage[top] = 1
            top += 1
            s_start[top], s_n[top], s_stage[top] = st, n2, 0
        elif s_stage[top] == 1:
            s_left[top], s_stage[top] = ret, 2
            top += 1
            s_start[top], s_n[top], s_stage[top] = st + n2, m - n2, 0
        else:
            ret = s_left[top] + ret
            top -= 1
    return ret


@kernel
def row_moments(x, rows, n):
    """Per row of the flat ``x`` (``rows`` x ``n``): NumPy's ``mean`` and ``std(ddof=1)``
    (0 for ``n == 1``) and max|x|, all float64."""
    mean = np.zeros(rows)
    std = np.zeros(rows)
    amax = np.zeros(rows)
    for r in nb.prange(rows):
        m = pairwise_sum(x, r * n, n, np.nan) / n
        mean[r] = m
        if n > 1:
            std[r] = np.sqrt(pairwise_sum(x, r * n, n, m) / (n - 1))
        a = 0.0
        for i in range(r * n, (r + 1) * n):
            a = max(a, abs(np.float64(x[i])))
        amax[r] = a
    return mean, std, amax


@kernel
def row_absmax(x, rows, n):
    """Per row of the flat ``x`` (``rows`` x ``n``): max|x| (float64)."""
    nch = max(1, (n + CHUNK - 1) // CHUNK)
    part = np.zeros(rows * nch)
    for it in nb.prange(rows * nch):
        r, c = it // nch, it % nch
        a = 0.0
        for i in range(r * n + c * CHUNK, r * n + min(n, (c + 1) * CHUNK)):
            a = max(a, abs(np.float64(x[i])))
        part[it] = a
    out = np.zeros(rows)
    for it in range(rows * nch):
        out[it // nch] = max(out[it // nch], part[it])
    return out


@kernel
def bucket_sums(x, rows, n, div, absolute, t, lut, lo, inv, ncell):
    """Prefix sums over buckets of the count, sum and sum of squares of ``v = x / div[row]``
    (0 where ``div`` is 0; ``|v|`` if ``absolute``), bucket ``#(t <= v)``: float64
    ``rows x (len(t) + 2) x 3`` (count, sum, squares), column ``j`` summing the buckets
    ``< j`` (so column 0 is 0)."""
    w = span(n)
    nch = max(1, (n + w - 1) // w)
    acc = np.zeros((rows * nch, t.shape[0] + 2, 3))
    for it in nb.prange(rows * nch):
        r, c = it // nch, it % nch
        d = div[r]
        for i in range(r * n + c * w, r * n + min(n, (c + 1) * w)):
            v = np.float64(x[i]) / d if d > 0 else 0.0
            if absolute:
                v = abs(v)
            add(acc, it, rank_right(v, t, lut, lo, inv, ncell) + 1, v)
    return prefix(acc, rows, nch)


@nb.njit(inline="always")
def add(acc, it, b, v):
    """Count ``v`` into bucket column ``b`` of work item ``it``."""
    acc[it, b, 0] += 1.0
    acc[it, b, 1] += v
    acc[it, b, 2] += v * v


@nb.njit(cache=True)
def prefix(a, rows, nch):
    """Add up the ``nch`` work items of each row of ``a`` (``rows * nch`` x columns x 3, in
    order), then take prefix sums along the columns (in place when ``nch`` is 1)."""
    out = a
    if nch > 1:
        out = np.zeros((rows, a.shape[1], a.shape[2]))
        for it in range(rows * nch):
            out[it // nch] += a[it]
    for r in range(rows):
        for j in range(1, out.shape[1]):
            for q in range(out.shape[2]):
                out[r, j, q] += out[r, j - 1, q]
    return out


@nb.njit(cache=True)
def level_errors(pc, p1, p2, edges, q):
    """Per row: ``sum over levels l of s2 - 2 q s1 + n q^2`` (in NumPy's pairwise order),
    ``n, s1, s2`` the differences of the prefix sums ``pc, p1, p2`` between the columns
    ``edges[row, l]`` and ``edges[row, l + 1]``, ``q[row, l]`` the level (float64)."""
    rows, levels = q.shape
    out = np.zeros(rows)
    terms = np.empty(levels)
    for r in range(rows):
        for lv in range(levels):
            a, b = edges[r, lv], edges[r, lv + 1]
            s1 = p1[r, b] - p1[r, a]
            s2 = p2[r, b] - p2[r, a]
            n = pc[r, b] - pc[r, a]
            ql = q[r, lv]
            terms[lv] = s2 - 2 * ql * s1 + n * ql * ql
        out[r] = pairwise_sum(terms, 0, levels, np.nan)
    return out


@kernel
def step_errors(pc, p1, p2, edges, q):
    """:func:`level_errors` for several steps shared by all rows: ``edges`` and ``q`` hold
    one row per step; the result is steps x rows (steps in parallel)."""
    steps, levels = q.shape
    rows = pc.shape[0]
    out = np.zeros((steps, rows))
    for si in nb.prange(steps):
        terms = np.empty(levels)
        for r in range(rows):
            for lv in range(levels):
                a, b = edges[si, lv], edges[si, lv + 1]
                s1 = p1[r, b] - p1[r, a]
                s2 = p2[r, b] - p2[r, a]
                n = pc[r, b] - pc[r, a]
                ql = q[si, lv]
                terms[lv] = s2 - 2 * ql * s1 + n * ql * ql
            out[si, r] = pairwise_sum(terms, 0, levels, np.nan)
    return out
