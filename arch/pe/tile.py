"""A tile: the unit of work one RUN of a PE array computes (DESIGN.md "RTL contract")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Tile", "CodedOperand"]


@dataclass(frozen=True)
class Tile:
    """``out[M x N] = a[M x K] . b[K x N]`` on signed integer operand values.

    ``a`` is the activation block, ``b`` the weight block (already transposed to K x N).
    ``meta`` carries what a family needs beyond the two operands (group scales, type ids...).
    """

    a: np.ndarray
    b: np.ndarray
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.a.ndim != 2 or self.b.ndim != 2 or self.a.shape[1] != self.b.shape[0]:
            raise ValueError(f"Cannot form a tile because the operand shapes "
                             f"{self.a.shape} and {self.b.shape} do not chain (M x K . K x N)")

    @property
    def M(self) -> int:  # noqa: N802 - GEMM notation
        return int(self.a.shape[0])

    @property
    def K(self) -> int:  # noqa: N802
        return int(self.a.shape[1])

    @property
    def N(self) -> int:  # noqa: N802
        return int(self.b.shape[1])

    @property
    def dims(self) -> dict[str, int]:
        return {"M": self.M, "K": self.K, "N": self.N}


@dataclass(frozen=True, eq=False)
class CodedOperand:
    """Base of a family's operand wrapper: a 2-D ``codes`` array plus whatever metadata the
    family's PEs see. The reference fold loop cuts tiles with ``op[m0:m1, k0:k1]`` (each
    subclass defines ``__getitem__``) and reads ``.shape`` and ``.ndim``, given here."""

    codes: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.codes.shape

    @property
    def ndim(self) -> int:
        return 2
