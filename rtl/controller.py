"""The generic array controller: tile buffers, LOAD / RUN / DRAIN streams, cycle counter.

Every family's array top is an :class:`ArrayTop` around the family's array core
(:mod:`qaccel.rtl.core`), so the port names, widths and protocol below are the same for all
families and one cocotb driver / monitor serves them all (DESIGN.md "RTL contract"). The
core's schedule (``CoreSpec.schedule``, ``"ws"`` or ``"os"``) decides how the buffered
streams are played to the core (:mod:`qaccel.rtl.core`).

Protocol
--------
1. **LOAD** (state IDLE). Fill the buffers through valid/ready streams; a beat moves at a
   rising edge where ``*_valid`` and ``*_ready`` are both high. ``*_ready`` depends only on
   state (never combinationally on an input).

   * ``w_*``: ws: the stationary operand of each tile, one array row per beat (row ``k`` of
     the tile first to last, ``k < rows``), ``w_last`` on the tile's last row. A tile with
     ``K < rows`` rows sends ``K`` beats; the missing rows are preloaded as zeros. The
     ``rows``-th beat of a tile ends it even without ``w_last``. os: the column operand, one
     beat per stream step (``cols`` words), exactly as many beats per tile as ``a_*``,
     ``w_last`` on the last.
   * ``a_*``: the streamed (os: row) operand, one beat per row, ``a_last`` on the tile's
     last. The number of beats is the tile's streamed length ``S`` (``M`` for ws, the K
     steps for os).
   * ``m_*`` (only when ``meta_bits > 0``): the tile's metadata, one beat per group (at least
     one per tile), ``m_last`` on the last; the core reads them by index (``rtl/core.py``).

   Words a tile does not use (columns ``>= N``, lanes ``>= K``) must be sent as zeros. A batch
   holds up to ``max_tiles`` tiles, ``buffer_rows`` streamed rows and ``meta_rows`` metadata
   beats in all; a stream whose buffer is full holds ``*_ready`` low.
2. **RUN**: a one-cycle ``start`` pulse (while IDLE, with at least one tile loaded) runs every
   loaded tile back to back with no external stall. ``busy`` is high from the edge that
   samples ``start`` until the batch is drained.
3. **DRAIN**: after the last tile, results leave through ``o_*`` (valid/ready), one result row
   per beat in load order, ``o_last`` on each tile's last row (ws: ``S`` rows per tile, os:
   ``rows`` rows per tile); then the buffers are empty and the controller is back in IDLE.

Cycle counting (per tile)
-------------------------
Number the cycle in which ``start`` is high (sampled by rising edge ``E0``) cycle 0; cycle
``t`` ends with edge ``Et``. The tile's last result is written into the output buffer by edge
``ET``; that same edge raises ``done`` (high for one cycle) and loads ``cycles`` with ``T``,
which holds until the next tile's ``done``. So ``cycles`` = number of clock periods from the
edge that samples ``start`` to the edge that commits the last result (and that the testbench
sees ``done`` rise on). The next tile of the batch starts at edge ``ET`` (its ``E0``), so a
batch of tiles takes exactly the sum of their ``cycles``. For the ws/is systolic core
``T = R + (S + R + C - 2) = 2R + C + S - 2``: the stationary row for preload step 0 is read
from the buffer ahead of time (the read address idles at that row), so edges ``E0 ..
E(R-1)`` shift the R stationary rows in, streamed row ``m`` is on the core input in cycle
``R + m``, and column ``C-1`` writes row ``S-1`` in cycle ``2R + C + S - 2``. With shadow
stationary registers (``CoreSpec.shadow``, ``preload: overlapped``) the batch's first tile
runs exactly so, and every later tile has ``T = R + C + S - 2``: its R stationary rows shift
into the shadow registers during the previous tile's last R cycles (row ``R-1-j`` in the
previous tile's cycle ``T' - R + j``, the swap with ``j = R-1``), its streamed row ``m`` is on
the core input in its cycle ``m`` (row 0 read in the previous tile's last cycle ``T' - 1``),
and column ``C-1`` writes row ``S-1`` in cycle ``R + C + S - 2`` (``params.batch_timing``;
schedule in :mod:`qaccel.rtl.core`). For an os core
both buffers are read in cycle ``k*beat_cycles + j`` and beat ``k`` is on the core inputs
one cycle later (cycle ``1 + k*beat_cycles + j``); ``T`` is whatever the core's result
timing makes it (the family's ``timing()``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import enum, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from qaccel.rtl.core import CoreSpec, core_signature
from qaccel.rtl.streams import FAULT_KINDS, ControllerFault, stream_os, stream_ws, stream_ws_shadow

__all__ = ["ArrayTop", "Design", "ControllerFault", "CYCLES_BITS", "FAULT_KINDS"]

#: width of the ``cycles`` port (unit: bits)
CYCLES_BITS = 32
@dataclass(frozen=True)
class Design:
    """What a testbench needs to know about a built top, taken from the top itself.

    ``params`` is the family parameter object's ``to_dict()`` (with ``family``); widths in
    bits; ``buffer_rows`` streamed rows, ``max_tiles`` tiles and ``meta_rows`` metadata
    beats fit one batch; ``schedule`` is the core's (``"ws"``/``"os"``), ``meta_bits`` the
    ``m_data`` width (0: no ``m_*`` stream).
    """

    name: str
    params: dict[str, Any]
    rows: int
    cols: int
    w_word_bits: int
    a_word_bits: int
    acc_bits: int
    buffer_rows: int
    max_tiles: int
    schedule: str = "ws"
    meta_bits: int = 0
    meta_rows: int = 0

    def result_rows(self, streamed: int) -> int:
        """Result rows one tile drains: ``streamed`` (ws) or ``rows`` (os)."""
        return streamed if self.schedule == "ws" else self.rows

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Design:
        return cls(**data)


class _State(enum.Enum, shape=2):
    IDLE = 0
    RUN = 1
    DRAIN = 2


class ArrayTop(wiring.Component):
    """Generic array top: a family's core plus buffers, streams and the cycle counter.

    Parameters
    ----------
    spec : CoreSpec
        The core's sides, widths and schedule (R = ``spec.rows``, C = ``spec.cols``).
    core : Component
        The family's array core, with :func:`qaccel.rtl.core.core_signature` ``(spec)``.
    params : dict
        The family parameter object's ``to_dict()``, recorded in :attr:`design`.
    name : str
        Verilog module name.
    buffer_rows : int
        Streamed rows the batch buffers hold (ws: also result rows); a tile's streamed length
        must be ``<= buffer_rows``.
    max_tiles : int
        Tiles per batch (ws: stationary buffer depth is ``max_tiles * R`` rows; os: the
        result buffer holds ``max_tiles * R`` rows).
    meta_rows : int
        Metadata beats per batch (only used when ``spec.meta_bits > 0``).
    fault : ControllerFault, optional
        A deliberate bug (testbench mutation tests only); see :meth:`with_fault`.

    The Verilog module is ``name``, plus ``_ovl`` when the core has shadow stationary
    registers (``preload: overlapped``; ``params["preload"]`` must say so) and
    ``_fault_<kind>`` with a fault, so every variant gets its own Verilator build.

    Attributes
    ----------
    Clock ``clk`` and synchronous active-high ``rst`` (Amaranth's ``sync`` domain), and::

        w_valid In(1)   w_ready Out(1)  w_data In(C*w_word_bits)  w_last In(1)
        a_valid In(1)   a_ready Out(1)  a_data In(R*a_word_bits)  a_last In(1)
        m_valid In(1)   m_ready Out(1)  m_data In(meta_bits)      m_last In(1)  (meta only)
        start   In(1)   one-cycle pulse: run the loaded batch
        busy    Out(1)  a batch is running or draining
        done    Out(1)  one-cycle pulse per tile, raised by the edge that writes its last result
        cycles  Out(32) start->done cycles of the last finished tile (see module docstring)
        o_valid Out(1)  o_ready In(1)   o_data Out(C*acc_bits)    o_last Out(1)

    Word ``i`` of a row occupies bits ``[i*w, (i+1)*w)`` (two's complement codes); a
    metadata beat's layout is the family's. The ``m_*`` ports exist only when
    ``spec.meta_bits > 0``. Latency/throughput: LOAD and DRAIN move one beat per stream per
    cycle; RUN takes the sum of the tiles' ``cycles``.
    """

    def __init__(self, spec: CoreSpec, core: wiring.Component, *, params: dict[str, Any],
                 name: str, buffer_rows: int = 256, max_tiles: int = 16,
                 meta_rows: int = 64, fault: ControllerFault | None = None) -> None:
        if core.signature != core_signature(spec):
            raise TypeError(f"core must have signature {core_signature(spec)!r}, "
                            f"not {core.signature!r}")
        preload = str(params.get("preload", "serial"))
        problem = None
        if (preload == "overlapped") != spec.shadow:
            problem = (f"Cannot build {name} with preload {preload!r} because its core "
                       f"{'has' if spec.shadow else 'has no'} shadow stationary registers")
        elif fault is not None and fault.kind != "done_late" and not spec.shadow:
            problem = (f"Cannot inject the fault {fault.kind!r} into {name} because it has "
                       f"no shadow stationary registers")
        if problem:
            self._MustUse__silence = True  # never built: no "created but never used" warning
            raise ValueError(problem)
        self.fault = fault
        self._args = {"params": dict(params), "name": name, "buffer_rows": buffer_rows,
                      "max_tiles": max_tiles, "meta_rows": meta_rows}
        if spec.shadow:
            name = f"{name}_ovl"
        if fault is not None:
            name = f"{name}_fault_{fault.kind}"
        for what, value in (("buffer_rows", buffer_rows), ("max_tiles", max_tiles),
                            ("meta_rows", meta_rows)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65536:
                raise ValueError(f"{what} must be an int in 1..65536, not {value!r}")
        self.spec, self.core = spec, core
        self.design = Design(name=name, params=dict(params), rows=spec.rows, cols=spec.cols,
                             w_word_bits=spec.w_word_bits, a_word_bits=spec.a_word_bits,
                             acc_bits=spec.acc_bits, buffer_rows=buffer_rows,
                             max_tiles=max_tiles, schedule=spec.schedule,
                             meta_bits=spec.meta_bits,
                             meta_rows=meta_rows if spec.meta_bits else 0)
        ports = {
            "w_valid": In(1), "w_ready": Out(1), "w_data": In(spec.w_row_bits), "w_last": In(1),
            "a_valid": In(1), "a_ready": Out(1), "a_data": In(spec.a_row_bits), "a_last": In(1),
        }
        if spec.meta_bits:
            ports.update({"m_valid": In(1), "m_ready": Out(1), "m_data": In(spec.meta_bits),
                          "m_last": In(1)})
        ports.update({
            "start": In(1), "busy": Out(1), "done": Out(1), "cycles": Out(CYCLES_BITS),
            "o_valid": Out(1), "o_ready": In(1), "o_data": Out(spec.o_row_bits),
            "o_last": Out(1),
        })
        super().__init__(ports)

    def with_fault(self, fault: ControllerFault) -> ArrayTop:
        """A top with the same core object (neither elaborated yet) and ``fault`` injected;
        this top must not be used any more."""
        self._MustUse__silence = True  # Amaranth's "created but never used" warning
        return ArrayTop(self.spec, self.core, **{**self._args, "fault": fault})

    def _metadata(self, m: Module, idle: Value, sel: Value, drained: Value) -> None:
        """The ``m_*`` stream into a metadata buffer, and the core's read port on it
        (``sel``: the tile whose beats the core reads; ``drained``: empty the buffer)."""
        spec, core = self.spec, self.core
        MR, T = self.design.meta_rows, self.design.max_tiles  # noqa: N806
        m.submodules.metamem = meta = Memory(shape=spec.meta_bits, depth=MR, init=[])
        m.submodules.mbasemem = mbase = Memory(shape=range(MR), depth=T, init=[])
        wr, rd = meta.write_port(), meta.read_port()
        b_wr, b_rd = mbase.write_port(), mbase.read_port(domain="comb")
        ptr, start, slot = Signal(range(MR + 1)), Signal(range(MR + 1)), Signal(range(T + 1))
        m.d.comb += self.m_ready.eq(idle & (ptr < MR) & (slot < T))
        fire = self.m_valid & self.m_ready
        m.d.comb += [wr.addr.eq(ptr), wr.data.eq(self.m_data), wr.en.eq(fire),
                     b_wr.addr.eq(slot), b_wr.data.eq(start), b_wr.en.eq(fire & self.m_last)]
        with m.If(fire):
            m.d.sync += ptr.eq(ptr + 1)
            with m.If(self.m_last):
                m.d.sync += [slot.eq(slot + 1), start.eq(ptr + 1)]
        # the buffers empty when the batch has drained (the controller returns to IDLE)
        with m.If(drained):
            m.d.sync += [ptr.eq(0), start.eq(0), slot.eq(0)]
        m.d.comb += [b_rd.addr.eq(sel), rd.addr.eq(b_rd.data + core.m_addr),
                     core.m_row.eq(rd.data)]

    def elaborate(self, platform: object) -> Module:
        spec, core = self.spec, self.core
        R, C = spec.rows, spec.cols  # noqa: N806 - array sides, as in the docs
        D, T = self.design.buffer_rows, self.design.max_tiles  # noqa: N806
        os = spec.schedule == "os"
        m = Module()
        m.submodules.core = core

        # ---- buffers ----------------------------------------------------------------------
        w_depth, o_depth = (D, T * R) if os else (T * R, D)
        m.submodules.wmem = wmem = Memory(shape=spec.w_row_bits, depth=w_depth, init=[])
        m.submodules.amem = amem = Memory(shape=spec.a_row_bits, depth=D, init=[])
        if not os:  # rows per stationary tile (os streams both operands: nothing to store)
            m.submodules.kmem = kmem = Memory(shape=range(R + 1), depth=T, init=[])
        m.submodules.mmem = mmem = Memory(shape=range(D + 1), depth=T, init=[])
        w_wr = wmem.write_port()
        w_rd = _bypassed_read(m, wmem, w_wr, "w_byp")
        a_wr = amem.write_port()
        a_rd = _bypassed_read(m, amem, a_wr, "a_byp")
        if not os:
            k_wr = kmem.write_port()
        m_wr, m_rd_drain = mmem.write_port(), mmem.read_port(domain="comb")
        banks = []
        for n in range(C):
            bank = Memory(shape=spec.acc_bits, depth=o_depth, init=[])
            m.submodules[f"obank{n}"] = bank
            banks.append((bank.write_port(), bank.read_port()))

        state = Signal(_State)
        idle, running, draining = (state == _State.IDLE, state == _State.RUN,
                                   state == _State.DRAIN)
        m.d.comb += self.busy.eq(~idle)

        # ---- LOAD: append tiles to the buffers ------------------------------------------------
        w_slot, w_k = Signal(range(T + 1)), Signal(range(max(R, D) + 1 if os else R + 1))
        w_wbase = Signal(range(T * R + 1))
        a_slot, a_ptr, a_m = Signal(range(T + 1)), Signal(range(D + 1)), Signal(range(D + 1))
        w_room = (w_k < D) if os else Const(1)
        m.d.comb += [self.w_ready.eq(idle & (w_slot < T) & w_room),
                     self.a_ready.eq(idle & (a_ptr < D) & (a_slot < T))]
        w_fire = self.w_valid & self.w_ready
        a_fire = self.a_valid & self.a_ready
        m.d.comb += [w_wr.addr.eq(w_k if os else w_wbase + w_k), w_wr.data.eq(self.w_data),
                     w_wr.en.eq(w_fire),
                     *([] if os else [k_wr.addr.eq(w_slot), k_wr.data.eq(w_k + 1)]),
                     a_wr.addr.eq(a_ptr), a_wr.data.eq(self.a_data), a_wr.en.eq(a_fire),
                     m_wr.addr.eq(a_slot), m_wr.data.eq(a_m + 1)]
        if os:  # the column operand is one linear stream, in lockstep with a_* (w_k = pointer)
            with m.If(w_fire):
                m.d.sync += w_k.eq(w_k + 1)
                with m.If(self.w_last):
                    m.d.sync += w_slot.eq(w_slot + 1)
        else:
            with m.If(w_fire):
                with m.If(self.w_last | (w_k == R - 1)):
                    m.d.comb += k_wr.en.eq(1)
                    m.d.sync += [w_slot.eq(w_slot + 1), w_k.eq(0), w_wbase.eq(w_wbase + R)]
                with m.Else():
                    m.d.sync += w_k.eq(w_k + 1)
        with m.If(a_fire):
            m.d.sync += a_ptr.eq(a_ptr + 1)
            with m.If(self.a_last):
                m.d.comb += m_wr.en.eq(1)
                m.d.sync += [a_slot.eq(a_slot + 1), a_m.eq(0)]
            with m.Else():
                m.d.sync += a_m.eq(a_m + 1)

        # ---- RUN: tile sequencing ----------------------------------------------------------
        cur = Signal(range(T))                 # tile running
        t = Signal(CYCLES_BITS) if os else Signal(range(2 * R + C + D))  # cycles since start
        w_base = Signal(range(T * R + 1))      # its stationary rows (ws)
        a_base, a_end = Signal(range(D)), Signal(range(D))  # its first / last streamed row
        o_base, o_end = Signal(range(o_depth)), Signal(range(o_depth))  # its result rows
        # tile_done: the running tile's last result is written this cycle. With a core that
        # looks ahead (spec.o_next) it is a register (_done_ahead), else the write compares.
        tile_done = Signal(name="tile_done")
        more = Signal(name="more_tiles")       # a tile follows the running one (a register)
        first_go = idle & self.start & (a_slot != 0)
        next_go = running & tile_done & more
        go = first_go | next_go
        sel, wb, ab = Signal.like(cur), Signal.like(w_base), Signal.like(a_base)
        ob = Signal.like(o_base)
        with m.If(first_go):
            m.d.comb += [sel.eq(0), wb.eq(0), ab.eq(0), ob.eq(0)]
        with m.Elif(next_go):
            m.d.comb += [sel.eq(cur + 1), wb.eq(w_base + R), ab.eq(a_end + 1),
                         ob.eq(o_base + R if os else a_end + 1)]
        with m.Else():
            m.d.comb += [sel.eq(cur), wb.eq(w_base), ab.eq(a_base), ob.eq(o_base)]
        tt = Mux(go, 0, t)                     # cycle index within the tile, 0 at its start
        # The starting / running tile's K and S from registers filled one tile ahead (the
        # buffers do not change during RUN), and every expression of them evaluated for each
        # candidate tile and selected by `go` last (TilePick): nothing waits for `go`.
        s_views = _prefetched(m, mmem, cur, go, first_go, "s_pre")
        k_views = (None,) * 3 if os else _prefetched(m, kmem, cur, go, first_go, "k_pre")
        views = (  # the tile a cycle works on: the batch's first, the next, the running one
            TileView(Const(0), Const(0), Const(0), Const(1), Const(1), k_views[0], s_views[0]),
            TileView(Const(0), w_base + R, a_end + 1, Const(1), Const(0), k_views[1],
                     s_views[1]),
            TileView(t, w_base, a_base, running, idle, k_views[2], s_views[2]))
        pick = TilePick(first_go, next_go, views)
        s_sel = pick(lambda v: v.s)
        k_sel = None if os else pick(lambda v: v.k)
        if os:
            stream_os(self, m, go, running, ab, s_sel, w_rd, a_rd)
        elif spec.shadow:
            stream_ws_shadow(self, m, go, first_go, running, idle, tt, sel, a_slot, wb, ab,
                                   k_sel, s_sel, w_rd, a_rd, kmem)
        else:
            stream_ws(self, m, pick, w_rd, a_rd)

        last_row = pick(lambda v: v.ab + v.s - 1)  # no adder after `go`
        o_end_go = (ob + (R - 1)) if os else last_row  # the starting tile's last result row
        o_end_m1 = Signal.like(o_end, name="o_end_m1")  # o_end - 1 (mod its width)
        # the starting tile has one result per column (its first write is its last)
        first_end = Const(int(R == 1)) if os else (s_sel == 1)

        # Results: column n writes its next row at optr[n]; the tile ends when every
        # column has written row o_end.
        finished = Signal(C)
        last_write = Signal(C)
        at_ends_next = []
        for n, (wr, _) in enumerate(banks):
            optr = Signal(range(o_depth), name=f"optr{n}")
            valid = running & core.o_valid[n]
            m.d.comb += [wr.addr.eq(optr), wr.en.eq(valid),
                         wr.data.eq(core.o_data.word_select(n, spec.acc_bits))]
            if spec.o_next:
                at_end, at_end_next = self._at_end(m, n, go, valid, optr, o_end_m1, first_end)
                m.d.comb += last_write[n].eq(valid & at_end)
                at_ends_next.append(at_end_next)
            else:
                m.d.comb += last_write[n].eq(valid & (optr == o_end))
            with m.If(go):
                m.d.sync += optr.eq(ob)
            with m.Elif(valid):
                m.d.sync += optr.eq(optr + 1)
        finished_next = Mux(go, 0, finished | last_write)
        m.d.sync += finished.eq(finished_next)
        if spec.o_next:
            self._done_ahead(m, tile_done, go | (running & ~tile_done), finished_next,
                             at_ends_next)
        else:
            m.d.comb += tile_done.eq(last_write.any() & (finished | last_write).all())

        if self.fault is not None and self.fault.kind == "done_late":
            done_q = Signal(name="fault_done_q")
            m.d.sync += [done_q.eq(tile_done), self.done.eq(done_q)]
        else:
            m.d.sync += self.done.eq(tile_done)
        with m.If(tile_done):
            m.d.sync += self.cycles.eq(t)

        # ---- DRAIN: result rows out in load order -------------------------------------------
        d_idx, d_row = Signal(range(o_depth + 1)), Signal(range(o_depth))
        d_tile = Signal(range(T))
        o_valid, o_last = Signal(), Signal()
        advance = ~o_valid | self.o_ready
        m.d.comb += [self.o_valid.eq(o_valid), self.o_last.eq(o_last),
                     self.o_data.eq(Cat(rd.data for _, rd in banks)),
                     m_rd_drain.addr.eq(d_tile)]
        o_total = a_slot * R if os else a_ptr       # result rows of the batch
        for _, rd in banks:
            m.d.comb += [rd.addr.eq(d_idx), rd.en.eq(draining & advance & (d_idx < o_total))]
        tile_end = d_row + 1 == (R if os else m_rd_drain.data)
        if spec.meta_bits:
            self._metadata(m, idle, sel, draining & advance & (d_idx >= o_total))

        # ---- state ---------------------------------------------------------------------------
        with m.If(go):
            m.d.sync += [state.eq(_State.RUN), cur.eq(sel), t.eq(1), w_base.eq(wb),
                         a_base.eq(ab), a_end.eq(last_row), o_base.eq(ob),
                         more.eq(Mux(first_go, a_slot[1:].any(), cur + 2 < a_slot)),
                         (o_end_m1.eq(o_end_go - 1) if spec.o_next else o_end.eq(o_end_go))]
        with m.Elif(running & tile_done):
            m.d.sync += [state.eq(_State.DRAIN), d_idx.eq(0), d_row.eq(0), d_tile.eq(0),
                         o_valid.eq(0)]
        with m.Elif(running):
            m.d.sync += t.eq(t + 1)
        with m.Elif(draining & advance):
            with m.If(d_idx < o_total):
                m.d.sync += [o_valid.eq(1), o_last.eq(tile_end), d_idx.eq(d_idx + 1)]
                with m.If(tile_end):
                    m.d.sync += [d_row.eq(0), d_tile.eq(d_tile + 1)]
                with m.Else():
                    m.d.sync += d_row.eq(d_row + 1)
            with m.Else():  # the last row has been accepted: empty the buffers
                m.d.sync += [o_valid.eq(0), state.eq(_State.IDLE),
                             w_slot.eq(0), w_k.eq(0), w_wbase.eq(0),
                             a_slot.eq(0), a_ptr.eq(0), a_m.eq(0)]
        return m


    @staticmethod
    def _at_end(m: Module, n: int, go: Value, valid: Value, optr: Value, o_end_m1: Value,
                first_end: Value) -> tuple[Signal, Signal]:
        """A register ``at_end`` equal to ``optr == o_end`` (column ``n``'s next write is the
        running tile's last result) whenever a tile runs, and its next value: set at ``go``
        from ``first_end``, at each write from ``optr == o_end - 1``."""
        at_end = Signal(name=f"at_end{n}")
        at_end_next = Signal(name=f"at_end{n}_next")
        m.d.comb += at_end_next.eq(Mux(go, first_end, Mux(valid, optr == o_end_m1, at_end)))
        m.d.sync += at_end.eq(at_end_next)
        return at_end, at_end_next

    def _done_ahead(self, m: Module, tile_done: Signal, running_next: Value,
                    finished_next: Value, at_ends_next: list[Signal]) -> None:
        """``tile_done`` as a register: the write compares of the next cycle, evaluated one
        cycle early from the core's look-ahead ``o_next`` (rtl/core.py "Result look-ahead")
        and the next values of ``running``, ``finished`` and the ``at_end`` registers. Equal
        in every cycle to the combinational ``last_write.any() & (finished |
        last_write).all()`` it replaces (same cycle counts); ``go`` is then a flip-flop and
        two gates."""
        lw_next = Signal(self.spec.cols, name="last_write_next")
        for n, at_end_next in enumerate(at_ends_next):
            m.d.comb += lw_next[n].eq(running_next & self.core.o_next[n] & at_end_next)
        m.d.sync += tile_done.eq(lw_next.any() & (finished_next | lw_next).all())


class _ReadView:
    """``addr`` / ``data`` of a transparent synchronous read (see :func:`_bypassed_read`)."""

    def __init__(self, addr: Value, data: Value) -> None:
        self.addr, self.data = addr, data


def _bypassed_read(m: Module, mem: Memory, wr: Any, name: str) -> _ReadView:
    """A synchronous read port of ``mem`` transparent for ``wr`` (a read at the edge that
    writes the same row returns the new word), built as a plain (non-transparent) read plus a
    registered bypass instead of Amaranth's ``transparent_for``. Same values in every cycle;
    the difference is physical: Amaranth writes a transparent port as a registered address and
    an asynchronous read, so synthesis made the RAM's output latch out of the first register
    *after* the read (a PE's stationary or input register) and the RAM's slow clock-to-output
    ran straight into that PE's multiplier. Here the read's own register is the RAM's latch
    and the PE's register stays in the fabric."""
    rd = mem.read_port()
    addr = Signal.like(rd.addr, name=f"{name}_addr")
    hit, word = Signal(name=f"{name}_hit"), Signal.like(wr.data, name=f"{name}_word")
    m.d.comb += rd.addr.eq(addr)
    m.d.sync += [hit.eq(wr.en & (wr.addr == addr)), word.eq(wr.data)]
    return _ReadView(addr, Mux(hit, word, rd.data))


@dataclass(frozen=True)
class TileView:
    """What a cycle knows of the tile it works on: ``tt`` its cycle index, ``wb`` / ``ab``
    the base addresses of its stationary / streamed rows, ``active`` (starting or running),
    ``idle`` (the controller state), ``k`` / ``s`` its K and S (from registers)."""

    tt: Value
    wb: Value
    ab: Value
    active: Value
    idle: Value
    k: Value | None
    s: Value


class TilePick:
    """``pick(f)``: ``f`` of the tile a cycle works on, ``f`` evaluated on each of three
    :class:`TileView` s (the batch's first tile starting, the next tile starting, the
    running tile) and selected by ``first_go`` / ``next_go`` last, so no logic in ``f`` waits
    for ``go`` (which comes late in the cycle, from the result-write compare)."""

    def __init__(self, first_go: Value, next_go: Value,
                 views: tuple[TileView, TileView, TileView]) -> None:
        self.first_go, self.next_go, self.views = first_go, next_go, views

    def __call__(self, f: Any) -> Value:
        first, nxt, run = (f(v) for v in self.views)
        return Mux(self.first_go, first, Mux(self.next_go, nxt, run))


def _prefetched(m: Module, mem: Memory, cur: Value, go: Value, first_go: Value,
                name: str) -> tuple[Value, Value, Value]:
    """Entry ``sel`` of a per-tile table (``mem``: K or S of each loaded tile) for the three
    tiles a cycle may work on: the batch's first (``mem[0]``, read at a constant address),
    the next (``<name>_nxt``) and the running one (``<name>_cur``). The registers are loaded
    at each ``go`` with the new tile's entry and the one after it (read at ``cur + 2``, so no
    read address waits for ``go``). The table is written only while IDLE, so the registers
    equal the RAM whenever they are used."""
    first, second, ahead = (mem.read_port(domain="comb") for _ in range(3))
    m.d.comb += [first.addr.eq(0), second.addr.eq(1), ahead.addr.eq(cur + 2)]
    cur_q = Signal(mem.shape, name=f"{name}_cur")
    nxt_q = Signal(mem.shape, name=f"{name}_nxt")
    with m.If(go):
        m.d.sync += [cur_q.eq(Mux(first_go, first.data, nxt_q)),
                     nxt_q.eq(Mux(first_go, second.data, ahead.data))]
    return first.data, nxt_q, cur_q
