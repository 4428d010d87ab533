"""The ANT edge decoder (RTL): a 4-bit ANT code and its tensor's type -> (sig, exp).

:class:`AntDecoder` is the combinational decoder the ``ant`` array places at its edges
(:mod:`qaccel.rtl.pe.ant`). Its output is exactly :func:`qaccel.arch.pe.ant.decoder_tables`
of the type: ``value * 2^frac = sig << exp`` with ``|sig| <= 7`` (the 4x4 multiplier's
operand). The tables are read at elaboration time from ``decoder_tables``, which derives them
from the format's own code table (:func:`qaccel.models.ant.code_values`): nothing is typed in
here. The type id is the index into :data:`qaccel.models.ant.TYPES` (0 int, 1 flint, 2 pot);
the unused id 3 decodes every code to ``(0, 0)``.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from qaccel.arch.pe.ant import SIG_MAX, decoder_tables
from qaccel.models import ant as ant_fmt

__all__ = ["AntDecoder", "CODE_BITS", "TYPE_BITS", "SIG_BITS", "EXP_BITS", "rom"]

#: width of an ANT code in 4-bit mode (unit: bits)
CODE_BITS = 4
#: width of the per-tensor type id, an index into ``ant_fmt.TYPES`` (unit: bits)
TYPE_BITS = max(1, (len(ant_fmt.TYPES) - 1).bit_length())
#: signed significand width: the 4x4 multiplier's operand (|sig| <= SIG_MAX) (unit: bits)
SIG_BITS = SIG_MAX.bit_length() + 1


def _exp_bits() -> int:
    top = max(int(decoder_tables(t)[1].max()) for t in ant_fmt.TYPES)
    return max(1, top.bit_length())


#: unsigned exponent (left shift) width, from the largest exponent of any type (unit: bits)
EXP_BITS = _exp_bits()


def rom() -> list[tuple[int, int]]:
    """The lookup ROM: entry ``code | type_id << 4`` is the (sig, exp) of ``code`` of type
    ``TYPES[type_id]``; ids past the last type are absent (the decoder outputs zeros)."""
    out = []
    for type_name in ant_fmt.TYPES:
        sig, exp, _ = decoder_tables(type_name)
        out += [(int(s), int(e)) for s, e in zip(sig, exp, strict=True)]
    return out


class AntDecoder(wiring.Component):
    """Combinational ANT decoder for 4-bit codes of any of the three types.

    Attributes
    ----------
    code : In(4)
        The ANT code (int: two's complement; flint / pot: sign-magnitude).
    type_id : In(2)
        The tensor's type: index into ``qaccel.models.ant.TYPES`` (0 int, 1 flint, 2 pot).
    sig : Out(signed(4))
        Significand, ``|sig| <= 7``.
    exp : Out(3)
        Exponent (left shift); ``value * 2^frac = sig << exp``.

    Latency 0 cycles (combinational; it sits in the array's edge register stage), one code
    per cycle.
    """

    def __init__(self) -> None:
        super().__init__({"code": In(CODE_BITS), "type_id": In(TYPE_BITS),
                          "sig": Out(signed(SIG_BITS)), "exp": Out(EXP_BITS)})

    def elaborate(self, platform: object) -> Module:
        m = Module()
        with m.Switch(Cat(self.code, self.type_id)):
            for i, (s, e) in enumerate(rom()):
                with m.Case(i):
                    m.d.comb += [self.sig.eq(s), self.exp.eq(e)]
            with m.Default():  # the unused type id: (0, 0)
                m.d.comb += [self.sig.eq(0), self.exp.eq(0)]
        return m
