"""What one GEMM costs, as one typed object both engines return and every reader shares.

:class:`GemmCounts` replaces the old string-keyed count dicts (``ev_`` prefixes, ``_A/_B/_O``
suffixes): traffic is an :class:`OperandBits` per kind (A: input buffer, B: weight buffer,
O: output buffer), events are an :class:`Events` mapping of the family's event names (the
names its ``event_costs()`` prices). Units are in the names: ``_bits``, ``_cycles``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["OperandBits", "Events", "GemmCounts", "CYCLE_EVENTS", "operand_bits",
           "gemm_counts_of", "events_of"]

#: events every family gets from the engines (clocked PE-cycles and array cycles; unpriced)
CYCLE_EVENTS = ("pe_cycles", "array_cycles")


@dataclass(frozen=True)
class OperandBits:
    """Bits of one kind of traffic per operand: ``A`` (activations, input buffer), ``B``
    (weights, weight buffer), ``O`` (outputs / partial sums, output buffer)."""

    A: int = 0  # noqa: N815 - operand names
    B: int = 0  # noqa: N815
    O: int = 0  # noqa: N815, E741

    @property
    def total(self) -> int:
        return self.A + self.B + self.O

    def __add__(self, other: OperandBits) -> OperandBits:
        return operand_bits(self.A + other.A, self.B + other.B, self.O + other.O)

    def __mul__(self, k: int) -> OperandBits:
        return operand_bits(self.A * k, self.B * k, self.O * k)

    def get(self, op: str) -> int:
        return getattr(self, op)

    def plus(self, op: str, bits: int) -> OperandBits:
        """A copy with ``bits`` more on operand ``op``."""
        return replace(self, **{op: getattr(self, op) + bits})


class Events(Mapping[str, int]):
    """Immutable event counts (family event name -> count) that add and scale."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, int] | None = None) -> None:
        self._data = dict(data or {})

    def __getitem__(self, key: str) -> int:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __add__(self, other: Mapping[str, int]) -> Events:
        out = dict(self._data)
        for k, v in other.items():
            out[k] = out.get(k, 0) + v
        return events_of(out)

    def __mul__(self, k: int) -> Events:
        return events_of({name: v * k for name, v in self._data.items()})

    def items(self) -> Any:
        """(name, count) pairs (the plain dict's view: iterating it is fast)."""
        return self._data.items()

    def to_dict(self) -> dict[str, int]:
        """A new plain dict of the counts."""
        return dict(self._data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self) == dict(other)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._data.items())))

    def __repr__(self) -> str:
        return f"Events({self._data!r})"


@dataclass(frozen=True)
class GemmCounts:
    """Cycles, traffic and events of one GEMM (or, scaled, of a layer of them).

    ``compute_cycles``: the folds' cycles without memory stalls; ``prologue_bits``: DRAM bits
    the first fold reads before it starts; ``epilogue_bits``: DRAM bits the last fold writes
    after it ends (both for one GEMM, never scaled). SRAM counts include the DRAM fills
    (writes) and write-backs (reads).
    """

    folds: int = 0
    compute_cycles: int = 0
    prologue_bits: int = 0
    epilogue_bits: int = 0
    dram_rd: OperandBits = field(default_factory=OperandBits)
    dram_wr: OperandBits = field(default_factory=OperandBits)
    sram_rd: OperandBits = field(default_factory=OperandBits)
    sram_wr: OperandBits = field(default_factory=OperandBits)
    events: Events = field(default_factory=Events)

    @property
    def dram_bits(self) -> int:
        return self.dram_rd.total + self.dram_wr.total

    def scaled(self, k: int) -> GemmCounts:
        """``k`` independent GEMMs of this shape (prologue/epilogue stay one GEMM's); ``self``
        when ``k`` is 1 (immutable)."""
        if k == 1:
            return self
        return gemm_counts_of(self.folds * k, self.compute_cycles * k, self.prologue_bits,
                              self.epilogue_bits, self.dram_rd * k, self.dram_wr * k,
                              self.sram_rd * k, self.sram_wr * k, self.events * k)


# Fast constructors for the closed forms' hot path: the same frozen objects as the classes'
# own constructors build (equal, same repr), without the generated ``__init__``'s per-field
# ``object.__setattr__`` calls (a third of a distinct layer's cost before, issue 17 item 6).
_new = object.__new__


def operand_bits(a: int, b: int, o: int) -> OperandBits:
    """``OperandBits(a, b, o)`` (unit: bits), built without the dataclass ``__init__``."""
    out = _new(OperandBits)
    d = out.__dict__
    d["A"], d["B"], d["O"] = a, b, o
    return out


def events_of(data: dict[str, int]) -> Events:
    """``Events(data)`` taking ``data`` itself (not a copy): the caller must not modify it."""
    out = _new(Events)
    out._data = data
    return out


def gemm_counts_of(folds: int, compute_cycles: int, prologue_bits: int, epilogue_bits: int,
                   dram_rd: OperandBits, dram_wr: OperandBits, sram_rd: OperandBits,
                   sram_wr: OperandBits, events: Events) -> GemmCounts:
    """``GemmCounts(...)`` of these fields (positional, in field order), built without the
    dataclass ``__init__``."""
    out = _new(GemmCounts)
    d = out.__dict__
    d["folds"], d["compute_cycles"] = folds, compute_cycles
    d["prologue_bits"], d["epilogue_bits"] = prologue_bits, epilogue_bits
    d["dram_rd"], d["dram_wr"], d["sram_rd"], d["sram_wr"] = dram_rd, dram_wr, sram_rd, sram_wr
    d["events"] = events
    return out
