"""The OliVe pair decoder (RTL): two codes of an outlier-victim pair -> two (sig, exp) pairs.

:class:`PairDecoder` is the combinational decoder the ``olive`` array places at its edges
(:mod:`qaccel.rtl.pe.olive`). Its output is exactly
:func:`qaccel.arch.pe.olive.decode_sig_exp` of the pair: ``value = sig << exp``, and

* a victim code makes its partner an outlier (abfloat table) and itself ``(0, 0)``;
* two victim codes decode to ``(0, 0)`` each;
* otherwise both codes are normal values of the selected normal type.

The (sig, exp) tables are :func:`qaccel.arch.pe.olive.sig_exp_tables` of every normal type
the width allows (:data:`qaccel.arch.pe.olive.MODES`), read at elaboration time: nothing is
typed in here.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Value, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from qaccel.arch.pe.olive import MODES, sig_exp_tables
from qaccel.models import olive as olive_fmt

__all__ = ["PairDecoder", "decoder_widths"]


def decoder_widths(bits: int) -> tuple[int, int, int]:
    """(sig_bits, exp_bits, mode_bits) of the ``bits``-wide decoder (unit: bits).

    ``sig`` is signed and fits the ``bits`` x ``bits`` multiplier (``|sig| <= 2^(bits-1) -
    1``); ``exp`` is unsigned and holds the largest exponent of any table; ``mode_bits`` is
    1 when the width has two normal types (4 bits: int / flint), else 0.
    """
    if bits not in MODES:
        raise ValueError(f"bits must be one of {tuple(MODES)}, not {bits!r}")
    exp_max = max(int(t[f"exp_{kind}"].max()) for normal in MODES[bits]
                  for t in (sig_exp_tables(bits, normal),) for kind in ("normal", "outlier"))
    return bits, max(1, exp_max.bit_length()), (len(MODES[bits]) - 1).bit_length()


class PairDecoder(wiring.Component):
    """Combinational OliVe pair decoder for ``bits``-bit codes (4 or 8).

    Attributes
    ----------
    c0, c1 : In(bits)
        The two codes of a pair (element 0 and element 1, in K order).
    mode : In(1), 4 bits only
        Normal type of the tensor: index into ``MODES[bits]`` (0: int, 1: flint). The 8-bit
        decoder has int normals only and no ``mode`` port.
    sig0, sig1 : Out(signed(bits))
        Significands of element 0 / 1.
    exp0, exp1 : Out(exp_bits)
        Exponents (left shifts) of element 0 / 1; ``exp_bits`` from :func:`decoder_widths`.

    Latency 0 cycles (combinational; it sits in the array's edge register stage), one pair
    per cycle.
    """

    def __init__(self, bits: int) -> None:
        self.bits = bits
        self.sig_bits, self.exp_bits, self.mode_bits = decoder_widths(bits)
        self.normals = MODES[bits]
        victims = {olive_fmt.spec(bits, n).victim for n in self.normals}
        if len(victims) != 1:
            raise ValueError(f"Cannot build one decoder for {self.normals} because their "
                             f"victim codes differ: {sorted(victims)}")
        self.victim = victims.pop()
        ports = {"c0": In(bits), "c1": In(bits),
                 "sig0": Out(signed(self.sig_bits)), "exp0": Out(self.exp_bits),
                 "sig1": Out(signed(self.sig_bits)), "exp1": Out(self.exp_bits)}
        if self.mode_bits:
            ports["mode"] = In(self.mode_bits)
        super().__init__(ports)

    def table(self) -> list[tuple[int, int]]:
        """The lookup ROM: entry ``code | outlier << bits | mode << (bits + 1)`` is the
        (sig, exp) of ``code`` read as a normal (``outlier`` = 0) or an outlier (1) value of
        normal type ``MODES[bits][mode]``."""
        out = []
        for normal in self.normals:
            t = sig_exp_tables(self.bits, normal)
            for kind in ("normal", "outlier"):
                out += [(int(s), int(e)) for s, e in zip(t[f"sig_{kind}"], t[f"exp_{kind}"],
                                                          strict=True)]
        return out

    def _rom_words(self) -> list[int]:
        """:meth:`table` packed as ROM words ``sig (two's complement) | exp << sig_bits``."""
        mask = (1 << self.sig_bits) - 1
        return [(sig & mask) | exp << self.sig_bits for sig, exp in self.table()]

    def _element(self, m: Module, rom: Memory, me: Value, partner: Value, sig: Value,
                 exp: Value) -> None:
        """Decode ``me`` given its partner's code into ``sig``/``exp``."""
        dead = me == self.victim
        outlier = (partner == self.victim) & ~dead
        port = rom.read_port(domain="comb")
        m.d.comb += port.addr.eq(Cat(me, outlier, self.mode) if self.mode_bits
                                 else Cat(me, outlier))
        t_sig, t_exp = port.data[:self.sig_bits].as_signed(), port.data[self.sig_bits:]
        m.d.comb += [sig.eq(Mux(dead, 0, t_sig)), exp.eq(Mux(dead, 0, t_exp))]

    def elaborate(self, platform: object) -> Module:
        m = Module()
        words = self._rom_words()
        # one asynchronous-read ROM, shared by the two elements (two read ports)
        m.submodules.rom = rom = Memory(shape=self.sig_bits + self.exp_bits, depth=len(words),
                                        init=words)
        self._element(m, rom, self.c0, self.c1, self.sig0, self.exp0)
        self._element(m, rom, self.c1, self.c0, self.sig1, self.exp1)
        return m
