"""Model adapter: the family's own ``golden()`` and ``batch_timing()`` predict each tile.

Nothing is re-implemented here: the expected values and cycles come from the family's
parameter object (DESIGN.md "Names that are fixed"), fed with the tiles the driver reports.
Cycles depend on a tile's place in its batch (with ``preload: overlapped`` every tile after
a batch's first hides its stationary preload), so the model collects the tiles reported
since the last ``start`` pulse and predicts them all when the next ``start`` is pulsed, with
``params.batch_timing(batch)`` (:func:`batch_cycles`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from qaccel.arch.pe.tile import Tile
from qaccel.arch.spec import PEArray

__all__ = ["Expected", "TileModel", "batch_cycles"]


def batch_cycles(params: PEArray, tiles: Sequence[Tile]) -> list[int]:
    """Each tile's cycles when ``tiles`` run as one batch: ``params.batch_timing(tiles)``
    (``timing(tile)`` each with serial preload; every tile after the first hides its preload
    with ``preload: overlapped``)."""
    return list(params.batch_timing(list(tiles)))


@dataclass(frozen=True)
class Expected:
    """Prediction for one tile: ``out`` from ``golden(tile)``, ``cycles`` from
    ``batch_timing`` of its batch."""

    index: int
    tile: Tile
    out: np.ndarray
    cycles: int


class TileModel:
    """Turns each batch of reported tiles into :class:`Expected` s and hands them on."""

    def __init__(self, params: PEArray, on_expected: Callable[[Expected], None]) -> None:
        self.params, self.on_expected = params, on_expected
        self._batch: list[tuple[int, Tile]] = []

    def on_tile(self, index: int, tile: Tile) -> None:
        """A tile entered the buffers (every stream of it accepted)."""
        self._batch.append((index, tile))

    def on_start(self) -> None:
        """``start`` was pulsed: the tiles reported since the last pulse run as one batch."""
        batch, self._batch = self._batch, []
        cycles = batch_cycles(self.params, [tile for _, tile in batch])
        for (index, tile), c in zip(batch, cycles, strict=True):
            self.on_expected(Expected(index, tile, self.params.golden(tile), c))
