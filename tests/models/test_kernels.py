"""The numba kernels against the NumPy expressions they repeat: ranks against
``np.searchsorted``, the pairwise sum and row moments against NumPy's ``sum`` / ``mean`` /
``std`` bit for bit, OliVe's pair coder against ``encode_pairs``, and serial against parallel
variants (their work items do not depend on the thread count)."""

from __future__ import annotations

import numpy as np
import pytest

from qaccel.models.format_kernels import pair_codes, victim_terms
from qaccel.models.kernels import (
    Lut,
    bucket_sums,
    pairwise_sum,
    rank_left,
    rank_right,
    row_moments,
)
from qaccel.models.numerics import Grid, Tie
from qaccel.models.olive import encode_pairs, spec


@pytest.mark.parametrize("size", [7, 40, 300])   # branch-free count (<= 32) and the table
def test_ranks_equal_searchsorted(size):
    rng = np.random.default_rng(size)
    t = np.unique(np.round(rng.standard_normal(size) * 8) / 4)
    lut = Lut(t, 10_000)
    v = np.concatenate([t, rng.standard_normal(500) * 3, [-1e300, 1e300, t[0] - 1e-12]])
    got_r = [rank_right(x, *lut.args) for x in v]
    got_l = [rank_left(x, *lut.args) for x in v]
    np.testing.assert_array_equal(got_r, np.searchsorted(t, v, "right"))
    np.testing.assert_array_equal(got_l, np.searchsorted(t, v, "left"))


@pytest.mark.parametrize("n", [1, 7, 8, 9, 127, 128, 129, 136, 1000, 8193, 100_003])
def test_pairwise_sum_and_moments_equal_numpy(n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n) * 10.0 ** rng.uniform(-3, 3, n)
    assert pairwise_sum(x, 0, n, np.nan) == np.sum(x)
    mean, std, amax = row_moments(x.astype(np.float32), 1, n)
    x32 = x.astype(np.float32).astype(np.float64).reshape(1, -1)
    assert mean[0] == x32.mean(axis=1)[0] and amax[0] == np.abs(x32).max()
    assert std[0] == (x32.std(axis=1, ddof=1)[0] if n > 1 else 0.0)


@pytest.mark.parametrize(("bits", "normal"), [(4, "int"), (4, "flint"), (8, "int")])
@pytest.mark.parametrize("k", [6, 7])
def test_pair_codes_equal_encode_pairs(bits, normal, k):
    sp = spec(bits, normal)
    rng = np.random.default_rng(bits * 10 + k)
    mags = np.array(sp.normal_mags + sp.outlier_mags, dtype=np.float64)
    mids = Grid(mags, Tie.UPPER).mids
    # values on every midpoint (ties), equal-magnitude pairs, outliers on both sides
    v = np.concatenate([mids, -mids, rng.standard_normal(400) * mags[-1] / 3,
                        rng.choice(mags, 200) * rng.choice([-1, 1], 200)])
    v = v[: len(v) - len(v) % (2 * k)].reshape(-1, k)
    v[0, :2] = [mags[-1], -mags[-1]]
    scale = 0.5                                    # v / 0.5 * 0.5: exact
    x = (v * scale).astype(np.float64)
    comb, norm = Lut(mids, x.size), Lut(Grid(mags[:len(sp.normal_mags)], Tie.UPPER).mids)
    got = pair_codes(x.reshape(-1), x.shape[0], k, k, np.full(x.shape[0], scale),
                     len(sp.normal_mags), sp.mag_bits, sp.victim, *comb.args, *norm.args)
    np.testing.assert_array_equal(got.reshape(x.shape), encode_pairs(x / scale, np.abs(x), sp))


def test_serial_and_parallel_variants_agree():
    rng = np.random.default_rng(3)
    x = rng.standard_t(3.0, 3 * 200_001)
    t = np.unique(rng.standard_normal(300))
    lut = Lut(t, x.size)
    div = np.array([1.0, 0.0, 2.5])
    for absolute in (False, True):
        a = bucket_sums.serial(x, 3, 200_001, div, absolute, *lut.args)
        b = bucket_sums.parallel(x, 3, 200_001, div, absolute, *lut.args)
        np.testing.assert_array_equal(a, b)
        want = (np.abs(x[:200_001]) if absolute else x[:200_001])[:, None] < t[None, :]
        np.testing.assert_array_equal(a[0, 1:-1, 0], want.sum(axis=0))
        assert a[1, -1, 0] == 200_001 and a[1, -1, 1] == 0.0   # a zero divisor: all 0


@pytest.mark.parametrize("blocks", [1, 3, 16])
@pytest.mark.parametrize("parallel", [False, True])
def test_victim_terms_equal_bincount(blocks, parallel):
    """OliVe's victim correction per step against ``np.bincount`` over the candidates that
    are outliers at that step (bincount adds in candidate order, as the kernel must), for any
    number of step blocks and either variant."""
    rng = np.random.default_rng(blocks)
    rows, n = 5, 4000
    crow = np.sort(rng.integers(0, rows, n))
    chi = np.abs(rng.standard_t(3, n)) + 0.5
    clo = chi * rng.random(n)
    norm = np.arange(8, dtype=np.float64)
    steps = rng.permutation(np.array([r / 7 for r in np.arange(0.75, 2.5, 0.02)]))
    cut = 7.5                                  # int4: (7 + 8) / 2
    lut = Lut(Grid(norm, Tie.UPPER).mids, n)
    fn = victim_terms.parallel if parallel else victim_terms.serial
    got, hit = fn(crow, chi, clo, rows, steps, np.argsort(steps, kind="stable"), cut, norm,
                  *lut.args, blocks)
    mids = (norm[1:] + norm[:-1]) / 2
    for i, step in enumerate(steps):
        on = chi >= cut * step
        e = clo - norm[np.searchsorted(mids, clo / step, "right")] * step
        want = np.bincount(crow[on], weights=(clo * clo - e * e)[on], minlength=rows)
        assert got[i].tobytes() == want.tobytes()
        assert hit[i] == on.any()
