"""The plug-in boundary between the generic array controller and a family's array core.

A family's RTL (``rtl/pe/<family>.py``) builds an *array core*: a
:class:`amaranth.lib.wiring.Component` whose signature is :func:`core_signature` of a
:class:`CoreSpec`. :class:`qaccel.rtl.controller.ArrayTop` wraps any such core with the tile
buffers, the LOAD / RUN / DRAIN streams and the cycle counter, so one cocotb driver and
monitor serve every family (DESIGN.md "RTL contract").

Cycle numbering (both schedules): a tile's cycle 0 is the cycle in which the controller
starts it (the ``start`` cycle, or the previous tile's last cycle); it ends with the tile's
edge E0, and cycle ``t`` ends with edge ``Et``. The tile's last result is delivered in its
cycle ``T`` (``cycles`` = T); that cycle is also the next tile's cycle 0.

Core schedule ``"ws"`` (stationary operand preloaded, the other streamed)
-------------------------------------------------------------------------
* **Preload**: in cycles ``t = 0 .. rows-1`` ``w_load`` is high and ``w_row`` holds
  stationary row ``rows-1-t`` (C words, word ``n`` in bits ``[n*w_word_bits,
  (n+1)*w_word_bits)``). Rows the tile does not use arrive as zeros. A core that shifts rows
  down its columns therefore ends with row ``k`` in PE row ``k``.
* **Stream**: streamed row ``m`` (``m = 0 .. S-1``) is on ``a_row`` in cycle ``rows + m``
  with ``a_valid`` high (``rows`` words of ``a_word_bits``, word ``k`` for array row ``k``,
  *not* skewed: the core skews). ``a_row`` is zero while ``a_valid`` is low.
* **Results**: the core raises ``o_valid[n]`` in each cycle in which ``o_data`` word ``n``
  (``acc_bits`` wide) is the next result of column ``n``; results of one column arrive in
  streamed-row order. The tile ends in the cycle in which every column has delivered ``S``
  results (one per streamed row). The core must accept the next tile's preload in the cycle
  after.

Core schedule ``"ws"`` with shadow registers (``CoreSpec.shadow``, ``preload: overlapped``)
-----------------------------------------------------------------------------------------
The core has a second, *shadow* register per PE for the stationary word, and a ``w_swap``
port. ``w_load`` shifts ``w_row`` into the shadow chain (down the columns); the PEs keep
multiplying with the words in use. ``w_swap`` high in cycle ``t`` makes every PE's word in use,
from cycle ``t + 1`` on, the word its shadow register latches at edge ``Et`` (``w_swap``
comes with the last ``w_load`` of a preload, so the swap takes the word arriving at that edge).
The controller plays a batch of tiles as follows (``T_i``: the cycles of tile ``i``):

* **Tile 0 of a batch** (serial preload, timing as without shadow registers): its rows
  shift in in cycles ``0 .. rows-1`` (row ``rows-1-t`` in cycle ``t``) and ``w_swap`` is high in
  cycle ``rows-1``; streamed row ``m`` is on ``a_row`` in cycle ``rows + m``;
  ``T_0 = 2*rows + cols + S - 2``.
* **Tile i+1** (overlapped preload): its rows shift in during the last ``rows`` cycles of tile
  ``i`` (row ``T_i - 1 - t`` in tile ``i``'s cycle ``t``, ``t = T_i - rows .. T_i - 1``), with
  ``w_swap`` in tile ``i``'s cycle ``T_i - 1``; its streamed row ``m`` is on ``a_row`` in its own
  cycle ``m`` (row 0 in tile ``i``'s cycle ``T_i``, the cycle in which tile ``i``'s last result is
  delivered); ``T_{i+1} = rows + cols + S - 2``. The swap edge is the only one possible: PE
  ``(k, n)`` multiplies tile ``i``'s last row in cycle ``T_i - 1 - (rows-1-k) - (cols-1-n)`` and
  tile ``i+1``'s first row in cycle ``T_i + k + n``; for PE ``(rows-1, cols-1)`` the first is
  ``T_i - 1``, for PE ``(0, 0)`` the second is ``T_i``.

Results are as for ``ws``. The last tile of a batch shifts nothing in after it.

Core schedule ``"os"`` (output stationary: both operands streamed, results after)
---------------------------------------------------------------------------------
* **Stream**: the tile's ``S`` beats (``S`` = the streamed length, e.g. K or
  ``ceil(K/lanes)``) of both operands are presented in lockstep: beat ``k`` is on ``a_row``
  (the *row operand*: ``rows`` words of ``a_word_bits``, word ``r`` for array row ``r``) and
  on ``w_row`` (the *column operand*: ``cols`` words of ``w_word_bits``, word ``n`` for array
  column ``n``) in the ``beat_cycles`` cycles ``1 + k*beat_cycles + j`` (``j = 0 ..
  beat_cycles-1``), with ``a_valid`` high, and ``a_last`` high as well during the beat
  ``S-1``. Beats follow each other without gaps; words are not skewed (the core skews).
  Outside those cycles ``a_valid``/``a_last`` are low and ``a_row``/``w_row`` zero.
  There is no preload (no ``w_load`` port).
* **Results**: as for ``ws``, except that every column delivers exactly ``rows`` results per
  tile (its output-stationary outputs; result ``j`` of column ``n`` becomes word ``n`` of the
  tile's drained result row ``j``; the family's ``tile_result`` says which output that is).
  The tile ends in the cycle in which every column has delivered its ``rows`` results. The
  next tile's beat 0 arrives in its cycle 1, i.e. two cycles after the last result.

Early streamed row (``CoreSpec.a_early``, ws without shadow registers, ``rows >= 2``)
------------------------------------------------------------------------------------
A core whose streamed row passes edge logic (a decoder) before the first PE may take it one
cycle early and register it after that logic: streamed row ``m`` is on ``a_row`` with
``a_valid`` in cycle ``rows + m - 1`` instead of ``rows + m``, and everything else (the core's
results, ``o_next``, the cycle counts) is as above. The controller then hands the buffer's
read data straight to the core instead of holding it in a register of its own, so the edge
logic and the first PE's multiply-add are in two different clock cycles (the register
moves across the decoder; issue 18's timing view). With ``rows = 1`` the row would have to
be read before the tile starts, and the overlapped-preload schedule presents row 0 in the
cycle after it is read, so neither takes ``a_early``.

Result look-ahead (``CoreSpec.o_next``, either schedule)
-------------------------------------------------------
A core may also drive ``o_next``: bit ``n`` high in cycle ``t`` exactly when ``o_valid[n]``
will be high in cycle ``t + 1`` (for the ws grid: the previous stage of its valid pipeline).
It may depend on the core's registers and its inputs of cycle ``t``, not on later inputs. The
controller then knows in cycle ``T - 1`` that a tile's
last result is written in cycle ``T`` and raises ``done`` from a register, so ``go`` (the
next tile's start) is a flip-flop output and not the end of the result-write compares. The
cycle counts are the same with and without it.

Metadata read port (``meta_bits > 0``, either schedule)
-------------------------------------------------------
The ``m_*`` stream loads a tile's metadata beats (``meta_bits`` wide each, e.g. one group's
scales/zero points/type ids for the whole array, packed by the family: beat ``g`` for group
``g``). The core reads them through a synchronous read port: the core drives ``m_addr``
(beat index within the tile, ``META_ADDR_BITS`` wide) in cycle ``t`` and ``m_row`` holds
that beat in cycle ``t + 1``. In a tile's cycle 0 ``m_addr`` already addresses the new tile
(so ``m_row`` is the new tile's beat ``m_addr`` in its cycle 1). Addresses past the tile's
beats read unspecified data.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

from amaranth.lib.wiring import In, Out, Signature

__all__ = ["CoreSpec", "core_signature", "SCHEDULES", "META_ADDR_BITS"]

#: core schedules (module docstring): stationary preload + stream, or output stationary
SCHEDULES = ("ws", "os")
#: width of the core's ``m_addr`` metadata read address (unit: bits)
META_ADDR_BITS = 16


@dataclass(frozen=True)
class CoreSpec:
    """Shape of a family's array core, as the controller sees it.

    ``rows`` / ``cols`` (unit: PEs) are the array sides. ``w_word_bits`` is one PE column's
    word on ``w_row`` (ws: one PE's stationary word, ``lanes * bits``; os: the column
    operand's word), ``a_word_bits`` one array row's streamed word, ``acc_bits`` one column's
    result word, ``meta_bits`` one metadata beat (one group's scales, type ids, zero points
    for the whole array; 0 when the family has none). All widths are in bits.
    ``schedule`` is ``"ws"`` or ``"os"`` (module docstring); ``beat_cycles`` (os only) is the
    number of consecutive cycles each stream beat is presented (unit: cycles). ``shadow``
    (ws only): the core has shadow stationary registers and a ``w_swap`` port, and the
    controller plays the overlapped-preload schedule (module docstring). ``o_next``: the core
    also drives ``o_next`` (each column's ``o_valid`` one cycle ahead), so the controller
    registers ``tile_done`` a cycle early instead of deriving it from the result writes
    (module docstring "Result look-ahead"). ``a_early`` (ws without ``shadow``, ``rows >=
    2``): the core takes each streamed row one cycle early and registers it (module docstring
    "Early streamed row").
    """

    rows: int
    cols: int
    w_word_bits: int
    a_word_bits: int
    acc_bits: int
    meta_bits: int = 0
    schedule: str = "ws"
    beat_cycles: int = 1
    shadow: bool = False
    o_next: bool = False
    a_early: bool = False

    def __post_init__(self) -> None:
        for name in ("rows", "cols", "w_word_bits", "a_word_bits", "acc_bits", "beat_cycles"):
            value = getattr(self, name)
            if isinstance(value, bool) or operator.index(value) < 1:
                raise ValueError(f"CoreSpec.{name} must be a positive integer, not {value!r}")
        if isinstance(self.meta_bits, bool) or operator.index(self.meta_bits) < 0:
            raise ValueError(f"CoreSpec.meta_bits must be an integer >= 0, not "
                             f"{self.meta_bits!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"CoreSpec.schedule must be 'ws' or 'os', not {self.schedule!r}")
        if self.schedule == "ws" and self.beat_cycles != 1:
            raise ValueError(f"CoreSpec.beat_cycles must be 1 for the ws schedule, not "
                             f"{self.beat_cycles!r}")
        for name in ("shadow", "o_next", "a_early"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"CoreSpec.{name} must be a bool, not {getattr(self, name)!r}")
        if self.shadow and self.schedule != "ws":
            raise ValueError("CoreSpec.shadow must be False for the os schedule (it has no "
                             "stationary preload), not True")
        if self.a_early and (self.schedule != "ws" or self.shadow or self.rows < 2):
            raise ValueError(f"CoreSpec.a_early needs the ws schedule without shadow registers "
                             f"and rows >= 2 (module docstring), not schedule={self.schedule!r}, "
                             f"shadow={self.shadow}, rows={self.rows}")

    @property
    def w_row_bits(self) -> int:
        """Width of one ``w_row``: ``cols * w_word_bits`` (unit: bits)."""
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

        w_row   In(cols*w_word_bits)  ws: stationary row being preloaded; os: column operand
        w_load  In(1)                 ws only: shift ``w_row`` in at this clock edge
        w_swap  In(1)                 ws with ``shadow`` only: the stationary words in use
                                      become the words shifting in at this edge
        a_row   In(rows*a_word_bits)  streamed row (os: row operand), unskewed, zero when idle
        a_valid In(1)                 ``a_row`` (os: and ``w_row``) carries a beat this cycle
        a_last  In(1)                 os only: the beat is the tile's last
        m_row   In(meta_bits)         meta_bits > 0 only: the metadata beat read last cycle
        m_addr  Out(META_ADDR_BITS)   meta_bits > 0 only: metadata beat to read (in the tile)
        o_data  Out(cols*acc_bits)    column results (word n from column n)
        o_valid Out(cols)             bit n: word n of ``o_data`` is a result this cycle
        o_next  Out(cols)             ``o_next`` only: bit n is ``o_valid[n]`` of the next cycle

    The ws signature without metadata and ``o_next`` is exactly the original one.
    """
    members = {"w_row": In(spec.w_row_bits)}
    if spec.schedule == "ws":
        members["w_load"] = In(1)
        if spec.shadow:
            members["w_swap"] = In(1)
    members.update({"a_row": In(spec.a_row_bits), "a_valid": In(1)})
    if spec.schedule == "os":
        members["a_last"] = In(1)
    if spec.meta_bits:
        members.update({"m_row": In(spec.meta_bits), "m_addr": Out(META_ADDR_BITS)})
    members.update({"o_data": Out(spec.o_row_bits), "o_valid": Out(spec.cols)})
    if spec.o_next:
        members["o_next"] = Out(spec.cols)
    return Signature(members)
