"""``olive``: an R x C systolic array of OliVe PEs (Guo et al., "OliVe: Accelerating Large
Language Models via Hardware-friendly Outlier-Victim Pair Quantization", ISCA 2023).

Both operands arrive as OliVe codes (:mod:`qaccel.models.olive`): pairs of adjacent elements
along K, a normal value (int4 / flint4 / int8) or an abfloat outlier next to a victim code.
A **pair decoder** at the array edge turns two codes into two exponent-integer pairs
``(sig, exp)`` with ``value = sig << exp`` and ``|sig|`` small enough for a ``bits`` x ``bits``
signed multiplier; every PE is an INT MAC with an exponent adder and a shifter::

    acc += (sig_a * sig_b) << (exp_a + exp_b)          (acc: 32-bit, wraps mod 2^32)

The decoder table ``(sig, exp)`` of every code is derived from the format's own decoder
(:func:`qaccel.models.olive.pair_tables`), never typed here: ``exp`` is the smallest shift
that leaves an exact significand within the multiplier's range (:func:`sig_exp_tables`).

Modes: ``bits`` = 4 (4x4 multipliers; int4 or flint4 normals, abfloat outliers) or 8 (8x8
multipliers; int8 normals). ``bits`` is a design parameter of the array: one MAC per PE per
cycle in either mode.

Mapping and fold timing are the systolic ones (SCALE-Sim v3, as ``systolic_int8``):
ws K->rows N->cols stream M, fold = 2R + C + M - 2; os M->rows N->cols stream K,
fold = R + C + K - 2; is K->rows M->cols stream N, fold = 2R + C + N - 2. The edge decoders
are modeled as part of the edge register stage (no cycle of their own). With K on the rows
(ws, is) each decoder feeds two adjacent rows, so ``rows`` must be even: a fold boundary then
never splits a pair.

**Weight-only mode** (``activations: fp16``): FP16 activations x decoded 4-bit OliVe weights,
exact products, FP32 sequential accumulation, FP16 outputs (the BitMoD paper's baseline;
:mod:`qaccel.arch.pe._fp16_activations`). One MAC per PE per cycle; simulated only (no RTL).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from qaccel.arch.components import Cost, int_add, int_mult
from qaccel.arch.fields import IntIn, OneOf, spec_field
from qaccel.arch.pe._fp16_activations import Activations, Fp16ActivationMode
from qaccel.arch.pe._systolic import SystolicArray
from qaccel.arch.pe.registry import register_pe
from qaccel.arch.pe.tile import CodedOperand, Tile
from qaccel.arch.published import PublishedArea, PublishedEnergy
from qaccel.arch.spec import Dataflow
from qaccel.models import olive as olive_fmt

__all__ = ["OliVeArray", "OliveOperand", "sig_exp_tables", "MODES"]

#: operand/multiplier width (unit: bits) -> normal types the decoders accept
MODES: dict[int, tuple[str, ...]] = {4: ("int", "flint"), 8: ("int",)}
#: accumulator width (unit: bits); partial sums wrap mod 2^32
ACC_BITS = 32
#: width of the exponent adder (unit: bits): exponents are at most 6, their sum at most 12
EXP_ADD_BITS = 4
#: golden() materializes at most this many (m, k, n) terms at once (memory bound only)
_TERMS_PER_CHUNK = 1 << 20
#: lines decoded at once by :meth:`OliveOperand.values` (memory bound only)
_DECODE_LINES = 256


@cache
def sig_exp_tables(bits: int, normal: str) -> dict[str, np.ndarray]:
    """The pair decoder's output tables, per code (index 0 .. 2^bits - 1), as int64:

    ``sig_normal``/``exp_normal`` for a code read as a normal value, ``sig_outlier``/
    ``exp_outlier`` for a code read as an outlier (its partner is the victim). ``value =
    sig << exp`` equals :func:`qaccel.models.olive.pair_tables`, with ``exp`` the smallest
    shift such that ``value`` is divisible by ``2^exp`` and ``|sig| <= 2^(bits-1) - 1``.
    """
    normal_vals, outlier_vals = olive_fmt.pair_tables(olive_fmt.spec(bits, normal))
    sig_max = (1 << (bits - 1)) - 1
    out: dict[str, np.ndarray] = {}
    for name, vals in (("normal", normal_vals), ("outlier", outlier_vals)):
        sig, exp = [], []
        for v in (int(x) for x in vals):
            e = 0
            while abs(v >> e) > sig_max or (v >> e) << e != v:
                e += 1
            sig.append(v >> e)
            exp.append(e)
        out[f"sig_{name}"] = np.array(sig, dtype=np.int64)
        out[f"exp_{name}"] = np.array(exp, dtype=np.int64)
    return out


def decode_sig_exp(codes: np.ndarray, bits: int, normal: str) -> tuple[np.ndarray, np.ndarray]:
    """The pair decoders over the last axis of ``codes`` (pairs 0-1, 2-3, ...; an odd last
    code is a lone normal value): (sig, exp) int64 arrays of the codes' shape.

    A victim code makes its partner an outlier and itself (0, 0); two victim codes (never
    produced) decode to (0, 0) each, as :func:`qaccel.models.olive.decode_pair` does.
    """
    t = sig_exp_tables(bits, normal)
    victim = olive_fmt.spec(bits, normal).victim
    c = codes.astype(np.intp)
    sig, exp = t["sig_normal"][c], t["exp_normal"][c]
    k = c.shape[-1] - c.shape[-1] % 2
    for mine, other in ((slice(0, k, 2), slice(1, k, 2)), (slice(1, k, 2), slice(0, k, 2))):
        me, partner = c[..., mine], c[..., other]
        outlier = (partner == victim) & (me != victim)
        dead = me == victim
        sig[..., mine] = np.where(outlier, t["sig_outlier"][me],
                                  np.where(dead, 0, sig[..., mine]))
        exp[..., mine] = np.where(outlier, t["exp_outlier"][me],
                                  np.where(dead, 0, exp[..., mine]))
    return sig, exp


@dataclass(frozen=True)
class OliveOperand(CodedOperand):
    """OliVe codes of one GEMM operand as the array sees them, with the tensor's normal type.

    ``codes``: uint8, 2-D (A: M x K, B: K x N); pairs run along K, i.e. along axis
    ``pair_axis`` (1 for A, 0 for B). Slicing (``op[m0:m1, k0:k1]``) keeps pairs whole: a
    K slice must start on an even index and end on an even index or at the end.
    """

    bits: int
    normal: str
    pair_axis: int

    def __post_init__(self) -> None:
        if self.codes.ndim != 2 or self.codes.dtype != np.uint8:
            raise ValueError(f"OliVe operand codes must be a 2-D uint8 array, not "
                             f"{self.codes.dtype} of shape {self.codes.shape}")
        if self.normal not in MODES.get(self.bits, ()):
            allowed = MODES.get(self.bits, ())
            raise ValueError(f"OliVe operand normal type must be one of {allowed} for "
                             f"{self.bits} bits, not {self.normal!r}")

    def __getitem__(self, key: tuple[slice, slice]) -> OliveOperand:
        ks = key[self.pair_axis]
        start, stop, step = ks.indices(self.shape[self.pair_axis])
        if step != 1 or start % 2 or (stop % 2 and stop != self.shape[self.pair_axis]):
            raise ValueError(f"Cannot slice OliVe codes at K {start}:{stop} because a slice "
                             f"must keep outlier-victim pairs whole (even bounds)")
        return OliveOperand(self.codes[key], self.bits, self.normal, self.pair_axis)

    def sig_exp(self) -> tuple[np.ndarray, np.ndarray]:
        """Decoder outputs (sig, exp), int64, in this operand's layout."""
        if self.pair_axis == 1:
            return decode_sig_exp(self.codes, self.bits, self.normal)
        sig, exp = decode_sig_exp(self.codes.T, self.bits, self.normal)
        return sig.T, exp.T

    def values(self, dtype: Any = np.int64) -> np.ndarray:
        """Decoded integer values (units of the scale) as ``dtype`` (default int64; every
        OliVe value, at most 2016 in magnitude, fits int16), via the format's decoder, decoded
        in blocks of lines so its temporaries stay small."""
        codes = self.codes if self.pair_axis == 1 else self.codes.T   # pairs along the last axis
        out = np.empty(codes.shape, dtype=dtype)
        for r0 in range(0, codes.shape[0], _DECODE_LINES):
            block = slice(r0, r0 + _DECODE_LINES)
            out[block] = olive_fmt.decode_pairs(codes[block], self.bits, self.normal)
        return out if self.pair_axis == 1 else out.T


@register_pe("olive")
@dataclass(frozen=True)
class OliVeArray(Fp16ActivationMode, SystolicArray):
    """R x C OliVe array: edge pair decoders, bits x bits INT MACs with exponent shift,
    32-bit wrapping accumulators."""

    phase_presets = {"prefill": "olive-prefill", "decode": "olive-decode"}
    #: the OliVe baseline PE of the BitMoD authors' simulator (FP16 activations, docs/
    #: energy.md): bitmod_sim/test_olive.py, 28 nm, 1 GHz, PR_SCALING not applied; and the
    #: OliVe paper's pair decoder (22 nm)
    published_area = (PublishedArea(1318.6, 28, "OliVe PE (FP16 act.), pe_area",
                                    "BitMoD simulator test_olive.py"),
                      PublishedArea(13.5, 22, "pair decoder", "OliVe paper (issue 7)",
                                    "pair decoder"))
    published_energy = PublishedEnergy(0.613, 28, 1000, "BitMoD simulator test_olive.py")

    bits: int = spec_field(IntIn(4, 8), "bits",
                           "operand and multiplier width, 4 or 8 (unit: bits)", default=4)
    activations: Activations = spec_field(
        OneOf(Activations), "", "'codes': activations are OliVe codes like the weights; "
        "'fp16': FP16 activations x decoded 4-bit OliVe weights (weight-only, the BitMoD "
        "paper's OliVe baseline; simulated only)", default=Activations.CODES)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.bits not in MODES:
            raise ValueError(f"bits must be 4 or 8, not {self.bits!r}")
        object.__setattr__(self, "activations", Activations(self.activations))
        if self.weight_only and self.bits != 4:
            raise ValueError(f"bits must be 4 with activations 'fp16' (4-bit OliVe weights "
                             f"x FP16), not {self.bits!r}")
        if self.dataflow is not Dataflow.OS and self.rows % 2:
            raise ValueError(f"rows must be even for the {self.dataflow} dataflow (each edge "
                             f"decoder feeds a pair of K rows), not {self.rows}")

    @property
    def fmt(self) -> str:  # type: ignore[override]
        return f"olive{self.bits}xfp16" if self.weight_only else f"olive{self.bits}"

    #: operand widths (unit: bits): activation and weight codes, accumulator/output
    @property
    def a_bits(self) -> int:
        return 16 if self.weight_only else self.bits

    @property
    def b_bits(self) -> int:
        return self.bits

    acc_bits = ACC_BITS

    @property
    def weight_format_name(self) -> str:
        """The ``models.formats`` name of this array's weights."""
        return f"olive{self.bits}"

    # ---- the four levels -----------------------------------------------------------------
    def golden(self, tile: Tile) -> np.ndarray:
        """Bit-exact INT32 result of one tile.

        Both operands are :class:`OliveOperand` s of this array's ``bits``. The edge decoders
        give (sig, exp) per element; each PE adds ``(sig_a * sig_b) << (exp_a + exp_b)`` into
        a 32-bit accumulator. Integer addition mod 2^32 is associative, so the exact int64
        sum (|term| < 2^22, far from 2^63) reduced to int32 is the hardware result in any
        order. No rounding anywhere: the path is integer.
        """
        self.check_tile(tile)
        if self.weight_only:
            if not isinstance(tile.b, OliveOperand) or tile.b.bits != self.bits:
                raise TypeError(f"tile.b must be an OliveOperand of {self.bits} bits, "
                                f"not {type(tile.b).__name__}")
            return self.fp16a_golden(tile)
        for name, op in (("a", tile.a), ("b", tile.b)):
            if not isinstance(op, OliveOperand) or op.bits != self.bits:
                raise TypeError(f"tile.{name} must be an OliveOperand of {self.bits} bits, "
                                f"not {type(op).__name__}")
        sa, ea = tile.a.sig_exp()
        sb, eb = tile.b.sig_exp()
        acc = np.zeros((tile.M, tile.N), dtype=np.int64)
        step = max(1, _TERMS_PER_CHUNK // max(1, tile.M * tile.N))
        for k0 in range(0, tile.K, step):  # K in chunks only to bound memory
            ks = slice(k0, k0 + step)
            # per (m, k, n): product of significands shifted by the exponent sum
            terms = ((sa[:, ks, None] * sb[None, ks, :])
                     << (ea[:, ks, None] + eb[None, ks, :]))
            acc += terms.sum(axis=1)
        return acc.astype(np.int32)  # two's-complement wrap mod 2^32

    def events(self, tile: Tile) -> dict[str, int]:
        """Operation counts of one tile.

        ``mac``: useful MACs (multiply, exponent add, shift, accumulate);
        ``decoder_pairs``: pair decodes at the array edge, every A and B code entering the
        array once per fold, ceil(K/2) pairs per row of A and per column of B
        (``ceil(K/2) * (M + N)``).
        """
        if self.weight_only:
            return self.fp16a_events(tile)
        return {"mac": tile.M * tile.K * tile.N,
                "decoder_pairs": -(-tile.K // 2) * (tile.M + tile.N)}

    def event_costs(self) -> dict[str, Cost | None]:
        """45 nm cost of one event of each kind (None: counted, not priced).

        ``mac``: :meth:`pe_cost`. ``decoder_pairs``: :meth:`decoder_cost`. Registers, clock
        and the shifter have no anchor in :mod:`qaccel.arch.components` and are left out.
        """
        if self.weight_only:   # one value decode = half a pair decode
            return {"mac_fp16a": self.fp16a_pe_cost(), "decoder_values": int_add(self.bits)}
        return {"mac": self.pe_cost(), "decoder_pairs": self.decoder_cost()}

    def pe_cost(self) -> Cost:
        """One PE's arithmetic at 45 nm: bits x bits multiplier, exponent adder, 32-bit
        accumulator adder (the shifter is unpriced: no anchor)."""
        return int_mult(self.bits, self.bits) + int_add(EXP_ADD_BITS) + int_add(ACC_BITS)

    def decoder_cost(self) -> Cost:
        """One pair decode at 45 nm, approximated as two ``bits``-wide adders (the two
        victim-code comparisons; table lookups and muxes have no anchor)."""
        return int_add(self.bits) * 2

    # ---- operands ------------------------------------------------------------------------
    def layer_operands(self, layer: Any) -> list[tuple[OliveOperand, OliveOperand]]:
        """One (A, B) pair of :class:`OliveOperand` s per GEMM of ``layer``.

        Captured OliVe tensors of this width (linear or matmul layers) are used as they are.
        Anything else (shape-only layers generated from their seed, INT8 captures) is
        encoded here: each GEMM's A [M x K] and B^T [N x K] as float values, with
        ``OliVe(bits)`` per tensor (normal type chosen by the format's MSE search).
        """
        if self.weight_only:
            return self.fp16a_operands(layer)
        coded = self._captured_codes(layer)
        if coded is not None:
            return coded
        fmt = olive_fmt.OliVe(self.bits)
        a, b = layer.operands()
        out = []
        for g in range(a.shape[0]):
            ea = fmt.encode(a[g].astype(np.float32), name=f"{layer.name} A")
            out.append((OliveOperand(ea.codes, self.bits, ea.meta["normal"], 1),
                        self._encode_b(b[g], layer.name)))
        return out

    def _captured_codes(self, layer: Any) -> list[tuple[OliveOperand, OliveOperand]] | None:
        """Operands of a layer whose A and B are captured OliVe tensors of this width, or
        None. A captured activation B (attention) was paired along its stored last axis (N),
        not K, so it is decoded and encoded again as B^T with ``OliVe(bits)``."""
        b_enc = layer.act_b if layer.b_source == "activation" else layer.weight
        encs = (layer.act, b_enc)
        if any(e is None or e.meta.get("family") != olive_fmt.FAMILY for e in encs):
            return None
        if any(int(e.meta["bits"]) != self.bits for e in encs):
            raise ValueError(f"Cannot run layer {layer.name} on a {self.bits}-bit OliVe array "
                             f"because its tensors are {[e.meta['bits'] for e in encs]}-bit")
        if layer.op == "conv2d":
            raise ValueError(f"Cannot run layer {layer.name} on the olive array because "
                             f"OliVe-coded conv2d layers would pair im2col columns")
        count, m, k, n = layer.gemm_shape()
        a = layer.act.codes
        shape = tuple(layer.meta.get("batch_shape", ()))
        a_g = np.broadcast_to(a, shape + (m, k)).reshape(count, m, k)
        a_ops = [OliveOperand(np.ascontiguousarray(a_g[g]), self.bits,
                              layer.act.meta["normal"], 1) for g in range(count)]
        if layer.b_source == "weight":  # stored N x K, pairs along K
            bt = np.broadcast_to(b_enc.codes, shape + (n, k)).reshape(count, n, k)
            b_ops = [OliveOperand(np.ascontiguousarray(bt[g].T), self.bits,
                                  b_enc.meta["normal"], 0) for g in range(count)]
        else:
            vals = olive_fmt.decode(b_enc)
            b_g = np.broadcast_to(vals, shape + (k, n)).reshape(count, k, n)
            b_ops = [self._encode_b(b_g[g], layer.name) for g in range(count)]
        return list(zip(a_ops, b_ops, strict=True))

    def weight_values(self, b: OliveOperand) -> np.ndarray:
        """Exact real values (float32) of OliVe weight codes (the pair decoder's values)."""
        return b.values().astype(np.float32)

    def encode_weights(self, b: np.ndarray, name: str) -> OliveOperand:
        """Real weights ``b`` [K x N] as OliVe codes paired along K."""
        return self._encode_b(b, name.removesuffix(" B"))

    def _encode_b(self, b: np.ndarray, name: str) -> OliveOperand:
        """B [K x N] floats -> OliVe codes paired along K (B^T encoded per tensor)."""
        eb = olive_fmt.OliVe(self.bits).encode(np.ascontiguousarray(b.T).astype(np.float32),
                                               name=f"{name} B")
        return OliveOperand(np.ascontiguousarray(eb.codes.T), self.bits, eb.meta["normal"], 0)
