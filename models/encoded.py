"""The one container every quantization format returns: :class:`Encoded`.

``codes`` are what the hardware sees: an unsigned integer array of the smallest width that
holds the format's bits (``uint8`` for up to 8 bits, ``uint16`` up to 16). Signed integer
formats store their values two's complement in that width, so an INT8 value of -1 is the code
``0xff``. ``scales`` are float32 and broadcast against ``codes`` (their shape is spelled out by
each format and repeated in ``meta["granularity"]``). ``meta`` is JSON-serializable and names
at least the format (``meta["format"]``) and its width (``meta["bits"]``).

``extra`` holds any further per-group arrays a format needs besides one scale (BitMoD's type
ids, INTk's zero points): a dict from a name (letters, digits, ``_``) to an integer or float
array that broadcasts against ``codes`` like ``scales`` does. It is empty for INT8 and FP16.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Encoded", "code_dtype"]

_EXTRA_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def code_dtype(bits: int) -> np.dtype:
    """The smallest unsigned dtype that holds ``bits`` bits (1..16)."""
    if not 1 <= bits <= 16:
        raise ValueError(f"Code width must be 1..16 bits, not {bits!r}")
    return np.dtype(np.uint8) if bits <= 8 else np.dtype(np.uint16)


@dataclass(frozen=True, eq=False)
class Encoded:
    """Encoded tensor: integer ``codes``, float32 ``scales``, JSON-serializable ``meta``.

    ``decode`` lives with each format (``qaccel.models.int8.decode``) or goes through the
    registry (``qaccel.models.formats.decode``), which dispatches on ``meta["format"]``.
    """

    codes: np.ndarray
    scales: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    #: further per-group arrays by name (see the module docstring); usually empty
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        codes, scales = np.asarray(self.codes), np.asarray(self.scales)
        if codes.dtype.kind != "u":
            raise ValueError(f"Encoded codes must be an unsigned integer array, "
                             f"not dtype {codes.dtype}")
        if scales.dtype != np.float32:
            raise ValueError(f"Encoded scales must be float32, not dtype {scales.dtype}")
        try:
            np.broadcast_shapes(codes.shape, scales.shape)
        except ValueError:
            raise ValueError(f"Encoded scales of shape {scales.shape} must broadcast against "
                             f"codes of shape {codes.shape}") from None
        for key in ("format", "bits"):
            if key not in self.meta:
                raise ValueError(f"Encoded meta must name {key!r}, not {self.meta!r}")
        json.dumps(self.meta)  # raises TypeError if not JSON-serializable
        extra = {}
        for key, value in dict(self.extra).items():
            arr = np.asarray(value)
            if not isinstance(key, str) or not _EXTRA_KEY.match(key):
                raise ValueError(f"Encoded extra keys must be identifiers, not {key!r}")
            if arr.dtype.kind not in "uif":
                raise ValueError(f"Encoded extra[{key!r}] must be an integer or float array, "
                                 f"not dtype {arr.dtype}")
            try:
                np.broadcast_shapes(codes.shape, arr.shape)
            except ValueError:
                raise ValueError(f"Encoded extra[{key!r}] of shape {arr.shape} must "
                                 f"broadcast against codes of shape {codes.shape}") from None
            extra[key] = arr
        object.__setattr__(self, "codes", codes)
        object.__setattr__(self, "scales", scales)
        object.__setattr__(self, "extra", extra)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.codes.shape)

    @property
    def format(self) -> str:
        return str(self.meta["format"])

    @property
    def bits(self) -> int:
        return int(self.meta["bits"])

    def __repr__(self) -> str:
        extra = ", ".join(f"{k}={v!r}" for k, v in self.meta.items()
                          if k not in ("format", "bits"))
        arrays = "".join(f", {k} {v.dtype}{list(v.shape)}" for k, v in self.extra.items())
        return (f"Encoded({self.format}, {self.bits} bits, codes {self.codes.dtype}"
                f"{list(self.codes.shape)}, scales {list(self.scales.shape)}{arrays}"
                f"{', ' + extra if extra else ''})")
