"""Scaled FP32 accumulation of exact group products (numba), shared by BitMoD and MixPE.

Both fast levels multiply each weight group exactly on BLAS (``exact_float_matmul``: float32
or float64 arrays holding exact integers), scale the integer results in float64, round each
once to float32 and add it to a float32 accumulator, group after group. This kernel does that
step for one group in one pass over the outputs (no int64, float64 or broadcast temporaries of
M x N):

    acc[m, n] = acc[m, n] + float32(((p[m, n] - zero[n] * rsum[m]) * cscale[n]) * rscale[m])

Exactness (why it equals the NumPy expressions it replaced, bit for bit): ``p``, ``zero``
and ``rsum`` are integers whose products and difference stay below 2^53, so the subtraction
is exact; ``cscale`` has a significand short enough that the product with that difference
stays below 2^53 bits, so it is exact; ``rscale`` is a power of two, so the last product is
exact too (no result leaves float64's normal range for these operands). The one rounding is
the float32 cast (IEEE round to nearest even, as NumPy's ``astype``), then one float32 add,
in group order. The kernel runs in the calling thread and releases the GIL (callers split
the columns among threads: ``column_blocks``). Callers state their bounds; tests:
``tests/pe/test_bitmod.py``, ``tests/pe/test_mixpe.py`` and
``tests/sim/test_value_kernels.py`` compare with the golden models.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["accumulate_group"]


@numba.njit(cache=True, nogil=True)
def _kernel(acc, p, zero, rsum, cscale, rscale):  # pragma: no cover - numba
    m_dim, n_dim = acc.shape
    for m in range(m_dim):
        s, f = rsum[m], rscale[m]
        for n in range(n_dim):
            d = np.float64(p[m, n]) - zero[n] * s
            acc[m, n] = acc[m, n] + np.float32((d * cscale[n]) * f)


def accumulate_group(acc: np.ndarray, p: np.ndarray, cscale: np.ndarray, rscale: np.ndarray,
                     zero: np.ndarray | None = None, rsum: np.ndarray | None = None) -> None:
    """In place: ``acc`` (float32 [M x N]) += the float32 rounding of ``(p - zero * rsum) *
    cscale * rscale`` (module docstring): ``p`` float32 / float64 [M x N] exact integers,
    ``cscale`` [N] and ``zero`` [N] per column, ``rscale`` [M] (powers of two) and ``rsum``
    [M] per row (``zero`` and ``rsum`` default to 0)."""
    m, n = acc.shape
    if acc.dtype != np.float32 or not acc.flags.c_contiguous:
        raise ValueError("accumulate_group needs a C-contiguous float32 accumulator")
    zero = np.zeros(n) if zero is None else np.asarray(zero, dtype=np.float64)
    rsum = np.zeros(m) if rsum is None else np.asarray(rsum, dtype=np.float64)
    _kernel(acc, np.ascontiguousarray(p), zero, rsum, np.asarray(cscale, dtype=np.float64),
            np.asarray(rscale, dtype=np.float64))
