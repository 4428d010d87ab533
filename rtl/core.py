"""The plug-in boundary between the generic array controller and a family's array core.

A family's RTL (``rtl/pe/<family>.py``) builds an *array core*: a
:class:`amaranth.lib.wiring.Component` whose signature is :func:`core_signature` of a
:class:`CoreSpec`. :class:`qaccel.rtl.controller.ArrayTop` wraps any such core with the tile
buffers, the LOAD / RUN / DRAIN streams and the cycle counter, so one cocotb driver and
monitor serve every family (DESIGN.md "RTL contract").

Core schedule (what the controller guarantees, what the core must do)
----------------------------------------------------------------------
* **Preload**: for ``rows`` consecutive cycles ``w_load`` is high; in the ``t``-th of them
  (``t = 0 .. rows-1``) ``w_row`` holds stationary row ``rows-1-t`` (C words, word ``n`` in
  bits ``[n*w_word_bits, (n+1)*w_word_bits)``). Rows the tile does not use arrive as zeros.
  A core that shifts rows down its columns therefore ends with row ``k`` in PE row ``k``.
* **Stream**: right after the last preload cycle, one streamed row per cycle with
  ``a_valid`` high (``rows`` words of ``a_word_bits``, word ``k`` for array row ``k``,
  *not* skewed: the core skews). ``a_row`` is zero while ``a_valid`` is low.
* **Results**: the core raises ``o_valid[n]`` in each cycle in which ``o_data`` word ``n``
  (``acc_bits`` wide) is the next result of column ``n``; results of one column arrive in
  streamed-row order. The controller writes them to the output buffer and ends the tile in
  the cycle in which every column has delivered one result per streamed row.

The core must be able to start the next tile's preload in the cycle after its last result
(``ArrayTop`` runs the tiles of a batch back to back).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

from amaranth.lib.wiring import In, Out, Signature

__all__ = ["CoreSpec", "core_signature"]


@dataclass(frozen=True)
class CoreSpec:
    """Shape of a family's array core, as the controller sees it.

    ``rows`` / ``cols`` (unit: PEs) are the array sides. ``w_word_bits`` is one PE's
    stationary word (``lanes * bits``), ``a_word_bits`` one array row's streamed word,
    ``acc_bits`` one column's result word, ``meta_bits`` one group's metadata word (scales,
    type ids, zero points; 0 when the family has none). All widths are in bits.
    """

    rows: int
    cols: int
    w_word_bits: int
    a_word_bits: int
    acc_bits: int
    meta_bits: int = 0

    def __post_init__(self) -> None:
        for name in ("rows", "cols", "w_word_bits", "a_word_bits", "acc_bits"):
            value = getattr(self, name)
            if isinstance(value, bool) or operator.index(value) < 1:
                raise ValueError(f"CoreSpec.{name} must be a positive integer, not {value!r}")
        if self.meta_bits != 0:
            raise ValueError(f"CoreSpec.meta_bits must be 0 until a family with metadata adds "
                             f"the m_* buffer to ArrayTop, not {self.meta_bits!r}")

    @property
    def w_row_bits(self) -> int:
        """Width of one stationary row: ``cols * w_word_bits`` (unit: bits)."""
        return self.cols * self.w_word_bits

    @property
    def a_row_bits(self) -> int:
        """Width of one streamed row: ``rows * a_word_bits`` (unit: bits)."""
        return self.rows * self.a_word_bits

    @property
    def o_row_bits(self) -> int:
        """Width of one result row: ``cols * acc_bits`` (unit: bits)."""
        return self.cols * self.acc_bits


def core_signature(spec: CoreSpec) -> Signature:
    """The ports every array core has (directions as seen from the core)::

        w_row   In(cols*w_word_bits)  stationary row being preloaded
        w_load  In(1)                 shift ``w_row`` in at this clock edge
        a_row   In(rows*a_word_bits)  streamed row, unskewed (zero when not valid)
        a_valid In(1)                 ``a_row`` carries a streamed row this cycle
        o_data  Out(cols*acc_bits)    column results (word n from column n)
        o_valid Out(cols)             bit n: word n of ``o_data`` is a result this cycle
    """
    return Signature({
        "w_row": In(spec.w_row_bits),
        "w_load": In(1),
        "a_row": In(spec.a_row_bits),
        "a_valid": In(1),
        "o_data": Out(spec.o_row_bits),
        "o_valid": Out(spec.cols),
    })
