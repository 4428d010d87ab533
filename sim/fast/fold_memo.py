"""Memos of the fast engine's closed forms (``sim/fast/closed_form.py``), per PE-array
object: each fold shape's events (from a shape-only tile) and each fold grid's compute
cycles. An array is found by its identity (holding it keeps its id from being reused), not
by hashing its fields, which cost a third of a fold's evaluation before (issue 17 item 6)."""

from __future__ import annotations

from operator import itemgetter
from types import MappingProxyType

import numpy as np

__all__ = ["ShapeTile", "shape_tile", "ArrayMemo", "memo_of", "fold_events", "clear_memos",
           "hold_one", "MAX_ENTRIES"]

#: memo entries (over every array) held before every memo is emptied: bounds memory on
#: long sweeps (each entry is a few hundred bytes)
MAX_ENTRIES = 1 << 17


class ShapeTile(tuple):
    """What a family's ``events()`` reads of a fold's tile when only its shape matters: a
    tuple (M, K, N) of Python ints (as ``Tile`` gives) with ``M``, ``K``, ``N`` and ``dims``
    (plus ``a`` / ``b`` as zero-stride int8 arrays and an empty ``meta``, built on demand, for
    an ``events()`` that reads them). Built with :func:`shape_tile` (no Python ``__init__``)."""

    __slots__ = ()
    M = property(itemgetter(0))  # noqa: N815 - GEMM notation
    K = property(itemgetter(1))  # noqa: N815
    N = property(itemgetter(2))  # noqa: N815
    meta = MappingProxyType({})

    @property
    def dims(self) -> dict[str, int]:
        return {"M": self[0], "K": self[1], "N": self[2]}

    @property
    def a(self) -> np.ndarray:
        return np.broadcast_to(np.int8(0), (self[0], self[1]))

    @property
    def b(self) -> np.ndarray:
        return np.broadcast_to(np.int8(0), (self[1], self[2]))


def shape_tile(shape: tuple[int, int, int]) -> ShapeTile:
    """The :class:`ShapeTile` of (M, K, N)."""
    return tuple.__new__(ShapeTile, map(int, shape))


class ArrayMemo:
    """What the closed forms memoize per array (one PE-array object): its events per fold
    shape (M, K, N) and its compute cycles per fold grid (``closed_form.gemm_cycles``)."""

    __slots__ = ("events", "cycles")

    def __init__(self) -> None:
        self.events: dict[tuple[int, int, int], dict[str, int]] = {}
        self.cycles: dict[tuple, int] = {}


#: id(array) -> (the array, its memo): holding the array keeps its id from being reused, so
#: an array is found without hashing its fields (a third of a fold's cost before)
_MEMOS: dict[int, tuple[object, ArrayMemo]] = {}


_held = 0


def hold_one() -> None:
    """Count one more memo entry; past :data:`MAX_ENTRIES`, forget every memo first."""
    global _held
    _held += 1
    if _held > MAX_ENTRIES:
        clear_memos()
        _held = 1


def memo_of(pe: object) -> ArrayMemo:
    """The memos of the array ``pe`` (this very object)."""
    hit = _MEMOS.get(id(pe))
    if hit is None:
        hold_one()
        hit = _MEMOS[id(pe)] = (pe, ArrayMemo())
    return hit[1]


def fold_events(pe: object, m: int, k: int, n: int) -> dict[str, int]:
    """The family's ``events()`` of one fold of this shape, memoized per array (shared: do
    not modify it)."""
    table = memo_of(pe).events
    key = (m, k, n)
    hit = table.get(key)
    if hit is None:
        hold_one()
        hit = table[key] = pe.events(shape_tile(key))
    return hit


def clear_memos() -> None:
    """Forget every array's memos."""
    global _held
    _MEMOS.clear()
    _held = 0
