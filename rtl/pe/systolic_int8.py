"""RTL level of ``systolic_int8``: the INT8 MAC PE and the R x C array top (Amaranth).

The array top is the generic :class:`qaccel.rtl.controller.ArrayTop` around a
:class:`qaccel.rtl.systolic.SystolicCore` of :class:`MacPE`; ports, protocol and the exact
cycle count are documented there. ``cycles`` equals ``SystolicInt8.timing(tile)``:
``2R + C + S - 2`` for a tile streaming ``S`` rows (``S = M`` for ws, ``N`` for is).

Dataflows. The hardware is one weight-stationary grid. ``ws`` preloads the weight block
``b`` (K x N on rows x cols) and streams the activation rows ``a[m, :]``; ``is`` preloads
``a.T`` (K x M) and streams the weight columns ``b[:, n]``, so the result rows are the
columns of ``out``. Both use the same Verilog; only :func:`tile_streams` and
:func:`tile_result` differ. ``os`` keeps outputs in the PEs and needs a different grid, so
it has no RTL yet.

The functions below are what every family's RTL module provides: :func:`create`,
:func:`create_core`, :func:`tile_streams` and :func:`tile_result` (see docs/rtl.md
"Adding a family").
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring

from qaccel.arch.pe.systolic_int8 import SystolicInt8
from qaccel.arch.pe.tile import Tile
from qaccel.arch.spec import Dataflow
from qaccel.rtl.controller import ArrayTop
from qaccel.rtl.core import CoreSpec
from qaccel.rtl.systolic import SystolicCore, grid_dataflow, grid_result, grid_shadow, pe_signature

__all__ = ["MacPE", "create", "create_core", "create_pe", "pe_config", "core_spec",
           "tile_streams", "tile_result", "RTL_DATAFLOWS"]

#: dataflows with RTL (``os`` needs an output-stationary grid)
RTL_DATAFLOWS = (Dataflow.WS, Dataflow.IS)


class MacPE(wiring.Component):
    """One INT8 x INT8 -> INT32 multiply-accumulate PE of the weight-stationary grid.

    Attributes (see :func:`qaccel.rtl.systolic.pe_signature`)
    ----------------------------------------------------------
    a_in   In(signed(8))    activation code from the left
    a_out  Out(signed(8))   ``a_in`` registered (1 cycle), to the right
    w_in   In(signed(8))    weight code from above during preload
    w_load In(1)            latch ``w_in`` into the weight register at this edge
    w_out  Out(signed(8))   the weight register, to the PE below
    p_in   In(signed(32))   partial sum from above
    p_out  Out(signed(32))  ``p_in + a_in * w`` registered (1 cycle), wrapping mod 2^32

    Latency 1 cycle on both ``a`` and ``p`` paths; one MAC per cycle.
    """

    def __init__(self, a_bits: int = SystolicInt8.a_bits, w_bits: int = SystolicInt8.b_bits,
                 acc_bits: int = SystolicInt8.acc_bits) -> None:
        super().__init__(pe_signature(a_bits, w_bits, acc_bits))

    def elaborate(self, platform: object) -> Module:
        m = Module()
        # Datapath registers need no reset: nothing reads them before they are written
        # (results are taken only under the array's valid pipeline, which is reset).
        weight = Signal.like(self.w_out, name="weight", reset_less=True)
        a_reg = Signal.like(self.a_out, name="a_reg", reset_less=True)
        p_reg = Signal.like(self.p_out, name="p_reg", reset_less=True)
        with m.If(self.w_load):
            m.d.sync += weight.eq(self.w_in)
        # signed(32) + signed(16) is 33 bits wide; the assignment keeps the low 32 (wraps).
        m.d.sync += [a_reg.eq(self.a_in), p_reg.eq(self.p_in + self.a_in * weight)]
        m.d.comb += [self.w_out.eq(weight), self.a_out.eq(a_reg), self.p_out.eq(p_reg)]
        return m



def core_spec(params: SystolicInt8) -> CoreSpec:
    """The array core's shape for ``params`` (widths read from the parameter class)."""
    grid_dataflow(params)
    return CoreSpec(rows=params.rows, cols=params.cols,
                    w_word_bits=params.lanes * params.b_bits, a_word_bits=params.a_bits,
                    acc_bits=params.acc_bits, shadow=grid_shadow(params), o_next=True)


def create_pe(params: SystolicInt8) -> MacPE:
    """One PE of the array (what ``qaccel rtl synth --pe systolic_int8`` synthesizes)."""
    spec = core_spec(params)
    return MacPE(spec.a_word_bits, spec.w_word_bits, spec.acc_bits)


def pe_config(params: SystolicInt8) -> str:
    """A short name of the PE's parameters (the synthesis table's ``config``)."""
    return f"INT{params.a_bits} x INT{params.b_bits} -> INT{params.acc_bits} MAC"


def create_core(params: SystolicInt8) -> SystolicCore:
    """The array core alone (R x C :class:`MacPE` grid, skew, valid pipeline)."""
    spec = core_spec(params)
    return SystolicCore(spec, lambda: MacPE(spec.a_word_bits, spec.w_word_bits, spec.acc_bits))


def create(params: SystolicInt8, *, buffer_rows: int = 256, max_tiles: int = 16) -> ArrayTop:
    """The R x C array top for ``params`` (ws or is): :func:`create_core` plus controller.

    ``buffer_rows`` bounds a tile's streamed length (M for ws) and the rows of one batch;
    ``max_tiles`` the tiles of one batch. The Verilog module is named
    ``systolic_int8_<R>x<C>_d<buffer_rows>_t<max_tiles>``.
    """
    core = create_core(params)
    name = f"{params.family}_{params.rows}x{params.cols}_d{buffer_rows}_t{max_tiles}"
    return ArrayTop(core.spec, core, params=params.to_dict(), name=name,
                    buffer_rows=buffer_rows, max_tiles=max_tiles)


def tile_streams(params: SystolicInt8, tile: Tile) -> tuple[np.ndarray, np.ndarray]:
    """The codes sent for ``tile``: (stationary rows for ``w_*``, streamed rows for ``a_*``).

    ws: ``(b, a)`` -- K rows of N weights, M rows of K activations.
    is: ``(a.T, b.T)`` -- K rows of M activations, N rows of K weights.
    The driver zero-pads each row to the port width.
    """
    params.check_tile(tile)
    if grid_dataflow(params) == "ws":
        return tile.b, tile.a
    return tile.a.T, tile.b.T


def tile_result(params: SystolicInt8, tile: Tile, rows: np.ndarray) -> np.ndarray:
    """``out`` (M x N, int32) from the result rows (S x C, int32) the array drained."""
    return grid_result(params, tile, rows)
