"""Driver: LOAD a batch of tiles through ``w_*`` / ``a_*`` (/ ``m_*``) and pulse ``start``.

The input streams (``m_*`` only for a design with metadata) are driven in parallel, one beat
per stream per cycle when ``*_ready`` is high; ``gap`` (probability per cycle and stream)
inserts idle cycles to exercise the handshake. When every stream of a tile has been
accepted the driver reports the tile to its ``on_tile`` callback (the model): the
transaction as the testbench meant to send it; each ``start`` pulse is reported to
``on_start`` (the tiles since the previous pulse form one batch).

``corrupt`` models a fault on the wires *after* that report: it rewrites one code of one beat
just before it reaches the pins. The model still predicts from the intended tile, so the
scoreboard must flag the difference (the mutation test relies on this).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qaccel.arch.pe.tile import Tile
from qaccel.rtl.controller import Design
from qaccel.rtl.tb.beats import StreamTile
from qaccel.rtl.tb.pins import Pins

__all__ = ["Corruption", "TileDriver"]


@dataclass(frozen=True)
class Corruption:
    """XOR ``xor`` into code ``lane`` of row ``row`` of tile ``tile`` on stream ``stream``
    (``m``: the metadata beat ``row``, bits from ``lane`` up, i.e. ``xor << lane``)."""

    tile: int
    row: int
    lane: int
    xor: int = 0x01
    stream: str = "w"

    def __post_init__(self) -> None:
        if self.stream not in ("w", "a", "m"):
            raise ValueError(f"Corruption.stream must be 'w', 'a' or 'm', not {self.stream!r}")
        if self.xor == 0:
            raise ValueError("Corruption.xor must be non-zero, not 0")


class TileDriver:
    """Drives the LOAD streams and the ``start`` pulse of an array top."""

    def __init__(self, pins: Pins, design: Design, on_tile: Callable[[int, Tile], None], *,
                 on_start: Callable[[], None] | None = None,
                 gap: float = 0.0, rng: random.Random | None = None,
                 corrupt: Corruption | None = None) -> None:
        self.pins, self.design, self.on_tile = pins, design, on_tile
        self.on_start = on_start
        self.gap, self.rng = gap, rng or random.Random(0)
        self.corrupt = corrupt
        for name, want in (("w_data", design.cols * design.w_word_bits),
                           ("a_data", design.rows * design.a_word_bits)):
            if pins.width(name) != want:
                raise ValueError(f"{name} must be {want} bits wide for {design.name}, "
                                 f"not {pins.width(name)}")
        self.streams = ("w", "a", "m") if design.meta_bits else ("w", "a")
        if design.meta_bits and pins.width("m_data") != design.meta_bits:
            raise ValueError(f"m_data must be {design.meta_bits} bits wide for {design.name}, "
                             f"not {pins.width('m_data')}")
        for s in self.streams:
            pins.set(f"{s}_valid", 0)
        pins.set("start", 0)

    def _beats(self, batch: Sequence[StreamTile], stream: str) -> list[tuple[int, int, int]]:
        """(tile index, word, last) per beat, with the corruption applied."""
        d = self.design
        bits = {"w": d.w_word_bits, "a": d.a_word_bits, "m": 1}[stream]
        width = {"w": d.cols * d.w_word_bits, "a": d.rows * d.a_word_bits, "m": d.meta_bits}
        out = []
        for st in batch:
            words = {"w": st.w_words, "a": st.a_words, "m": st.m_words}[stream]
            for r, word in enumerate(words):
                c = self.corrupt
                if c and c.stream == stream and c.tile == st.index and c.row == r:
                    xor = c.xor if stream == "m" else c.xor & ((1 << bits) - 1)
                    word ^= (xor << (c.lane * bits)) & ((1 << width[stream]) - 1)
                out.append((st.index, word, int(r == len(words) - 1)))
        return out

    async def load(self, batch: Sequence[StreamTile]) -> None:
        """Send every tile of ``batch``; returns at a settled point with all streams idle."""
        pins = self.pins
        streams = {s: self._beats(batch, s) for s in self.streams}
        pos = {s: 0 for s in self.streams}
        accepted_last: dict[str, set[int]] = {s: set() for s in self.streams}
        reported = 0
        while any(pos[s] < len(streams[s]) for s in self.streams):
            moving = []
            for s in self.streams:
                beats = streams[s]
                on = pos[s] < len(beats) and not (self.gap and self.rng.random() < self.gap)
                pins.set(f"{s}_valid", int(on))
                if on:
                    _, word, last = beats[pos[s]]
                    pins.set(f"{s}_data", word)
                    pins.set(f"{s}_last", last)
                    if pins.get(f"{s}_ready"):
                        moving.append(s)
            await pins.tick()
            for s in moving:
                index, _, last = streams[s][pos[s]]
                pos[s] += 1
                if last:
                    accepted_last[s].add(index)
            while reported < len(batch) and all(batch[reported].index in accepted_last[s]
                                                for s in self.streams):
                st = batch[reported]
                self.on_tile(st.index, st.tile)
                reported += 1
        for s in self.streams:
            pins.set(f"{s}_valid", 0)

    async def start(self) -> int:
        """Pulse ``start`` (reported to ``on_start``: the tiles loaded since the last pulse
        run as one batch); returns the number of the edge that samples it."""
        if self.on_start is not None:
            self.on_start()
        self.pins.set("start", 1)
        edge = self.pins.edge + 1
        await self.pins.tick()
        self.pins.set("start", 0)
        return edge
