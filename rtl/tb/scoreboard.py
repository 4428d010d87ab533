"""In-order scoreboard: every tile's values and cycles against the model's prediction.

Two in-order channels share one queue of :class:`~qaccel.rtl.tb.model.Expected`: ``cycles``
(from the done monitor, during RUN) and ``rows`` (from the result monitor, during DRAIN).
Each observation is compared with the oldest prediction not yet seen on that channel; a
prediction leaves the queue once both channels have seen it. Every difference becomes a
:class:`Mismatch` with the operands' shape and the first differing elements.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from qaccel.arch.pe.tile import Tile
from qaccel.rtl.tb.model import Expected

__all__ = ["Mismatch", "InOrderScoreboard"]

#: differing elements listed per value mismatch
SHOW_ELEMENTS = 4
#: operands printed with a value mismatch when the tile has at most this many codes
SHOW_OPERANDS = 48


def _word(value: int) -> str:
    """A result as decimal and 32-bit two's-complement hex: ``-3 (0xfffffffd)``."""
    return f"{int(value)} ({int(value) & 0xFFFFFFFF:#010x})"


def _comparable(out: np.ndarray) -> np.ndarray:
    """Results as int64 for an exact comparison: integers as they are, binary32 outputs as
    their bit patterns (so ``-0.0 != +0.0`` and nothing is rounded by a cast)."""
    out = np.asarray(out)
    if out.dtype.kind == "f":
        return out.astype(np.float32).view(np.int32).astype(np.int64)
    return out.astype(np.int64)


@dataclass(frozen=True)
class Mismatch:
    """One difference: which tile, which check (``values``, ``cycles``, ``measured``)."""

    tile: int
    check: str
    message: str

    def __str__(self) -> str:
        return f"tile {self.tile}: {self.check}: {self.message}"


class InOrderScoreboard:
    """Compares observations with predictions in order.

    ``decode(tile, rows)`` turns the drained result rows (S x C) into ``out`` (M x N), the
    family's ``tile_result``.
    """

    def __init__(self, decode: Callable[[Tile, np.ndarray], np.ndarray]) -> None:
        self.decode = decode
        self._expected: deque[Expected] = deque()
        self._cycles_seen = 0   # predictions already matched on the cycles channel
        self._rows_seen = 0     # ... on the rows channel (always <= len + popped)
        self._popped = 0
        self.mismatches: list[Mismatch] = []
        self.tiles_checked = 0
        self.values_compared = 0
        self.cycles_compared = 0
        self.cycles_total = 0

    def add_expected(self, expected: Expected) -> None:
        self._expected.append(expected)

    def _peek(self, seen: int, channel: str) -> Expected:
        pos = seen - self._popped
        if pos >= len(self._expected):
            raise AssertionError(f"{channel} observed with no tile predicted "
                                 f"(observation {seen})")
        return self._expected[pos]

    def _retire(self) -> None:
        while self._expected and min(self._cycles_seen, self._rows_seen) > self._popped:
            self._expected.popleft()
            self._popped += 1

    def add_cycles(self, cycles: int, measured: int) -> None:
        """``cycles``: the port's value; ``measured``: clock periods start->done."""
        exp = self._peek(self._cycles_seen, "done")
        self._cycles_seen += 1
        self.cycles_compared += 1
        self.cycles_total += measured
        shape = f"(M={exp.tile.M} K={exp.tile.K} N={exp.tile.N})"
        if cycles != exp.cycles:
            self.mismatches.append(Mismatch(exp.index, "cycles",
                                            f"cycles port {cycles} != batch_timing() "
                                            f"{exp.cycles} {shape}"))
        if measured != exp.cycles:
            self.mismatches.append(Mismatch(exp.index, "measured",
                                            f"{measured} clock periods start->done != "
                                            f"batch_timing() {exp.cycles} {shape}"))
        self._retire()

    def add_rows(self, rows: np.ndarray, rows_x1: np.ndarray | None = None) -> None:
        """One tile's drained rows. ``rows_x1``: the same rows with every X/Z bit read as 1
        (``rows`` reads them as 0), where the simulator has X; the tile's result must not
        depend on them (X outside the result, e.g. in unused lanes, is a don't-care)."""
        exp = self._peek(self._rows_seen, "result rows")
        self._rows_seen += 1
        self.tiles_checked += 1
        tile = exp.tile
        shape = f"(M={tile.M} K={tile.K} N={tile.N})"
        try:
            got = _comparable(self.decode(tile, rows))
            if rows_x1 is not None and not np.array_equal(rows, rows_x1):
                got_x1 = _comparable(self.decode(tile, rows_x1))
                unknown = np.argwhere(got != got_x1)
                if len(unknown):
                    where = ", ".join(f"out[{m},{n}]" for m, n in unknown[:SHOW_ELEMENTS].tolist())
                    self.mismatches.append(Mismatch(exp.index, "values",
                                                    f"{len(unknown)} of {got.size} are X "
                                                    f"{shape}: {where}"))
                    self._retire()
                    return
        except (ValueError, IndexError) as exc:
            self.mismatches.append(Mismatch(exp.index, "values", f"cannot decode {rows.shape} "
                                            f"result rows {shape}: {exc}"))
            self._retire()
            return
        want = _comparable(exp.out)
        if got.shape != want.shape:
            self.mismatches.append(Mismatch(exp.index, "values", f"result shape {got.shape} "
                                            f"!= golden() {want.shape} {shape}"))
        else:
            self.values_compared += want.size
            bad = np.argwhere(got != want)
            if len(bad):
                shown = ", ".join(f"out[{m},{n}] {_word(got[m, n])} != {_word(want[m, n])}"
                                  for m, n in bad[:SHOW_ELEMENTS].tolist())
                more = f" (+{len(bad) - SHOW_ELEMENTS} more)" if len(bad) > SHOW_ELEMENTS else ""
                arrays = all(isinstance(x, np.ndarray) for x in (tile.a, tile.b))
                operands = (f"; a={tile.a.tolist()} b={tile.b.tolist()}"
                            if arrays and tile.a.size + tile.b.size <= SHOW_OPERANDS else "")
                self.mismatches.append(Mismatch(exp.index, "values",
                                                f"{len(bad)} of {want.size} differ {shape}: "
                                                f"{shown}{more}{operands}"))
        self._retire()

    @property
    def pending(self) -> int:
        """Predictions not yet seen on both channels."""
        return len(self._expected)
