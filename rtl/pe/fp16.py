"""RTL level of ``fp16``: the FP16 x FP16 -> FP32 MAC PE and the R x C array top (Amaranth).

The array top is the generic :class:`qaccel.rtl.controller.ArrayTop` around a
:class:`qaccel.rtl.systolic.SystolicCore` of :class:`Fp16MacPE`; ports, protocol and the
exact cycle count are documented there. Each PE computes
``p_out = fl32(p_in + a_in * w)`` with the exact product (:class:`~qaccel.rtl.fp.Fp16MulExact`)
and one RNE rounding (:class:`~qaccel.rtl.fp.Fp32Add`), registered: one cycle per hop, as
``systolic_int8``, so ``cycles`` equals ``Fp16.timing(tile)`` = ``2R + C + S - 2``. Partial
sums move down the column, so row ``k`` adds product ``k`` after rows ``0 .. k-1``: the
sequential K order of ``Fp16.golden``. The top row's ``p_in`` is +0.0, as ``golden``'s
accumulator; unused rows (K < R) hold weight +0.0 and add a +-0 product, which leaves every
partial sum unchanged (the sum is never -0: it starts at +0 and +0 + -0 = +0 under RNE).

Streams carry raw IEEE bit patterns: binary16 operands (``a_word_bits`` = ``w_word_bits`` =
16), binary32 results (``acc_bits`` = 32). Dataflows ``ws`` and ``is`` as ``systolic_int8``
(same grid, different operand mapping); ``os`` has no RTL.
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring

from qaccel.arch.pe.fp16 import Fp16
from qaccel.arch.pe.tile import Tile
from qaccel.arch.spec import Dataflow
from qaccel.rtl.controller import ArrayTop
from qaccel.rtl.core import CoreSpec
from qaccel.rtl.fp import Fp16MulExact, Fp32Add
from qaccel.rtl.systolic import SystolicCore, grid_dataflow, grid_result, grid_shadow, pe_signature

__all__ = ["Fp16MacPE", "create", "create_core", "create_pe", "pe_config", "core_spec",
           "tile_streams", "tile_result", "random_operands", "RTL_DATAFLOWS"]

#: dataflows with RTL (``os`` needs an output-stationary grid)
RTL_DATAFLOWS = (Dataflow.WS, Dataflow.IS)


class Fp16MacPE(wiring.Component):
    """One FP16 x FP16 + FP32 multiply-accumulate PE of the weight-stationary grid.

    Attributes (see :func:`qaccel.rtl.systolic.pe_signature`; bit patterns, not numbers)
    ---------------------------------------------------------------------------------------
    a_in   In(signed(16))   binary16 activation from the left
    a_out  Out(signed(16))  ``a_in`` registered (1 cycle), to the right
    w_in   In(signed(16))   binary16 weight from above during preload
    w_load In(1)            latch ``w_in`` into the weight register at this edge
    w_out  Out(signed(16))  the weight register, to the PE below
    p_in   In(signed(32))   binary32 partial sum from above
    p_out  Out(signed(32))  ``fl32(p_in + a_in * w)`` registered (1 cycle): exact product,
                            one round to nearest even (domain: :class:`Fp32Add`'s)

    Latency 1 cycle on both ``a`` and ``p`` paths; one MAC per cycle (the multiplier and
    adder are combinational between the registers).
    """

    def __init__(self, a_bits: int = Fp16.a_bits, w_bits: int = Fp16.b_bits,
                 acc_bits: int = Fp16.acc_bits) -> None:
        super().__init__(pe_signature(a_bits, w_bits, acc_bits))

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.mul = mul = Fp16MulExact()
        m.submodules.add = add = Fp32Add()
        # Datapath registers need no reset (results are taken under the reset valid pipeline).
        weight = Signal.like(self.w_out, name="weight", reset_less=True)
        a_reg = Signal.like(self.a_out, name="a_reg", reset_less=True)
        p_reg = Signal.like(self.p_out, name="p_reg", reset_less=True)
        with m.If(self.w_load):
            m.d.sync += weight.eq(self.w_in)
        m.d.comb += [mul.a.eq(self.a_in), mul.b.eq(weight),
                     add.a.eq(self.p_in), add.b.eq(mul.p)]
        m.d.sync += [a_reg.eq(self.a_in), p_reg.eq(add.s)]
        m.d.comb += [self.w_out.eq(weight), self.a_out.eq(a_reg), self.p_out.eq(p_reg)]
        return m



def core_spec(params: Fp16) -> CoreSpec:
    """The array core's shape for ``params`` (widths read from the parameter class)."""
    grid_dataflow(params)
    return CoreSpec(rows=params.rows, cols=params.cols,
                    w_word_bits=params.lanes * params.b_bits, a_word_bits=params.a_bits,
                    acc_bits=params.acc_bits, shadow=grid_shadow(params), o_next=True)


def create_pe(params: Fp16) -> Fp16MacPE:
    """One PE (what ``qaccel rtl synth --pe fp16`` synthesizes)."""
    spec = core_spec(params)
    return Fp16MacPE(spec.a_word_bits, spec.w_word_bits, spec.acc_bits)


def pe_config(params: Fp16) -> str:
    """A short name of the PE's parameters (the synthesis table's ``config``)."""
    return "FP16 x FP16 (exact) + FP32 RNE accumulate"


def create_core(params: Fp16) -> SystolicCore:
    """The array core alone (R x C :class:`Fp16MacPE` grid, skew, valid pipeline)."""
    spec = core_spec(params)
    return SystolicCore(spec, lambda: Fp16MacPE(spec.a_word_bits, spec.w_word_bits,
                                                spec.acc_bits))


def create(params: Fp16, *, buffer_rows: int = 256, max_tiles: int = 16) -> ArrayTop:
    """The R x C array top for ``params`` (ws or is): :func:`create_core` plus controller.

    ``buffer_rows`` bounds a tile's streamed length and the rows of one batch; ``max_tiles``
    the tiles of one batch. The Verilog module is named
    ``fp16_<R>x<C>_d<buffer_rows>_t<max_tiles>``.
    """
    core = create_core(params)
    name = f"{params.family}_{params.rows}x{params.cols}_d{buffer_rows}_t{max_tiles}"
    return ArrayTop(core.spec, core, params=params.to_dict(), name=name,
                    buffer_rows=buffer_rows, max_tiles=max_tiles)


def _bits16(x: np.ndarray) -> np.ndarray:
    if x.dtype != np.float16:
        raise TypeError(f"fp16 operands must be float16 arrays, not {x.dtype}")
    return x.view(np.int16)


def tile_streams(params: Fp16, tile: Tile) -> tuple[np.ndarray, np.ndarray]:
    """The binary16 bit patterns (int16) sent for ``tile``: (stationary rows, streamed rows).

    ws: ``(b, a)`` -- K rows of N weights, M rows of K activations.
    is: ``(a.T, b.T)`` -- K rows of M activations, N rows of K weights.
    The driver zero-pads each row to the port width (+0.0).
    """
    params.check_tile(tile)
    a, b = _bits16(tile.a), _bits16(tile.b)
    if grid_dataflow(params) == "ws":
        return b, a
    return a.T, b.T


def tile_result(params: Fp16, tile: Tile, rows: np.ndarray) -> np.ndarray:
    """``out`` (M x N, float32) from the drained result rows (S x C binary32 bit patterns,
    as signed integers): the bits are reinterpreted, never converted."""
    bits = np.ascontiguousarray(rows, dtype=np.int64).astype(np.int32).view(np.float32)
    return grid_result(params, tile, bits)


def random_operands(params: Fp16, rng: np.random.Generator, m: int, k: int,
                    n: int) -> tuple[np.ndarray, np.ndarray]:
    """Random float16 operands (a [m x k], b [k x n]) that exercise the FP32 datapath.

    Magnitudes 2^-24 .. 2^15 (binary16 subnormals included), about 10 % +0.0 and 5 % -0.0;
    in about half the tiles a column of ``a`` is the negation of another, with equal rows of
    ``b``, so products cancel exactly and sums cancel catastrophically.
    """
    def halves(shape: tuple[int, int]) -> np.ndarray:
        sig = rng.uniform(1.0, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
        x = np.ldexp(sig, rng.integers(-26, 16, shape))
        kind = rng.random(shape)
        x = np.where(kind < 0.10, 0.0, np.where(kind < 0.15, -0.0, x))
        return np.clip(x, -65504, 65504).astype(np.float16)

    a, b = halves((m, k)), halves((k, n))
    if k >= 2 and rng.random() < 0.5:
        i, j = rng.choice(k, 2, replace=False)
        a[:, j], b[j] = -a[:, i], b[i]
    return a, b
