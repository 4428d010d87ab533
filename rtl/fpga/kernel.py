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

The AXI4-Lite slave, the beat assembler and the output word drain are
:mod:`qaccel.rtl.fpga.datapath`'s, shared with the PYNQ shell; this module adds the burst
engines, the segment headers, the pointer registers and the RUN control.
"""

from __future__ import annotations

from amaranth.hdl import DomainRenamer, Module, Signal
from amaranth.lib.wiring import Out

from qaccel.rtl.controller import CYCLES_BITS, ArrayTop
from qaccel.rtl.fpga.axi_master import (
    ADDR_BITS,
    READ_SIGNALS,
    WRITE_SIGNALS,
    BurstReader,
    BurstWriter,
    axi_master_ports,
)
from qaccel.rtl.fpga.datapath import (
    ApShell,
    BeatAssembler,
    add_control_writes,
    add_lite_read,
    add_lite_write,
    add_output_drain,
    control_state,
)
from qaccel.rtl.fpga.regmap import SEGMENT_WORDS_BITS

__all__ = ["AxiMasterKernel", "kernel_name", "GMEM"]

#: the AXI4 master's port prefix (Vitis: ``m_axi_<bundle>``)
GMEM = "m_axi_gmem"


def kernel_name(top: ArrayTop) -> str:
    """Verilog module (and Vitis kernel) name of the kernel around ``top``."""
    return f"{top.design.name}_krnl"


class AxiMasterKernel(ApShell):
    """Vitis RTL kernel around ``top`` (see the module docstring).

    Attributes
    ----------
    ap_clk, ap_rst_n, s_axi_control_* as :class:`~qaccel.rtl.fpga.datapath.ApShell` (KIND
        ``"maxi"``)
    m_axi_gmem_* AXI4 master (:data:`~qaccel.rtl.fpga.axi_master.READ_SIGNALS`,
        :data:`~qaccel.rtl.fpga.axi_master.WRITE_SIGNALS`), 64-bit addresses, 32-bit data
    interrupt Out(1)
    """

    KIND = "maxi"

    def __init__(self, top: ArrayTop) -> None:
        super().__init__(top, kernel_name(top), {**axi_master_ports(GMEM),
                                                 "interrupt": Out(1)})

    def elaborate(self, platform: object) -> Module:
        m, regs = self.ap_module()
        top = self.top
        m.submodules.reader = reader = DomainRenamer({"sync": "ap"})(BurstReader())
        m.submodules.writer = writer = DomainRenamer({"sync": "ap"})(BurstWriter())
        for engine, signals in ((reader, READ_SIGNALS), (writer, WRITE_SIGNALS)):
            for name, direction, _ in signals:
                ours, theirs = getattr(self, f"{GMEM}_{name}"), getattr(engine, f"axi_{name}")
                m.d.comb += ours.eq(theirs) if direction == "out" else theirs.eq(ours)

        # ---- state shared by the register file and the datapath ---------------------------
        ctl = control_state()
        length = Signal(32)
        in_ptr, out_ptr = Signal(ADDR_BITS, name="in_ptr"), Signal(ADDR_BITS, name="out_ptr")
        cycles = Signal(CYCLES_BITS)
        tiles = Signal(32)
        drained = Signal(32)
        running, loading = Signal(name="running"), Signal(name="loading")

        # ---- AXI4-Lite: CTRL, GIE/IER/ISR, LENGTH and the pointers written; all read -----
        w = add_lite_write(m, self._port)
        words = {"LENGTH": length, "IN_PTR_LO": in_ptr[:32], "IN_PTR_HI": in_ptr[32:],
                 "OUT_PTR_LO": out_ptr[:32], "OUT_PTR_HI": out_ptr[32:]}
        with m.If(w.write):
            with m.Switch(w.addr[2:]):
                add_control_writes(m, regs, ctl, w)
                for name, target in words.items():
                    with m.Case(regs[name].offset >> 2):
                        for byte in range(4):
                            with m.If(w.strb[byte]):
                                m.d.ap += target[8 * byte:8 * byte + 8].eq(
                                    w.data[8 * byte:8 * byte + 8])
        add_lite_read(m, self._port, regs, ctl, running,
                      {"CYCLES": cycles, "TILES": tiles, **words})
        m.d.comb += self.interrupt.eq(ctl.interrupt())

        # ---- LOAD: m_axi reads -> segment headers -> beats of the selected input port -----
        sel, seg_left = Signal(2, name="sel"), Signal(SEGMENT_WORDS_BITS, name="seg_left")
        beats = BeatAssembler(self.in_widths, sel)
        header = seg_left == 0
        m.d.comb += reader.ready.eq(header | ~beats.known | ~beats.full)
        word = reader.data
        with m.If(reader.valid & reader.ready):
            with m.If(header):
                m.d.ap += [sel.eq(word[SEGMENT_WORDS_BITS:]),
                           seg_left.eq(word[:SEGMENT_WORDS_BITS])]
            with m.Else():
                m.d.ap += seg_left.eq(seg_left - 1)
        store = reader.valid & reader.ready & ~header & beats.known
        with m.If(beats.add_to(m, top, store, word)):
            m.d.ap += tiles.eq(tiles + 1)

        # ---- DRAIN: o_* rows -> words -> m_axi write bursts ------------------------------
        drain = add_output_drain(m, top, self.out_width, drained, writer.ready)
        m.d.comb += [writer.valid.eq(drain.ofull), writer.data.eq(drain.word)]

        # ---- RUN: ap_start -> fetch -> start -> drain -> the last write acknowledged ------
        with m.If(running & top.done):
            m.d.ap += cycles.eq(cycles + top.cycles)
        accept = ctl.ap_start & ~running
        with m.If(accept):
            m.d.comb += [reader.start.eq(1), reader.addr.eq(in_ptr), reader.words.eq(length),
                         writer.start.eq(1), writer.addr.eq(out_ptr)]
            m.d.ap += [ctl.ap_start.eq(0), cycles.eq(0), drained.eq(0), tiles.eq(0),
                       running.eq(1), loading.eq(1), seg_left.eq(0), beats.idx.eq(0)]
        loaded = loading & ~accept & ~reader.busy & ~beats.full
        with m.If(loaded):
            m.d.ap += loading.eq(0)
            with m.If(tiles != 0):
                m.d.comb += top.start.eq(1)
        drain_over = running & ~loading & (drained == tiles) & ~drain.ofull & ~top.busy
        m.d.comb += writer.flush.eq(drain_over)
        with m.If(drain_over & writer.idle & ~top.start):
            m.d.ap += [running.eq(0), *ctl.finish()]
        return m
