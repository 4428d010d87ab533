"""The one container every quantization format returns: :class:`Encoded`.

``codes`` are what the hardware sees: an unsigned integer array of the smallest width that
holds the format's bits (``uint8`` for up to 8 bits, ``uint16`` up to 16). Signed integer
formats store their values two's complement in that width, so an INT8 value of -1 is the code
``0xff``. ``scales`` are float32 and broadcast against ``codes`` (their shape is spelled out by
each format and repeated in ``meta["granularity"]``). ``meta`` is JSON-serializable and names
at least the format (``meta["format"]``) and its width (``meta["bits"]``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Encoded", "code_dtype"]


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
        object.__setattr__(self, "codes", codes)
        object.__setattr__(self, "scales", scales)

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
        return (f"Encoded({self.format}, {self.bits} bits, codes {self.codes.dtype}"
                f"{list(self.codes.shape)}, scales {list(self.scales.shape)}"
                f"{', ' + extra if extra else ''})")
