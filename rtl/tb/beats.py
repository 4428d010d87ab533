"""Tiles as stream beats: packing codes into port words, and planning batches.

A row of codes is one beat; code ``i`` sits in bits ``[i*bits, (i+1)*bits)`` as two's
complement (:mod:`qaccel.rtl.controller`). Rows shorter than the port are zero-padded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from qaccel.arch.pe.tile import Tile
from qaccel.arch.spec import PEArray
from qaccel.rtl.controller import Design

__all__ = ["pack_row", "unpack_row", "StreamTile", "to_stream_tiles", "plan_batches"]


def pack_row(codes: np.ndarray, lanes: int, bits: int) -> int:
    """The port word holding ``codes`` (signed, ``len(codes) <= lanes``) in ``lanes`` lanes."""
    codes = np.asarray(codes)
    if codes.ndim != 1 or len(codes) > lanes:
        raise ValueError(f"row must be 1-D with at most {lanes} codes, not shape {codes.shape}")
    if bits % 8 == 0 and bits <= 64:
        padded = np.zeros(lanes, dtype=f"<i{bits // 8}")
        padded[:len(codes)] = codes
        return int.from_bytes(padded.tobytes(), "little")
    mask, word = (1 << bits) - 1, 0
    for i, code in enumerate(codes.tolist()):
        word |= (int(code) & mask) << (i * bits)
    return word


def unpack_row(word: int, lanes: int, bits: int) -> np.ndarray:
    """Signed codes (int64) of the ``lanes`` lanes of a port word."""
    if bits % 8 == 0 and bits <= 64:
        raw = np.frombuffer(word.to_bytes(lanes * bits // 8, "little"), dtype=f"<i{bits // 8}")
        return raw.astype(np.int64)
    mask, sign = (1 << bits) - 1, 1 << (bits - 1)
    out = [(word >> (i * bits)) & mask for i in range(lanes)]
    return np.array([v - (1 << bits) if v & sign else v for v in out], dtype=np.int64)


@dataclass(frozen=True)
class StreamTile:
    """One tile with the beats the driver sends for it.

    ``w_words``: stationary rows as port words (ws: ``K`` of them, ``K <= rows``; os: the
    column operand, ``S`` of them); ``a_words``: streamed rows as port words (``S`` of
    them); ``m_words``: metadata beats (``meta_bits`` wide each; empty without metadata).
    """

    index: int
    tile: Tile
    w_words: tuple[int, ...]
    a_words: tuple[int, ...]
    m_words: tuple[int, ...] = ()

    @property
    def streamed(self) -> int:
        return len(self.a_words)


def checked_tile_blocks(params: PEArray, family_rtl: ModuleType, design: Design, index: int,
                        tile: Tile) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """The family's ``tile_streams`` blocks (stationary, streamed) of tile ``index`` and its
    metadata beats (``tile_meta``, already packed; () without metadata), checked against the
    design's array and buffers (ValueError naming the tile)."""
    stationary, streamed = family_rtl.tile_streams(params, tile)
    high = design.buffer_rows if design.schedule == "os" else design.rows
    if stationary.shape[0] > high or stationary.shape[1] > design.cols:
        raise ValueError(f"tile {index}: stationary block {stationary.shape} must fit "
                         f"{high}x{design.cols}")
    if not 1 <= streamed.shape[0] <= design.buffer_rows:
        raise ValueError(f"tile {index}: streamed rows must be in 1..{design.buffer_rows} "
                         f"(the buffer), not {streamed.shape[0]}")
    if design.schedule == "os" and stationary.shape[0] != streamed.shape[0]:
        raise ValueError(f"tile {index}: an os tile streams as many column-operand beats "
                         f"as row-operand beats, not {stationary.shape[0]} and "
                         f"{streamed.shape[0]}")
    meta: tuple[int, ...] = ()
    if design.meta_bits:
        meta = tuple(int(x) for x in family_rtl.tile_meta(params, tile))
        if not 1 <= len(meta) <= design.meta_rows:
            raise ValueError(f"tile {index}: metadata beats must be in "
                             f"1..{design.meta_rows} (the buffer), not {len(meta)}")
        if any(not 0 <= x < 1 << design.meta_bits for x in meta):
            raise ValueError(f"tile {index}: metadata beats must fit {design.meta_bits} "
                             f"bits unsigned")
    return stationary, streamed, meta


def to_stream_tiles(params: PEArray, family_rtl: ModuleType, design: Design,
                    tiles: Sequence[Tile]) -> list[StreamTile]:
    """Map tiles onto the input streams with the family's ``tile_streams`` (and, for a
    design with metadata, ``tile_meta(params, tile) -> sequence of int``: the ``m_*`` beats,
    already packed)."""
    out = []
    for index, tile in enumerate(tiles):
        stationary, streamed, meta = checked_tile_blocks(params, family_rtl, design, index,
                                                         tile)
        w = tuple(pack_row(r, design.cols, design.w_word_bits) for r in stationary)
        a = tuple(pack_row(r, design.rows, design.a_word_bits) for r in streamed)
        out.append(StreamTile(index, tile, w, a, meta))
    return out


def plan_batches(tiles: Sequence[StreamTile], design: Design) -> list[list[StreamTile]]:
    """Greedy, in order: as many tiles per batch as the buffers hold."""
    batches: list[list[StreamTile]] = []
    rows = meta = 0
    for st in tiles:
        if not batches or len(batches[-1]) == design.max_tiles \
                or rows + st.streamed > design.buffer_rows \
                or meta + len(st.m_words) > design.meta_rows:
            batches.append([])
            rows = meta = 0
        batches[-1].append(st)
        rows += st.streamed
        meta += len(st.m_words)
    return batches
