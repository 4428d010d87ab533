"""The exponent-integer MAC PE shared by the OliVe and ANT arrays: a signed significand
multiplier, an exponent adder and shifter, and a wrapping accumulator adder (the values
``sig * 2^exp`` their edge decoders produce)."""

from __future__ import annotations

from amaranth.hdl import Module, Signal, Value
from amaranth.lib import wiring

from qaccel.rtl.systolic import pe_signature

__all__ = ["SigExpPE"]


class SigExpPE(wiring.Component):
    """One exponent-integer MAC PE (OliVe's, reused by ANT's 4-bit mode): ``sig_bits`` x
    ``sig_bits`` signed multiplier, exponent adder, shifter, ``acc_bits`` accumulator adder.

    Attributes (see :func:`qaccel.rtl.systolic.pe_signature`; a word is ``Cat(sig, exp)``,
    ``sig`` signed ``sig_bits``, ``exp`` unsigned ``exp_bits``)
    ----------------------------------------------------------------------------------------
    a_in   In(sig_bits + exp_bits)   decoded streamed element from the left
    a_out  Out(sig_bits + exp_bits)  ``a_in`` registered (1 cycle), to the right
    w_in   In(sig_bits + exp_bits)   decoded stationary element from above (preload)
    w_load In(1)                     latch ``w_in`` at this edge
    w_out  Out(sig_bits + exp_bits)  the stationary register, to the PE below
    p_in   In(signed(acc_bits))      partial sum from above
    p_out  Out(signed(acc_bits))     ``p_in + ((sig_a * sig_w) << (exp_a + exp_w))``
                                     registered (1 cycle), wrapping mod 2^acc_bits

    Latency 1 cycle on both ``a`` and ``p`` paths; one MAC per cycle.
    """

    def __init__(self, sig_bits: int, exp_bits: int, acc_bits: int) -> None:
        self.sig_bits, self.exp_bits = sig_bits, exp_bits
        word = sig_bits + exp_bits
        super().__init__(pe_signature(word, word, acc_bits))

    def _split(self, word: Value) -> tuple[Value, Value]:
        return word[:self.sig_bits].as_signed(), word[self.sig_bits:]

    def elaborate(self, platform: object) -> Module:
        m = Module()
        # Datapath registers need no reset (as systolic_int8's MacPE): results are taken only
        # under the array's valid pipeline, which is reset.
        weight = Signal.like(self.w_out, name="weight", reset_less=True)
        a_reg = Signal.like(self.a_out, name="a_reg", reset_less=True)
        p_reg = Signal.like(self.p_out, name="p_reg", reset_less=True)
        with m.If(self.w_load):
            m.d.sync += weight.eq(self.w_in)
        sig_a, exp_a = self._split(self.a_in)
        sig_w, exp_w = self._split(weight)
        # the assignment keeps the low acc_bits of the sum (wraps mod 2^acc_bits, as golden)
        term = (sig_a * sig_w) << (exp_a + exp_w)
        m.d.sync += [a_reg.eq(self.a_in), p_reg.eq(self.p_in + term)]
        m.d.comb += [self.w_out.eq(weight), self.a_out.eq(a_reg), self.p_out.eq(p_reg)]
        return m
