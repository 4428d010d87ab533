"""FP16: IEEE 754 binary16 values (DESIGN.md "Formats"), the activation format of the BitMoD,
MixPE W4A16 and FP16 baseline PEs.

Bit layout of one ``uint16`` code: bit 15 sign, bits 14..10 biased exponent (bias 15), bits
9..0 mantissa; exponent 0 holds zero and the subnormals (``m * 2**-24``). The codes are
exactly ``x.astype(float16).view(uint16)``; ``-0.0`` keeps its own code ``0x8000``.

- Rounding: to nearest, ties to even (the IEEE default), straight from the input's own
  precision (NumPy converts float32 and float64 to float16 with one rounding).
- Range: magnitudes that round past the largest half (65504), i.e. ``|x| >= 65520``, would
  become infinities: they raise :class:`qaccel.ConfigError` instead, as do NaN and Inf
  inputs. Tiny values go subnormal or to (signed) zero like IEEE.
- ``scales`` is a float32 array of ones, one per tensor (shape ``(1,) * ndim``), so FP16 fits
  the same ``decode = value * scale`` contract as the integer formats.
"""

from __future__ import annotations

import numpy as np

from qaccel.errors import ConfigError
from qaccel.models.encoded import Encoded
from qaccel.models.numerics import as_real

__all__ = ["NAME", "BITS", "LIMIT", "encode", "decode", "values", "bits_per_weight"]

NAME = "fp16"
BITS = 16
#: the smallest magnitude that rounds to infinity in float16 (65504 + half an ulp of 32)
LIMIT = 65520.0


def encode(x: np.ndarray, *, name: str = "tensor") -> Encoded:
    """IEEE half codes (uint16) of ``x``; ConfigError at ``name`` for NaN/Inf/overflow."""
    x = as_real(x, name)
    if x.size and float(np.max(np.abs(x.astype(np.float64)))) >= LIMIT:
        raise ConfigError.single(name, f"must have magnitudes below {LIMIT:g} to fit "
                                 f"float16, not max {float(np.max(np.abs(x))):.4g}")
    if x.dtype.kind in "iu":
        x = x.astype(np.float64)
    codes = np.asarray(x.astype(np.float16)).view(np.uint16)
    scales = np.ones((1,) * x.ndim, dtype=np.float32)
    meta = {"format": NAME, "family": NAME, "bits": BITS, "granularity": "per_tensor"}
    return Encoded(codes, scales, meta)


def decode(enc: Encoded) -> np.ndarray:
    """float32 values of the half codes (exact: every half is a float32)."""
    if enc.meta.get("format") != NAME:
        raise ValueError(f"Encoded format must be {NAME!r}, not {enc.meta.get('format')!r}")
    return (enc.codes.view(np.float16).astype(np.float32) * enc.scales).astype(np.float32)


def values() -> np.ndarray:
    """Every finite half value, ascending, as float32 (63,487 entries; one zero)."""
    codes = np.arange(0, 0x7C00, dtype=np.uint16)  # +0 .. largest finite
    pos = codes.view(np.float16).astype(np.float32)
    return np.concatenate([-pos[:0:-1], pos])


def bits_per_weight(metadata_bits: int | None = None) -> float:
    """Storage per element (unit: bits): 16, no metadata (``metadata_bits`` is ignored)."""
    return float(BITS)
