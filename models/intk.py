"""INTk: k-bit integers (k = 2..8) per group or per channel, FP16 scales (DESIGN.md "Formats").

One :class:`IntK` object is one format: ``IntK(4, 128)`` is ``int4_g128`` (the AWQ / MixPE
weight format), ``IntK(4, None, symmetric=True)`` is ``int4_pc_sym`` (plain INT4, one scale
per output channel).

Grouping: groups of ``group_size`` consecutive elements along the last axis (K of an N x K
nn.Linear weight; flatten conv weights to Cout x Cin*kh*kw first). The last group of a row is
padded with zeros when ``group_size`` does not divide K. ``group_size=None`` is per channel:
one group spans the whole last axis, i.e. one scale per row.

Bit layout (the low k bits of each ``uint8`` code):

- asymmetric (default): ``q`` unsigned, 0..2^k-1; value ``(q - z) * s`` with a per-group zero
  point ``z`` in 0..2^k-1 (``extra["zero_points"]``, uint8).
- symmetric: ``q`` signed, -(2^(k-1)-1)..2^(k-1)-1 stored two's complement in k bits
  (int4 -1 -> ``0xf``); -2^(k-1) is never produced; value ``q * s``.

Scales (``s``, one per group, float16 values stored in the float32 ``scales`` array):

- asymmetric: the group's range is first widened to include 0 (``lo = min(min x, 0)``,
  ``hi = max(max x, 0)``), so 0 is exactly representable and ``z`` lies in the code range;
  ``s = fp16((hi - lo) / (2^k - 1))``, ``z = clip(round(-lo / s), 0, 2^k - 1)``. (AWQ and
  the BitMoD repository use the raw min/max; for groups that straddle 0, as weight groups do,
  that is the same thing. Theirs breaks down on all-positive groups, e.g. a constant group.)
- symmetric: ``s = fp16(max|x| / (2^(k-1) - 1))``.
- an all-zero group gets ``s = 1.0`` (and ``z = 0``); a nonzero scale that underflows float16
  gets the smallest half, 2^-24; a scale beyond float16 (range > 65504 per step) raises
  :class:`qaccel.ConfigError`.

Rounding: ``q = clip(round(x / s) + z, 0, 2^k - 1)`` (symmetric: ``clip(round(x / s), ...)``)
with ``x / s`` in float64 and round half to even, i.e. ties go to the even step count
``q - z``; clipping only happens where the scale was rounded down, and the clipped value is
still the nearest table entry. Decoding ``(q - z) * s`` is exact in float32 (11-bit scale
significand times an at most 9-bit integer).

Codes shape: per group ``x.shape[:-1] + (G, group_size)`` with ``scales`` (and zero points)
``x.shape[:-1] + (G, 1)``; per channel ``x.shape`` with ``scales`` ``x.shape[:-1] + (1,)``.
``meta["shape"]`` is the original shape, which :meth:`IntK.decode` returns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from qaccel.errors import ConfigError
from qaccel.models.encoded import Encoded
from qaccel.models.lazy import lazy_names
from qaccel.models.numerics import FormatConfig, as_real, fp16_scale, ungroup

#: the numba kernels, imported when an encoder first runs (qaccel.models.lazy)
group_ranges, intk_codes = lazy_names("qaccel.models.format_kernels", "group_ranges", "intk_codes")
flat, = lazy_names("qaccel.models.kernels", "flat")

__all__ = ["IntK", "FAMILY"]

FAMILY = "intk"
_NAME = re.compile(r"^int([2-8])_(?:g([1-9][0-9]*)|pc)(_sym)?$")


@dataclass(frozen=True)
class IntK(FormatConfig):
    """k-bit integer format; see the module docstring for layout, scales and rounding."""

    bits: int
    #: elements per group along the last axis; None = per channel (one group per row)
    group_size: int | None = 128
    symmetric: bool = False
    family: ClassVar[str] = FAMILY
    version: ClassVar[int] = 1

    def __post_init__(self) -> None:
        if isinstance(self.bits, bool) or not isinstance(self.bits, int) \
                or not 2 <= self.bits <= 8:
            raise ConfigError.single("intk bits", f"must be an int in 2..8, not {self.bits!r}")
        g = self.group_size
        if g is not None and (isinstance(g, bool) or not isinstance(g, int) or g < 1):
            raise ConfigError.single("intk group_size", f"must be a positive int or None "
                                     f"(per channel), not {g!r}")

    # -- naming -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """``int{k}_g{group}`` or ``int{k}_pc`` (per channel), ``_sym`` if symmetric."""
        gran = f"g{self.group_size}" if self.group_size else "pc"
        return f"int{self.bits}_{gran}{'_sym' if self.symmetric else ''}"

    NAME = property(lambda self: self.name)
    BITS = property(lambda self: self.bits)

    @classmethod
    def from_name(cls, name: str) -> IntK | None:
        """The format a canonical name spells (``int3_g64``, ``int4_pc_sym``), else None."""
        m = _NAME.match(name) if isinstance(name, str) else None
        if m is None:
            return None
        return cls(int(m[1]), int(m[2]) if m[2] else None, symmetric=bool(m[3]))

    @property
    def qmax(self) -> int:
        """Largest code value: 2^k - 1 (asymmetric) or 2^(k-1) - 1 (symmetric)."""
        return (1 << (self.bits - 1)) - 1 if self.symmetric else (1 << self.bits) - 1

    # -- the format ---------------------------------------------------------------------------
    def encode(self, x: np.ndarray, *, name: str = "tensor") -> Encoded:
        """Codes, FP16 scales and (asymmetric) zero points of ``x`` (at least 1-d)."""
        x = as_real(x, name, rows=True)
        shape = x.shape
        k = shape[-1]
        g = self.group_size or k
        rows, ng = x.size // k, -(-k // g)
        xk = flat(x)
        lo, hi, amax = (a.reshape(shape[:-1] + (ng, 1))
                        for a in group_ranges(xk, rows, k, g))
        if self.symmetric:
            scales = fp16_scale(amax / self.qmax, name, "max|x|")
            scales = np.where(amax == 0, np.float32(1.0), scales).astype(np.float32)
            zeros = np.zeros(scales.shape)
            extra: dict[str, np.ndarray] = {}
        else:
            lo, hi = np.minimum(lo, 0.0), np.maximum(hi, 0.0)
            scales = fp16_scale((hi - lo) / self.qmax, name)
            scales = np.where(hi == lo, np.float32(1.0), scales).astype(np.float32)
            zeros = np.clip(np.rint(-lo / scales.astype(np.float64)), 0, self.qmax)
            extra = {"zero_points": zeros.astype(np.uint8)}
        qmin = -self.qmax if self.symmetric else 0
        codes = intk_codes(xk, rows, k, g, scales.astype(np.float64).reshape(-1),
                           zeros.reshape(-1), qmin, self.qmax, (1 << self.bits) - 1)
        codes = codes.reshape(shape[:-1] + (ng, g))
        if self.group_size is None:  # per channel: codes keep the tensor's shape
            codes = codes.reshape(shape)
            scales = scales.reshape(shape[:-1] + (1,))
            extra = {k: v.reshape(shape[:-1] + (1,)) for k, v in extra.items()}
        return Encoded(codes, scales, self._meta(shape), extra)

    def _meta(self, shape: tuple[int, ...]) -> dict[str, Any]:
        return {"format": self.name, "family": FAMILY, "bits": self.bits,
                "granularity": "per_group" if self.group_size else "per_channel",
                "group_size": self.group_size, "symmetric": self.symmetric, "axis": -1,
                "shape": list(shape), "scale_dtype": "float16"}

    def decode(self, enc: Encoded) -> np.ndarray:
        """float32 ``(q - z) * s`` in the original shape (any INTk Encoded)."""
        return decode(enc)

    def values(self) -> np.ndarray:
        """The code values ``q`` as float32: 0..2^k-1 (asymmetric; value ``(q - z) * s``) or
        -(2^(k-1)-1)..2^(k-1)-1 (symmetric; value ``q * s``)."""
        lo = -self.qmax if self.symmetric else 0
        return np.arange(lo, self.qmax + 1, dtype=np.float32)

    def bits_per_weight(self, metadata_bits: int | None = None) -> float:
        """Storage per element (unit: bits): ``bits + metadata_bits / group_size``, the
        metadata defaulting to what this encoding stores (a 16-bit scale, plus a k-bit zero
        point if asymmetric); per channel the group is unknown, so it returns ``bits``."""
        if metadata_bits is None:
            metadata_bits = 16 + (0 if self.symmetric else self.bits)
        if self.group_size is None:
            return float(self.bits)
        return self.bits + metadata_bits / self.group_size


def signed_codes(enc: Encoded) -> np.ndarray:
    """The step counts ``q - z`` (int16) in the codes' layout."""
    meta = enc.meta
    if meta.get("family") != FAMILY:
        raise ValueError(f"Encoded family must be {FAMILY!r}, not {meta.get('family')!r}")
    bits = int(meta["bits"])
    c = enc.codes.astype(np.int16)
    if meta["symmetric"]:
        return np.where(c >= 1 << (bits - 1), c - (1 << bits), c).astype(np.int16)
    return (c - enc.extra["zero_points"].astype(np.int16)).astype(np.int16)


def decode(enc: Encoded) -> np.ndarray:
    """float32 values of any INTk Encoded, in ``meta["shape"]``."""
    vals = (signed_codes(enc).astype(np.float32) * enc.scales).astype(np.float32)
    shape = tuple(enc.meta["shape"])
    if enc.meta["group_size"] is None:
        return vals.reshape(shape)
    return ungroup(vals, shape)
