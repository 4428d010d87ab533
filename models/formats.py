"""The quantization-format registry: format name -> module.

A format module exposes ``NAME``, ``BITS``, ``encode(x, ...) -> Encoded``,
``decode(Encoded) -> float32 ndarray`` and ``values()`` (its table, in units of the scale).
Adding a format is one module plus one line in :data:`FORMATS`.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from qaccel.errors import ConfigError
from qaccel.models import int8
from qaccel.models.encoded import Encoded

__all__ = ["FORMATS", "get_format", "decode"]

FORMATS: dict[str, ModuleType] = {
    "int8": int8,
}


def get_format(name: str, path: str = "format") -> ModuleType:
    """The module of format ``name``; ConfigError at ``path`` if there is none."""
    try:
        return FORMATS[name]
    except (KeyError, TypeError):
        raise ConfigError.single(path, f"must be one of {', '.join(map(repr, FORMATS))}, "
                                 f"not {name!r}") from None


def decode(enc: Encoded) -> np.ndarray:
    """Decode ``enc`` with the format its ``meta["format"]`` names."""
    return get_format(enc.meta.get("format"), "Encoded.meta['format']").decode(enc)
