"""The AXI shell around a family's array top: AXI4-Lite control, AXI4-Stream data.

:class:`AxiStreamShell` wraps any :class:`qaccel.rtl.controller.ArrayTop` (built from
outside; the array top is not changed) with the ports a Vivado block design or a Vitis RTL
kernel expects, named by their conventions:

* ``ap_clk`` / ``ap_rst_n``: the clock and the synchronous active-low reset.
* ``s_axi_control_*``: an AXI4-Lite slave decoding :func:`qaccel.rtl.fpga.regmap.registers`
  (``"axis"``): CTRL with the ``ap_ctrl_hs`` bits, GIE/IER/ISR, STREAM, LENGTH, CYCLES, TILES.
* ``s_axis_*``: 32-bit AXI4-Stream in. During LOAD (no run in progress) its words are
  gathered into beats of the input port STREAM selects (``w_*``, ``m_*``, ``a_*``); a beat is
  :func:`~qaccel.rtl.fpga.regmap.beat_words` words holding ``data | last << width``.
  ``s_axis_tlast`` is not needed (a DMA transfer may hold any number of whole beats).
* ``m_axis_*``: 32-bit AXI4-Stream out. Each ``o_*`` result row leaves as
  ``beat_words(C*acc_bits)`` words (``data | o_last << width``); TLAST marks the last word of
  the batch's last row, so one DMA receive collects one batch.
* ``interrupt``: ``GIE & |(IER & ISR)``.

Run: writing CTRL.AP_START while idle pulses the array top's ``start`` (AP_START reads 1
until then); CYCLES accumulates the top's ``cycles`` at each ``done``; when every loaded tile
has drained and the last word has left ``m_axis``, AP_DONE and AP_READY rise (clear on
read), ISR latches the enabled events and LENGTH / TILES clear. Starting with no tile loaded
finishes at once with CYCLES = 0.

Latency/throughput: one stream word per cycle in and out (a beat of ``n`` words moves into
the top one cycle after its last word; an output row takes ``n`` cycles plus one to latch);
the RUN phase is the array top's, unchanged, so CYCLES equals the family's ``timing()``.

The AXI4-Lite slave, the beat assembler and the output word drain are
:mod:`qaccel.rtl.fpga.datapath`'s, shared with the U280 kernel; this module adds the stream
handshakes, STREAM, LENGTH and the RUN control.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib.wiring import In, Out

from qaccel.rtl.controller import CYCLES_BITS, ArrayTop
from qaccel.rtl.fpga.datapath import (
    ApShell,
    BeatAssembler,
    add_control_writes,
    add_lite_read,
    add_lite_write,
    add_output_drain,
    axi_lite_ports,
    control_state,
    input_widths,
    output_width,
)
from qaccel.rtl.fpga.regmap import STREAM_WORD_BITS

__all__ = ["AxiStreamShell", "shell_name", "input_widths", "output_width", "axi_lite_ports"]

_W = STREAM_WORD_BITS


def shell_name(top: ArrayTop) -> str:
    """Verilog module name of the shell around ``top``."""
    return f"{top.design.name}_axi"


class AxiStreamShell(ApShell):
    """AXI4-Lite + AXI4-Stream shell around ``top`` (see the module docstring).

    Attributes
    ----------
    ap_clk, ap_rst_n, s_axi_control_* as :class:`~qaccel.rtl.fpga.datapath.ApShell` (KIND
        ``"axis"``)
    s_axis_tdata In(32), s_axis_tvalid In(1), s_axis_tready Out(1), s_axis_tlast In(1)
    m_axis_tdata Out(32), m_axis_tvalid Out(1), m_axis_tready In(1), m_axis_tlast Out(1),
    m_axis_tkeep Out(4) (all ones)
    interrupt Out(1)
    """

    KIND = "axis"

    def __init__(self, top: ArrayTop) -> None:
        super().__init__(top, shell_name(top), {
            "s_axis_tdata": In(_W), "s_axis_tvalid": In(1), "s_axis_tready": Out(1),
            "s_axis_tlast": In(1),
            "m_axis_tdata": Out(_W), "m_axis_tvalid": Out(1), "m_axis_tready": In(1),
            "m_axis_tlast": Out(1), "m_axis_tkeep": Out(_W // 8),
            "interrupt": Out(1),
        })

    def elaborate(self, platform: object) -> Module:
        m, regs = self.ap_module()
        top = self.top

        # ---- state shared by the register file and the datapath ---------------------------
        ctl = control_state()
        sel = Signal(2)
        length = Signal(32)
        cycles = Signal(CYCLES_BITS)
        d = top.design
        tiles = Signal(range(d.max_tiles + 1))
        drained = Signal(range(d.max_tiles + 1))
        running = Signal()

        # ---- AXI4-Lite: CTRL, GIE/IER/ISR, STREAM written; all read ----------------------
        w = add_lite_write(m, self._port)
        with m.If(w.write):
            with m.Switch(w.addr[2:]):
                add_control_writes(m, regs, ctl, w)
                with m.Case(regs["STREAM"].offset >> 2):
                    with m.If(w.strb[0]):
                        m.d.ap += sel.eq(w.data[:2])
        add_lite_read(m, self._port, regs, ctl, running,
                      {"STREAM": sel, "LENGTH": length, "CYCLES": cycles, "TILES": tiles})
        m.d.comb += self.interrupt.eq(ctl.interrupt())

        # ---- s_axis -> the selected input port (LOAD) ----------------------------------
        beats = BeatAssembler(self.in_widths, sel)
        full = beats.full
        m.d.comb += self.s_axis_tready.eq(~full & ~running & ~ctl.ap_start & beats.known)
        word_in = self.s_axis_tvalid & self.s_axis_tready
        with m.If(word_in):
            m.d.ap += length.eq(length + 1)
        a_tile = beats.add_to(m, top, word_in, self.s_axis_tdata)
        # TILES counts a tile when the word holding its last a_* beat's flag arrives, so it
        # is current as soon as the DMA transfer has ended
        with m.If(a_tile):
            m.d.ap += tiles.eq(tiles + 1)

        # ---- o_* -> m_axis (DRAIN) -------------------------------------------------------
        drain = add_output_drain(m, top, self.out_width, drained, self.m_axis_tready)
        batch_end = Signal()
        with m.If(drain.capture):
            m.d.ap += batch_end.eq(top.o_last & (drained + 1 == tiles))
        m.d.comb += [self.m_axis_tvalid.eq(drain.ofull), self.m_axis_tdata.eq(drain.word),
                     self.m_axis_tlast.eq(batch_end & drain.last_word),
                     self.m_axis_tkeep.eq((1 << (_W // 8)) - 1)]

        # ---- RUN: ap_start -> start, done events, the end of the batch --------------------
        with m.If(running & top.done):
            m.d.ap += cycles.eq(cycles + top.cycles)
        accept = ctl.ap_start & ~running & ~full
        finish = Signal()
        with m.If(accept):
            m.d.ap += [ctl.ap_start.eq(0), cycles.eq(0), drained.eq(0)]
            with m.If(tiles != 0):
                m.d.comb += top.start.eq(1)
                m.d.ap += running.eq(1)
            with m.Else():
                m.d.comb += finish.eq(1)
        with m.If(running & (drained == tiles) & ~drain.ofull & ~top.busy):
            m.d.comb += finish.eq(1)
            m.d.ap += running.eq(0)
        with m.If(finish):  # after the read handler: setting wins over clear-on-read
            m.d.ap += [*ctl.finish(), tiles.eq(0), length.eq(0)]
        return m
