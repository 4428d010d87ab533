"""ANT: adaptive numeric types, one of int / flint / pot per tensor, chosen by MSE (DESIGN.md
"Formats"; Guo et al., MICRO 2022, github clevercool/ANT-Quantization).

Types for ``bits`` b (3..6; ``B = b - 1`` magnitude bits), in units of the scale:

- ``int``: two's complement -2^B..2^B-1 (int4: -8..7), the authors' ``int_value``.
- ``flint``: sign + B-bit flint magnitude (flint4: {0, .25, .5, .75, 1, 1.5, 2, 4}); the
  magnitude code is the entry's rank, which is ANT's first-one encoding (``0b01m`` =
  0.5 * (1 + m/2), ``0b10m`` = 1 + m/2, ``0b110`` = 2, ``0b111`` = 4 for flint4).
- ``pot``: sign + B-bit exponent code, magnitude 0 for code 0 and 2^(c-1) otherwise
  (pot4: {0, 1, 2, 4, ..., 64}).

Bit layout (low b bits of a ``uint8``): int two's complement; flint and pot sign-magnitude
(top bit the sign). Their -0 code is never produced. ``meta["type"]`` names the type.

Scale, as in the authors' quantizer: per output channel (``granularity="per_channel"``:
all elements sharing an index on axis 0) or per tensor; ``s = clip / max(table)`` (7, 4 or 64
for 4 bits) with ``clip = r * max|x|`` for the ratio ``r`` of ``clip_ratios`` that gives the
smallest squared error (default r = 0.75, 0.80, ..., 1.45: the authors' range at a fifth
of their resolution, 0.01, to keep per-channel searches fast; ties: the first ratio). The
type is the one whose summed best error over the tensor is smallest (ties: the first of
``types``). The search scores ``x / max|x|`` in float64 through
:class:`qaccel.models.search.Buckets`; the chosen scale is then rounded once to float32
(floor 2^-149, and small enough that every table value times it stays finite); an all-zero
channel gets scale 1.0.

Rounding: the nearest table entry to ``x / s`` (float64); a value exactly halfway goes to the
upper (more positive) entry, as in the authors' CUDA kernel (it keeps the last of equally
near entries of its ascending table).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from qaccel.errors import ConfigError
from qaccel.models.encoded import Encoded
from qaccel.models.lazy import lazy_names
from qaccel.models.numerics import F32_MAX, F32_TINY, FormatConfig, Grid, Tie, as_real

#: the numba kernels, imported when an encoder first runs (qaccel.models.lazy)
table_codes, = lazy_names("qaccel.models.format_kernels", "table_codes")
Lut, flat, row_absmax = lazy_names("qaccel.models.kernels", "Lut", "flat", "row_absmax")
Buckets, thresholds = lazy_names("qaccel.models.search", "Buckets", "thresholds")

__all__ = ["Ant", "FAMILY", "TYPES", "flint_magnitudes", "type_codes"]

FAMILY = "ant"
TYPES = ("int", "flint", "pot")
GRANULARITIES = ("per_channel", "per_tensor")
#: clip ratios searched by default: 0.75, 0.80, ..., 1.45 times max|x| (the authors step by
#: 0.01; per-channel queries cost rows x ratios binary searches)
DEFAULT_CLIP_RATIOS = tuple(i / 100 for i in range(75, 150, 5))


def flint_magnitudes(value_bits: int) -> list[float]:
    """The 2^B flint magnitudes, ascending (ANT's ``flint_value`` for B = value_bits >= 2):
    zero; exponent -k (k = 1..B-1) with B-1-k mantissa bits; exponent 0 with B-2 mantissa
    bits; exponent k (k = 1..B-2) with B-2-k mantissa bits; and 2^(B-1)."""
    b = value_bits
    mags = [0.0]
    for k in range(1, b):                         # negative exponents
        mant = b - 1 - k
        mags += [2.0 ** -k * (1 + j / 2 ** mant) for j in range(2 ** mant)]
    for k in range(0, b - 1):                     # exponent 0 .. B-2
        mant = b - 2 - k
        mags += [2.0 ** k * (1 + j / 2 ** mant) for j in range(2 ** mant)]
    mags.append(2.0 ** (b - 1))
    return sorted(mags)


def type_codes(bits: int, type_name: str) -> tuple[np.ndarray, np.ndarray]:
    """(codes, values): every code of a type that is produced, with its value (units of the
    scale), sorted by value."""
    b = bits - 1
    if type_name == "int":
        vals = np.arange(-(1 << b), 1 << b, dtype=np.float64)
        codes = (vals.astype(np.int64) & ((1 << bits) - 1)).astype(np.uint8)
        return codes, vals
    if type_name == "flint":
        mags = np.asarray(flint_magnitudes(b))
    else:
        mags = np.array([0.0] + [2.0 ** i for i in range((1 << b) - 1)])
    codes = np.concatenate([np.arange(1 << b)[:0:-1] | (1 << b), np.arange(1 << b)])
    vals = np.concatenate([-mags[:0:-1], mags])
    return codes.astype(np.uint8), vals


def code_values(bits: int, type_name: str) -> np.ndarray:
    """Value of every code 0..2^bits-1 (float64; the unused -0 code decodes to 0)."""
    out = np.zeros(1 << bits)
    codes, vals = type_codes(bits, type_name)
    out[codes] = vals
    return out


@dataclass(frozen=True)
class Ant(FormatConfig):
    """ANT with per-tensor type selection; see the module docstring."""

    bits: int = 4
    granularity: str = "per_channel"
    types: tuple[str, ...] = TYPES
    clip_ratios: tuple[float, ...] = field(default=DEFAULT_CLIP_RATIOS, repr=False)
    family: ClassVar[str] = FAMILY
    version: ClassVar[int] = 1

    def __post_init__(self) -> None:
        if isinstance(self.bits, bool) or self.bits not in (3, 4, 5, 6):
            raise ConfigError.single("ant bits", f"must be an int in 3..6, not {self.bits!r}")
        if self.granularity not in GRANULARITIES:
            raise ConfigError.single("ant granularity", f"must be one of "
                                     f"{', '.join(map(repr, GRANULARITIES))}, not "
                                     f"{self.granularity!r}")
        if not self.types or any(t not in TYPES for t in self.types):
            raise ConfigError.single("ant types", f"must be a non-empty subset of {TYPES}, "
                                     f"not {self.types!r}")
        if not self.clip_ratios or any(not 0 < r for r in self.clip_ratios):
            raise ConfigError.single("ant clip_ratios", f"must be positive numbers, not "
                                     f"{self.clip_ratios!r}")

    @property
    def name(self) -> str:
        """``ant4`` (per channel) or ``ant4_pt`` (per tensor); other type sets append them."""
        tail = "" if self.granularity == "per_channel" else "_pt"
        types = "" if tuple(self.types) == TYPES else "_" + "_".join(self.types)
        return f"ant{self.bits}{types}{tail}"

    NAME = property(lambda self: self.name)
    BITS = property(lambda self: self.bits)

    def values(self, type_name: str = "flint") -> np.ndarray:
        """The sorted value table of one type (units of the scale), float32."""
        return type_codes(self.bits, type_name)[1].astype(np.float32)

    def _reduce_axes(self, ndim: int) -> tuple[int, ...]:
        return tuple(range(1, ndim)) if self.granularity == "per_channel" else tuple(range(ndim))

    def _search(self, rows: Buckets, type_name: str) -> tuple[np.ndarray, np.ndarray]:
        """Best ratio and its squared error per row of ``rows`` (``x / max|x|`` per row)."""
        _, vals = type_codes(self.bits, type_name)
        top = float(vals.max())
        best_err = np.full(rows.rows, np.inf)
        best_r = np.ones(rows.rows)
        errs = rows.sq_errors(vals, np.array([r / top for r in self.clip_ratios]))
        for r, err in zip(self.clip_ratios, errs, strict=True):
            win = err < best_err
            best_err = np.where(win, err, best_err)
            best_r = np.where(win, r, best_r)
        return best_r, best_err

    def encode(self, x: np.ndarray, *, name: str = "tensor") -> Encoded:
        """Codes, per-channel (or per-tensor) float32 scales and the chosen type."""
        x = as_real(x, name)
        if self.granularity == "per_channel" and x.ndim == 0:
            raise ConfigError.single(name, f"must have at least one axis for per_channel "
                                     f"scales, not shape {x.shape}")
        xk = flat(x)
        axes = self._reduce_axes(x.ndim)
        keep = tuple(1 if a in axes else n for a, n in enumerate(x.shape))
        nrows = int(np.prod(keep)) if x.size else 0
        n = x.size // nrows if nrows else 0
        amax = row_absmax(xk, nrows, n).reshape(keep) if x.size else np.zeros(keep)
        row_max = amax.reshape(-1, 1)[:nrows]
        wanted = [thresholds(type_codes(self.bits, t)[1], r / type_codes(self.bits, t)[1].max())
                  for t in self.types for r in self.clip_ratios]
        u = Buckets.of(xk, nrows, row_max[:, 0], np.concatenate(wanted))
        best = None
        for type_name in self.types:
            ratios, errs = self._search(u, type_name)
            total = float(np.sum(errs * row_max[:, 0] ** 2))
            if best is None or total < best[0]:
                best = (total, type_name, ratios)
        _, type_name, ratios = best
        codes_of, vals = type_codes(self.bits, type_name)
        top, big = float(vals.max()), float(np.abs(vals).max())
        scale64 = ratios.reshape(keep) * amax / top
        scales = np.array(scale64, dtype=np.float32)
        scales = np.where(scales.astype(np.float64) * big > F32_MAX,
                          np.float32(F32_MAX / big), scales)
        scales = np.where(amax == 0, np.float32(1.0), np.maximum(scales, np.float32(F32_TINY)))
        scales = np.asarray(scales, dtype=np.float32)
        grid = Lut(Grid(vals, Tie.UPPER).mids, x.size)
        codes = table_codes(xk, nrows, n, scales.astype(np.float64).reshape(-1), codes_of,
                            *grid.args).reshape(x.shape)
        meta: dict[str, Any] = {"format": self.name, "family": FAMILY, "bits": self.bits,
                                "type": type_name, "granularity": self.granularity,
                                "axis": 0 if self.granularity == "per_channel" else None}
        return Encoded(codes, scales, meta)

    def decode(self, enc: Encoded) -> np.ndarray:
        return decode(enc)

    def bits_per_weight(self, metadata_bits: int | None = None) -> float:
        """Storage per element (unit: bits); per-channel scales are not counted (there is no
        group, so ``metadata_bits`` is ignored)."""
        return float(self.bits)


def decode(enc: Encoded) -> np.ndarray:
    """float32 values of any ANT Encoded: the type's value of each code times the scale,
    computed in float64 and rounded once."""
    if enc.meta.get("family") != FAMILY:
        raise ValueError(f"Encoded family must be {FAMILY!r}, not {enc.meta.get('family')!r}")
    table = code_values(int(enc.meta["bits"]), enc.meta["type"])
    return (table[enc.codes.astype(np.intp)] * enc.scales.astype(np.float64)).astype(np.float32)
