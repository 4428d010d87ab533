"""RTL level of ``olive``: pair decoders at the array edges, INT MAC PEs with exponent shift.

The array top is the generic :class:`qaccel.rtl.controller.ArrayTop` around a
:class:`qaccel.rtl.systolic.SystolicCore` of :class:`OlivePE` whose edge hooks hold the
:class:`~qaccel.rtl.pe._olive_decoder.PairDecoder` s; ``cycles`` equals
``OliVeArray.timing(tile)``, ``2R + C + S - 2`` for a tile streaming ``S`` rows (the decoders
are combinational, in the edge register stage: no cycle of their own).

Stream words (``b`` = ``params.bits``; ``mode`` = 1 bit for 4-bit arrays, the operand's
normal type, 0: int, 1: flint; absent for 8-bit arrays, which have int normals only):

* streamed word (``a_word_bits = b + mode bits``), one per array row ``k``:
  ``code_k | mode << b``. Pairs are array rows ``(2j, 2j+1)`` (K order), so both codes of a
  pair arrive in the same beat; the left-edge decoder ``j`` (``rows / 2`` of them, before
  the row skew) reads the two codes and the mode bit of word ``2j``.
* stationary word (``w_word_bits = 2b + mode bits``), one per column ``n`` and row ``k``:
  ``code_k | code_partner << b | mode << 2b`` with ``partner = k ^ 1`` (0 when the partner
  is past K). Rows preload one per beat, so a pair's two codes never meet at the top edge;
  each word carries its partner's code instead and the top-edge decoder of column ``n``
  decodes (own, partner) while the row shifts in (``cols`` decoders).

The per-tensor normal type rides in the words because the controller has no metadata
stream yet; with an ``m_*`` stream it would be one per-tile word for the two operands.
The PEs get ``(sig, exp)`` words and compute ``p_out = p_in + ((sig_a * sig_w) << (exp_a +
exp_w))`` (32-bit, wrapping), exactly ``OliVeArray.golden``.

Dataflows: ``ws`` (stationary ``b``, K x N; streamed ``a`` rows) and ``is`` (stationary
``a.T``, K x M; streamed ``b`` columns); both pair along K on the array rows and use the
same Verilog. ``os`` has no RTL.
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Cat, Module, Value
from amaranth.lib import wiring

from qaccel.arch.pe.olive import MODES, OliVeArray, OliveOperand
from qaccel.arch.pe.tile import Tile
from qaccel.arch.spec import Dataflow
from qaccel.models import olive as olive_fmt
from qaccel.rtl.controller import ArrayTop
from qaccel.rtl.core import CoreSpec
from qaccel.rtl.pe._olive_decoder import PairDecoder, decoder_widths
from qaccel.rtl.sigexp_pe import SigExpPE
from qaccel.rtl.systolic import (
    EdgeHook,
    SystolicCore,
    grid_a_early,
    grid_dataflow,
    grid_result,
    grid_shadow,
)

__all__ = ["edge_units", "OlivePE", "create", "create_core", "create_pe", "pe_config", "core_spec",
           "tile_streams", "tile_result", "random_operands", "RTL_DATAFLOWS"]

#: dataflows with RTL (``os`` needs an output-stationary grid)
RTL_DATAFLOWS = (Dataflow.WS, Dataflow.IS)
#: random_operands: probability that an element is drawn as an outlier, and its scale
OUTLIER_RATE, OUTLIER_SCALE = 0.05, 50.0


#: the OliVe PE is the shared exponent-integer MAC PE (``rtl/sigexp_pe.py``)
OlivePE = SigExpPE


def _mode_bits(bits: int) -> int:
    return decoder_widths(bits)[2]


def core_spec(params: OliVeArray) -> CoreSpec:
    """The array core's shape: stream words as in the module docstring (unit: bits)."""
    grid_dataflow(params)
    b, mode = params.bits, _mode_bits(params.bits)
    return CoreSpec(rows=params.rows, cols=params.cols, w_word_bits=2 * b + mode,
                    a_word_bits=b + mode, acc_bits=params.acc_bits,
                    shadow=grid_shadow(params), o_next=True,
                    a_early=grid_a_early(params))


def _left_edge(bits: int, rows: int) -> EdgeHook:
    """Streamed row -> PE words: decoder j decodes array rows 2j and 2j+1."""
    mode_bits = _mode_bits(bits)
    word = bits + mode_bits

    def hook(m: Module, row: Value) -> Value:
        out = []
        for j in range(rows // 2):
            dec = PairDecoder(bits)
            m.submodules[f"a_dec{j}"] = dec
            w0, w1 = row.word_select(2 * j, word), row.word_select(2 * j + 1, word)
            m.d.comb += [dec.c0.eq(w0[:bits]), dec.c1.eq(w1[:bits])]
            if mode_bits:
                m.d.comb += dec.mode.eq(w0[bits:])
            out += [Cat(dec.sig0, dec.exp0), Cat(dec.sig1, dec.exp1)]
        return Cat(*out)
    return hook


def _top_edge(bits: int, cols: int) -> EdgeHook:
    """Stationary row -> PE words: column n's decoder decodes (own code, partner code)."""
    mode_bits = _mode_bits(bits)
    word = 2 * bits + mode_bits

    def hook(m: Module, row: Value) -> Value:
        out = []
        for n in range(cols):
            dec = PairDecoder(bits)
            m.submodules[f"w_dec{n}"] = dec
            w = row.word_select(n, word)
            m.d.comb += [dec.c0.eq(w[:bits]), dec.c1.eq(w[bits:2 * bits])]
            if mode_bits:
                m.d.comb += dec.mode.eq(w[2 * bits:])
            out.append(Cat(dec.sig0, dec.exp0))
        return Cat(*out)
    return hook


def create_pe(params: OliVeArray) -> OlivePE:
    """One PE of the array (what ``qaccel rtl synth --pe olive`` synthesizes): signed
    ``bits`` x ``bits`` multiplier, exponent adder, shifter, 32-bit accumulator adder (the
    edge decoders are outside the PE)."""
    core_spec(params)
    sig_bits, exp_bits, _ = decoder_widths(params.bits)
    return OlivePE(sig_bits, exp_bits, params.acc_bits)


def edge_units(params: OliVeArray) -> dict[str, wiring.Component]:
    """Units at the array edge, shared by a row pair or a column (synthesized beside the PE):
    the pair decoder."""
    return {"pair decoder": PairDecoder(params.bits)}


def pe_config(params: OliVeArray) -> str:
    """A short name of the PE's parameters (the synthesis table's ``config``)."""
    normals = "/".join(MODES[params.bits])
    return (f"OliVe{params.bits} ({normals} + abfloat) {params.bits}x{params.bits} MAC, "
            f"exp shift -> INT{params.acc_bits}")


def create_core(params: OliVeArray) -> SystolicCore:
    """The array core alone: edge decoders, R x C :class:`OlivePE` grid, skew, valid."""
    spec = core_spec(params)
    pe_bits = sum(decoder_widths(params.bits)[:2])
    return SystolicCore(spec, lambda: create_pe(params),
                        pe_a_bits=pe_bits, pe_w_bits=pe_bits,
                        a_edge=_left_edge(params.bits, spec.rows),
                        w_edge=_top_edge(params.bits, spec.cols))


def create(params: OliVeArray, *, buffer_rows: int = 256, max_tiles: int = 16) -> ArrayTop:
    """The R x C array top for ``params`` (ws or is): :func:`create_core` plus controller.

    The Verilog module is named ``olive<bits>_<R>x<C>_d<buffer_rows>_t<max_tiles>``.
    """
    core = create_core(params)
    name = f"olive{params.bits}_{params.rows}x{params.cols}_d{buffer_rows}_t{max_tiles}"
    return ArrayTop(core.spec, core, params=params.to_dict(), name=name,
                    buffer_rows=buffer_rows, max_tiles=max_tiles)


def _check_operand(params: OliVeArray, op: object, name: str) -> OliveOperand:
    if not isinstance(op, OliveOperand) or op.bits != params.bits:
        raise TypeError(f"tile.{name} must be an OliveOperand of {params.bits} bits, "
                        f"not {type(op).__name__}")
    return op


def _signed(words: np.ndarray, width: int) -> np.ndarray:
    """Unsigned ``width``-bit words as two's complement (what the driver packs)."""
    words = words.astype(np.int64)
    return np.where(words >> (width - 1), words - (1 << width), words)


def _mode(op: OliveOperand) -> int:
    return MODES[op.bits].index(op.normal)


def _stationary(op: OliveOperand, codes_k_by_cols: np.ndarray) -> np.ndarray:
    """Stationary words of a K x cols code block: own | partner << b | mode << 2b."""
    b = op.bits
    own = codes_k_by_cols.astype(np.int64)
    k = own.shape[0]
    partner = np.zeros_like(own)
    partner[0:k - k % 2:2], partner[1:k:2] = own[1:k:2], own[0:k - k % 2:2]
    words = own | partner << b | _mode(op) << (2 * b)
    return _signed(words, 2 * b + _mode_bits(b))


def _streamed(op: OliveOperand, codes_s_by_k: np.ndarray) -> np.ndarray:
    """Streamed words of an S x K code block: code | mode << b."""
    b = op.bits
    words = codes_s_by_k.astype(np.int64) | _mode(op) << b
    return _signed(words, b + _mode_bits(b))


def tile_streams(params: OliVeArray, tile: Tile) -> tuple[np.ndarray, np.ndarray]:
    """The words sent for ``tile``: (stationary rows for ``w_*``, streamed rows for ``a_*``).

    ws: stationary ``b`` (K x N), streamed ``a`` (M x K); is: stationary ``a.T`` (K x M),
    streamed ``b.T`` (N x K). Word layouts in the module docstring; the driver zero-pads
    each row (a zero word is the normal value 0 with a zero partner).
    """
    params.check_tile(tile)
    a, b = _check_operand(params, tile.a, "a"), _check_operand(params, tile.b, "b")
    if grid_dataflow(params) == "ws":
        return _stationary(b, b.codes), _streamed(a, a.codes)
    return _stationary(a, a.codes.T), _streamed(b, b.codes.T)


def tile_result(params: OliVeArray, tile: Tile, rows: np.ndarray) -> np.ndarray:
    """``out`` (M x N, int32) from the result rows (S x C, int32) the array drained."""
    return grid_result(params, tile, rows)


def random_operands(params: OliVeArray, rng: np.random.Generator, m: int, k: int,
                    n: int) -> tuple[OliveOperand, OliveOperand]:
    """Realistic random OliVe operands: Gaussian data with ``OUTLIER_RATE`` of the elements
    ``OUTLIER_SCALE`` times larger, encoded per tensor with ``OliVe(bits)`` and a normal type
    drawn at random among ``MODES[bits]`` (so int and flint tensors meet in one tile).
    A is paired along its rows (M x K), B along its columns (B^T encoded, as
    ``OliVeArray.layer_operands`` does)."""
    def encode(shape: tuple[int, int]) -> tuple[np.ndarray, str]:
        x = rng.standard_normal(shape)
        x = np.where(rng.random(shape) < OUTLIER_RATE, x * OUTLIER_SCALE, x)
        normal = str(rng.choice(MODES[params.bits]))
        enc = olive_fmt.OliVe(params.bits, normal=normal).encode(x.astype(np.float32))
        return enc.codes, normal

    a_codes, a_normal = encode((m, k))
    bt_codes, b_normal = encode((n, k))
    return (OliveOperand(np.ascontiguousarray(a_codes), params.bits, a_normal, 1),
            OliveOperand(np.ascontiguousarray(bt_codes.T), params.bits, b_normal, 0))

#: extra pe_array fields linted beside the presets' (``qaccel.rtl.lint.lint_designs``)
LINT_FIELDS = [{"bits": 8}]
