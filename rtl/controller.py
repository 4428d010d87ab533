"""The generic array controller: tile buffers, LOAD / RUN / DRAIN streams, cycle counter.

Every family's array top is an :class:`ArrayTop` around the family's array core
(:mod:`qaccel.rtl.core`), so the port names, widths and protocol below are the same for all
families and one cocotb driver / monitor serves them all (DESIGN.md "RTL contract").

Protocol
--------
1. **LOAD** (state IDLE). Fill the buffers through two valid/ready streams; a beat moves at a
   rising edge where ``*_valid`` and ``*_ready`` are both high. ``*_ready`` depends only on
   state (never combinationally on an input).

   * ``w_*``: the stationary operand of each tile, one array row per beat (row ``k`` of the
     tile first to last, ``k < rows``), ``w_last`` on the tile's last row. A tile with
     ``K < rows`` rows sends ``K`` beats; the missing rows are preloaded as zeros. The
     ``rows``-th beat of a tile ends it even without ``w_last``.
   * ``a_*``: the streamed operand, one row per beat, ``a_last`` on the tile's last row.
     The number of beats is the tile's streamed length ``S`` (``M`` for ws).

   Words a tile does not use (columns ``>= N``, lanes ``>= K``) must be sent as zeros. A batch
   holds up to ``max_tiles`` tiles and ``buffer_rows`` streamed rows in all; a stream whose
   buffer is full holds ``*_ready`` low.
2. **RUN**: a one-cycle ``start`` pulse (while IDLE, with at least one tile loaded) runs every
   loaded tile back to back with no external stall. ``busy`` is high from the edge that
   samples ``start`` until the batch is drained.
3. **DRAIN**: after the last tile, results leave through ``o_*`` (valid/ready), one result row
   per beat in load order, ``o_last`` on each tile's last row; then the buffers are empty and
   the controller is back in IDLE.

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
``R + m``, and column ``C-1`` writes row ``S-1`` in cycle ``2R + C + S - 2``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import enum, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from qaccel.rtl.core import CoreSpec, core_signature

__all__ = ["ArrayTop", "Design", "CYCLES_BITS"]

#: width of the ``cycles`` port (unit: bits)
CYCLES_BITS = 32


@dataclass(frozen=True)
class Design:
    """What a testbench needs to know about a built top, taken from the top itself.

    ``params`` is the family parameter object's ``to_dict()`` (with ``family``); widths in
    bits; ``buffer_rows`` streamed rows and ``max_tiles`` tiles fit one batch.
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
        The core's sides and widths (R = ``spec.rows``, C = ``spec.cols``).
    core : Component
        The family's array core, with :func:`qaccel.rtl.core.core_signature` ``(spec)``.
    params : dict
        The family parameter object's ``to_dict()``, recorded in :attr:`design`.
    name : str
        Verilog module name.
    buffer_rows : int
        Streamed rows (and result rows) the batch buffers hold; a tile's streamed length
        must be ``<= buffer_rows``.
    max_tiles : int
        Tiles per batch (stationary buffer depth is ``max_tiles * R`` rows).

    Attributes
    ----------
    Clock ``clk`` and synchronous active-high ``rst`` (Amaranth's ``sync`` domain), and::

        w_valid In(1)   w_ready Out(1)  w_data In(C*w_word_bits)  w_last In(1)
        a_valid In(1)   a_ready Out(1)  a_data In(R*a_word_bits)  a_last In(1)
        start   In(1)   one-cycle pulse: run the loaded batch
        busy    Out(1)  a batch is running or draining
        done    Out(1)  one-cycle pulse per tile, raised by the edge that writes its last result
        cycles  Out(32) start->done cycles of the last finished tile (see module docstring)
        o_valid Out(1)  o_ready In(1)   o_data Out(C*acc_bits)    o_last Out(1)

    Word ``i`` of a row occupies bits ``[i*w, (i+1)*w)`` (two's complement codes). No
    ``m_*`` metadata stream exists until a family with ``meta_bits > 0`` needs one.
    Latency/throughput: LOAD and DRAIN move one row per stream per cycle; RUN takes the sum
    of the tiles' ``cycles``.
    """

    def __init__(self, spec: CoreSpec, core: wiring.Component, *, params: dict[str, Any],
                 name: str, buffer_rows: int = 256, max_tiles: int = 16) -> None:
        if core.signature != core_signature(spec):
            raise TypeError(f"core must have signature {core_signature(spec)!r}, "
                            f"not {core.signature!r}")
        for what, value in (("buffer_rows", buffer_rows), ("max_tiles", max_tiles)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65536:
                raise ValueError(f"{what} must be an int in 1..65536, not {value!r}")
        self.spec, self.core = spec, core
        self.design = Design(name=name, params=dict(params), rows=spec.rows, cols=spec.cols,
                             w_word_bits=spec.w_word_bits, a_word_bits=spec.a_word_bits,
                             acc_bits=spec.acc_bits, buffer_rows=buffer_rows,
                             max_tiles=max_tiles)
        super().__init__({
            "w_valid": In(1), "w_ready": Out(1), "w_data": In(spec.w_row_bits), "w_last": In(1),
            "a_valid": In(1), "a_ready": Out(1), "a_data": In(spec.a_row_bits), "a_last": In(1),
            "start": In(1), "busy": Out(1), "done": Out(1), "cycles": Out(CYCLES_BITS),
            "o_valid": Out(1), "o_ready": In(1), "o_data": Out(spec.o_row_bits),
            "o_last": Out(1),
        })

    def elaborate(self, platform: object) -> Module:
        spec, core = self.spec, self.core
        R, C = spec.rows, spec.cols  # noqa: N806 - array sides, as in the docs
        D, T = self.design.buffer_rows, self.design.max_tiles  # noqa: N806
        m = Module()
        m.submodules.core = core

        # ---- buffers ----------------------------------------------------------------------
        m.submodules.wmem = wmem = Memory(shape=spec.w_row_bits, depth=T * R, init=[])
        m.submodules.amem = amem = Memory(shape=spec.a_row_bits, depth=D, init=[])
        m.submodules.kmem = kmem = Memory(shape=range(R + 1), depth=T, init=[])
        m.submodules.mmem = mmem = Memory(shape=range(D + 1), depth=T, init=[])
        w_wr = wmem.write_port()
        w_rd = wmem.read_port(transparent_for=(w_wr,))
        a_wr = amem.write_port()
        a_rd = amem.read_port(transparent_for=(a_wr,))
        k_wr, k_rd = kmem.write_port(), kmem.read_port(domain="comb")
        m_wr, m_rd, m_rd_drain = (mmem.write_port(), mmem.read_port(domain="comb"),
                                  mmem.read_port(domain="comb"))
        banks = []
        for n in range(C):
            bank = Memory(shape=spec.acc_bits, depth=D, init=[])
            m.submodules[f"obank{n}"] = bank
            banks.append((bank.write_port(), bank.read_port()))

        state = Signal(_State)
        idle, running, draining = (state == _State.IDLE, state == _State.RUN,
                                   state == _State.DRAIN)
        m.d.comb += self.busy.eq(~idle)

        # ---- LOAD: append tiles to the buffers ------------------------------------------------
        w_slot, w_k = Signal(range(T + 1)), Signal(range(R + 1))
        w_wbase = Signal(range(T * R + 1))
        a_slot, a_ptr, a_m = Signal(range(T + 1)), Signal(range(D + 1)), Signal(range(D + 1))
        m.d.comb += [self.w_ready.eq(idle & (w_slot < T)),
                     self.a_ready.eq(idle & (a_ptr < D) & (a_slot < T))]
        w_fire = self.w_valid & self.w_ready
        a_fire = self.a_valid & self.a_ready
        m.d.comb += [w_wr.addr.eq(w_wbase + w_k), w_wr.data.eq(self.w_data), w_wr.en.eq(w_fire),
                     k_wr.addr.eq(w_slot), k_wr.data.eq(w_k + 1),
                     a_wr.addr.eq(a_ptr), a_wr.data.eq(self.a_data), a_wr.en.eq(a_fire),
                     m_wr.addr.eq(a_slot), m_wr.data.eq(a_m + 1)]
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
        t = Signal(range(2 * R + C + D))       # cycles since the tile's start edge
        w_base = Signal(range(T * R + 1))      # its stationary rows
        a_base, a_end = Signal(range(D)), Signal(range(D))  # its first / last streamed row
        tile_done = Signal()
        first_go = idle & self.start & (a_slot != 0)
        next_go = running & tile_done & (cur + 1 < a_slot)
        go = first_go | next_go
        sel, wb, ab = Signal.like(cur), Signal.like(w_base), Signal.like(a_base)
        with m.If(first_go):
            m.d.comb += [sel.eq(0), wb.eq(0), ab.eq(0)]
        with m.Elif(next_go):
            m.d.comb += [sel.eq(cur + 1), wb.eq(w_base + R), ab.eq(a_end + 1)]
        with m.Else():
            m.d.comb += [sel.eq(cur), wb.eq(w_base), ab.eq(a_base)]
        tt = Mux(go, 0, t)                     # cycle index within the tile, 0 at its start
        m.d.comb += [k_rd.addr.eq(sel), m_rd.addr.eq(sel)]
        k_sel, s_sel = k_rd.data, m_rd.data

        # Preload: step tt (0..R-1) shifts in stationary row R-1-tt, zero if >= K.
        pre = go | (running & (t < R))
        m.d.comb += [core.w_load.eq(pre),
                     core.w_row.eq(Mux(pre & (tt + k_sel >= R), w_rd.data, 0))]
        more_rows = (tt < R - 1) if R > 1 else Const(0)  # a step tt + 1 follows
        with m.If(pre & more_rows):
            m.d.comb += w_rd.addr.eq(wb + (R - 2) - tt)    # the row of step tt + 1
        with m.Elif(idle):
            m.d.comb += w_rd.addr.eq(R - 1)                # step 0 of the batch's first tile
        with m.Else():
            m.d.comb += w_rd.addr.eq(wb + (2 * R - 1))     # step 0 of the next tile

        # Stream: read row m in cycle R-1+m, present it to the core in cycle R+m.
        a_issue = (go | running) & (tt < s_sel + (R - 1))
        if R > 1:
            a_issue &= tt >= R - 1
        a_valid_q = Signal()
        m.d.comb += a_rd.addr.eq(ab + tt - (R - 1))
        m.d.sync += a_valid_q.eq(a_issue)
        m.d.comb += [core.a_valid.eq(a_valid_q),
                     core.a_row.eq(Mux(a_valid_q, a_rd.data, 0))]

        # Results: column n writes its next row at optr[n]; the tile ends when every
        # column has written row a_end.
        finished = Signal(C)
        last_write = Signal(C)
        for n, (wr, _) in enumerate(banks):
            optr = Signal(range(D), name=f"optr{n}")
            valid = running & core.o_valid[n]
            m.d.comb += [wr.addr.eq(optr), wr.en.eq(valid),
                         wr.data.eq(core.o_data.word_select(n, spec.acc_bits)),
                         last_write[n].eq(valid & (optr == a_end))]
            with m.If(go):
                m.d.sync += optr.eq(ab)
            with m.Elif(valid):
                m.d.sync += optr.eq(optr + 1)
        m.d.comb += tile_done.eq(last_write.any() & (finished | last_write).all())
        with m.If(go):
            m.d.sync += finished.eq(0)
        with m.Else():
            m.d.sync += finished.eq(finished | last_write)

        m.d.sync += self.done.eq(tile_done)
        with m.If(tile_done):
            m.d.sync += self.cycles.eq(t)

        # ---- DRAIN: result rows out in load order -------------------------------------------
        d_idx, d_row = Signal(range(D + 1)), Signal(range(D))
        d_tile = Signal(range(T))
        o_valid, o_last = Signal(), Signal()
        advance = ~o_valid | self.o_ready
        m.d.comb += [self.o_valid.eq(o_valid), self.o_last.eq(o_last),
                     self.o_data.eq(Cat(rd.data for _, rd in banks)),
                     m_rd_drain.addr.eq(d_tile)]
        for _, rd in banks:
            m.d.comb += [rd.addr.eq(d_idx), rd.en.eq(draining & advance & (d_idx < a_ptr))]
        tile_end = d_row + 1 == m_rd_drain.data

        # ---- state ---------------------------------------------------------------------------
        with m.If(go):
            m.d.sync += [state.eq(_State.RUN), cur.eq(sel), t.eq(1), w_base.eq(wb),
                         a_base.eq(ab), a_end.eq(ab + s_sel - 1)]
        with m.Elif(running & tile_done):
            m.d.sync += [state.eq(_State.DRAIN), d_idx.eq(0), d_row.eq(0), d_tile.eq(0),
                         o_valid.eq(0)]
        with m.Elif(running):
            m.d.sync += t.eq(t + 1)
        with m.Elif(draining & advance):
            with m.If(d_idx < a_ptr):
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
