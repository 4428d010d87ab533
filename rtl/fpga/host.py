"""Tiles as shell traffic: the stream words of a batch, results back into rows, and the
expected result words a host driver compares against (from ``golden()``).

A batch is what the array top holds at once (:func:`qaccel.rtl.tb.beats.plan_batches`).
Each input stream of a batch is one DMA transfer of 32-bit words in the format of
:mod:`qaccel.rtl.fpga.regmap`; the results of a batch are one transfer back, ended by TLAST.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from qaccel.arch.pe.tile import Tile
from qaccel.arch.spec import PEArray
from qaccel.rtl.controller import Design
from qaccel.rtl.fpga.regmap import STREAMS, beat_words, pack_beat, segment_header, unpack_beat
from qaccel.rtl.tb.beats import StreamTile, plan_batches, to_stream_tiles, unpack_row

__all__ = ["BatchTraffic", "port_widths", "batch_traffic", "traffic", "split_results",
           "raw_bits", "expected_rows", "gmem_image"]


def port_widths(design: Design) -> dict[str, int]:
    """Width (bits) of each input port by stream name, and of ``o`` (the results)."""
    out = {"w": design.cols * design.w_word_bits}
    if design.meta_bits:
        out["m"] = design.meta_bits
    out["a"] = design.rows * design.a_word_bits
    out["o"] = design.cols * design.acc_bits
    return out


@dataclass(frozen=True)
class BatchTraffic:
    """One batch as words: ``inputs[stream]`` (uint32, in STREAM order), the expected result
    words and the bits of them that are compared (``mask``, uint32: zero in lanes no output
    lands in), and the expected CYCLES (the sum of ``batch_timing()`` over the batch's tiles:
    ``timing()`` each, or with overlapped preload every tile after the first hides it)."""

    tiles: tuple[StreamTile, ...]
    inputs: dict[str, np.ndarray]
    expected: np.ndarray
    mask: np.ndarray
    cycles: int


def _stream_words(words: Sequence[int], width: int) -> list[int]:
    out: list[int] = []
    for i, word in enumerate(words):
        out += pack_beat(word, i == len(words) - 1, width)
    return out


def raw_bits(values: np.ndarray, bits: int) -> np.ndarray:
    """Results as unsigned ``bits``-wide words: integers two's complement, floats their
    IEEE bit pattern (binary16 / binary32 by dtype)."""
    values = np.asarray(values)
    if values.dtype == np.float16:
        values = values.view(np.int16)
    elif values.dtype.kind == "f":
        values = values.astype(np.float32).view(np.int32)
    return values.astype(np.int64) & ((1 << bits) - 1)


def expected_rows(params: PEArray, family_rtl: ModuleType, design: Design,
                  st: StreamTile) -> tuple[np.ndarray, np.ndarray]:
    """The result rows (``result_rows x cols`` unsigned words) the top must drain for tile
    ``st``, from ``params.golden``, and a mask of the words any output lands in.

    Where each output lands is found by probing the family's ``tile_result`` with distinct
    row words (it only moves and reinterprets words); the values are ``golden()``'s.
    """
    rows, cols, bits = design.result_rows(st.streamed), design.cols, design.acc_bits
    probe = np.arange(1, rows * cols + 1, dtype=np.int64).reshape(rows, cols)
    landed = raw_bits(family_rtl.tile_result(params, st.tile, probe), bits)
    golden = np.asarray(params.golden(st.tile))
    if golden.dtype.kind == "f":
        golden = golden.astype(np.asarray(family_rtl.tile_result(params, st.tile, probe)).dtype)
    want = raw_bits(golden, bits)
    expected = np.zeros((rows, cols), dtype=np.int64)
    mask = np.zeros((rows, cols), dtype=bool)
    flat = landed.ravel() - 1
    expected.ravel()[flat] = want.ravel()
    mask.ravel()[flat] = True
    return expected, mask


def batch_traffic(params: PEArray, family_rtl: ModuleType, design: Design,
                  batch: Sequence[StreamTile]) -> BatchTraffic:
    widths = port_widths(design)
    inputs = {}
    for s in STREAMS:
        if s not in widths:
            continue
        per_tile = []
        for st in batch:
            tile_words = {"w": st.w_words, "m": st.m_words, "a": st.a_words}[s]
            per_tile += _stream_words(tile_words, widths[s])
        inputs[s] = np.array(per_tile, dtype=np.uint32)
    exp_words: list[int] = []
    mask_words: list[int] = []
    for st in batch:
        rows, mask = expected_rows(params, family_rtl, design, st)
        for r, (row, row_mask) in enumerate(zip(rows, mask, strict=True)):
            data = 0
            for c, word in enumerate(row.tolist()):
                data |= int(word) << (c * design.acc_bits)
            exp_words += pack_beat(data, r == len(rows) - 1, widths["o"])
            lane_mask = 0
            for c, used in enumerate(row_mask.tolist()):
                if used:
                    lane_mask |= ((1 << design.acc_bits) - 1) << (c * design.acc_bits)
            mask_words += pack_beat(lane_mask, True, widths["o"])  # the last flag counts
    expected = np.array(exp_words, dtype=np.uint32)
    mask = np.array(mask_words, dtype=np.uint32)
    cycles = sum(params.batch_timing([st.tile for st in batch]))
    return BatchTraffic(tuple(batch), inputs, expected, mask, cycles)


def traffic(params: PEArray, family_rtl: ModuleType, design: Design, tiles: Sequence[Tile],
            *, max_batch: int | None = None) -> list[BatchTraffic]:
    """Every batch of ``tiles`` as shell traffic (at most ``max_batch`` tiles per batch)."""
    stream_tiles = to_stream_tiles(params, family_rtl, design, tiles)
    batches = plan_batches(stream_tiles, design)
    if max_batch is not None:
        batches = [b[i:i + max_batch] for b in batches for i in range(0, len(b), max_batch)]
    return [batch_traffic(params, family_rtl, design, b) for b in batches]


def gmem_image(inputs: dict[str, np.ndarray]) -> np.ndarray:
    """A batch's input streams as the U280 kernel's memory image (uint32): per stream, in
    STREAM order, a segment header word then the stream's words (see the regmap docstring)."""
    parts = []
    for stream in STREAMS:
        if stream in inputs:
            words = np.asarray(inputs[stream], dtype=np.uint32)
            parts += [np.array([segment_header(stream, len(words))], dtype=np.uint32), words]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint32)


def split_results(words: np.ndarray, design: Design) -> list[np.ndarray]:
    """The result rows (int64, rows x cols, signed words) of each tile in a batch's result
    words, split at the rows' last flags."""
    width = port_widths(design)["o"]
    n = beat_words(width)
    if len(words) % n:
        raise ValueError(f"result words must be a multiple of {n}, not {len(words)}")
    tiles, block = [], []
    for i in range(0, len(words), n):
        data, last = unpack_beat([int(w) for w in words[i:i + n]], width)
        block.append(unpack_row(data, design.cols, design.acc_bits))
        if last:
            tiles.append(np.array(block))
            block = []
    if block:
        raise ValueError(f"{len(block)} result rows after the last tile's last flag")
    return tiles
