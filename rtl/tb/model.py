"""Model adapter: the family's own ``golden()`` and ``timing()`` predict each tile.

Nothing is re-implemented here: the expected values and cycles come from the family's
parameter object (DESIGN.md "Names that are fixed"), fed with the tiles the driver reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from qaccel.arch.pe.tile import Tile
from qaccel.arch.spec import PEArray

__all__ = ["Expected", "TileModel"]


@dataclass(frozen=True)
class Expected:
    """Prediction for one tile: ``out`` from ``golden(tile)``, ``cycles`` from ``timing``."""

    index: int
    tile: Tile
    out: np.ndarray
    cycles: int


class TileModel:
    """Turns each reported tile into an :class:`Expected` and hands it on."""

    def __init__(self, params: PEArray, on_expected: Callable[[Expected], None]) -> None:
        self.params, self.on_expected = params, on_expected

    def on_tile(self, index: int, tile: Tile) -> None:
        p = self.params
        self.on_expected(Expected(index, tile, p.golden(tile), p.timing(tile)))
