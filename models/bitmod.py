"""BitMoD: per-group mixture of FP4 / FP3 data types with one special value each (DESIGN.md
"Formats"; Chen et al., HPCA 2025, github abdelfattah-lab/BitMoD-HPCA-25).

Every group of ``group_size`` (default 128) consecutive weights along K (the last axis; the
last group zero-padded) picks one of four types by the lowest squared error, stored as a
2-bit type id, and one scale.

Types (values in units of the scale; the same tables as the authors' ``FP4_ER_POS`` ...
``FP3_EA_NEG``, whose FP4 entries are twice these):

====  ==========  ==========================================  =============
id    name        FP4 (bits=4)                                FP3 (bits=3)
====  ==========  ==========================================  =============
0     ``er_pos``  +-{0, .5, 1, 1.5, 2, 3, 4, 6} and **+5**    +-{0, 1, 2, 4} and **+3**
1     ``er_neg``  ... and **-5**                               ... and **-3**
2     ``ea_pos``  ... and **+8**                               ... and **+6**
3     ``ea_neg``  ... and **-8**                               ... and **-6**
====  ==========  ==========================================  =============

("er": extra resolution, "ea": extra asymmetry.) Bit layout of a code (low ``bits`` bits of a
``uint8``): the top bit is the sign, the rest index the magnitudes in order: FP4 E2M1, bits
2..1 exponent ``e`` and bit 0 mantissa ``m``, magnitude ``m/2`` if ``e == 0`` else
``2^(e-1) * (1 + m/2)``; FP3 E2M0, bits 1..0 exponent, magnitude 0 if ``e == 0`` else
``2^(e-1)``. The redundant -0 code (``0b1000`` / ``0b100``) carries the type's special value.

Per group, for each type ``t``: ``s_t = fp16(clamp(max|w| / max|value of t|, 1e-5, 1e4))``
(max|value| = 6 or 8 for FP4, 4 or 6 for FP3; the authors' quantizer works in FP16 and clamps
likewise), every weight goes to the nearest entry of ``t`` (a weight exactly halfway goes to
the lower, more negative entry, as the authors' ``mid_value`` comparisons do), and the type
with the smallest sum of squared errors wins (ties: the lowest id, the authors' order). The
quotient ``w / s_t`` and the errors are computed in float64 (the authors compute in FP16; the
choice can differ from theirs only on near-ties). The clamp makes all-zero groups scale 1e-5
(codes 0, type 0) and saturates groups whose max|w| exceeds 1e4 times the largest value.

Arrays: ``codes`` ``x.shape[:-1] + (G, group_size)`` uint8; ``scales`` ``x.shape[:-1] + (G, 1)``
float32 holding float16 values; ``extra["type_ids"]`` the same shape, uint8 0..3.

Bits per weight: ``bits + metadata_bits / group_size``. The authors' simulator charges 8
metadata bits per group (4.0625 / 3.0625); a 2-bit type id plus an 8-bit scale is 10 bits
(4.078 / 3.078); this encoding stores a 16-bit scale and the id, 18 bits (4.14 / 3.14).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from qaccel.errors import ConfigError
from qaccel.models.encoded import Encoded
from qaccel.models.lazy import lazy_names
from qaccel.models.numerics import FormatConfig, Grid, Tie, as_real, ungroup

#: the numba kernels, imported when an encoder first runs (qaccel.models.lazy)
bitmod_groups, group_ranges = lazy_names(
    "qaccel.models.format_kernels", "bitmod_groups", "group_ranges")
flat, = lazy_names("qaccel.models.kernels", "flat")

__all__ = ["BitMoD", "FAMILY", "TYPE_NAMES", "SCALE_MIN", "SCALE_MAX",
           "AUTHORS_METADATA_BITS", "STORED_METADATA_BITS"]

FAMILY = "bitmod"
TYPE_NAMES = ("er_pos", "er_neg", "ea_pos", "ea_neg")
#: magnitudes by code (low bits); index = code without the sign bit
MAGNITUDES = {4: (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0), 3: (0.0, 1.0, 2.0, 4.0)}
#: the special value on the -0 code, by type id
SPECIALS = {4: (5.0, -5.0, 8.0, -8.0), 3: (3.0, -3.0, 6.0, -6.0)}
#: scale clamp of the authors' quantizer (in float16: 1.0014e-5 and 10000 exactly)
SCALE_MIN = float(np.float16(1e-5))
SCALE_MAX = 1e4
#: metadata bits per group the authors' simulator charges
AUTHORS_METADATA_BITS = 8
#: metadata bits per group this encoding stores: a float16 scale and a 2-bit type id
STORED_METADATA_BITS = 16 + 2


def code_values(bits: int, type_id: int) -> np.ndarray:
    """Value (units of the scale) of every code 0..2^bits-1 of one type (float64)."""
    half = 1 << (bits - 1)
    mags = np.asarray(MAGNITUDES[bits])
    vals = np.concatenate([mags, -mags])
    vals[half] = SPECIALS[bits][type_id]  # the -0 code
    return vals


@dataclass(frozen=True)
class BitMoD(FormatConfig):
    """BitMoD FP4 (``bits=4``) or FP3 (``bits=3``) with groups of ``group_size`` along K."""

    bits: int = 4
    group_size: int = 128
    family: ClassVar[str] = FAMILY
    version: ClassVar[int] = 1

    def __post_init__(self) -> None:
        if self.bits not in (3, 4) or isinstance(self.bits, bool):
            raise ConfigError.single("bitmod bits", f"must be 3 or 4, not {self.bits!r}")
        g = self.group_size
        if isinstance(g, bool) or not isinstance(g, int) or g < 1:
            raise ConfigError.single("bitmod group_size", f"must be a positive int, not {g!r}")
        object.__setattr__(self, "_grids", tuple(self._grid(t) for t in range(4)))

    def _grid(self, type_id: int) -> tuple[Grid, np.ndarray]:
        vals = code_values(self.bits, type_id)
        order = np.argsort(vals, kind="stable")
        return Grid(vals[order], Tie.LOWER), order.astype(np.uint8)

    @property
    def name(self) -> str:
        """``bitmod_fp4`` / ``bitmod_fp3`` (``_g{group}`` appended if not 128)."""
        tail = "" if self.group_size == 128 else f"_g{self.group_size}"
        return f"bitmod_fp{self.bits}{tail}"

    NAME = property(lambda self: self.name)
    BITS = property(lambda self: self.bits)

    def values(self, type_id: int = 0) -> np.ndarray:
        """The sorted value table of one type (units of the scale), float32."""
        return self._grids[type_id][0].table.astype(np.float32)

    def max_value(self, type_id: int) -> float:
        """Largest magnitude of a type: what max|w| maps to."""
        return float(np.max(np.abs(code_values(self.bits, type_id))))

    def encode(self, x: np.ndarray, *, name: str = "tensor") -> Encoded:
        """Codes, FP16 scales and type ids of ``x`` (at least 1-d, groups along the last axis)."""
        x = as_real(x, name, rows=True)
        shape = x.shape
        g, k = self.group_size, shape[-1]
        rows, ng = x.size // k, -(-k // g)
        xk = flat(x)
        amax = group_ranges(xk, rows, k, g)[2].reshape(shape[:-1] + (ng, 1))
        scales = np.stack([candidate_scale(amax, self.max_value(t)) for t in range(4)], -1)
        codes, ids = bitmod_groups(xk, rows, k, g, scales.reshape(-1, 4).astype(np.float64),
                                   np.stack([grid.table for grid, _ in self._grids]),
                                   np.stack([order for _, order in self._grids]),
                                   np.stack([grid.mids for grid, _ in self._grids]))
        codes = codes.reshape(shape[:-1] + (ng, g))
        type_ids = ids.reshape(amax.shape)
        scales = np.take_along_axis(scales, type_ids[..., None].astype(np.intp), -1)[..., 0]
        meta: dict[str, Any] = {"format": self.name, "family": FAMILY, "bits": self.bits,
                                "granularity": "per_group", "group_size": self.group_size,
                                "axis": -1, "shape": list(shape), "scale_dtype": "float16",
                                "types": list(TYPE_NAMES)}
        return Encoded(codes, scales.astype(np.float32), meta, {"type_ids": type_ids})

    def decode(self, enc: Encoded) -> np.ndarray:
        return decode(enc)

    def bits_per_weight(self, metadata_bits: int | None = None) -> float:
        """``bits + metadata_bits / group_size`` (unit: bits per weight). None: what this
        encoding stores (16-bit scale + 2-bit type id = 18, so 4.14 / 3.14);
        :data:`AUTHORS_METADATA_BITS` (8, the authors' charge) gives 4.0625 / 3.0625; 10
        (2-bit id + 8-bit scale) gives 4.078 / 3.078."""
        if metadata_bits is None:
            metadata_bits = STORED_METADATA_BITS
        return self.bits + metadata_bits / self.group_size


def candidate_scale(amax: np.ndarray, max_value: float) -> np.ndarray:
    """``fp16(clamp(amax / max_value, 1e-5, 1e4))`` as float32 (exact half values)."""
    s = np.clip(np.asarray(amax, np.float64) / max_value, SCALE_MIN, SCALE_MAX)
    return s.astype(np.float16).astype(np.float32)


def lut(bits: int) -> np.ndarray:
    """Decode table [type id, code] -> value (units of the scale), float32."""
    return np.stack([code_values(bits, t) for t in range(4)]).astype(np.float32)


def decode(enc: Encoded) -> np.ndarray:
    """float32 values of any BitMoD Encoded (exact: table value times a float16 scale)."""
    if enc.meta.get("family") != FAMILY:
        raise ValueError(f"Encoded family must be {FAMILY!r}, not {enc.meta.get('family')!r}")
    table = lut(int(enc.meta["bits"]))
    vals = table[enc.extra["type_ids"].astype(np.intp), enc.codes.astype(np.intp)]
    return ungroup((vals * enc.scales).astype(np.float32), enc.meta["shape"])
