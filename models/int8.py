"""INT8: symmetric 8-bit integers -127..127 times a float32 scale (DESIGN.md "Formats").

- Values: ``q * scale`` with ``q`` in -127..127; -128 (code ``0x80``) is never produced, so the
  table is symmetric and negation never overflows.
- Scale: ``max|x| / 127`` (unit: the unit of ``x`` per integer step), computed in float64 and
  rounded once to float32 (stepped one float32 ulp down in the one case where ``127 * scale``
  would round past the float32 maximum, so every code decodes to a finite value).
- Granularity: one scale per output channel for weights (``per_channel``, axis 0 of an
  nn.Linear N x K or conv Cout x ... weight), one per tensor or one per token (row) for
  activations.
- An all-zero slice gets scale 1.0 (any positive scale would do; 1.0 decodes back to exact
  zeros and is visibly "unused"). A nonzero slice whose scale underflows float32 gets the
  smallest positive float32 (2**-149) instead of 0.
- Rounding: ``x / scale`` is computed in float64 and rounded to nearest, ties to even. For
  float32/float16 inputs this equals rounding the exact quotient: with 24-bit mantissas an
  exact quotient off a tie is more than 2**-48 relative away from it, float64 errs by at most
  2**-53. Results beyond +-127 saturate; that happens only when the scale was rounded (float32
  rounding, the float32-max step or the subnormal floor), and the saturated value is still the
  nearest table entry.
- Codes: the int8 value stored two's complement in a ``uint8`` array (-1 -> ``0xff``).

Bad input (NaN/Inf values, an unknown granularity, an axis out of range, a scale beyond
float32) raises :class:`qaccel.ConfigError` whose path is the ``name`` the caller passes,
e.g. ``layer encoder.layer.0.attention.self.query weight``.
"""

from __future__ import annotations

import enum

import numpy as np

from qaccel.errors import ConfigError
from qaccel.models.encoded import Encoded

__all__ = ["NAME", "BITS", "QMAX", "Granularity", "encode", "decode", "values", "to_int8",
           "check_finite"]

NAME = "int8"
BITS = 8
#: largest magnitude of a code value; -128 is unused
QMAX = 127
#: smallest positive float32 (subnormal), the floor of a nonzero scale
_SCALE_FLOOR = float(np.float32(2.0 ** -149))
_F32_MAX = float(np.finfo(np.float32).max)


class Granularity(enum.StrEnum):
    """Which elements share one scale."""

    PER_TENSOR = "per_tensor"    #: one scale for the whole tensor
    PER_CHANNEL = "per_channel"  #: one scale per index along ``axis`` (default 0: out channel)
    PER_TOKEN = "per_token"      #: one scale per row: all elements sharing every index except
    #: the one along ``axis`` (default -1: the feature axis), i.e. one scale per token


def check_finite(x: np.ndarray, name: str) -> None:
    """Raise ConfigError at ``name`` if ``x`` holds NaN or +-Inf values."""
    nan = int(np.count_nonzero(np.isnan(x)))
    inf = int(np.count_nonzero(np.isinf(x)))
    if nan or inf:
        parts = [f"{n} {what}" for n, what in ((nan, "NaN"), (inf, "Inf")) if n]
        noun = "value" if nan + inf == 1 else "values"
        raise ConfigError.single(name, f"must be finite, not {' and '.join(parts)} {noun}")


def _reduce_axes(ndim: int, granularity: Granularity, axis: int | None,
                 name: str) -> tuple[tuple[int, ...], int | None]:
    """The axes that share a scale, and the normalized ``axis`` recorded in meta."""
    if granularity is Granularity.PER_TENSOR:
        if axis is not None:
            raise ConfigError.single(f"{name} axis",
                                     f"must be None for per_tensor scales, not {axis!r}")
        return tuple(range(ndim)), None
    default = 0 if granularity is Granularity.PER_CHANNEL else -1
    axis = default if axis is None else axis
    if not isinstance(axis, int | np.integer) or not -ndim <= axis < ndim:
        raise ConfigError.single(f"{name} axis", f"must be an int in {-ndim}..{ndim - 1} for "
                                 f"a {ndim}-d tensor, not {axis!r}")
    axis = int(axis) % ndim
    if granularity is Granularity.PER_CHANNEL:
        return tuple(a for a in range(ndim) if a != axis), axis
    return (axis,), axis


def encode(x: np.ndarray, granularity: Granularity | str = "per_tensor",
           axis: int | None = None, *, name: str = "tensor") -> Encoded:
    """Quantize real values ``x`` to INT8 codes (uint8, two's complement) and float32 scales.

    ``scales`` keep every axis of ``x`` (size 1 where shared): per_tensor ``(1, ..., 1)``,
    per_channel on a N x K weight ``(N, 1)``, per_token on an M x K activation ``(M, 1)``.
    """
    try:
        gran = Granularity(granularity)
    except ValueError:
        allowed = ", ".join(repr(g.value) for g in Granularity)
        raise ConfigError.single(f"{name} granularity", f"must be one of {allowed}, "
                                 f"not {granularity!r}") from None
    x = np.asarray(x)
    if x.dtype.kind not in "fiu":
        raise ConfigError.single(name, f"must be a real-valued array, not dtype {x.dtype}")
    if gran is not Granularity.PER_TENSOR and x.ndim == 0:
        raise ConfigError.single(name, f"must have at least one axis for {gran.value} scales, "
                                 f"not shape {x.shape}")
    check_finite(x, name)
    axes, norm_axis = _reduce_axes(x.ndim, gran, axis, name)
    xf = x.astype(np.float64, copy=False)
    if x.size == 0:
        amax = np.zeros(tuple(1 if a in axes else n for a, n in enumerate(x.shape)))
    else:
        amax = np.max(np.abs(xf), axis=axes, keepdims=True)
    scale64 = amax / QMAX
    if np.any(scale64 > _F32_MAX):
        raise ConfigError.single(name, f"must have magnitudes at most {QMAX * _F32_MAX:.4g} "
                                 f"so the float32 scale is finite, not max {amax.max():.4g}")
    scales = np.array(scale64, dtype=np.float32)
    # keep 127 * scale within float32, so the largest code decodes to a finite value
    scales = np.where(scales.astype(np.float64) * QMAX > _F32_MAX,
                      np.nextafter(scales, np.float32(0)), scales)
    scales = np.where(amax == 0, np.float32(1.0), np.maximum(scales, np.float32(_SCALE_FLOOR)))
    scales = np.array(scales, dtype=np.float32)
    q = np.clip(np.rint(xf / scales.astype(np.float64)), -QMAX, QMAX)  # rint: half to even
    codes = np.asarray(q).astype(np.int8).view(np.uint8)
    meta = {"format": NAME, "bits": BITS, "granularity": gran.value, "axis": norm_axis}
    return Encoded(codes, scales, meta)


def _check_int8(enc: Encoded) -> None:
    if enc.meta.get("format") != NAME:
        raise ValueError(f"Encoded format must be {NAME!r}, not {enc.meta.get('format')!r}")


def to_int8(enc: Encoded) -> np.ndarray:
    """The signed values of the codes, as an int8 view (no copy)."""
    _check_int8(enc)
    return enc.codes.view(np.int8)


def decode(enc: Encoded) -> np.ndarray:
    """float32 values ``q * scale`` (the float32 product, rounded once)."""
    return (to_int8(enc).astype(np.float32) * enc.scales).astype(np.float32, copy=False)


def values() -> np.ndarray:
    """The value table in units of the scale: -127..127 as float32 (255 entries)."""
    return np.arange(-QMAX, QMAX + 1, dtype=np.float32)
