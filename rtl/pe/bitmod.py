"""RTL level of ``bitmod``: the bit-serial BitMoD PE array (Amaranth) on the generic
controller's output-stationary schedule.

The array top is :class:`qaccel.rtl.controller.ArrayTop` around
:class:`qaccel.rtl.pe._bitmod_core.BitmodCore` (R x C :class:`~qaccel.rtl.pe._bitmod_pe.
BitmodPE`, column-edge aligners, row-edge term decoders, one output unit per row); datapath
and exact cycle count are documented there and ``cycles`` equals ``BitmodArray.timing``.

Streams of one tile (``S = ceil(K / lanes)`` beats, each held ``cpw`` cycles by the core
schedule): ``w_*`` carries the column operand, beat ``k`` = word ``c`` holding the FP16
activations ``a[c, k*lanes : (k+1)*lanes]`` (lane ``l`` in bits ``[16l, 16l+16)``);
``a_*`` the row operand, word ``r`` holding the weight codes ``b[k*lanes + l, r]``
(``bits`` each); ``m_*`` one beat per group of 128 along K, word ``r``
(:data:`META_WORD_BITS` = 18 bits) holding the FP16 scale (bits 0..15) and the type id
(bits 16..17) of output channel ``r``. Results: drained row ``j`` is array row ``j``
(output channel ``n0 + j``), word ``c`` its FP16 result for token ``m0 + c``.
"""

from __future__ import annotations

import numpy as np

from qaccel.arch.pe.bitmod import BitmodArray, BitmodWeights
from qaccel.arch.pe.tile import Tile
from qaccel.rtl.controller import ArrayTop
from qaccel.rtl.core import CoreSpec
from qaccel.rtl.pe._bitmod_core import META_WORD_BITS, BitmodCore
from qaccel.rtl.pe._bitmod_pe import Aligner, BitmodPE, PeWidths, TermDecoder

__all__ = ["edge_units", "create", "create_core", "create_pe", "pe_config", "core_spec",
           "tile_streams", "tile_meta", "tile_result", "random_operands", "META_WORD_BITS"]


def core_spec(params: BitmodArray) -> CoreSpec:
    """The core's shape: rows = N side, cols = M side, ``lanes``-wide beats, FP16 results."""
    if params.out_units_per_row != 1:
        raise ValueError(f"bitmod RTL needs one output unit per row (cols <= "
                         f"{params.group_cycles}, the cycles of one group), not "
                         f"{params.out_units_per_row} for {params.cols} columns")
    return CoreSpec(rows=params.rows, cols=params.cols, w_word_bits=params.lanes * 16,
                    a_word_bits=params.lanes * params.bits, acc_bits=16,
                    meta_bits=params.rows * META_WORD_BITS, schedule="os",
                    beat_cycles=params.cpw)


def create_pe(params: BitmodArray) -> BitmodPE:
    """One PE (what ``qaccel rtl synth --pe bitmod`` synthesizes): the lanes' term shifters
    and negations, adder tree, group accumulator and bit-serial dequantizer with its hold
    register. The column aligners, row decoders and the row's FP32 output unit are edge
    units shared by a row or column, outside the PE."""
    return BitmodPE(PeWidths.of(params))


def edge_units(params: BitmodArray) -> dict[str, object]:
    """Units at the array edge (synthesized beside the PE): a column's activation aligner
    and a row's weight term decoder (one lane each)."""
    w = PeWidths.of(params)
    return {"aligner (1 lane)": Aligner(w), "term decoder (1 lane)": TermDecoder(w)}


def pe_config(params: BitmodArray) -> str:
    """A short name of the PE's parameters (the synthesis table's ``config``)."""
    return (f"{params.lanes} lanes, {params.weight_format.value} x FP16, "
            f"{params.guard_bits} guard bits")


def create_core(params: BitmodArray) -> BitmodCore:
    """The array core alone."""
    return BitmodCore(core_spec(params), params)


def create(params: BitmodArray, *, buffer_rows: int = 256, max_tiles: int = 16,
           meta_rows: int = 64) -> ArrayTop:
    """The R x C array top: :func:`create_core` plus the generic controller.

    ``buffer_rows`` bounds the beats of a batch (a tile's K <= ``lanes * buffer_rows``),
    ``max_tiles`` its tiles, ``meta_rows`` its groups. The Verilog module is named
    ``bitmod_<fp4|fp3>_<R>x<C>_l<lanes>_d<buffer_rows>_t<max_tiles>``.
    """
    core = create_core(params)
    fmt = params.weight_format.value.removeprefix("bitmod_")
    name = (f"bitmod_{fmt}_{params.rows}x{params.cols}_l{params.lanes}_d{buffer_rows}"
            f"_t{max_tiles}")
    return ArrayTop(core.spec, core, params=params.to_dict(), name=name,
                    buffer_rows=buffer_rows, max_tiles=max_tiles, meta_rows=meta_rows)


def _words(codes: np.ndarray, bits: int) -> np.ndarray:
    """Pack the last axis (lanes) of unsigned ``codes`` into one word per lane group, as
    two's complement Python ints of ``lanes * bits`` bits (the driver's ``pack_row`` form)."""
    lanes = codes.shape[-1]
    width = lanes * bits
    if width <= 64:  # one uint64 per word, all words at once
        c = np.asarray(codes).astype(np.uint64) & np.uint64((1 << bits) - 1)
        word = np.bitwise_or.reduce(c << (np.arange(lanes, dtype=np.uint64) * np.uint64(bits)),
                                    axis=-1)
        if width == 64:
            return word.view(np.int64)
        w = word.astype(np.int64)
        return np.where(w >> (width - 1) != 0, w - (1 << width), w)
    out = np.zeros(codes.shape[:-1], dtype=object)
    for idx in np.ndindex(out.shape):
        word = sum(int(v) << (i * bits) for i, v in enumerate(codes[idx]))
        out[idx] = word - (1 << width) if word >> (width - 1) else word
    return out


def _beats(x: np.ndarray, lanes: int) -> np.ndarray:
    """[K x X] -> [ceil(K/lanes) x X x lanes], zero padded along K."""
    k, n = x.shape
    s = -(-k // lanes)
    pad = np.zeros((s * lanes, n), dtype=x.dtype)
    pad[:k] = x
    return pad.reshape(s, lanes, n).transpose(0, 2, 1)


def tile_streams(params: BitmodArray, tile: Tile) -> tuple[np.ndarray, np.ndarray]:
    """(column-operand beats for ``w_*`` [S x M words], row-operand beats for ``a_*``
    [S x N words]); module docstring for the layout."""
    params.check_tile(tile)
    a_bits = np.ascontiguousarray(tile.a, dtype=np.float16).view(np.uint16)
    w: BitmodWeights = tile.b
    acts = _words(_beats(a_bits.T, params.lanes), 16)
    codes = _words(_beats(np.asarray(w.codes, dtype=np.uint16), params.lanes), params.bits)
    return acts, codes


def tile_meta(params: BitmodArray, tile: Tile) -> list[int]:
    """One ``m_*`` beat per group: word ``r`` = scale (FP16 bits) | type id << 16."""
    w: BitmodWeights = tile.b
    scales = w.scales.astype(np.float16).view(np.uint16).astype(np.int64)
    beats = []
    for g in range(w.groups):
        beat = 0
        for r in range(w.shape[1]):
            word = int(scales[g, r]) | int(w.type_ids[g, r]) << 16
            beat |= word << (r * META_WORD_BITS)
        beats.append(beat)
    return beats


def tile_result(params: BitmodArray, tile: Tile, rows: np.ndarray) -> np.ndarray:
    """``out`` (M x N, float16) from the drained rows (R x C FP16 bit patterns as signed
    integers): the bits are reinterpreted, never converted."""
    bits = np.ascontiguousarray(rows, dtype=np.int64).astype(np.int16).view(np.float16)
    return bits[:tile.N, :tile.M].T


def random_operands(params: BitmodArray, rng: np.random.Generator, m: int, k: int,
                    n: int) -> tuple[np.ndarray, BitmodWeights]:
    """FP16 activations [m x k] and BitMoD weights [k x n] that exercise the datapath.

    Activations: per token a random exponent range (narrow or the whole FP16 range), both
    signs, about 5 % zeros and 5 % subnormals. Weights: Gaussian values with per-channel
    magnitudes 2^-12 .. 2^4, quantized by ``BitmodWeights.from_float`` (so every type id and
    special value occurs).
    """
    lo = rng.integers(0, 31, size=(m, 1))
    hi = np.minimum(lo + rng.integers(0, 31, size=(m, 1)), 30)
    exp = lo + (rng.random((m, k)) * (hi - lo + 1)).astype(np.int64)
    bits = (rng.integers(0, 2, (m, k)) << 15) | (exp << 10) | rng.integers(0, 1024, (m, k))
    pick = rng.random((m, k))
    bits = np.where(pick < 0.05, bits & 0x8000, bits)                       # zeros
    bits = np.where((pick >= 0.05) & (pick < 0.1), bits & 0x83FF, bits)     # subnormals
    a = bits.astype(np.uint16).view(np.float16)
    scale = 2.0 ** rng.integers(-12, 5, size=(1, n))
    b = rng.standard_normal((k, n)) * scale
    return a, BitmodWeights.from_float(b, params.weight_fmt)
