"""An AXI4 master for the U280 kernel: INCR burst reads into a word stream, and a word
stream written back in INCR bursts (no HLS).

Both engines speak 32-bit data (:data:`~qaccel.rtl.fpga.regmap.STREAM_WORD_BITS`) at 64-bit
byte addresses (:data:`ADDR_BITS`), one burst outstanding at a time, bursts of at most
:data:`MAX_BURST` beats that never cross a :data:`MAX_BURST` x 4-byte boundary (so never a
4 KiB one, as AXI4 requires). Addresses are taken as 4-byte aligned (the low two bits are
ignored; XRT buffers are 4 KiB aligned).

:func:`axi_master_ports` names the ports ``<prefix>_<signal>`` the way Vivado's IP packager
infers an ``aximm`` interface (``m_axi_gmem_awaddr`` ...); :class:`BurstReader` and
:class:`BurstWriter` are plain components in the ``sync`` domain whose ``axi_*`` members the
kernel wires to those ports.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from qaccel.rtl.fpga.regmap import STREAM_WORD_BITS

__all__ = ["ADDR_BITS", "DATA_BITS", "ID_BITS", "MAX_BURST", "axi_master_ports",
           "BurstReader", "BurstWriter", "READ_SIGNALS", "WRITE_SIGNALS"]

#: address width of m_axi (unit: bits)
ADDR_BITS = 64
#: data width of m_axi (unit: bits)
DATA_BITS = STREAM_WORD_BITS
#: AXI ID width (the ID is always 0; present because AXI4 slaves models expect it)
ID_BITS = 1
#: beats per burst at most (a power of two)
MAX_BURST = 16
_BYTES = DATA_BITS // 8
_SIZE = (_BYTES - 1).bit_length()  # AxSIZE: log2(bytes per beat)
_INCR = 1

#: (signal, direction seen from the master, width) of the read and write channels
READ_SIGNALS = (("arid", "out", ID_BITS), ("araddr", "out", ADDR_BITS), ("arlen", "out", 8),
                ("arsize", "out", 3), ("arburst", "out", 2), ("arvalid", "out", 1),
                ("arready", "in", 1), ("rid", "in", ID_BITS), ("rdata", "in", DATA_BITS),
                ("rresp", "in", 2), ("rlast", "in", 1), ("rvalid", "in", 1),
                ("rready", "out", 1))
WRITE_SIGNALS = (("awid", "out", ID_BITS), ("awaddr", "out", ADDR_BITS),
                 ("awlen", "out", 8), ("awsize", "out", 3), ("awburst", "out", 2),
                 ("awvalid", "out", 1), ("awready", "in", 1), ("wdata", "out", DATA_BITS),
                 ("wstrb", "out", _BYTES), ("wlast", "out", 1), ("wvalid", "out", 1),
                 ("wready", "in", 1), ("bid", "in", ID_BITS), ("bresp", "in", 2),
                 ("bvalid", "in", 1), ("bready", "out", 1))


def _member(direction: str, width: int) -> object:
    return Out(width) if direction == "out" else In(width)


def axi_master_ports(prefix: str) -> dict[str, object]:
    """The members of an AXI4 master ``<prefix>_<signal>`` (read and write channels)."""
    return {f"{prefix}_{name}": _member(d, w) for name, d, w in READ_SIGNALS + WRITE_SIGNALS}


def _burst_beats(addr: Signal, remaining: Signal) -> Mux:
    """Beats of the next burst: up to the next MAX_BURST-beat boundary, at most remaining."""
    lsb = _SIZE
    to_boundary = MAX_BURST - addr[lsb:lsb + (MAX_BURST - 1).bit_length()]
    return Mux(remaining < to_boundary, remaining, to_boundary)


class BurstReader(wiring.Component):
    """Read ``words`` 32-bit words from byte address ``addr`` in INCR bursts.

    Attributes
    ----------
    start In(1): one-cycle pulse, latches ``addr`` (In(64)) and ``words`` (In(32));
    busy Out(1): bursts still to issue or to receive;
    data Out(32), valid Out(1), ready In(1): the words in address order (R beats pass
    straight through: ``rready = ready``);
    axi_ar*, axi_r*: the read channels (:data:`READ_SIGNALS`).

    Latency: an AR per burst, then one word per cycle while ``ready`` and RVALID are high.
    """

    def __init__(self) -> None:
        ports = {"start": In(1), "addr": In(ADDR_BITS), "words": In(32), "busy": Out(1),
                 "data": Out(DATA_BITS), "valid": Out(1), "ready": In(1)}
        ports.update({f"axi_{n}": _member(d, w) for n, d, w in READ_SIGNALS})
        super().__init__(ports)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        addr, remaining = Signal(ADDR_BITS), Signal(32)
        beats = Signal(32)
        m.d.comb += beats.eq(_burst_beats(addr, remaining))
        m.d.comb += [self.axi_arid.eq(0), self.axi_araddr.eq(addr & ~(_BYTES - 1)),
                     self.axi_arlen.eq(beats - 1), self.axi_arsize.eq(_SIZE),
                     self.axi_arburst.eq(_INCR), self.data.eq(self.axi_rdata)]
        with m.FSM(name="read") as fsm:
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [addr.eq(self.addr), remaining.eq(self.words)]
                    with m.If(self.words != 0):
                        m.next = "ADDR"
            with m.State("ADDR"):
                m.d.comb += self.axi_arvalid.eq(1)
                with m.If(self.axi_arready):
                    m.d.sync += [addr.eq(addr + beats * _BYTES),
                                 remaining.eq(remaining - beats)]
                    m.next = "DATA"
            with m.State("DATA"):
                m.d.comb += [self.valid.eq(self.axi_rvalid), self.axi_rready.eq(self.ready)]
                with m.If(self.axi_rvalid & self.ready & self.axi_rlast):
                    with m.If(remaining != 0):
                        m.next = "ADDR"
                    with m.Else():
                        m.next = "IDLE"
        m.d.comb += self.busy.eq(~fsm.ongoing("IDLE"))
        return m


class BurstWriter(wiring.Component):
    """Write a stream of 32-bit words from byte address ``addr`` on in INCR bursts.

    The words wait in a FIFO of ``2 * MAX_BURST``; a burst is issued (AW, then its W beats,
    then B) when the FIFO holds enough words to reach the next burst boundary, or when
    ``flush`` says no more words come and some are left.

    Attributes
    ----------
    start In(1): one-cycle pulse (while ``idle``), latches ``addr`` (In(64));
    data In(32), valid In(1), ready Out(1): the words, in address order;
    flush In(1): high once the last word has been offered (level-sensitive);
    idle Out(1): no word waiting and no burst in flight (every B received);
    axi_aw*, axi_w*, axi_b*: the write channels (:data:`WRITE_SIGNALS`).
    """

    def __init__(self) -> None:
        ports = {"start": In(1), "addr": In(ADDR_BITS), "data": In(DATA_BITS),
                 "valid": In(1), "ready": Out(1), "flush": In(1), "idle": Out(1)}
        ports.update({f"axi_{n}": _member(d, w) for n, d, w in WRITE_SIGNALS})
        super().__init__(ports)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=DATA_BITS, depth=2 * MAX_BURST)
        m.d.comb += [fifo.w_data.eq(self.data), fifo.w_en.eq(self.valid),
                     self.ready.eq(fifo.w_rdy)]
        addr, level = Signal(ADDR_BITS), Signal(32)
        beats, length, sent = Signal(32), Signal(8), Signal(8)
        m.d.comb += [level.eq(fifo.level), beats.eq(_burst_beats(addr, level))]
        lsb = _SIZE
        to_boundary = MAX_BURST - addr[lsb:lsb + (MAX_BURST - 1).bit_length()]
        m.d.comb += [self.axi_awid.eq(0), self.axi_awaddr.eq(addr & ~(_BYTES - 1)),
                     self.axi_awlen.eq(length), self.axi_awsize.eq(_SIZE),
                     self.axi_awburst.eq(_INCR), self.axi_wdata.eq(fifo.r_data),
                     self.axi_wstrb.eq((1 << _BYTES) - 1),
                     self.axi_wlast.eq(sent == length)]
        with m.FSM(name="write") as fsm:
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += addr.eq(self.addr)
                with m.Elif((level >= to_boundary) | (self.flush & (level != 0))):
                    m.d.sync += [length.eq(beats - 1), sent.eq(0)]
                    m.next = "ADDR"
            with m.State("ADDR"):
                m.d.comb += self.axi_awvalid.eq(1)
                with m.If(self.axi_awready):
                    m.next = "DATA"
            with m.State("DATA"):
                m.d.comb += [self.axi_wvalid.eq(fifo.r_rdy),
                             fifo.r_en.eq(self.axi_wready)]
                with m.If(self.axi_wready & fifo.r_rdy):
                    m.d.sync += sent.eq(sent + 1)
                    with m.If(sent == length):
                        m.next = "RESP"
            with m.State("RESP"):
                m.d.comb += self.axi_bready.eq(1)
                with m.If(self.axi_bvalid):
                    m.d.sync += addr.eq(addr + (length + 1) * _BYTES)
                    m.next = "IDLE"
        m.d.comb += self.idle.eq(fsm.ongoing("IDLE") & (level == 0))
        return m
