"""Tile stimulus: seeded random tiles, and the fold tiles of a real GEMM.

Shapes follow the family's mapping (``params.mapping``: the GEMM dims on array rows, on array
columns, and the streamed one): the row and column dims are drawn in ``1..side`` (partial
tiles included), the streamed dim in ``1..max_streamed``. Codes are uniform over the whole
two's complement range of the operand widths (``a_bits``/``b_bits``), -128 included, unless
the family's RTL module (``rtl/pe/<family>.py``) defines
``random_operands(params, rng, m, k, n) -> (a, b)`` (operands with metadata, float codes...),
which is then used instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qaccel.arch.pe.registry import level_module
from qaccel.arch.pe.tile import Tile
from qaccel.arch.spec import PEArray

__all__ = ["random_tiles", "gemm_tiles"]


def _codes(rng: np.random.Generator, shape: tuple[int, int], bits: int) -> np.ndarray:
    lo, hi = -(1 << (bits - 1)), 1 << (bits - 1)
    return rng.integers(lo, hi, size=shape, dtype=np.int64).astype(np.int8 if bits <= 8
                                                                    else np.int16)


def random_tiles(params: PEArray, count: int, *, seed: int = 0,
                 max_streamed: int = 32) -> list[Tile]:
    """``count`` random tiles for ``params`` (reproducible from ``seed``)."""
    mapping = getattr(params, "mapping", None)
    if mapping is None:
        raise TypeError(f"Cannot draw tiles for {params.family} because its parameter class "
                        f"has no `mapping` (dims on rows, on cols, streamed)")
    if count < 0 or max_streamed < 1:
        raise ValueError(f"count must be >= 0 and max_streamed >= 1, not {count!r} and "
                         f"{max_streamed!r}")
    row_dim, col_dim, streamed_dim = mapping
    rng = np.random.default_rng(seed)
    a_bits = getattr(params, "a_bits", 8)
    b_bits = getattr(params, "b_bits", 8)
    family_operands = getattr(level_module(params.family, "rtl"), "random_operands", None)
    tiles = []
    for _ in range(count):
        dims = {row_dim: int(rng.integers(1, params.rows + 1)),
                col_dim: int(rng.integers(1, params.cols + 1)),
                streamed_dim: int(rng.integers(1, max_streamed + 1))}
        m, k, n = dims["M"], dims["K"], dims["N"]
        if family_operands is not None:
            tiles.append(Tile(*family_operands(params, rng, m, k, n)))
        else:
            tiles.append(Tile(_codes(rng, (m, k), a_bits), _codes(rng, (k, n), b_bits)))
    return tiles


def gemm_tiles(params: PEArray, a: Any, b: Any, *,
               max_streamed: int = 32) -> list[Tile]:
    """Cut ``a[M x K] . b[K x N]`` into the tiles one fold each of ``params`` computes.

    The dims on array rows and columns are cut at the array sides, the streamed dim at
    ``max_streamed``; tiles come in M, K, N loop order (N innermost).
    """
    mapping = getattr(params, "mapping", None)
    if mapping is None:
        raise TypeError(f"Cannot cut tiles for {params.family} because its parameter class "
                        f"has no `mapping` (dims on rows, on cols, streamed)")
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"Cannot cut tiles because the operand shapes {a.shape} and "
                         f"{b.shape} do not chain (M x K . K x N)")
    row_dim, col_dim, streamed_dim = mapping
    step = {row_dim: params.rows, col_dim: params.cols, streamed_dim: max_streamed}
    (m, k), n = a.shape, b.shape[1]

    def cut(x: object, key: tuple[slice, slice]) -> object:
        part = x[key]  # code arrays, or a family's operand type (keeps its metadata)
        return np.ascontiguousarray(part) if isinstance(part, np.ndarray) else part

    tiles = []
    for m0 in range(0, m, step["M"]):
        for k0 in range(0, k, step["K"]):
            for n0 in range(0, n, step["N"]):
                a_t = cut(a, (slice(m0, m0 + step["M"]), slice(k0, k0 + step["K"])))
                b_t = cut(b, (slice(k0, k0 + step["K"]), slice(n0, n0 + step["N"])))
                tiles.append(Tile(a_t, b_t))
    return tiles
