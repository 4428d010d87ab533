"""``systolic_int8``: an R x C systolic array of INT8 x INT8 -> INT32 MAC PEs.

Levels (same file stem in each layer package): golden and timing here,
``sim/reference/systolic_int8.py`` (loops over folds), ``sim/fast/systolic_int8.py``
(closed form + BLAS), ``rtl/pe/systolic_int8.py`` (Amaranth).

Mapping and fold timing follow SCALE-Sim v3 (DESIGN.md "PE families"):

=========  ============  ============  ========  ======================
dataflow   array rows    array cols    streamed  cycles of one fold
=========  ============  ============  ========  ======================
ws         K (weights)   N             M         2R + C + M - 2
os         M (outputs)   N             K         R + C + K - 2
is         K (inputs)    M             N         2R + C + N - 2
=========  ============  ============  ========  ======================

A fold costs the full array's fill/drain even when the tile occupies part of it, as in
SCALE-Sim. ``ws`` and ``is`` spend R cycles preloading the stationary operand, then the
streamed operand enters skewed: the last result leaves ``S + R + C - 2`` cycles after the
stream starts. The counts here are *counts* of cycles; SCALE-Sim prints the 0-based index of
the last cycle of a layer, i.e. our layer total minus 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qaccel.arch.components import Cost, int_add, int_mult
from qaccel.arch.pe._systolic import MAPPING, SystolicArray
from qaccel.arch.pe.registry import register_pe
from qaccel.arch.pe.tile import Tile

__all__ = ["SystolicInt8", "MAPPING"]


@register_pe("systolic_int8")
@dataclass(frozen=True)
class SystolicInt8(SystolicArray):
    """R x C INT8 MAC array (INT32 accumulators), weight/output/input stationary."""

    fmt = "int8"
    default_family = True
    #: operand widths (unit: bits): activation, weight, accumulator/output
    a_bits = 8
    b_bits = 8
    acc_bits = 32

    @property
    def weight_format_name(self) -> str:
        """The ``models.formats`` name of this array's weights."""
        return "int8"

    # ---- the four levels -----------------------------------------------------------------
    def golden(self, tile: Tile) -> np.ndarray:
        """Bit-exact INT32 result of one tile: sum of int8 x int8 products, wrapping mod 2^32.

        The hardware's 32-bit accumulators wrap; addition mod 2^32 is associative, so the
        exact int64 sum reduced to int32 is the hardware result whatever the order.
        """
        self.check_tile(tile)
        for name, op in (("a", tile.a), ("b", tile.b)):
            if op.dtype != np.int8:
                raise TypeError(f"tile.{name} must be an int8 array, not {op.dtype}")
        exact = tile.a.astype(np.int64) @ tile.b.astype(np.int64)
        return exact.astype(np.int32)  # two's-complement wrap (numpy casts modulo 2^32)

    def events(self, tile: Tile) -> dict[str, int]:
        """Operation counts of one tile, priced by the energy model.

        ``mac_int8``: useful multiply-accumulates (the engines add ``pe_cycles`` and
        ``array_cycles``, unpriced).
        """
        return {"mac_int8": tile.M * tile.K * tile.N}

    def event_costs(self) -> dict[str, Cost | None]:
        """45 nm cost of one event of each kind :meth:`events` counts (None: not priced).

        A MAC is an 8x8 multiplier plus a ``acc_bits`` accumulator adder (Horowitz anchors).
        PE/array cycles are counted for reporting; register and clock energy have no anchor.
        """
        return {"mac_int8": self.pe_cost()}

    def pe_cost(self) -> Cost:
        """One PE's arithmetic at 45 nm: int8 x int8 multiplier + int32 adder."""
        return int_mult(self.a_bits, self.b_bits) + int_add(self.acc_bits)
