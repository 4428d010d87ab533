"""``ant``: an R x C systolic array of ANT's fusible 4/8-bit PEs (Guo et al., "ANT: Exploiting
Adaptive Numerical Data Type for Low-bit Deep Neural Network Quantization", MICRO 2022).

**4-bit mode** (``bits: 4``): both operands are 4-bit ANT codes (:mod:`qaccel.models.ant`),
each tensor of one type, int4, flint4 or pot4. A decoder at the array edge turns a code into
an exponent-integer pair ``(sig, exp)``, ``value * 2^frac = sig << exp``, with ``|sig| <= 7``
(a signed 4-bit multiplier operand) and ``frac`` the type's fraction bits (flint4 is in
quarters, ``frac = 2``; int4 and pot4 have ``frac = 0``). Every PE is a 4x4 INT MAC with an
exponent adder and a shifter; the 32-bit accumulator holds the sum in units of
``2^-(frac_a + frac_b)`` (``golden()`` returns those integers).

**8-bit mode** (``bits: 8``): both operands are INT8 (two's complement codes, e.g.
:mod:`qaccel.models.int8`); a PE fuses four 4-bit products in **four cycles**::

    a = a_hi * 16 + a_lo   (a_hi = a >> 4 signed, a_lo = a & 15 unsigned), same for b
    a * b = (a_hi*b_hi << 8) + (a_hi*b_lo << 4) + (a_lo*b_hi << 4) + a_lo*b_lo

The ANT authors' simulator (github clevercool/ANT-Quantization ``ant_simulator``, built on
BitFusion's; ``conf_ant.ini``: ``high_prec = 8``, ``low_prec = 4``) fuses *spatially*: an 8-bit
PE is four 4-bit units, and a 4-bit layer gets ``pmax/prec = 2`` times the PEs along each
array axis (``Accelerator.get_perf_factor``). We fuse *temporally* with the same 4x throughput
ratio, so ``rows x cols`` stays the physical PE grid and the systolic fold rules apply.

Mapping and fold timing (SCALE-Sim v3 rules, as ``systolic_int8``), with ``P`` = passes per
element = 1 (4-bit) or 4 (8-bit): every step of the systolic schedule takes ``P`` cycles::

    ws: K->rows N->cols stream M: fold = P * (2R + C + M - 2)
    os: M->rows N->cols stream K: fold = P * (R + C + K - 2)
    is: K->rows M->cols stream N: fold = P * (2R + C + N - 2)

**Weight-only mode** (``activations: fp16``): FP16 activations x decoded 4-bit ANT weights,
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
from qaccel.models import ant as ant_fmt
from qaccel.models import int8 as int8_fmt

__all__ = ["AntArray", "AntOperand", "decoder_tables", "PASSES"]

#: mode (operand bits) -> cycles one PE spends on one MAC (4-bit sub-products)
PASSES = {4: 1, 8: 4}
ACC_BITS = 32
#: width of the exponent adder (unit: bits): exponents <= 6, their sum <= 12
EXP_ADD_BITS = 4
#: 4-bit multiplier operand range: signed 4-bit significands
SIG_MAX = 7
_TERMS_PER_CHUNK = 1 << 20


@cache
def decoder_tables(type_name: str) -> tuple[np.ndarray, np.ndarray, int]:
    """(sig, exp, frac) of every 4-bit code of ``type_name``, from the format's own table
    (:func:`qaccel.models.ant.code_values`): ``frac`` the fewest fraction bits that make
    every value an integer, ``exp`` the smallest shift with ``|sig| <= 7``."""
    vals = ant_fmt.code_values(4, type_name)
    frac = 0
    while np.any(vals * 2**frac != np.round(vals * 2**frac)):
        frac += 1
    sig, exp = [], []
    for v in (int(x) for x in np.round(vals * 2**frac)):
        e = 0
        while abs(v >> e) > SIG_MAX or (v >> e) << e != v:
            e += 1
        sig.append(v >> e)
        exp.append(e)
    return np.array(sig, dtype=np.int64), np.array(exp, dtype=np.int64), frac


@dataclass(frozen=True)
class AntOperand(CodedOperand):
    """Codes of one GEMM operand (A: M x K, B: K x N) as the array sees them.

    ``bits`` 4: ANT codes of type ``type_name`` (int / flint / pot); ``bits`` 8: INT8 two's
    complement codes (``type_name`` "int")."""

    bits: int
    type_name: str

    def __post_init__(self) -> None:
        if self.codes.ndim != 2 or self.codes.dtype != np.uint8:
            raise ValueError(f"ANT operand codes must be a 2-D uint8 array, not "
                             f"{self.codes.dtype} of shape {self.codes.shape}")
        allowed = ant_fmt.TYPES if self.bits == 4 else ("int",)
        if self.bits not in PASSES or self.type_name not in allowed:
            raise ValueError(f"ANT operand type must be one of {allowed} with 4 bits or 'int' "
                             f"with 8 bits, not {self.type_name!r} with {self.bits!r} bits")

    def __getitem__(self, key: tuple[slice, slice]) -> AntOperand:
        return AntOperand(self.codes[key], self.bits, self.type_name)

    @property
    def frac(self) -> int:
        """Fraction bits of the integers :meth:`values` returns."""
        return decoder_tables(self.type_name)[2] if self.bits == 4 else 0

    def values(self, dtype: Any = np.int64) -> np.ndarray:
        """Integer values ``value * 2^frac`` (``dtype``, default int64; every 4-bit value and
        INT8 code fits int16), from the formats' own decoders."""
        if self.bits == 8:
            return self.codes.view(np.int8).astype(dtype)
        table = ant_fmt.code_values(4, self.type_name) * 2**self.frac
        return np.round(table).astype(dtype)[self.codes]


@register_pe("ant")
@dataclass(frozen=True)
class AntArray(Fp16ActivationMode, SystolicArray):
    """R x C ANT array: edge decoders, 4x4 INT MACs with exponent shift fused over four
    cycles for INT8, 32-bit wrapping accumulators."""

    phase_presets = {"prefill": "ant-prefill", "decode": "ant-decode"}
    #: the ANT baseline PE of the BitMoD authors' simulator (FP16 activations, so not this
    #: W4A4 PE; docs/energy.md): bitmod_sim/test_ant.py, 28 nm, 1 GHz, PR_SCALING not applied
    published_area = (PublishedArea(1318.6, 28, "ANT PE (FP16 act.), pe_area",
                                    "BitMoD simulator test_ant.py"),)
    published_energy = PublishedEnergy(0.56, 28, 1000, "BitMoD simulator test_ant.py")

    bits: int = spec_field(IntIn(4, 8), "bits",
                           "operand width the array runs at, 4 (ANT types) or 8 (INT8, four "
                           "fused 4-bit passes) (unit: bits)", default=4)
    activations: Activations = spec_field(
        OneOf(Activations), "", "'codes': activations are ANT / INT8 codes like the weights; "
        "'fp16': FP16 activations x decoded 4-bit ANT weights (weight-only, the BitMoD "
        "paper's ANT baseline; simulated only)", default=Activations.CODES)
    #: bits one weight occupies in the buffers and DRAM, metadata included (unit: bits);
    #: 0: ``bits``. For a paper whose simulator charges ANT weights more bits than the
    #: array computes on (the BitMoD authors' 5-bit ANT weights: mixed 4/8-bit layers, the
    #: 8-bit compute not charged); timing and energy of the PEs are unchanged
    weight_bits: int = spec_field(IntIn(0, 16), "bits",
                                  "bits one weight occupies in the buffers and DRAM, metadata "
                                  "included (unit: bits; 0, the default: bits)", default=0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.bits not in PASSES:
            raise ValueError(f"bits must be 4 or 8, not {self.bits!r}")
        object.__setattr__(self, "activations", Activations(self.activations))
        if self.weight_bits and self.weight_bits < self.bits:
            raise ValueError(f"weight_bits must be 0 or at least bits ({self.bits}), not "
                             f"{self.weight_bits!r}")
        if self.weight_only and self.bits != 4:
            raise ValueError(f"bits must be 4 with activations 'fp16' (4-bit ANT weights x "
                             f"FP16), not {self.bits!r}")

    @property
    def fmt(self) -> str:  # type: ignore[override]
        if self.weight_only:
            return "ant4xfp16"
        return "ant4" if self.bits == 4 else int8_fmt.NAME

    @property
    def a_bits(self) -> int:
        return 16 if self.weight_only else self.bits

    @property
    def b_bits(self) -> int:
        return self.bits

    @property
    def b_stored_bits(self) -> int:
        """Bits of one weight in the buffers and DRAM: ``weight_bits``, else ``bits``."""
        return self.weight_bits or self.bits

    acc_bits = ACC_BITS

    @property
    def passes(self) -> int:
        """Cycles per MAC: 1 in 4-bit mode, 4 in the fused 8-bit mode."""
        return PASSES[self.bits]

    # ---- mapping -------------------------------------------------------------------------
    def fold_cycles(self, streamed: int, overlapped: bool = False) -> int:
        """Cycles of one fold streaming ``streamed`` elements: passes x the systolic steps."""
        return self.passes * super().fold_cycles(streamed, overlapped)

    @property
    def weight_format_name(self) -> str:
        """The ``models.formats`` name of this array's weights."""
        return "ant4" if self.bits == 4 else "int8"  # bits 8: the fused INT8 mode

    # ---- the four levels -----------------------------------------------------------------
    def golden(self, tile: Tile) -> np.ndarray:
        """Bit-exact INT32 result of one tile (integer path, no rounding).

        4-bit: ``acc += (sig_a * sig_b) << (exp_a + exp_b)``, in units of
        ``2^-(frac_a + frac_b)``. 8-bit: the four 4-bit sub-products of the module docstring,
        each shifted into place. Accumulation wraps mod 2^32; addition mod 2^32 is
        associative, so the exact int64 sum reduced to int32 is the hardware result.
        """
        self.check_tile(tile)
        if self.weight_only:
            if not isinstance(tile.b, AntOperand) or tile.b.bits != 4:
                raise TypeError(f"tile.b must be a 4-bit AntOperand, not {type(tile.b).__name__}")
            return self.fp16a_golden(tile)
        for name, op in (("a", tile.a), ("b", tile.b)):
            if not isinstance(op, AntOperand) or op.bits != self.bits:
                raise TypeError(f"tile.{name} must be an AntOperand of {self.bits} bits, "
                                f"not {type(op).__name__}")
        if self.bits == 4:
            sa, ea, _ = decoder_tables(tile.a.type_name)
            sb, eb, _ = decoder_tables(tile.b.type_name)
            ca, cb = tile.a.codes.astype(np.intp), tile.b.codes.astype(np.intp)
            parts = [(sa[ca], sb[cb], ea[ca], eb[cb])]
        else:
            a = tile.a.codes.view(np.int8).astype(np.int64)
            b = tile.b.codes.view(np.int8).astype(np.int64)
            halves_a = {"hi": (a >> 4, 4), "lo": (a & 15, 0)}   # a = hi * 16 + lo
            halves_b = {"hi": (b >> 4, 4), "lo": (b & 15, 0)}
            parts = [(xa, xb, np.full_like(xa, sa_), np.full_like(xb, sb_))
                     for xa, sa_ in halves_a.values() for xb, sb_ in halves_b.values()]
        acc = np.zeros((tile.M, tile.N), dtype=np.int64)
        step = max(1, _TERMS_PER_CHUNK // max(1, tile.M * tile.N))
        for sig_a, sig_b, exp_a, exp_b in parts:     # one cycle per part in 8-bit mode
            for k0 in range(0, tile.K, step):        # K in chunks only to bound memory
                ks = slice(k0, k0 + step)
                terms = ((sig_a[:, ks, None] * sig_b[None, ks, :])
                         << (exp_a[:, ks, None] + exp_b[None, ks, :]))
                acc += terms.sum(axis=1)
        return acc.astype(np.int32)  # two's-complement wrap mod 2^32

    def events(self, tile: Tile) -> dict[str, int]:
        """Operation counts of one tile.

        ``mac4``: 4x4 multiply-shift-accumulates, ``passes * M*K*N``;
        ``decoder_values``: codes decoded at the array edge (4-bit mode only: every A and B
        code enters the array once per fold, ``K * (M + N)``; INT8 needs no decoder).
        """
        if self.weight_only:
            return self.fp16a_events(tile)
        decodes = tile.K * (tile.M + tile.N) if self.bits == 4 else 0
        return {"mac4": self.passes * tile.M * tile.K * tile.N, "decoder_values": decodes}

    def event_costs(self) -> dict[str, Cost | None]:
        """45 nm cost of one event of each kind (None: counted, not priced)."""
        if self.weight_only:
            return {"mac_fp16a": self.fp16a_pe_cost(), "decoder_values": self.decoder_cost()}
        return {"mac4": self.pe_cost(), "decoder_values": self.decoder_cost()}

    def pe_cost(self) -> Cost:
        """One PE's arithmetic at 45 nm: 4x4 multiplier, exponent adder, 32-bit accumulator
        adder (the shifter is unpriced: no anchor)."""
        return int_mult(4, 4) + int_add(EXP_ADD_BITS) + int_add(ACC_BITS)

    def decoder_cost(self) -> Cost:
        """One code decode at 45 nm, approximated as one 4-bit adder (the first-one detect
        and muxes of ANT's decoder have no anchor)."""
        return int_add(4)

    # ---- operands ------------------------------------------------------------------------
    def layer_operands(self, layer: Any) -> list[tuple[AntOperand, AntOperand]]:
        """One (A, B) pair of :class:`AntOperand` s per GEMM of ``layer``.

        4-bit: captured 4-bit ANT tensors of a linear or matmul layer are used as coded;
        anything else (seeded shape-only layers, INT8 captures) is encoded here per GEMM,
        A [M x K] and B^T [N x K] as floats with ``Ant(4, granularity="per_tensor")`` (type
        chosen by the format's MSE search). 8-bit: the layer's INT8 operands
        (``layer.operands()``) as two's complement codes.
        """
        if self.weight_only:
            return self.fp16a_operands(layer)
        if self.bits == 4:
            coded = self._captured_codes(layer)
            if coded is not None:
                return coded
        a, b = layer.operands()
        if self.bits == 8:
            return [(AntOperand(a[g].view(np.uint8), 8, "int"),
                     AntOperand(b[g].view(np.uint8), 8, "int")) for g in range(a.shape[0])]
        fmt = ant_fmt.Ant(4, granularity="per_tensor")
        out = []
        for g in range(a.shape[0]):
            ea = fmt.encode(a[g].astype(np.float32), name=f"{layer.name} A")
            eb = fmt.encode(np.ascontiguousarray(b[g].T).astype(np.float32),
                            name=f"{layer.name} B")
            out.append((AntOperand(ea.codes, 4, ea.meta["type"]),
                        AntOperand(np.ascontiguousarray(eb.codes.T), 4, eb.meta["type"])))
        return out

    def weight_values(self, b: AntOperand) -> np.ndarray:
        """Exact real values (float32) of 4-bit ANT weight codes: ``values() / 2^frac``."""
        return (b.values() / 2.0**b.frac).astype(np.float32)

    def encode_weights(self, b: np.ndarray, name: str) -> AntOperand:
        """Real weights ``b`` [K x N] as 4-bit ANT codes (per-tensor type by MSE, B^T
        encoded as the 4-bit mode does)."""
        eb = ant_fmt.Ant(4, granularity="per_tensor").encode(
            np.ascontiguousarray(b.T).astype(np.float32), name=name)
        return AntOperand(np.ascontiguousarray(eb.codes.T), 4, eb.meta["type"])

    def _captured_codes(self, layer: Any) -> list[tuple[AntOperand, AntOperand]] | None:
        b_enc = layer.act_b if layer.b_source == "activation" else layer.weight
        encs = (layer.act, b_enc)
        if any(e is None or e.meta.get("family") != ant_fmt.FAMILY
               or int(e.meta["bits"]) != 4 for e in encs) or layer.op == "conv2d":
            return None
        count, m, k, n = layer.gemm_shape()
        shape = tuple(layer.meta.get("batch_shape", ()))
        a_g = np.broadcast_to(layer.act.codes, shape + (m, k)).reshape(count, m, k)
        if layer.b_source == "weight":  # stored N x K
            b_g = np.broadcast_to(b_enc.codes, shape + (n, k)).reshape(count, n, k)
            b_g = np.swapaxes(b_g, 1, 2)
        else:
            b_g = np.broadcast_to(b_enc.codes, shape + (k, n)).reshape(count, k, n)
        return [(AntOperand(np.ascontiguousarray(a_g[g]), 4, layer.act.meta["type"]),
                 AntOperand(np.ascontiguousarray(b_g[g]), 4, b_enc.meta["type"]))
                for g in range(count)]
