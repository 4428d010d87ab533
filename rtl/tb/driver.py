"""Driver: LOAD a batch of tiles through ``w_*`` / ``a_*`` and pulse ``start``.

Both input streams are driven in parallel, one beat per stream per cycle when ``*_ready`` is
high; ``gap`` (probability per cycle and stream) inserts idle cycles to exercise the
handshake. When both streams of a tile have been accepted the driver reports the tile to its
``on_tile`` callback (the model): the transaction as the testbench meant to send it.

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
    """XOR ``xor`` into code ``lane`` of row ``row`` of tile ``tile`` on stream ``stream``."""

    tile: int
    row: int
    lane: int
    xor: int = 0x01
    stream: str = "w"

    def __post_init__(self) -> None:
        if self.stream not in ("w", "a"):
            raise ValueError(f"Corruption.stream must be 'w' or 'a', not {self.stream!r}")
        if self.xor == 0:
            raise ValueError("Corruption.xor must be non-zero, not 0")


class TileDriver:
    """Drives the LOAD streams and the ``start`` pulse of an array top."""

    def __init__(self, pins: Pins, design: Design, on_tile: Callable[[int, Tile], None], *,
                 gap: float = 0.0, rng: random.Random | None = None,
                 corrupt: Corruption | None = None) -> None:
        self.pins, self.design, self.on_tile = pins, design, on_tile
        self.gap, self.rng = gap, rng or random.Random(0)
        self.corrupt = corrupt
        for name, want in (("w_data", design.cols * design.w_word_bits),
                           ("a_data", design.rows * design.a_word_bits)):
            if pins.width(name) != want:
                raise ValueError(f"{name} must be {want} bits wide for {design.name}, "
                                 f"not {pins.width(name)}")
        pins.set("w_valid", 0)
        pins.set("a_valid", 0)
        pins.set("start", 0)

    def _beats(self, batch: Sequence[StreamTile], stream: str) -> list[tuple[int, int, int]]:
        """(tile index, word, last) per beat, with the corruption applied."""
        bits = self.design.w_word_bits if stream == "w" else self.design.a_word_bits
        out = []
        for st in batch:
            words = st.w_words if stream == "w" else st.a_words
            for r, word in enumerate(words):
                c = self.corrupt
                if c and c.stream == stream and c.tile == st.index and c.row == r:
                    word ^= (c.xor & ((1 << bits) - 1)) << (c.lane * bits)
                out.append((st.index, word, int(r == len(words) - 1)))
        return out

    async def load(self, batch: Sequence[StreamTile]) -> None:
        """Send every tile of ``batch``; returns at a settled point with both streams idle."""
        pins = self.pins
        streams = {s: self._beats(batch, s) for s in ("w", "a")}
        pos = {"w": 0, "a": 0}
        accepted_last = {"w": set(), "a": set()}
        reported = 0
        while pos["w"] < len(streams["w"]) or pos["a"] < len(streams["a"]):
            moving = []
            for s in ("w", "a"):
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
            while reported < len(batch) and batch[reported].index in accepted_last["w"] \
                    and batch[reported].index in accepted_last["a"]:
                st = batch[reported]
                self.on_tile(st.index, st.tile)
                reported += 1
        pins.set("w_valid", 0)
        pins.set("a_valid", 0)

    async def start(self) -> int:
        """Pulse ``start``; returns the number of the edge that samples it."""
        self.pins.set("start", 1)
        edge = self.pins.edge + 1
        await self.pins.tick()
        self.pins.set("start", 0)
        return edge
