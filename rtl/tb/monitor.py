"""Monitors: per-tile ``done`` / ``cycles`` during RUN, result rows during DRAIN.

:class:`DoneMonitor` sleeps in the simulator until ``done`` rises (no Python per cycle), reads
``cycles`` and also *measures* the tile's cycles from the clock: the distance between the
edge that sampled ``start`` (or the previous ``done``) and the edge that raised ``done``.
:class:`ResultMonitor` takes ``o_*`` beats (optionally with random back-pressure) and groups
them into tiles at ``o_last``; X/Z bits of ``o_data`` (Icarus) are passed on read both as 0
and as 1, and the scoreboard fails a tile whose result depends on them.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np

from qaccel.rtl.controller import Design
from qaccel.rtl.tb.beats import unpack_row
from qaccel.rtl.tb.pins import Pins

__all__ = ["DoneMonitor", "ResultMonitor"]


class DoneMonitor:
    """Reports ``(cycles port, measured cycles)`` for each ``done`` pulse."""

    def __init__(self, pins: Pins, on_done: Callable[[int, int], None]) -> None:
        self.pins, self.on_done = pins, on_done

    async def collect(self, tiles: int, start_edge: int, limit: int) -> int:
        """Wait for ``tiles`` done pulses; return the edge of the last one.

        ``limit`` bounds the cycles waited for each pulse.
        """
        previous = start_edge
        for _ in range(tiles):
            edge = await self.pins.wait_rise("done", limit)
            self.on_done(self.pins.get("cycles"), edge - previous)
            previous = edge
        return previous


class ResultMonitor:
    """Drains ``o_*`` and reports each tile's result rows (int64, S x C)."""

    def __init__(self, pins: Pins, design: Design,
                 on_rows: Callable[[np.ndarray, np.ndarray | None], None], *,
                 stall: float = 0.0, rng: random.Random | None = None) -> None:
        self.pins, self.design, self.on_rows = pins, design, on_rows
        self.stall, self.rng = stall, rng or random.Random(1)
        if pins.width("o_data") != design.cols * design.acc_bits:
            raise ValueError(f"o_data must be {design.cols * design.acc_bits} bits wide for "
                             f"{design.name}, not {pins.width('o_data')}")
        pins.set("o_ready", 1)

    async def drain(self, rows: int, limit: int) -> None:
        """Accept ``rows`` result rows; begins with a tick (callable right after a wait)."""
        pins, lanes, bits = self.pins, self.design.cols, self.design.acc_bits
        block: list[np.ndarray] = []
        block_x1: list[np.ndarray] = []   # X/Z bits read as 1 (block reads them as 0)
        taken = 0
        for _ in range(limit):
            await pins.tick()
            if taken == rows:
                pins.set("o_ready", 1)
                return
            ready = not (self.stall and self.rng.random() < self.stall)
            pins.set("o_ready", int(ready))
            if ready and pins.get("o_valid"):
                value, unknown = pins.get_x("o_data")
                block.append(unpack_row(value, lanes, bits))
                block_x1.append(unpack_row(value | unknown, lanes, bits))
                taken += 1
                if pins.get("o_last") or taken == rows:
                    rows_x1 = np.array(block_x1)
                    rows_0 = np.array(block)
                    self.on_rows(rows_0, None if np.array_equal(rows_0, rows_x1) else rows_x1)
                    block, block_x1 = [], []
        raise TimeoutError(f"drained {taken} of {rows} result rows in {limit} cycles")
