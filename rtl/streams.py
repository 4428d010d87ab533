"""How :class:`~qaccel.rtl.controller.ArrayTop` plays its buffered streams to a core.

One function per core schedule (:mod:`qaccel.rtl.core`): :func:`stream_ws` (stationary
preload, then the stream), :func:`stream_ws_shadow` (the same grid with shadow stationary
registers: overlapped preload) and :func:`stream_os` (output stationary, both operands in
lockstep). Each drives the core's inputs and the buffers' read ports from the controller's
tile sequencing signals (``go``: a tile starts this cycle; ``tt``: the cycle index within the
running tile, 0 in its first cycle; ``sel``, ``wb``, ``ab``: the running tile, its stationary
and streamed rows' base addresses; ``k_sel`` / ``s_sel``: its stationary rows K and streamed
rows S). :class:`ControllerFault` describes the deliberate bugs the testbench's mutation
tests inject.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from amaranth.hdl import Const, Module, Mux, Signal, Value
from amaranth.lib.memory import Memory

if TYPE_CHECKING:
    from qaccel.rtl.controller import ArrayTop

__all__ = ["ControllerFault", "FAULT_KINDS", "stream_ws", "stream_ws_shadow", "stream_os"]

#: controller mutations for testing the testbench (:class:`ControllerFault`)
FAULT_KINDS = ("done_late", "preload_serial", "swap_skipped")


@dataclass(frozen=True)
class ControllerFault:
    """A deliberate bug in the controller, to prove the scoreboard catches timing faults.

    ``kind``: ``"done_late"`` -- ``done`` rises one cycle after the last result is written
    (``cycles`` unchanged); ``"preload_serial"`` -- tile ``tile`` of every batch does not
    overlap its preload: it shifts its rows in its own cycles ``0 .. R-1`` and streams from
    cycle ``R`` (right values, ``R`` cycles late); ``"swap_skipped"`` -- tile ``tile``'s rows
    shift into the shadow registers but the swap is suppressed, so it computes with the
    previous tile's stationary block (right timing, wrong values). The preload kinds need
    shadow registers and ``tile >= 1``. A top with a fault is named ``<design>_fault_<kind>``.
    """

    kind: str
    tile: int = 1

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"ControllerFault.kind must be one of {', '.join(FAULT_KINDS)}, "
                             f"not {self.kind!r}")
        if isinstance(self.tile, bool) or not isinstance(self.tile, int) or self.tile < 1:
            raise ValueError(f"ControllerFault.tile must be an int >= 1, not {self.tile!r}")


def stream_ws(top: ArrayTop, m: Module, pick: Any, w_rd: Any, a_rd: Any) -> None:
    """ws: preload R stationary rows (cycles 0..R-1), then stream row m in cycle R+m.

    ``pick(f)`` evaluates ``f`` on the tile the cycle works on
    (:class:`~qaccel.rtl.controller.TilePick`: ``f`` sees a
    :class:`~qaccel.rtl.controller.TileView`)."""
    core, R = top.core, top.spec.rows  # noqa: N806

    # Preload: step tt (0..R-1) shifts in stationary row R-1-tt, zero if >= K.
    def pre(v: Any) -> Value:
        return v.active & (v.tt < R)

    def w_addr(v: Any) -> Value:
        more_rows = (v.tt < R - 1) if R > 1 else Const(0)  # a step tt + 1 follows
        return Mux(pre(v) & more_rows, v.wb + (R - 2) - v.tt,   # the row of step tt + 1
                   Mux(v.idle, R - 1,                           # step 0 of a batch's first
                       v.wb + (2 * R - 1)))                     # step 0 of the next tile

    m.d.comb += [core.w_load.eq(pick(pre)),
                 core.w_row.eq(Mux(pick(lambda v: pre(v) & (v.tt + v.k >= R)), w_rd.data, 0)),
                 w_rd.addr.eq(pick(w_addr))]

    # Stream: present row m to the core in cycle R+m. R = 1: read it in cycle R-1+m (the
    # tile's cycle 0 at the earliest) and pass the RAM's output on. R > 1: read it a cycle
    # earlier, in cycle R-2+m (never before the tile's cycle 0), and hold it in a register,
    # so the RAM's slow clock-to-output does not run into the first PE's multiplier. A core
    # with ``a_early`` (R > 1) takes the RAM's output in cycle R-1+m and registers the row
    # after its edge decoder itself (qaccel.rtl.core, "Early streamed row").
    lead = 1 if R > 1 else 0

    def a_issue(v: Any) -> Value:
        step = v.tt + lead
        issue = v.active & (step < v.s + (R - 1))
        return issue & (step >= R - 1) if R > 1 else issue

    a_valid_q = Signal()
    m.d.comb += a_rd.addr.eq(pick(lambda v: v.ab + v.tt + lead - (R - 1)))
    if top.spec.a_early:
        read_q = Signal(name="a_read_q")
        m.d.sync += read_q.eq(pick(a_issue))
        m.d.comb += [core.a_valid.eq(read_q), core.a_row.eq(Mux(read_q, a_rd.data, 0))]
    elif lead:
        read_q, a_row_q = Signal(name="a_read_q"), Signal.like(core.a_row, name="a_row_q")
        m.d.sync += [read_q.eq(pick(a_issue)), a_valid_q.eq(read_q),
                     a_row_q.eq(Mux(read_q, a_rd.data, 0))]
        m.d.comb += [core.a_valid.eq(a_valid_q), core.a_row.eq(a_row_q)]
    else:
        m.d.sync += a_valid_q.eq(pick(a_issue))
        m.d.comb += [core.a_valid.eq(a_valid_q),
                     core.a_row.eq(Mux(a_valid_q, a_rd.data, 0))]


def stream_ws_shadow(top: ArrayTop, m: Module, go: Value, first_go: Value, running: Value,
                     idle: Value, tt: Value, sel: Value, tiles: Value, wb: Value, ab: Value,
                     k_sel: Value, s_sel: Value, w_rd: Any, a_rd: Any, kmem: Memory) -> None:
    """ws with shadow registers (overlapped preload; schedule in :mod:`qaccel.rtl.core`).

    The batch's first tile preloads serially (cycles 0..R-1, swap in cycle R-1, stream
    from cycle R). During the last R cycles of every tile the next tile's rows shift into
    the shadow registers (row ``rem`` in the cycle ``rem`` cycles before the tile's last
    one), the swap comes with the last of them, and the next tile streams from its cycle 0
    (its row 0 read in the previous tile's last cycle).
    """
    core, R, C = top.core, top.spec.rows, top.spec.cols  # noqa: N806
    D = top.design.buffer_rows  # noqa: N806
    fault = top.fault
    active = go | running
    first, rem = Signal(name="first_tile"), Signal(range(2 * R + C + D), name="rem")
    first_now = Mux(go, first_go, first)
    # the tile's last cycle is T - 1 = lead + R + C + S - 3 (lead: R for a serial preload)
    rem_go = Mux(first_now, 2 * R + C - 3, R + C - 3) + s_sel
    rem_now = Mux(go, rem_go, rem)
    k_rd_next = kmem.read_port(domain="comb")
    m.d.comb += k_rd_next.addr.eq(sel + 1)
    has_next = sel + 1 < tiles
    if fault is not None and fault.kind == "preload_serial":
        # the faulty tile counts as a batch's first: serial preload, not overlapped
        first_now = Mux(go, first_go | (sel == fault.tile), first)
        rem_go = Mux(first_now, 2 * R + C - 3, R + C - 3) + s_sel
        rem_now = Mux(go, rem_go, rem)
        has_next &= sel + 1 != fault.tile
    with m.If(go):
        m.d.sync += [first.eq(first_now), rem.eq(rem_now - 1)]
    with m.Elif(running):
        m.d.sync += rem.eq(rem - 1)

    own = active & first_now & (tt < R)            # own preload: row R-1-tt, this tile
    nxt = active & has_next & (rem_now < R)        # next tile's row rem_now
    swap_nxt = nxt & (rem_now == 0)
    if fault is not None and fault.kind == "swap_skipped":
        swap_nxt &= sel + 1 != fault.tile
    m.d.comb += [core.w_load.eq(own | nxt),
                 core.w_swap.eq((own & (tt == R - 1)) | swap_nxt),
                 core.w_row.eq(Mux((own & (tt + k_sel >= R))
                                   | (nxt & (rem_now < k_rd_next.data)), w_rd.data, 0))]
    # Read in cycle c what is presented in cycle c + 1 (first match wins, bottom up).
    addr = wb + R + rem_now - 1                          # tile sel+1's row rem_now-1
    if C == 1:  # only then can a tile (S = 1) shift the next one's rows in its cycle 0
        addr = Mux(rem_now == 0, wb + (3 * R - 1), addr)  # tile sel+2's row R-1
    if fault is not None and fault.kind == "preload_serial":  # its own step 0, serially
        addr = Mux((rem_now == 0) & (sel + 1 == fault.tile), wb + (2 * R - 1), addr)
    addr = Mux(idle & ~go, R - 1, addr)                  # step 0 of the batch's first tile
    if R > 1:
        addr = Mux(active & first_now & (tt < R - 1), wb + (R - 2) - tt, addr)  # own row
    m.d.comb += w_rd.addr.eq(addr)

    # Stream: a serial tile reads row m in cycle R-1+m, an overlapped one in m-1 (row 0 in
    # the previous tile's last cycle); the row is presented one cycle later.
    s_first = (tt < s_sel + (R - 1)) & (tt >= R - 1) if R > 1 else tt < s_sel
    own_issue = active & Mux(first_now, s_first, tt + 1 < s_sel)
    row0_next = nxt & (rem_now == 0)
    a_valid_q = Signal()
    with m.If(row0_next):
        m.d.comb += a_rd.addr.eq(ab + s_sel)               # the next tile's row 0
    with m.Else():
        m.d.comb += a_rd.addr.eq(Mux(first_now, ab + tt - (R - 1), ab + tt + 1))
    m.d.sync += a_valid_q.eq(own_issue | row0_next)
    m.d.comb += [core.a_valid.eq(a_valid_q),
                 core.a_row.eq(Mux(a_valid_q, a_rd.data, 0))]

def stream_os(top: ArrayTop, m: Module, go: Value, running: Value, ab: Value, s_sel: Value,
              w_rd: Any, a_rd: Any) -> None:
    """os: read beat k in cycles k*B + j, present it (both rows) in cycles 1 + k*B + j."""
    core, B = top.core, top.spec.beat_cycles  # noqa: N806
    beat = Signal(range(top.design.buffer_rows + 1), name="os_beat")
    beat_now = Mux(go, 0, beat)
    issue = (go | running) & (beat_now < s_sel)
    last = beat_now + 1 == s_sel
    if B > 1:
        rep = Signal(range(B), name="os_rep")
        rep_now = Mux(go, 0, rep)
        step = rep_now == B - 1
        with m.If(issue):
            m.d.sync += rep.eq(Mux(step, 0, rep_now + 1))
    else:
        step = Const(1)
    with m.If(issue):
        m.d.sync += beat.eq(Mux(step, beat_now + 1, beat_now))
    m.d.comb += [a_rd.addr.eq(ab + beat_now), w_rd.addr.eq(ab + beat_now)]
    valid_q, last_q = Signal(name="os_valid"), Signal(name="os_last")
    m.d.sync += [valid_q.eq(issue), last_q.eq(issue & last)]
    m.d.comb += [core.a_valid.eq(valid_q), core.a_last.eq(last_q),
                 core.a_row.eq(Mux(valid_q, a_rd.data, 0)),
                 core.w_row.eq(Mux(valid_q, w_rd.data, 0))]
