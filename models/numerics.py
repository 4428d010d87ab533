"""Numerics shared by the quantization formats: nearest-entry search under a tie rule, FP16
scale rounding, grouping along the last axis, input checks.

Exactness. Encoders divide in float64 (``x / scale``) and then search the value table. For
float32 (or float16) ``x`` and a float32 scale the float64 quotient lands exactly on a
midpoint of two table entries only when the exact quotient does: the table entries are short
dyadic numbers, so an exact quotient off a midpoint is more than ``2**-48`` relative away
from it, while float64 errs by at most ``2**-53``. Tie rules therefore act on the exact
quotient.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, ClassVar

import numpy as np

from qaccel.errors import ConfigError
from qaccel.models.int8 import check_finite

__all__ = ["FormatConfig", "Tie", "Grid", "as_real", "group_view", "ungroup", "fp16_scale",
           "F16_MAX", "F16_TINY", "F32_MAX", "F32_TINY"]

F16_MAX = 65504.0
#: smallest positive float16 (subnormal), the floor of a nonzero FP16 scale
F16_TINY = 2.0 ** -24
F32_MAX = float(np.finfo(np.float32).max)
#: smallest positive float32 (subnormal), the floor of a nonzero float32 scale
F32_TINY = 2.0 ** -149


class FormatConfig:
    """Serialization shared by the format dataclasses (IntK, Ant, BitMoD, OliVe): a JSON dict
    ``{"family", "version", <fields>}`` (tuples as lists) and back."""

    family: ClassVar[str]
    version: ClassVar[int]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"family": self.family, "version": self.version}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            d[f.name] = list(v) if isinstance(v, tuple) else v
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Any:
        got = (d.get("family"), d.get("version"))
        if got != (cls.family, cls.version):
            raise ConfigError.single("format", f"must be family {cls.family!r} version "
                                     f"{cls.version}, not family {got[0]!r} version {got[1]!r}")
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(d) - names - {"family", "version"})
        if unknown:
            raise ConfigError.single(f"format {cls.family}", f"must have fields among "
                                     f"{', '.join(sorted(names))}, not {', '.join(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v
                      for k, v in d.items() if k in names})


class Tie(enum.StrEnum):
    """Where a value exactly halfway between two table entries goes."""

    LOWER = "lower"  #: to the lower (more negative) entry
    UPPER = "upper"  #: to the upper (more positive) entry
    AWAY = "away"    #: to the entry of larger magnitude (away from zero)


class Grid:
    """A sorted table of representable values and the exact nearest-entry search on it."""

    def __init__(self, table: np.ndarray | list[float], tie: Tie | str) -> None:
        t = np.asarray(table, dtype=np.float64)
        if t.ndim != 1 or t.size == 0 or np.any(np.diff(t) <= 0):
            raise ValueError(f"Grid table must be 1-d, non-empty and strictly increasing, "
                             f"not {t!r}")
        self.table = t
        self.tie = Tie(tie)
        #: midpoints of neighbouring entries (exact: entries are short dyadic numbers)
        self.mids = (t[1:] + t[:-1]) / 2

    def index(self, v: np.ndarray) -> np.ndarray:
        """Index of the nearest entry to each ``v`` (float64), ties by :attr:`tie`."""
        v = np.asarray(v, dtype=np.float64)
        if self.tie is Tie.LOWER:
            return np.searchsorted(self.mids, v, side="left")
        if self.tie is Tie.UPPER:
            return np.searchsorted(self.mids, v, side="right")
        return np.where(v < 0, np.searchsorted(self.mids, v, side="left"),
                        np.searchsorted(self.mids, v, side="right"))

    def nearest(self, v: np.ndarray) -> np.ndarray:
        """The nearest entries themselves (float64)."""
        return self.table[self.index(v)]

    def __repr__(self) -> str:
        return f"Grid({self.table.tolist()}, tie={self.tie.value!r})"


def as_real(x: np.ndarray, name: str, rows: bool = False) -> np.ndarray:
    """``x`` as a real-valued array with finite values (ConfigError at ``name`` otherwise);
    ``rows``: it must also have a non-empty last axis (formats that group along it)."""
    x = np.asarray(x)
    if x.dtype.kind not in "fiu":
        raise ConfigError.single(name, f"must be a real-valued array, not dtype {x.dtype}")
    if rows and (x.ndim == 0 or x.shape[-1] == 0):
        raise ConfigError.single(name, f"must have a non-empty last axis, not shape "
                                 f"{x.shape}")
    check_finite(x, name)
    return x


def group_view(x: np.ndarray, group_size: int) -> np.ndarray:
    """float64 ``x`` [..., K] as [..., G, group_size], G = ceil(K / group_size); the last
    group is padded with zeros."""
    x = np.asarray(x, dtype=np.float64)
    k = x.shape[-1]
    groups = max(1, -(-k // group_size))
    pad = groups * group_size - k
    if pad:
        x = np.concatenate([x, np.zeros(x.shape[:-1] + (pad,))], axis=-1)
    return x.reshape(x.shape[:-1] + (groups, group_size))


def ungroup(values: np.ndarray, shape: tuple[int, ...] | list[int]) -> np.ndarray:
    """Inverse of :func:`group_view`: [..., G, g] -> ``shape`` (padding dropped)."""
    shape = tuple(int(s) for s in shape)
    flat = values.reshape(values.shape[:-2] + (-1,))
    return flat[..., :shape[-1]].reshape(shape)


def fp16_scale(scale64: np.ndarray, name: str, what: str = "range") -> np.ndarray:
    """Round float64 scales once to float16, returned as float32 (exact).

    A nonzero scale that underflows float16 becomes :data:`F16_TINY` (its values then
    saturate); one that overflows raises ConfigError at ``name``.
    """
    s64 = np.asarray(scale64, dtype=np.float64)
    with np.errstate(over="ignore"):
        s16 = s64.astype(np.float16)
    if np.any(np.isinf(s16)):
        raise ConfigError.single(name, f"must have a {what} small enough for a finite "
                                 f"float16 scale (at most {F16_MAX:g} per step), not "
                                 f"{float(s64.max()):.4g} per step")
    s = s16.astype(np.float32)
    return np.where((s == 0) & (s64 > 0), np.float32(F16_TINY), s).astype(np.float32)
