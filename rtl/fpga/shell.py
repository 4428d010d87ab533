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
"""

from __future__ import annotations

from amaranth.hdl import ClockDomain, Const, DomainRenamer, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from qaccel.rtl.controller import CYCLES_BITS, ArrayTop
from qaccel.rtl.fpga.regmap import (
    STREAM_WORD_BITS,
    STREAMS,
    address_bits,
    beat_words,
    registers,
)

__all__ = ["AxiStreamShell", "shell_name", "input_widths", "output_width", "axi_lite_ports"]

_W = STREAM_WORD_BITS


def shell_name(top: ArrayTop) -> str:
    """Verilog module name of the shell around ``top``."""
    return f"{top.design.name}_axi"


def input_widths(top: ArrayTop) -> dict[str, int]:
    """Data width (bits) of each input port the STREAM register can select, by stream."""
    d = top.design
    out = {"w": d.cols * d.w_word_bits}
    if d.meta_bits:
        out["m"] = d.meta_bits
    out["a"] = d.rows * d.a_word_bits
    return out


def output_width(top: ArrayTop) -> int:
    """Data width of ``o_data`` (unit: bits)."""
    return top.design.cols * top.design.acc_bits


def axi_lite_ports(prefix: str, addr_bits: int) -> dict[str, object]:
    """The members of an AXI4-Lite slave named ``<prefix>_<awaddr...>`` (data 32 bits)."""
    p = prefix
    return {f"{p}_awaddr": In(addr_bits), f"{p}_awvalid": In(1), f"{p}_awready": Out(1),
            f"{p}_wdata": In(32), f"{p}_wstrb": In(4), f"{p}_wvalid": In(1),
            f"{p}_wready": Out(1), f"{p}_bresp": Out(2), f"{p}_bvalid": Out(1),
            f"{p}_bready": In(1), f"{p}_araddr": In(addr_bits), f"{p}_arvalid": In(1),
            f"{p}_arready": Out(1), f"{p}_rdata": Out(32), f"{p}_rresp": Out(2),
            f"{p}_rvalid": Out(1), f"{p}_rready": In(1)}


class AxiStreamShell(wiring.Component):
    """AXI4-Lite + AXI4-Stream shell around ``top`` (see the module docstring).

    Attributes
    ----------
    ap_clk In(1), ap_rst_n In(1)
        clock; synchronous reset, active low
    s_axi_control_* AXI4-Lite slave, 32-bit data, ``address_bits("axis")``-bit addresses
    s_axis_tdata In(32), s_axis_tvalid In(1), s_axis_tready Out(1), s_axis_tlast In(1)
    m_axis_tdata Out(32), m_axis_tvalid Out(1), m_axis_tready In(1), m_axis_tlast Out(1),
    m_axis_tkeep Out(4) (all ones)
    interrupt Out(1)
    """

    KIND = "axis"

    def __init__(self, top: ArrayTop) -> None:
        self.top = top
        self.name = shell_name(top)
        self.in_widths = input_widths(top)
        self.out_width = output_width(top)
        ports: dict[str, object] = {"ap_clk": In(1), "ap_rst_n": In(1)}
        ports.update(axi_lite_ports("s_axi_control", address_bits(self.KIND)))
        ports.update({
            "s_axis_tdata": In(_W), "s_axis_tvalid": In(1), "s_axis_tready": Out(1),
            "s_axis_tlast": In(1),
            "m_axis_tdata": Out(_W), "m_axis_tvalid": Out(1), "m_axis_tready": In(1),
            "m_axis_tlast": Out(1), "m_axis_tkeep": Out(_W // 8),
            "interrupt": Out(1),
        })
        super().__init__(ports)

    def _port(self, suffix: str) -> Signal:
        return getattr(self, f"s_axi_control_{suffix}")

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.domains.ap = cd = ClockDomain("ap", local=True)
        m.d.comb += [cd.clk.eq(self.ap_clk), cd.rst.eq(~self.ap_rst_n)]
        top = self.top
        m.submodules.top = DomainRenamer({"sync": "ap"})(top)
        regs = {r.name: r for r in registers(self.KIND)}

        # ---- state shared by the register file and the datapath ---------------------------
        ap_start, ap_done, ap_ready = Signal(), Signal(), Signal()
        gie, ier, isr = Signal(), Signal(2), Signal(2)
        sel = Signal(2)
        length = Signal(32)
        cycles = Signal(CYCLES_BITS)
        d = top.design
        tiles = Signal(range(d.max_tiles + 1))
        drained = Signal(range(d.max_tiles + 1))
        running = Signal()

        # ---- AXI4-Lite write channel: AW and W each accepted on their own, then B --------
        # (a master may wait for AWREADY before raising WVALID; the slave must not deadlock)
        aw_full, w_full, bvalid = Signal(), Signal(), Signal()
        aw_q, w_q, strb_q = (Signal.like(self._port("awaddr")), Signal(32), Signal(4))
        aw_take = self._port("awvalid") & ~aw_full & ~bvalid
        w_take = self._port("wvalid") & ~w_full & ~bvalid
        m.d.comb += [self._port("awready").eq(aw_take), self._port("wready").eq(w_take),
                     self._port("bvalid").eq(bvalid), self._port("bresp").eq(0)]
        with m.If(aw_take):
            m.d.ap += [aw_q.eq(self._port("awaddr")), aw_full.eq(1)]
        with m.If(w_take):
            m.d.ap += [w_q.eq(self._port("wdata")), strb_q.eq(self._port("wstrb")),
                       w_full.eq(1)]
        awaddr, wdata, wstrb = aw_q, w_q, strb_q
        write = aw_full & w_full & ~bvalid
        with m.If(bvalid & self._port("bready")):
            m.d.ap += bvalid.eq(0)
        with m.If(write):
            m.d.ap += [bvalid.eq(1), aw_full.eq(0), w_full.eq(0)]
            with m.Switch(awaddr[2:]):
                with m.Case(regs["CTRL"].offset >> 2):
                    with m.If(wstrb[0] & wdata[regs["CTRL"].field("AP_START").lsb]):
                        m.d.ap += ap_start.eq(1)
                with m.Case(regs["GIE"].offset >> 2):
                    with m.If(wstrb[0]):
                        m.d.ap += gie.eq(wdata[0])
                with m.Case(regs["IER"].offset >> 2):
                    with m.If(wstrb[0]):
                        m.d.ap += ier.eq(wdata[:2])
                with m.Case(regs["ISR"].offset >> 2):
                    with m.If(wstrb[0]):
                        m.d.ap += isr.eq(isr ^ wdata[:2])
                with m.Case(regs["STREAM"].offset >> 2):
                    with m.If(wstrb[0]):
                        m.d.ap += sel.eq(wdata[:2])

        # ---- AXI4-Lite read channel ------------------------------------------------------
        rvalid, rdata = Signal(), Signal(32)
        read = self._port("arvalid") & ~rvalid
        m.d.comb += [self._port("arready").eq(read), self._port("rvalid").eq(rvalid),
                     self._port("rdata").eq(rdata), self._port("rresp").eq(0)]
        with m.If(rvalid & self._port("rready")):
            m.d.ap += rvalid.eq(0)
        ctrl = regs["CTRL"]
        ctrl_word = Signal(32)
        m.d.comb += [ctrl_word[ctrl.field("AP_START").lsb].eq(ap_start),
                     ctrl_word[ctrl.field("AP_DONE").lsb].eq(ap_done),
                     ctrl_word[ctrl.field("AP_IDLE").lsb].eq(~running),
                     ctrl_word[ctrl.field("AP_READY").lsb].eq(ap_ready)]
        values = {"CTRL": ctrl_word, "GIE": gie, "IER": ier, "ISR": isr, "STREAM": sel,
                  "LENGTH": length, "CYCLES": cycles, "TILES": tiles}
        with m.If(read):
            m.d.ap += [rvalid.eq(1), rdata.eq(0)]
            with m.Switch(self._port("araddr")[2:]):
                for name, value in values.items():
                    with m.Case(regs[name].offset >> 2):
                        m.d.ap += rdata.eq(value)
                        if name == "CTRL":  # AP_DONE / AP_READY clear on read
                            m.d.ap += [ap_done.eq(0), ap_ready.eq(0)]
        m.d.comb += self.interrupt.eq(gie & (ier & isr).any())

        # ---- s_axis -> the selected input port (LOAD) ----------------------------------
        codes = {s: STREAMS.index(s) for s in self.in_widths}
        n_max = max(beat_words(w) for w in self.in_widths.values())
        buf = Signal(n_max * _W)
        idx, full = Signal(range(n_max)), Signal()
        known = Const(0, 1)
        n_sel = Const(1, range(n_max + 1))
        for s, width in self.in_widths.items():
            known = known | (sel == codes[s])
            n_sel = Mux(sel == codes[s], beat_words(width), n_sel)
        m.d.comb += self.s_axis_tready.eq(~full & ~running & ~ap_start & known)
        word_in = self.s_axis_tvalid & self.s_axis_tready
        with m.If(word_in):
            m.d.ap += length.eq(length + 1)
            with m.Switch(idx):
                for i in range(n_max):
                    with m.Case(i):
                        m.d.ap += buf[i * _W:(i + 1) * _W].eq(self.s_axis_tdata)
            with m.If(idx == n_sel - 1):
                m.d.ap += [idx.eq(0), full.eq(1)]
            with m.Else():
                m.d.ap += idx.eq(idx + 1)
        taken = Const(0, 1)
        for s, width in self.in_widths.items():
            on = full & (sel == codes[s])
            m.d.comb += [getattr(top, f"{s}_valid").eq(on),
                         getattr(top, f"{s}_data").eq(buf[:width]),
                         getattr(top, f"{s}_last").eq(buf[width])]
            taken = taken | (on & getattr(top, f"{s}_ready"))
        with m.If(taken):
            m.d.ap += full.eq(0)
        # TILES counts a tile when the word holding its last a_* beat's flag arrives, so it
        # is current as soon as the DMA transfer has ended
        n_a, flag = beat_words(self.in_widths["a"]), self.in_widths["a"] % _W
        with m.If(word_in & (sel == codes["a"]) & (idx == n_a - 1) & self.s_axis_tdata[flag]):
            m.d.ap += tiles.eq(tiles + 1)

        # ---- o_* -> m_axis (DRAIN) -------------------------------------------------------
        n_o = beat_words(self.out_width)
        obuf = Signal(n_o * _W)
        oidx, ofull, batch_end = Signal(range(n_o)), Signal(), Signal()
        m.d.comb += top.o_ready.eq(~ofull)
        with m.If(top.o_valid & ~ofull):
            m.d.ap += [obuf.eq(top.o_data | (top.o_last << self.out_width)), ofull.eq(1),
                         oidx.eq(0), batch_end.eq(top.o_last & (drained + 1 == tiles))]
            with m.If(top.o_last):
                m.d.ap += drained.eq(drained + 1)
        words = [obuf[i * _W:(i + 1) * _W] for i in range(n_o)]
        word_out = Signal(_W)
        with m.Switch(oidx):
            for i, w in enumerate(words):
                with m.Case(i):
                    m.d.comb += word_out.eq(w)
        m.d.comb += [self.m_axis_tvalid.eq(ofull), self.m_axis_tdata.eq(word_out),
                     self.m_axis_tlast.eq(batch_end & (oidx == n_o - 1)),
                     self.m_axis_tkeep.eq((1 << (_W // 8)) - 1)]
        with m.If(self.m_axis_tvalid & self.m_axis_tready):
            with m.If(oidx == n_o - 1):
                m.d.ap += ofull.eq(0)
            with m.Else():
                m.d.ap += oidx.eq(oidx + 1)

        # ---- RUN: ap_start -> start, done events, the end of the batch --------------------
        with m.If(running & top.done):
            m.d.ap += cycles.eq(cycles + top.cycles)
        accept = ap_start & ~running & ~full
        finish = Signal()
        with m.If(accept):
            m.d.ap += [ap_start.eq(0), cycles.eq(0), drained.eq(0)]
            with m.If(tiles != 0):
                m.d.comb += top.start.eq(1)
                m.d.ap += running.eq(1)
            with m.Else():
                m.d.comb += finish.eq(1)
        with m.If(running & (drained == tiles) & ~ofull & ~top.busy):
            m.d.comb += finish.eq(1)
            m.d.ap += running.eq(0)
        with m.If(finish):  # after the read handler: setting wins over clear-on-read
            m.d.ap += [ap_done.eq(1), ap_ready.eq(1), isr.eq(isr | ier), tiles.eq(0),
                         length.eq(0)]
        return m
