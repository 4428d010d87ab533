"""RTL level of ``ant``: per-code edge decoders, 4x4 INT MAC PEs with exponent shift (4-bit).

The array top is the generic :class:`qaccel.rtl.controller.ArrayTop` around a
:class:`qaccel.rtl.systolic.SystolicCore` whose edge hooks hold the
:class:`~qaccel.rtl.pe._ant_decoder.AntDecoder` s (``rows`` at the left edge, ``cols`` at
the top edge) and whose PEs are the exponent-integer MAC of :mod:`qaccel.rtl.pe.olive`
(:class:`~qaccel.rtl.sigexp_pe.SigExpPE` with a signed 4-bit significand and a 3-bit
exponent): ``p_out = p_in + ((sig_a * sig_w) << (exp_a + exp_w))``, 32-bit wrapping, exactly
``AntArray.golden`` in 4-bit mode (results in units of ``2^-(frac_a + frac_b)``). ``cycles``
equals ``AntArray.timing(tile)``, ``2R + C + S - 2`` for a tile streaming ``S`` rows: the
decoders are combinational, in the edge register stage, and cost no cycle.

Stream words (6 bits, both streams): ``code | type_id << 4``, ``code`` the 4-bit ANT code and
``type_id`` the operand tensor's type, its index in :data:`qaccel.models.ant.TYPES` (0 int,
1 flint, 2 pot). ANT picks the type per tensor; it rides in every word because the decoders
must know it in the tile's first preload cycle, while the controller's metadata read port
delivers a tile's first beat only in its cycle 1 (:mod:`qaccel.rtl.core`). A zero word (the
driver's padding) is int code 0, the value 0.

Dataflows: ``ws`` (stationary ``b``, K x N; streamed ``a`` rows) and ``is`` (stationary
``a.T``, K x M; streamed ``b`` columns), the same Verilog. ``os`` has no RTL.

Widths: only the 4-bit mode (``bits: 4``) has RTL. The fused INT8 mode (four 4-bit passes
per MAC, ``fold = 4 * (2R + C + S - 2)``) needs every preload row and streamed row held for
four cycles, which the controller's ws schedule does not do (it plays one row per cycle).
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Cat, Module, Value

from qaccel.arch.pe.ant import AntArray, AntOperand
from qaccel.arch.pe.tile import Tile
from qaccel.arch.spec import Dataflow
from qaccel.models import ant as ant_fmt
from qaccel.rtl.controller import ArrayTop
from qaccel.rtl.core import CoreSpec
from qaccel.rtl.pe._ant_decoder import CODE_BITS, EXP_BITS, SIG_BITS, TYPE_BITS, AntDecoder
from qaccel.rtl.sigexp_pe import SigExpPE
from qaccel.rtl.systolic import (
    EdgeHook,
    SystolicCore,
    grid_a_early,
    grid_dataflow,
    grid_result,
    grid_shadow,
)

__all__ = ["edge_units", "create", "create_core", "create_pe", "pe_config", "core_spec",
           "tile_streams", "tile_result", "random_operands", "stream_words", "RTL_DATAFLOWS",
           "RTL_BITS", "WORD_BITS"]

#: dataflows with RTL (``os`` needs an output-stationary grid)
RTL_DATAFLOWS = (Dataflow.WS, Dataflow.IS)
#: operand widths with RTL (the fused 8-bit mode needs a multi-cycle ws schedule)
RTL_BITS = (4,)
#: one stream word: code and type id (unit: bits)
WORD_BITS = CODE_BITS + TYPE_BITS
#: random_operands: the data distributions drawn per tensor (short-tailed, bell, heavy-tailed)
DISTRIBUTIONS = ("uniform", "gaussian", "lognormal")


def _check(params: AntArray) -> Dataflow:
    if params.bits not in RTL_BITS:
        raise ValueError(f"ant bits must be 4 for RTL (the fused INT8 mode holds each row "
                         f"four cycles, which the ws controller does not), not {params.bits!r}")
    return Dataflow(grid_dataflow(params))


def core_spec(params: AntArray) -> CoreSpec:
    """The array core's shape: 6-bit stream words on both streams, 32-bit results."""
    _check(params)
    return CoreSpec(rows=params.rows, cols=params.cols, w_word_bits=WORD_BITS,
                    a_word_bits=WORD_BITS, acc_bits=params.acc_bits,
                    shadow=grid_shadow(params), o_next=True,
                    a_early=grid_a_early(params))


def create_pe(params: AntArray) -> SigExpPE:
    """One PE of the array (what ``qaccel rtl synth --pe ant`` synthesizes): signed 4x4
    multiplier, exponent adder, shifter, 32-bit accumulator adder."""
    core_spec(params)
    return SigExpPE(SIG_BITS, EXP_BITS, params.acc_bits)


def edge_units(params: AntArray) -> dict[str, AntDecoder]:
    """Units at the array edge, one per row and per column (synthesized beside the PE): the
    code decoder."""
    return {"decoder": AntDecoder()}


def pe_config(params: AntArray) -> str:
    """A short name of the PE's parameters (the synthesis table's ``config``)."""
    return f"ANT4 (int/flint/pot) 4x4 MAC, exp shift -> INT{params.acc_bits}"


def _edge(count: int, prefix: str) -> EdgeHook:
    """A row of ``count`` stream words -> ``count`` (sig, exp) PE words, one decoder each."""
    def hook(m: Module, row: Value) -> Value:
        out = []
        for i in range(count):
            dec = AntDecoder()
            m.submodules[f"{prefix}_dec{i}"] = dec
            word = row.word_select(i, WORD_BITS)
            m.d.comb += [dec.code.eq(word[:CODE_BITS]), dec.type_id.eq(word[CODE_BITS:])]
            out.append(Cat(dec.sig, dec.exp))
        return Cat(*out)
    return hook


def create_core(params: AntArray) -> SystolicCore:
    """The array core alone: edge decoders, R x C MAC grid, skew, valid pipeline."""
    spec = core_spec(params)
    pe_bits = SIG_BITS + EXP_BITS
    return SystolicCore(spec, lambda: SigExpPE(SIG_BITS, EXP_BITS, spec.acc_bits),
                        pe_a_bits=pe_bits, pe_w_bits=pe_bits,
                        a_edge=_edge(spec.rows, "a"), w_edge=_edge(spec.cols, "w"))


def create(params: AntArray, *, buffer_rows: int = 256, max_tiles: int = 16) -> ArrayTop:
    """The R x C array top for ``params`` (4-bit, ws or is): :func:`create_core` plus
    controller. The Verilog module is named ``ant4_<R>x<C>_d<buffer_rows>_t<max_tiles>``."""
    core = create_core(params)
    name = f"ant{params.bits}_{params.rows}x{params.cols}_d{buffer_rows}_t{max_tiles}"
    return ArrayTop(core.spec, core, params=params.to_dict(), name=name,
                    buffer_rows=buffer_rows, max_tiles=max_tiles)


def _operand(params: AntArray, op: object, name: str) -> AntOperand:
    if not isinstance(op, AntOperand) or op.bits != params.bits:
        raise TypeError(f"tile.{name} must be an AntOperand of {params.bits} bits, "
                        f"not {type(op).__name__}")
    return op


def stream_words(op: AntOperand, codes: np.ndarray) -> np.ndarray:
    """Stream words of a block of ``op``'s codes: ``code | type_id << 4`` (int64)."""
    return codes.astype(np.int64) | ant_fmt.TYPES.index(op.type_name) << CODE_BITS


def tile_streams(params: AntArray, tile: Tile) -> tuple[np.ndarray, np.ndarray]:
    """The words sent for ``tile``: (stationary rows for ``w_*``, streamed rows for ``a_*``).

    ws: stationary ``b`` (K x N), streamed ``a`` (M x K); is: stationary ``a.T`` (K x M),
    streamed ``b.T`` (N x K). Words as in the module docstring; the driver zero-pads rows.
    """
    params.check_tile(tile)
    a, b = _operand(params, tile.a, "a"), _operand(params, tile.b, "b")
    if _check(params) is Dataflow.WS:
        return stream_words(b, b.codes), stream_words(a, a.codes)
    return stream_words(a, a.codes.T), stream_words(b, b.codes.T)


def tile_result(params: AntArray, tile: Tile, rows: np.ndarray) -> np.ndarray:
    """``out`` (M x N, int32) from the result rows (S x C, int32) the array drained."""
    return grid_result(params, tile, rows)


def random_operands(params: AntArray, rng: np.random.Generator, m: int, k: int,
                    n: int) -> tuple[AntOperand, AntOperand]:
    """Random ANT operands: each tensor's data drawn from one of :data:`DISTRIBUTIONS` and its
    type from ``TYPES``, both uniformly at random, then encoded per tensor with
    ``Ant(4, granularity="per_tensor", types=(type,))`` (the format's own clip search), so
    all nine (A type, B type) combinations are equally likely. B is encoded as B^T (N x K),
    as ``AntArray.layer_operands`` does; real layers (MSE-chosen types) come from there."""
    def encode(shape: tuple[int, int]) -> tuple[np.ndarray, str]:
        kind = DISTRIBUTIONS[int(rng.integers(len(DISTRIBUTIONS)))]
        type_name = ant_fmt.TYPES[int(rng.integers(len(ant_fmt.TYPES)))]
        if kind == "uniform":
            x = rng.uniform(-1.0, 1.0, shape)
        elif kind == "gaussian":
            x = rng.standard_normal(shape)
        else:
            x = rng.choice([-1.0, 1.0], shape) * rng.lognormal(0.0, 2.0, shape)
        fmt = ant_fmt.Ant(params.bits, granularity="per_tensor", types=(type_name,))
        enc = fmt.encode(x.astype(np.float32))
        return enc.codes, enc.meta["type"]

    a_codes, a_type = encode((m, k))
    bt_codes, b_type = encode((n, k))
    return (AntOperand(np.ascontiguousarray(a_codes), params.bits, a_type),
            AntOperand(np.ascontiguousarray(bt_codes.T), params.bits, b_type))
