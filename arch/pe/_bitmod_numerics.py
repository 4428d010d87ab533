"""Arithmetic stages of the BitMoD PE (private to ``arch/pe/bitmod.py``, whose docstring
numbers the stages and rounding points): the weight operand, the column-edge aligner, the
row-edge decoder's term tables, the bit-serial dequantizer and the two roundings. Golden, the
cycle model (``sim/reference/bitmod.py``) and the fast engine share these functions.

FP16 fields of a finite half ``x``: sign ``s``, biased exponent ``e`` (0..30) and fraction
``f``; here ``E = max(e, 1)`` and the 11-bit significand ``m = f + 1024 * (e > 0)``, so
``x = (-1)^s * m * 2^(E - 25)`` for normals and subnormals alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from qaccel.arch.pe.tile import CodedOperand
from qaccel.models.bitmod import FAMILY as FORMAT_FAMILY
from qaccel.models.bitmod import lut

__all__ = ["BitmodWeights", "DEQUANT_CYCLES", "fp16_fields", "align_activations",
           "weight_ints", "term_tables", "dequantize", "round_fp32", "to_fp16"]

#: FP16 significand bits (hidden bit included): the dequantizer's shift-add steps per group
DEQUANT_CYCLES = 11
#: X = Emax + Es - _EXP_OFFSET - F - wf: the two FP16 biases plus 10 fraction bits each
_EXP_OFFSET = 50


@dataclass(frozen=True, eq=False)
class BitmodWeights(CodedOperand):
    """BitMoD weights as the array sees them, K-major: ``codes`` uint8 [K x N], and per group
    of ``group_size`` rows of K a ``type_ids`` uint8 [G x N] and ``scales`` float32 [G x N]
    (FP16 values). Slicing ``w[k0:k1, n0:n1]`` keeps whole groups (``k0`` a multiple of the
    group size)."""

    type_ids: np.ndarray
    scales: np.ndarray
    bits: int
    group_size: int = 128

    def __post_init__(self) -> None:
        k, n = self.codes.shape
        want = (-(-k // self.group_size), n)
        for name in ("type_ids", "scales"):
            got = getattr(self, name).shape
            if got != want:
                raise ValueError(f"BitmodWeights {name} must have shape {want} for codes "
                                 f"{self.codes.shape}, not {got}")

    @property
    def groups(self) -> int:
        return int(self.type_ids.shape[0])

    def __getitem__(self, key: tuple[slice, slice]) -> BitmodWeights:
        ks, ns = key
        k0, k1, step = ks.indices(self.codes.shape[0])
        if k0 % self.group_size or step != 1:
            raise ValueError(f"K slice must start on a group boundary (a multiple of "
                             f"{self.group_size}) with step 1, not {ks}")
        g0, g1 = k0 // self.group_size, -(-k1 // self.group_size)
        return BitmodWeights(self.codes[k0:k1, ns], self.type_ids[g0:g1, ns],
                             self.scales[g0:g1, ns], self.bits, self.group_size)

    @classmethod
    def from_encoded(cls, enc: Any) -> BitmodWeights:
        """The array's view of a BitMoD Encoded 2-D weight [N x K] (as nn.Linear stores it)."""
        shape = list(enc.meta.get("shape", []))
        if enc.meta.get("family") != FORMAT_FAMILY or len(shape) != 2:
            raise ValueError(f"Cannot use Encoded {enc!r} as BitMoD weights because it is not "
                             f"a 2-D {FORMAT_FAMILY} tensor")
        n, k = shape
        codes = enc.codes.reshape(n, -1)[:, :k].T
        return cls(np.ascontiguousarray(codes),
                   np.ascontiguousarray(enc.extra["type_ids"][..., 0].T),
                   np.ascontiguousarray(enc.scales[..., 0].T),
                   int(enc.meta["bits"]), int(enc.meta["group_size"]))

    @classmethod
    def from_float(cls, b: np.ndarray, fmt: Any, name: str = "B") -> BitmodWeights:
        """Quantize real B [K x N] with ``fmt`` (a :class:`qaccel.models.bitmod.BitMoD`),
        groups along K."""
        return cls.from_encoded(fmt.encode(np.ascontiguousarray(np.asarray(b).T), name=name))


def fp16_fields(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sign 0/1, E = max(e, 1), 11-bit significand m) of float16 ``x``, as int64 arrays."""
    bits = np.asarray(x, dtype=np.float16).view(np.uint16).astype(np.int64)
    e = (bits >> 10) & 0x1F
    if np.any(e == 0x1F):
        raise ValueError("FP16 operands must be finite, not inf or NaN")
    frac = bits & 0x3FF
    return bits >> 15, np.maximum(e, 1), frac | ((e > 0).astype(np.int64) << 10)


def align_activations(a: np.ndarray, group_size: int,
                      guard_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Stage 1 (rounding point 1): float16 A [M x K] -> (signed aligned A int64 [M x K],
    group exponent Emax int64 [M x G]). ``A = (m << F) >> (Emax - E)``: truncation toward
    zero of the magnitude, ``|A| < 2^(11 + F)``."""
    m_rows, k = a.shape
    groups = -(-k // group_size)
    sign, e, sig = fp16_fields(a)
    e_pad = np.ones((m_rows, groups * group_size), dtype=np.int64)
    e_pad[:, :k] = e
    emax = e_pad.reshape(m_rows, groups, group_size).max(axis=2)
    shift = np.repeat(emax, group_size, axis=1)[:, :k] - e
    mag = (sig << guard_bits) >> np.minimum(shift, 62)
    return np.where(sign == 1, -mag, mag), emax


@cache
def weight_ints(bits: int) -> tuple[np.ndarray, int]:
    """(value table times 2^wf as int64 [type id, code], wf): the decoder's fixed-point view of
    the format's values (``models.bitmod.lut``); wf = 1 for FP4 (halves), 0 for FP3."""
    vals = lut(bits).astype(np.float64)
    wf = 0
    while np.any(vals * 2**wf != np.round(vals * 2**wf)):
        wf += 1
    ints = (vals * 2**wf).astype(np.int64)
    ints.setflags(write=False)
    return ints, wf


@cache
def term_tables(bits: int, cpw: int) -> tuple[np.ndarray, np.ndarray]:
    """Stage 2: (signs int8, shifts int8), each [type id, code, term]: value = sum over the
    ``cpw`` terms of sign * 2^shift, set bits of |value| most significant first, a zero term
    (sign 0) when fewer. ValueError if a value needs more than ``cpw`` terms."""
    ints, _ = weight_ints(bits)
    signs = np.zeros(ints.shape + (cpw,), dtype=np.int8)
    shifts = np.zeros(ints.shape + (cpw,), dtype=np.int8)
    for idx, v in np.ndenumerate(ints):
        ones = [b for b in range(int(abs(v)).bit_length() - 1, -1, -1) if abs(v) >> b & 1]
        if len(ones) > cpw:
            raise ValueError(f"weight value {v} (type {idx[0]}, code {idx[1]:#x}) needs "
                             f"{len(ones)} power-of-two terms, more than {cpw} cycles")
        for j, b in enumerate(ones):
            signs[idx + (j,)] = 1 if v > 0 else -1
            shifts[idx + (j,)] = b
    signs.setflags(write=False)
    shifts.setflags(write=False)
    return signs, shifts


def dequantize(s: np.ndarray, scale: np.ndarray, emax: np.ndarray, guard_bits: int,
               wf: int) -> tuple[np.ndarray, np.ndarray]:
    """Stage 4: group sums S int64 [M x N], the group's FP16 scales [N] and Emax [M] ->
    (P = S * ms exact int64, X int64 [M x N]) with value P * 2^X. The significand is applied
    one bit per cycle, most significant first: P <- 2P + S * bit (``DEQUANT_CYCLES`` steps)."""
    scale = np.asarray(scale, dtype=np.float32)
    s16 = scale.astype(np.float16)
    if not np.array_equal(s16.astype(np.float32), scale):
        raise ValueError("group scales must be FP16 values")
    s_sign, es, ms = fp16_fields(s16)
    p = np.zeros(np.shape(s), dtype=np.int64)
    for bit in range(DEQUANT_CYCLES - 1, -1, -1):
        p = 2 * p + s * ((ms >> bit) & 1)[None, :]
    p = np.where(s_sign[None, :] == 1, -p, p)
    x = emax[:, None] + es[None, :] - _EXP_OFFSET - guard_bits - wf
    return p, x


def round_fp32(p: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Rounding point 2: ``P * 2^X`` (|P| < 2^53) to float32, round to nearest, ties to
    even, done on the integer significand: keep the top 24 bits, round on the rest."""
    p, x = np.broadcast_arrays(np.asarray(p, dtype=np.int64), np.asarray(x, dtype=np.int64))
    mag = np.abs(p)
    nbits = np.frexp(mag.astype(np.float64))[1].astype(np.int64)   # bit length (0 for 0)
    shift = np.maximum(nbits - 24, 0)
    q = mag >> shift
    rem = mag - (q << shift)
    half = np.where(shift > 0, np.left_shift(1, np.maximum(shift - 1, 0)), 0)
    up = (shift > 0) & ((rem > half) | ((rem == half) & ((q & 1) == 1)))
    q = q + up
    exp = x + shift
    top = exp + np.frexp(q.astype(np.float64))[1]     # value < 2^top
    if np.any((q > 0) & ((top < -125) | (top > 128))):
        raise ValueError("dequantized group value out of the float32 normal range")
    return np.ldexp(np.where(p < 0, -q, q).astype(np.float64), exp).astype(np.float32)


def to_fp16(acc: np.ndarray) -> np.ndarray:
    """Rounding point 4: FP32 sums -> FP16 outputs (RNE, overflow to +-inf as IEEE)."""
    with np.errstate(over="ignore"):
        return np.asarray(acc, dtype=np.float32).astype(np.float16)
