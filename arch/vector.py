"""The vector unit: where the non-GEMM operators of a trace run (softmax, norms, activations,
rotary, residual adds, attention scale and mask; ``qaccel.models.trace.VECTOR_OPS``).

``lanes`` FP16 lanes, each with one adder and one multiplier per cycle. Every operator is
costed per element from the arithmetic one element takes (:data:`OP_ARITHMETIC`: FP16 adds
and multiplies, compares and subtractions counted as adds, a divide as a reciprocal multiply,
``exp`` / ``tanh`` / ``sigmoid`` as a second-order polynomial, 2 multiplies + 2 adds, after a
range-reduction table lookup). These counts are our own; no paper gives them for these PEs.

- **Cycles per element** (per lane): ``max(adds, mults)`` (the adder and the multiplier run in
  parallel), unless the spec's ``cycles_per_element`` sets a kind (unit: cycles per element
  per lane). An operator over ``M`` rows of ``N`` elements takes
  ``M * ceil(N / lanes) * cycles_per_element`` cycles (a row starts on a fresh lane group:
  reductions need the whole row).
- **Energy per element**: ``adds * E(fp16 add) + mults * E(fp16 mult)`` from the component
  anchors (Horowitz, ISSCC 2014, 45 nm: 0.4 and 1.1 pJ) scaled to the accelerator's node
  (``qaccel.arch.components``).

``schedule``: ``serial`` (default) or ``overlapped`` (:class:`VectorSchedule`).

Every family gets the same unit (it is no part of the PE family contract). A spec without a
``vector_unit`` section gets :func:`default_vector_unit`: as many lanes as the PE array has
columns (one result per array column per cycle), the table's cycles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from qaccel.arch.components import Cost, fp_add, fp_mult, scale_to
from qaccel.arch.fields import Check, IntIn, OneOf, spec_field

__all__ = ["OP_ARITHMETIC", "VectorUnit", "VectorSchedule", "default_vector_unit",
           "CyclesTable"]

#: vector op -> (FP16 adds, FP16 multiplies) per element (module docstring)
OP_ARITHMETIC: dict[str, tuple[int, int]] = {
    # max (compare), subtract max, exp (2 + 2), sum; normalize (reciprocal multiply)
    "softmax": (5, 3),
    # mean (add), subtract, square, variance (add); normalize, gamma multiplies, beta add
    "layernorm": (4, 3),
    # square, sum; normalize and gamma multiplies
    "rmsnorm": (1, 3),
    # tanh approximation: x^3 term (2 mult, 1 add), tanh (2 + 2), 0.5 x (1 + tanh): 1 + 2
    "gelu": (4, 6),
    # x * sigmoid(x): exp (2 + 2), 1 + e (add), reciprocal and product (2 mult)
    "silu": (3, 4),
    "mul": (0, 1),      # SwiGLU product
    "add": (1, 0),      # residual add
    # x * cos + rotate_half(x) * sin: 2 multiplies, 1 add
    "rotary": (1, 2),
    "scale": (0, 1),    # scores * 1/sqrt(d)
    "mask": (1, 0),     # scores + mask
}


class VectorSchedule(StrEnum):
    """When a vector op runs: ``serial`` (after the layer that produced its input, the array
    idle) or ``overlapped`` (an op whose traffic stays on chip runs while the next GEMM
    computes: its cycles hide under that GEMM's compute cycles, which consecutive vector ops
    share; ``sim.vector.overlap_rows``)."""

    SERIAL = "serial"
    OVERLAPPED = "overlapped"


def _default_cycles(vop: str) -> int:
    adds, mults = OP_ARITHMETIC[vop]
    return max(adds, mults, 1)


@dataclass(frozen=True)
class CyclesTable(Check):
    """A mapping of vector op -> cycles per element (unit: cycles per element per lane)."""

    def describe(self) -> str:
        return (f"a mapping of {', '.join(OP_ARITHMETIC)} to cycles per element (an int in "
                f"1..1024)")

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, dict) or not all(
                k in OP_ARITHMETIC and isinstance(v, int) and not isinstance(v, bool)
                and 1 <= v <= 1024 for k, v in value.items()):
            raise ValueError(self.describe())
        return tuple(sorted(value.items()))


@dataclass(frozen=True)
class VectorUnit:
    """The accelerator's vector unit (units in the names)."""

    lanes: int = spec_field(IntIn(1, 1 << 16), "lanes", "FP16 lanes, one element per lane "
                            "per cycle per pass (unit: lanes)")
    #: (op, cycles) overrides of the table's cycles per element, sorted by op
    cycles_per_element: tuple[tuple[str, int], ...] = spec_field(
        CyclesTable(), "cycles/element", "per op kind, overriding max(adds, mults) "
        "(unit: cycles per element per lane)", default=())
    schedule: VectorSchedule = spec_field(OneOf(VectorSchedule), "", "serial after the "
                                          "producing GEMM, or overlapped with the next GEMM",
                                          default=VectorSchedule.SERIAL)
    _cycles: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "schedule", VectorSchedule(self.schedule))
        table = {v: _default_cycles(v) for v in OP_ARITHMETIC}
        table.update(dict(self.cycles_per_element))
        object.__setattr__(self, "_cycles", MappingProxyType(table))

    def cycles(self, vop: str) -> int:
        """Cycles per element per lane of op ``vop`` (unit: cycles)."""
        return self._cycles[vop]

    def energy_pj_per_element(self, vop: str, node_nm: int) -> float:
        """Arithmetic energy of one element of ``vop`` at ``node_nm`` (unit: pJ)."""
        adds, mults = OP_ARITHMETIC[vop]
        cost = fp_add(16) * adds + fp_mult(16) * mults if adds or mults else Cost(0.0, 0.0)
        return scale_to(cost, node_nm).energy_pj

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"lanes": self.lanes}
        if self.cycles_per_element:
            out["cycles_per_element"] = dict(self.cycles_per_element)
        if self.schedule is not VectorSchedule.SERIAL:
            out["schedule"] = self.schedule.value
        return out


def default_vector_unit(pe: Any) -> VectorUnit:
    """The unit of a spec without ``vector_unit``: ``pe_array.cols`` lanes, table cycles."""
    return VectorUnit(lanes=int(pe.cols))
