"""Numba encoders of ANT, OliVe, BitMoD and INTk: each repeats its format's float64 NumPy
expressions element by element (see :mod:`qaccel.models.kernels` for why that is exact) and
reads the input in its own dtype, so no float64 copy of a weight is made. These duplicate the
NumPy encoders of commit 018e362; tests/models/test_quantizer_pins.py ties every format to
their output byte for byte, and tests/models/test_kernels.py ties :func:`pair_codes` to
:func:`qaccel.models.olive.encode_pairs` (still the readable pair coder).

Layouts: ``x`` is a flat C-ordered array of ``rows`` equal rows of ``n`` values; OliVe rows
hold sub-rows of ``k`` values (the last axis, paired 0-1, 2-3, ...); BitMoD and INTk rows are
the last axis, cut into groups of ``g`` (the last one zero-padded, as
:func:`qaccel.models.numerics.group_view` pads).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from qaccel.models.kernels import add, kernel, pairwise_sum, prefix, rank_right, span

__all__ = ["table_codes", "pair_buckets", "pair_candidates", "victim_terms", "pair_codes",
           "bitmod_groups", "group_ranges", "intk_codes"]


@kernel
def table_codes(x, rows, n, scale, codes_of, t, lut, lo, inv, ncell):
    """ANT: ``codes_of[#(mids <= x / scale[row])]`` (``Grid(..., Tie.UPPER).index``)."""
    out = np.empty(rows * n, np.uint8)
    w = span(n)
    nch = max(1, (n + w - 1) // w)
    for it in nb.prange(rows * nch):
        r, c = it // nch, it % nch
        s = scale[r]
        for i in range(r * n + c * w, r * n + min(n, (c + 1) * w)):
            out[i] = codes_of[rank_right(np.float64(x[i]) / s, t, lut, lo, inv, ncell)]
    return out


@kernel
def pair_buckets(x, rows, n, k, div, floor, th, luth, loh, invh, nch_h, tl, lutl, lol, invl,
                 ncl):
    """OliVe's search streams, ``u = |x / div[row]|`` (0 where ``div`` is 0): prefix bucket
    sums (count, sum, sum of squares per row, as :func:`qaccel.models.kernels.bucket_sums`) of
    each pair's larger value on the thresholds ``th``, of its smaller one and of the unpaired
    last values on ``tl``; and per work item the number of pairs whose larger value is at
    least ``floor``. Returns the three prefix-sum arrays (rows x columns x 3) and the counts
    (work items ``rows * nch``, in row-major order, as :func:`pair_candidates` takes them)."""
    m = n // k
    kp = k - k % 2
    sub = max(1, span(n) // k)
    nch = max(1, (m + sub - 1) // sub)
    items = rows * nch
    hi_acc = np.zeros((items, th.shape[0] + 2, 3))
    lo_acc = np.zeros((items, tl.shape[0] + 2, 3))
    one_acc = np.zeros((items, tl.shape[0] + 2, 3))
    ncand = np.zeros(items, np.int64)
    for it in nb.prange(items):
        r, c = it // nch, it % nch
        d = div[r]
        for sr in range(c * sub, min(m, (c + 1) * sub)):
            base = r * n + sr * k
            for p in range(0, kp, 2):
                a = abs(np.float64(x[base + p]) / d) if d > 0 else 0.0
                b = abs(np.float64(x[base + p + 1]) / d) if d > 0 else 0.0
                hi, lo_ = max(a, b), min(a, b)
                add(hi_acc, it, rank_right(hi, th, luth, loh, invh, nch_h) + 1, hi)
                add(lo_acc, it, rank_right(lo_, tl, lutl, lol, invl, ncl) + 1, lo_)
                if hi >= floor:
                    ncand[it] += 1
            if kp < k:
                a = abs(np.float64(x[base + kp]) / d) if d > 0 else 0.0
                add(one_acc, it, rank_right(a, tl, lutl, lol, invl, ncl) + 1, a)
    return (prefix(hi_acc, rows, nch), prefix(lo_acc, rows, nch), prefix(one_acc, rows, nch),
            ncand)


@kernel
def pair_candidates(x, rows, n, k, div, floor, ncand):
    """The pairs counted by :func:`pair_buckets` (larger ``u`` at least ``floor``) in
    row-major order: their row, larger and smaller ``u``."""
    m = n // k
    kp = k - k % 2
    sub = max(1, span(n) // k)
    nch = max(1, (m + sub - 1) // sub)
    start = np.zeros(rows * nch + 1, np.int64)
    start[1:] = np.cumsum(ncand)
    total = start[-1]
    crow = np.empty(total, np.int64)
    chi = np.empty(total)
    clo = np.empty(total)
    for it in nb.prange(rows * nch):
        r, c = it // nch, it % nch
        d = div[r]
        j = start[it]
        for sr in range(c * sub, min(m, (c + 1) * sub)):
            base = r * n + sr * k
            for p in range(0, kp, 2):
                a = abs(np.float64(x[base + p]) / d) if d > 0 else 0.0
                b = abs(np.float64(x[base + p + 1]) / d) if d > 0 else 0.0
                hi = max(a, b)
                if hi >= floor:
                    crow[j], chi[j], clo[j] = r, hi, min(a, b)
                    j += 1
    return crow, chi, clo


@kernel
def victim_terms(crow, chi, clo, rows, steps, order, cut, table, t, lut, lo, inv, ncell, blocks):
    """OliVe's search, per step: the error change when a candidate pair's larger value is an
    outlier (``chi >= cut * step``) and its smaller one the victim, ``lo^2 - (lo - nearest
    normal)^2``, summed per row in candidate order (as ``np.bincount`` does); and whether any
    pair was one. ``(len(steps), rows)`` float64 and ``len(steps)`` bools. ``order`` sorts
    ``steps`` ascending, so a candidate is an outlier for a prefix of it; work items take
    every ``nblk``-th step of that order, ``nblk = min(len(steps), blocks)`` (each item
    reads all candidates once; a step's sums do not depend on ``nblk``)."""
    ns = steps.shape[0]
    out = np.zeros((ns, rows))
    hit = np.zeros(ns, np.bool_)
    nblk = max(1, min(ns, blocks))
    for blk in nb.prange(nblk):             # every nblk-th step of the order: balanced work
        mine = (ns - blk + nblk - 1) // nblk
        acc = np.zeros((mine, rows))        # per item, so threads share no cache lines
        got = np.zeros(mine, np.bool_)
        for i in range(crow.shape[0]):
            h, v, row = chi[i], clo[i], crow[i]
            for q in range(mine):
                step = steps[order[blk + q * nblk]]
                if h < cut * step:
                    break
                e = v - table[rank_right(v / step, t, lut, lo, inv, ncell)] * step
                acc[q, row] += v * v - e * e
                got[q] = True
        for q in range(mine):
            out[order[blk + q * nblk]] = acc[q]
            hit[order[blk + q * nblk]] = got[q]
    return out, hit


@kernel
def pair_codes(x, rows, n, k, scale, nmag, mag_bits, victim, tc, lutc, loc, invc, ncc,
               tn, lutn, lon, invn, ncn):
    """OliVe codes of ``v = x / scale[row]`` (``encode_pairs``): rank among all magnitudes
    ``tc`` (midpoints), outliers from ``nmag`` up, victims by the larger ``|x|`` (the first on
    a tie), an unpaired last value ranked among the normal midpoints ``tn``."""
    out = np.empty(rows * n, np.uint8)
    m = n // k
    kp = k - k % 2
    sgn = 1 << mag_bits
    for srow in nb.prange(rows * m):
        s = scale[srow // m]
        base = srow * k
        for p in range(0, kp, 2):
            xa, xb = np.float64(x[base + p]), np.float64(x[base + p + 1])
            va, vb = xa / s, xb / s
            ia = rank_right(abs(va), tc, lutc, loc, invc, ncc)
            ib = rank_right(abs(vb), tc, lutc, loc, invc, ncc)
            oa, ob = ia >= nmag, ib >= nmag
            keep_a = abs(xa) >= abs(xb)
            if ob and (not oa or not keep_a):
                out[base + p] = victim
            else:
                out[base + p] = _pair_code(va, ia, oa, nmag, sgn)
            if oa and (not ob or keep_a):
                out[base + p + 1] = victim
            else:
                out[base + p + 1] = _pair_code(vb, ib, ob, nmag, sgn)
        if kp < k:
            v = np.float64(x[base + kp]) / s
            i = min(rank_right(abs(v), tn, lutn, lon, invn, ncn), nmag - 1)
            out[base + kp] = 0 if i == 0 else (sgn if v < 0 else 0) | i
    return out


@nb.njit(inline="always")
def _pair_code(v, idx, outlier, nmag, sgn):
    sign = sgn if v < 0 else 0
    if outlier:
        return sign | (idx - nmag + 1)
    return 0 if idx == 0 else sign | min(idx, nmag - 1)


@kernel
def group_ranges(x, rows, k, g):
    """Per group of ``g`` along each row of ``k`` (zero-padded): min, max and max|x|
    (float64, the padding included)."""
    ng = (k + g - 1) // g
    lo = np.zeros(rows * ng)
    hi = np.zeros(rows * ng)
    amax = np.zeros(rows * ng)
    for grp in nb.prange(rows * ng):
        r, gi = grp // ng, grp % ng
        m = min(g, k - gi * g)
        a = np.float64(x[r * k + gi * g])
        mn, mx, ab = a, a, abs(a)
        for i in range(r * k + gi * g + 1, r * k + gi * g + m):
            a = np.float64(x[i])
            mn, mx, ab = min(mn, a), max(mx, a), max(ab, abs(a))
        if m < g:
            mn, mx = min(mn, 0.0), max(mx, 0.0)
        lo[grp], hi[grp], amax[grp] = mn, mx, ab
    return lo, hi, amax


@kernel
def intk_codes(x, rows, k, g, scale, zero, qmin, qmax, mask):
    """INTk codes in groups (``[rows, G, g]`` flat): ``clip(rint(x / s) + z, qmin, qmax)``
    (asymmetric: ``qmin = 0``) as the low bits (``& mask``) of a two's complement integer."""
    ng = (k + g - 1) // g
    out = np.empty(rows * ng * g, np.uint8)
    for grp in nb.prange(rows * ng):
        r, gi = grp // ng, grp % ng
        m = min(g, k - gi * g)
        s, z = scale[grp], zero[grp]
        for i in range(g):
            v = np.float64(x[r * k + gi * g + i]) if i < m else 0.0
            q = min(max(np.rint(v / s) + z, qmin), qmax)
            out[grp * g + i] = np.int64(q) & mask
    return out


@kernel
def bitmod_groups(x, rows, k, g, scales, tables, orders, t):
    """BitMoD per group: for each type ``j`` (``scales[grp, j]``, sorted ``tables[j]``, their
    midpoints ``t[j]``, ``Tie.LOWER``: the rank is ``#(t[j] < x / s)``) the squared error
    summed in NumPy's pairwise order; the first type with the smallest error wins. Returns
    codes (``[rows, G, g]`` flat) and the winning type per group. Work items are blocks of
    groups, each with its own scratch arrays; the loops over a group's values vectorize."""
    ng = (k + g - 1) // g
    nt, nm = t.shape
    total = rows * ng
    codes = np.empty(total * g, np.uint8)
    ids = np.empty(total, np.uint8)
    block = 256
    for blk in nb.prange((total + block - 1) // block):
        xs = np.empty(g)
        u = np.empty(g)
        err = np.empty((nt, g))
        idx = np.empty((nt, g), np.int64)
        for grp in range(blk * block, min(total, (blk + 1) * block)):
            r, gi = grp // ng, grp % ng
            m = min(g, k - gi * g)
            off = r * k + gi * g
            for i in range(g):
                xs[i] = np.float64(x[off + i]) if i < m else 0.0
            best, win = np.inf, 0
            for j in range(nt):
                s = scales[grp, j]
                for i in range(g):
                    u[i] = xs[i] / s
                    idx[j, i] = 0
                for h in range(nm):
                    th = t[j, h]
                    for i in range(g):
                        idx[j, i] += th < u[i]
                for i in range(g):
                    e = tables[j, idx[j, i]] * s - xs[i]
                    err[j, i] = e * e
                e = pairwise_sum(err[j], 0, g, np.nan)
                if e < best:
                    best, win = e, j
            for i in range(g):
                codes[grp * g + i] = orders[win, idx[win, i]]
            ids[grp] = win
    return codes, ids
