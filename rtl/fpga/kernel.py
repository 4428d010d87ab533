"""The U280 RTL kernel: AXI4-Lite control and an AXI4 master that fetches from HBM itself.

:class:`AxiMasterKernel` wraps any :class:`qaccel.rtl.controller.ArrayTop` (built from
outside, unchanged; the same input widths and beat format as the PYNQ shell,
:mod:`qaccel.rtl.fpga.shell`) with the ports of a Vitis RTL kernel:

* ``ap_clk`` / ``ap_rst_n``: the clock and the synchronous active-low reset.
* ``s_axi_control_*``: AXI4-Lite slave decoding :func:`qaccel.rtl.fpga.regmap.registers`
  (``"maxi"``): CTRL (``ap_ctrl_hs``), GIE/IER/ISR, LENGTH (words to fetch), CYCLES, TILES
  and the 64-bit pointers IN_PTR / OUT_PTR.
* ``m_axi_gmem_*``: AXI4 master, 32-bit data, 64-bit addresses, INCR bursts
  (:mod:`qaccel.rtl.fpga.axi_master`).
* ``interrupt``: ``GIE & |(IER & ISR)``.

Run (one ``ap_start`` per batch): the kernel reads LENGTH words from IN_PTR, a memory image
of segments (:mod:`~qaccel.rtl.fpga.regmap`: a header word naming the stream and its word
count, then the words), gathers them into beats of ``w_*`` / ``m_*`` / ``a_*`` as the PYNQ
shell does from ``s_axis``; when every word has been handed to the array top it pulses
``start``; each ``o_*`` result row goes out as ``beat_words`` words (``data | o_last <<
width``) to OUT_PTR onwards. When every tile has drained and the last write burst is
acknowledged, AP_DONE and AP_READY rise (clear on read) and ISR latches the enabled events.
CYCLES sums the top's ``cycles`` at each ``done`` (= the batch's ``timing()``), TILES counts
the tiles fetched (both cleared by the next ``ap_start``). A segment for a stream the design
lacks is read and dropped.
"""

from __future__ import annotations

from amaranth.hdl import ClockDomain, Const, DomainRenamer, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from qaccel.rtl.controller import CYCLES_BITS, ArrayTop
from qaccel.rtl.fpga.axi_master import (
    ADDR_BITS,
    READ_SIGNALS,
    WRITE_SIGNALS,
    BurstReader,
    BurstWriter,
    axi_master_ports,
)
from qaccel.rtl.fpga.regmap import (
    SEGMENT_WORDS_BITS,
    STREAM_WORD_BITS,
    STREAMS,
    address_bits,
    beat_words,
    registers,
)
from qaccel.rtl.fpga.shell import axi_lite_ports, input_widths, output_width

__all__ = ["AxiMasterKernel", "kernel_name", "GMEM"]

_W = STREAM_WORD_BITS
#: the AXI4 master's port prefix (Vitis: ``m_axi_<bundle>``)
GMEM = "m_axi_gmem"


def kernel_name(top: ArrayTop) -> str:
    """Verilog module (and Vitis kernel) name of the kernel around ``top``."""
    return f"{top.design.name}_krnl"


class AxiMasterKernel(wiring.Component):
    """Vitis RTL kernel around ``top`` (see the module docstring).

    Attributes
    ----------
    ap_clk In(1), ap_rst_n In(1)
        clock; synchronous reset, active low
    s_axi_control_* AXI4-Lite slave, 32-bit data, ``address_bits("maxi")``-bit addresses
    m_axi_gmem_* AXI4 master (:data:`~qaccel.rtl.fpga.axi_master.READ_SIGNALS`,
        :data:`~qaccel.rtl.fpga.axi_master.WRITE_SIGNALS`), 64-bit addresses, 32-bit data
    interrupt Out(1)
    """

    KIND = "maxi"

    def __init__(self, top: ArrayTop) -> None:
        self.top = top
        self.name = kernel_name(top)
        self.in_widths = input_widths(top)
        self.out_width = output_width(top)
        ports: dict[str, object] = {"ap_clk": In(1), "ap_rst_n": In(1)}
        ports.update(axi_lite_ports("s_axi_control", address_bits(self.KIND)))
        ports.update(axi_master_ports(GMEM))
        ports["interrupt"] = Out(1)
        super().__init__(ports)

    def _port(self, suffix: str) -> Signal:
        return getattr(self, f"s_axi_control_{suffix}")

    def elaborate(self, platform: object) -> Module:  # noqa: C901 - one datapath
        m = Module()
        m.domains.ap = cd = ClockDomain("ap", local=True)
        m.d.comb += [cd.clk.eq(self.ap_clk), cd.rst.eq(~self.ap_rst_n)]
        top = self.top
        m.submodules.top = DomainRenamer({"sync": "ap"})(top)
        m.submodules.reader = reader = DomainRenamer({"sync": "ap"})(BurstReader())
        m.submodules.writer = writer = DomainRenamer({"sync": "ap"})(BurstWriter())
        for engine, signals in ((reader, READ_SIGNALS), (writer, WRITE_SIGNALS)):
            for name, direction, _ in signals:
                ours, theirs = getattr(self, f"{GMEM}_{name}"), getattr(engine, f"axi_{name}")
                m.d.comb += ours.eq(theirs) if direction == "out" else theirs.eq(ours)
        regs = {r.name: r for r in registers(self.KIND)}
        ctrl = regs["CTRL"]

        # ---- state shared by the register file and the datapath ---------------------------
        ap_start, ap_done, ap_ready = Signal(), Signal(), Signal()
        gie, ier, isr = Signal(), Signal(2), Signal(2)
        length = Signal(32)
        in_ptr, out_ptr = Signal(ADDR_BITS), Signal(ADDR_BITS)
        cycles = Signal(CYCLES_BITS)
        tiles = Signal(32)
        drained = Signal(32)
        running, loading = Signal(), Signal()

        # ---- AXI4-Lite write channel: AW and W each accepted on their own, then B --------
        aw_full, w_full, bvalid = Signal(), Signal(), Signal()
        awaddr, wdata, wstrb = Signal.like(self._port("awaddr")), Signal(32), Signal(4)
        aw_take = self._port("awvalid") & ~aw_full & ~bvalid
        w_take = self._port("wvalid") & ~w_full & ~bvalid
        m.d.comb += [self._port("awready").eq(aw_take), self._port("wready").eq(w_take),
                     self._port("bvalid").eq(bvalid), self._port("bresp").eq(0)]
        with m.If(aw_take):
            m.d.ap += [awaddr.eq(self._port("awaddr")), aw_full.eq(1)]
        with m.If(w_take):
            m.d.ap += [wdata.eq(self._port("wdata")), wstrb.eq(self._port("wstrb")),
                       w_full.eq(1)]
        with m.If(bvalid & self._port("bready")):
            m.d.ap += bvalid.eq(0)
        words = {"LENGTH": length, "IN_PTR_LO": in_ptr[:32], "IN_PTR_HI": in_ptr[32:],
                 "OUT_PTR_LO": out_ptr[:32], "OUT_PTR_HI": out_ptr[32:]}
        with m.If(aw_full & w_full & ~bvalid):
            m.d.ap += [bvalid.eq(1), aw_full.eq(0), w_full.eq(0)]
            with m.Switch(awaddr[2:]):
                with m.Case(ctrl.offset >> 2):
                    with m.If(wstrb[0] & wdata[ctrl.field("AP_START").lsb]):
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
                for name, target in words.items():
                    with m.Case(regs[name].offset >> 2):
                        for byte in range(4):
                            with m.If(wstrb[byte]):
                                m.d.ap += target[8 * byte:8 * byte + 8].eq(
                                    wdata[8 * byte:8 * byte + 8])

        # ---- AXI4-Lite read channel ------------------------------------------------------
        rvalid, rdata = Signal(), Signal(32)
        read = self._port("arvalid") & ~rvalid
        m.d.comb += [self._port("arready").eq(read), self._port("rvalid").eq(rvalid),
                     self._port("rdata").eq(rdata), self._port("rresp").eq(0)]
        with m.If(rvalid & self._port("rready")):
            m.d.ap += rvalid.eq(0)
        ctrl_word = Signal(32)
        m.d.comb += [ctrl_word[ctrl.field("AP_START").lsb].eq(ap_start),
                     ctrl_word[ctrl.field("AP_DONE").lsb].eq(ap_done),
                     ctrl_word[ctrl.field("AP_IDLE").lsb].eq(~running),
                     ctrl_word[ctrl.field("AP_READY").lsb].eq(ap_ready)]
        values = {"CTRL": ctrl_word, "GIE": gie, "IER": ier, "ISR": isr, "CYCLES": cycles,
                  "TILES": tiles, **words}
        with m.If(read):
            m.d.ap += [rvalid.eq(1), rdata.eq(0)]
            with m.Switch(self._port("araddr")[2:]):
                for name, value in values.items():
                    with m.Case(regs[name].offset >> 2):
                        m.d.ap += rdata.eq(value)
                        if name == "CTRL":  # AP_DONE / AP_READY clear on read
                            m.d.ap += [ap_done.eq(0), ap_ready.eq(0)]
        m.d.comb += self.interrupt.eq(gie & (ier & isr).any())

        # ---- LOAD: m_axi reads -> segment headers -> beats of the selected input port -----
        codes = {s: STREAMS.index(s) for s in self.in_widths}
        n_max = max(beat_words(w) for w in self.in_widths.values())
        sel, seg_left = Signal(2), Signal(SEGMENT_WORDS_BITS)
        buf = Signal(n_max * _W)
        idx, full = Signal(range(n_max)), Signal()
        known = Const(0, 1)
        n_sel = Const(1, range(n_max + 1))
        for s, width in self.in_widths.items():
            known = known | (sel == codes[s])
            n_sel = Mux(sel == codes[s], beat_words(width), n_sel)
        header = seg_left == 0
        m.d.comb += reader.ready.eq(header | ~known | ~full)
        word = reader.data
        with m.If(reader.valid & reader.ready):
            with m.If(header):
                m.d.ap += [sel.eq(word[SEGMENT_WORDS_BITS:]),
                           seg_left.eq(word[:SEGMENT_WORDS_BITS])]
            with m.Else():
                m.d.ap += seg_left.eq(seg_left - 1)
                with m.If(known):
                    with m.Switch(idx):
                        for i in range(n_max):
                            with m.Case(i):
                                m.d.ap += buf[i * _W:(i + 1) * _W].eq(word)
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
        n_a, flag = beat_words(self.in_widths["a"]), self.in_widths["a"] % _W
        with m.If(reader.valid & reader.ready & ~header & (sel == codes["a"])
                  & (idx == n_a - 1) & word[flag]):
            m.d.ap += tiles.eq(tiles + 1)

        # ---- DRAIN: o_* rows -> words -> m_axi write bursts ------------------------------
        n_o = beat_words(self.out_width)
        obuf = Signal(n_o * _W)
        oidx, ofull = Signal(range(n_o)), Signal()
        m.d.comb += top.o_ready.eq(~ofull)
        with m.If(top.o_valid & ~ofull):
            m.d.ap += [obuf.eq(top.o_data | (top.o_last << self.out_width)), ofull.eq(1),
                       oidx.eq(0)]
            with m.If(top.o_last):
                m.d.ap += drained.eq(drained + 1)
        with m.Switch(oidx):
            for i in range(n_o):
                with m.Case(i):
                    m.d.comb += writer.data.eq(obuf[i * _W:(i + 1) * _W])
        m.d.comb += writer.valid.eq(ofull)
        with m.If(writer.valid & writer.ready):
            with m.If(oidx == n_o - 1):
                m.d.ap += ofull.eq(0)
            with m.Else():
                m.d.ap += oidx.eq(oidx + 1)

        # ---- RUN: ap_start -> fetch -> start -> drain -> the last write acknowledged ------
        with m.If(running & top.done):
            m.d.ap += cycles.eq(cycles + top.cycles)
        accept = ap_start & ~running
        with m.If(accept):
            m.d.comb += [reader.start.eq(1), reader.addr.eq(in_ptr), reader.words.eq(length),
                         writer.start.eq(1), writer.addr.eq(out_ptr)]
            m.d.ap += [ap_start.eq(0), cycles.eq(0), drained.eq(0), tiles.eq(0),
                       running.eq(1), loading.eq(1), seg_left.eq(0), idx.eq(0)]
        loaded = loading & ~accept & ~reader.busy & ~full
        with m.If(loaded):
            m.d.ap += loading.eq(0)
            with m.If(tiles != 0):
                m.d.comb += top.start.eq(1)
        drain_over = running & ~loading & (drained == tiles) & ~ofull & ~top.busy
        m.d.comb += writer.flush.eq(drain_over)
        with m.If(drain_over & writer.idle & ~top.start):
            m.d.ap += [running.eq(0), ap_done.eq(1), ap_ready.eq(1), isr.eq(isr | ier)]
        return m
