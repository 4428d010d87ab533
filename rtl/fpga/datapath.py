"""The logic both FPGA shells share: the AXI4-Lite control slave, the beat assembler and the
output word drain.

:class:`~qaccel.rtl.fpga.shell.AxiStreamShell` (PYNQ: words from ``s_axis``, results to
``m_axis``) and :class:`~qaccel.rtl.fpga.kernel.AxiMasterKernel` (U280: words fetched and
written by its AXI4 master) differ only in where the 32-bit words come from and go to; each
adds these pieces to its own :class:`~amaranth.hdl.Module`, in its clock domain ``domain``
(``"ap"``: ``ap_clk`` / ``ap_rst_n``). The register map is
:func:`qaccel.rtl.fpga.regmap.registers`, the beat format
:func:`~qaccel.rtl.fpga.regmap.beat_words`.

Cycle behaviour (the same in both shells):

* AXI4-Lite write: AW and W are each accepted on their own (a master may wait for AWREADY
  before raising WVALID), the register is written the cycle after both are held, and B is
  valid from then until BREADY. Read: AR is accepted while no R is pending, RDATA is valid
  the next cycle until RREADY; reading CTRL clears AP_DONE and AP_READY.
* Beats: a stored word fills the beat buffer at ``idx``; the word that completes a beat of
  the selected port sets ``full``, which offers the beat (``<s>_valid``) the next cycle and
  clears when the array top takes it.
* Drain: an ``o_*`` row is latched the cycle ``o_valid`` meets an empty buffer; its
  ``beat_words`` words leave one per accepted cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from amaranth.hdl import ClockDomain, Const, DomainRenamer, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from qaccel.rtl.controller import ArrayTop
from qaccel.rtl.fpga.regmap import (
    STREAM_WORD_BITS,
    STREAMS,
    Register,
    address_bits,
    beat_words,
    registers,
)

__all__ = ["ApShell", "Control", "LiteWrite", "BeatAssembler", "Drain", "control_state",
           "add_lite_write", "add_control_writes", "add_lite_read", "add_output_drain",
           "input_widths", "output_width", "axi_lite_ports"]

_W = STREAM_WORD_BITS
#: an AXI4-Lite slave's port by suffix (``"awaddr"`` -> ``s_axi_control_awaddr``)
Port = Callable[[str], Signal]


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


class ApShell(wiring.Component):
    """What both shells around ``top`` have, then the subclass's ``ports``.

    Attributes
    ----------
    ap_clk In(1), ap_rst_n In(1)
        clock; synchronous reset, active low
    s_axi_control_* AXI4-Lite slave (:func:`axi_lite_ports`), 32-bit data,
        ``address_bits(KIND)``-bit addresses, decoding ``registers(KIND)``
    in_widths, out_width
        :func:`input_widths`, :func:`output_width` of ``top`` (unit: bits)
    """

    KIND = ""

    def __init__(self, top: ArrayTop, name: str, ports: dict[str, object]) -> None:
        self.top = top
        self.name = name
        self.in_widths = input_widths(top)
        self.out_width = output_width(top)
        members: dict[str, object] = {"ap_clk": In(1), "ap_rst_n": In(1)}
        members.update(axi_lite_ports("s_axi_control", address_bits(self.KIND)))
        members.update(ports)
        super().__init__(members)

    def _port(self, suffix: str) -> Signal:
        return getattr(self, f"s_axi_control_{suffix}")

    def ap_module(self) -> tuple[Module, dict[str, Register]]:
        """A module with the ``ap`` domain (``ap_clk``, reset ``~ap_rst_n``) and the array
        top in it as ``top``; the :attr:`KIND`'s registers by name."""
        m = Module()
        m.domains.ap = cd = ClockDomain("ap", local=True)
        m.d.comb += [cd.clk.eq(self.ap_clk), cd.rst.eq(~self.ap_rst_n)]
        m.submodules.top = DomainRenamer({"sync": "ap"})(self.top)
        return m, {r.name: r for r in registers(self.KIND)}


@dataclass(frozen=True)
class Control:
    """The ``ap_ctrl_hs`` bits of CTRL and the interrupt registers GIE (1 bit), IER (2 bits)
    and ISR (2 bits: done, ready)."""

    ap_start: Signal
    ap_done: Signal
    ap_ready: Signal
    gie: Signal
    ier: Signal
    isr: Signal

    def interrupt(self) -> Value:
        """The ``interrupt`` port's value: ``GIE & |(IER & ISR)``."""
        return self.gie & (self.ier & self.isr).any()

    def finish(self) -> list[Any]:
        """Amaranth statements for a finished run: AP_DONE, AP_READY, ISR |= IER."""
        return [self.ap_done.eq(1), self.ap_ready.eq(1), self.isr.eq(self.isr | self.ier)]


def control_state() -> Control:
    """Fresh CTRL / interrupt registers (reset 0)."""
    return Control(ap_start=Signal(name="ap_start"), ap_done=Signal(name="ap_done"),
                   ap_ready=Signal(name="ap_ready"), gie=Signal(name="gie"),
                   ier=Signal(2, name="ier"), isr=Signal(2, name="isr"))


@dataclass(frozen=True)
class LiteWrite:
    """One AXI4-Lite write: ``write`` is high the one cycle the caller must decode
    ``addr`` (byte address), ``data`` (32 bits) and ``strb`` (4 byte enables)."""

    write: Value
    addr: Signal
    data: Signal
    strb: Signal


def add_lite_write(m: Module, port: Port, domain: str = "ap") -> LiteWrite:
    """The AXI4-Lite write channel: AW and W each accepted on their own into a holding
    register, then one write cycle and B (BRESP OKAY) until BREADY."""
    aw_full, w_full = Signal(name="aw_full"), Signal(name="w_full")
    bvalid = Signal(name="bvalid")
    awaddr = Signal.like(port("awaddr"), name="awaddr")
    wdata, wstrb = Signal(32, name="wdata"), Signal(4, name="wstrb")
    aw_take = port("awvalid") & ~aw_full & ~bvalid
    w_take = port("wvalid") & ~w_full & ~bvalid
    m.d.comb += [port("awready").eq(aw_take), port("wready").eq(w_take),
                 port("bvalid").eq(bvalid), port("bresp").eq(0)]
    with m.If(aw_take):
        m.d[domain] += [awaddr.eq(port("awaddr")), aw_full.eq(1)]
    with m.If(w_take):
        m.d[domain] += [wdata.eq(port("wdata")), wstrb.eq(port("wstrb")), w_full.eq(1)]
    with m.If(bvalid & port("bready")):
        m.d[domain] += bvalid.eq(0)
    write = aw_full & w_full & ~bvalid
    with m.If(write):
        m.d[domain] += [bvalid.eq(1), aw_full.eq(0), w_full.eq(0)]
    return LiteWrite(write, awaddr, wdata, wstrb)


def add_control_writes(m: Module, regs: Mapping[str, Register], ctl: Control, w: LiteWrite,
                       domain: str = "ap") -> None:
    """The ``Case`` arms of CTRL (AP_START), GIE, IER and ISR (toggle on write); call inside
    the caller's ``with m.Switch(w.addr[2:])`` under ``w.write``."""
    with m.Case(regs["CTRL"].offset >> 2):
        with m.If(w.strb[0] & w.data[regs["CTRL"].field("AP_START").lsb]):
            m.d[domain] += ctl.ap_start.eq(1)
    with m.Case(regs["GIE"].offset >> 2):
        with m.If(w.strb[0]):
            m.d[domain] += ctl.gie.eq(w.data[0])
    with m.Case(regs["IER"].offset >> 2):
        with m.If(w.strb[0]):
            m.d[domain] += ctl.ier.eq(w.data[:2])
    with m.Case(regs["ISR"].offset >> 2):
        with m.If(w.strb[0]):
            m.d[domain] += ctl.isr.eq(ctl.isr ^ w.data[:2])


def add_lite_read(m: Module, port: Port, regs: Mapping[str, Register], ctl: Control,
                  running: Value, values: Mapping[str, Value], domain: str = "ap") -> None:
    """The AXI4-Lite read channel over CTRL (AP_IDLE = ``~running``), GIE, IER, ISR and
    ``values`` (register name -> value); unmapped addresses read 0."""
    rvalid, rdata = Signal(name="rvalid"), Signal(32, name="rdata")
    read = port("arvalid") & ~rvalid
    m.d.comb += [port("arready").eq(read), port("rvalid").eq(rvalid),
                 port("rdata").eq(rdata), port("rresp").eq(0)]
    with m.If(rvalid & port("rready")):
        m.d[domain] += rvalid.eq(0)
    ctrl = regs["CTRL"]
    ctrl_word = Signal(32, name="ctrl_word")
    m.d.comb += [ctrl_word[ctrl.field("AP_START").lsb].eq(ctl.ap_start),
                 ctrl_word[ctrl.field("AP_DONE").lsb].eq(ctl.ap_done),
                 ctrl_word[ctrl.field("AP_IDLE").lsb].eq(~running),
                 ctrl_word[ctrl.field("AP_READY").lsb].eq(ctl.ap_ready)]
    every = {"CTRL": ctrl_word, "GIE": ctl.gie, "IER": ctl.ier, "ISR": ctl.isr, **values}
    with m.If(read):
        m.d[domain] += [rvalid.eq(1), rdata.eq(0)]
        with m.Switch(port("araddr")[2:]):
            for name, value in every.items():
                with m.Case(regs[name].offset >> 2):
                    m.d[domain] += rdata.eq(value)
                    if name == "CTRL":  # AP_DONE / AP_READY clear on read
                        m.d[domain] += [ctl.ap_done.eq(0), ctl.ap_ready.eq(0)]


class BeatAssembler:
    """Words -> beats of the input port that ``sel`` (a :data:`STREAMS` index) selects.

    Built in two steps because the caller's word handshake needs :attr:`full` and
    :attr:`known` before :meth:`add_to` is told when a word is stored.

    Attributes
    ----------
    full Signal(1): a whole beat waits for the array top
    idx Signal(range(n_max)): the next word's place in the beat
    known Value(1): ``sel`` names a port the array top has
    """

    def __init__(self, in_widths: Mapping[str, int], sel: Value) -> None:
        self.in_widths = dict(in_widths)
        self.sel = sel
        self.codes = {s: STREAMS.index(s) for s in self.in_widths}
        self.n_max = n_max = max(beat_words(w) for w in self.in_widths.values())
        self.buf = Signal(n_max * _W, name="buf")
        self.idx, self.full = Signal(range(n_max), name="idx"), Signal(name="full")
        known: Value = Const(0, 1)
        n_sel: Value = Const(1, range(n_max + 1))
        for s, width in self.in_widths.items():
            known = known | (sel == self.codes[s])
            n_sel = Mux(sel == self.codes[s], beat_words(width), n_sel)
        self.known, self.n_sel = known, n_sel

    def add_to(self, m: Module, top: ArrayTop, store: Value, word: Value,
               domain: str = "ap") -> Value:
        """Store ``word`` (32 bits) when ``store`` is high (the caller guarantees ``known``
        and ``~full`` then) and drive ``top``'s ``<s>_valid/data/last`` from the buffer; the
        a-tile strobe: high while the stored word holds the flag of a tile's last ``a_*``
        beat (the caller counts TILES with it)."""
        buf, idx, full = self.buf, self.idx, self.full
        with m.If(store):
            with m.Switch(idx):
                for i in range(self.n_max):
                    with m.Case(i):
                        m.d[domain] += buf[i * _W:(i + 1) * _W].eq(word)
            with m.If(idx == self.n_sel - 1):
                m.d[domain] += [idx.eq(0), full.eq(1)]
            with m.Else():
                m.d[domain] += idx.eq(idx + 1)
        taken: Value = Const(0, 1)
        for s, width in self.in_widths.items():
            on = full & (self.sel == self.codes[s])
            m.d.comb += [getattr(top, f"{s}_valid").eq(on),
                         getattr(top, f"{s}_data").eq(buf[:width]),
                         getattr(top, f"{s}_last").eq(buf[width])]
            taken = taken | (on & getattr(top, f"{s}_ready"))
        with m.If(taken):
            m.d[domain] += full.eq(0)
        n_a, flag = beat_words(self.in_widths["a"]), self.in_widths["a"] % _W
        return store & (self.sel == self.codes["a"]) & (idx == n_a - 1) & word[flag]


@dataclass(frozen=True)
class Drain:
    """The output word drain of :func:`add_output_drain`.

    ``ofull``: a row waits (the word valid); ``word``: the word on offer (32 bits);
    ``last_word``: it is the row's last; ``capture``: a row is latched this cycle.
    """

    ofull: Signal
    word: Signal
    last_word: Value
    capture: Value


def add_output_drain(m: Module, top: ArrayTop, out_width: int, drained: Signal,
                     ready: Value, domain: str = "ap") -> Drain:
    """``o_*`` rows -> ``beat_words(out_width)`` words (``data | o_last << out_width``), one
    per cycle the sink is ``ready`` while ``ofull``; ``drained`` counts the rows with
    ``o_last`` (one per tile)."""
    n_o = beat_words(out_width)
    obuf = Signal(n_o * _W, name="obuf")
    oidx, ofull = Signal(range(n_o), name="oidx"), Signal(name="ofull")
    m.d.comb += top.o_ready.eq(~ofull)
    capture = top.o_valid & ~ofull
    with m.If(capture):
        m.d[domain] += [obuf.eq(top.o_data | (top.o_last << out_width)), ofull.eq(1),
                        oidx.eq(0)]
        with m.If(top.o_last):
            m.d[domain] += drained.eq(drained + 1)
    word_out = Signal(_W, name="word_out")
    with m.Switch(oidx):
        for i in range(n_o):
            with m.Case(i):
                m.d.comb += word_out.eq(obuf[i * _W:(i + 1) * _W])
    last_word = oidx == n_o - 1
    with m.If(ofull & ready):
        with m.If(last_word):
            m.d[domain] += ofull.eq(0)
        with m.Else():
            m.d[domain] += oidx.eq(oidx + 1)
    return Drain(ofull=ofull, word=word_out, last_word=last_word, capture=capture)
