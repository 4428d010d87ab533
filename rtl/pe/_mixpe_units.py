"""MixPE building blocks (private to :mod:`qaccel.rtl.pe.mixpe`): the shift-and-add PE and a
column's pipelined dequantizer, sized by :class:`Widths`.

Widths (``arch/pe/mixpe.py`` "Dataflow"; all signed, unit: bits):

* W4A8: a group of ``G_SIZE`` = 128 products of a 4-bit unsigned code and an INT8 activation
  sums to ``|P| <= 128 * 15 * 128 < 2^18`` (19 bits), the row's activation sum to ``|S| <=
  128 * 128`` (16 bits), and ``D = P - z*S = sum (q - z) a`` to ``|D| < 2^18`` (20 bits).
* W4A16: aligned activations ``|A| <= 2047 * 2^5 = 65504 < 2^16`` (17 bits), ``|P|, |D| <=
  128 * 15 * 65504 < 2^27`` (28 bits), ``|S| <= 128 * 65504 < 2^23`` (24 bits).
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from qaccel.arch.pe.mixpe import ALIGN_FRAC_BITS
from qaccel.rtl.fp import Fp32Add, Fp32FromScaledInt

__all__ = ["CTL_BITS", "ShiftAddPE", "DequantUnit", "Widths", "W4A8", "W4A16", "widths",
           "E_BITS", "U_OFFSET"]

#: beat control bits travelling with the activations: valid, first, last, parity (unit: bits)
CTL_BITS = 4
#: W4A16 group exponent E, biased as FP16 (``max(field, 1)``, 1..30) (unit: bits)
E_BITS = 5
#: W4A16 dequant: ``u = E - 10 - F`` = biased E minus ``U_OFFSET`` (FP16 bias 15 + 10 + F)
U_OFFSET = 15 + 10 + ALIGN_FRAC_BITS


@dataclass(frozen=True)
class Widths:
    """Datapath widths of one variant (module docstring; signed, unit: bits): ``a`` the PE's
    integer activation, ``p`` a group's P, ``s`` its S, ``d`` the dequantizer's D;
    ``aligned``: W4A16 (the dequantizer also takes the group exponent E)."""

    a: int
    p: int
    s: int
    d: int
    aligned: bool


W4A8 = Widths(a=8, p=19, s=16, d=20, aligned=False)
W4A16 = Widths(a=17, p=28, s=24, d=28, aligned=True)


def widths(a_bits: int) -> Widths:
    """The widths for ``a_bits`` = 8 (W4A8) or 16 (W4A16)."""
    if a_bits not in (8, 16):
        raise ValueError(f"a_bits must be 8 or 16, not {a_bits!r}")
    return W4A8 if a_bits == 8 else W4A16


class ShiftAddPE(wiring.Component):
    """One MixPE PE: ``P += q * a`` by shift-and-add over the group, held per group parity.

    Attributes
    ----------
    a_in / a_out    In / Out(signed(w.a))     activation from the left, registered to the right
    q_in / q_out    In / Out(4)               weight code from above, registered downwards
    ctl_in / ctl_out In / Out(4)              beat control (valid, first, last, parity), with
                                              ``a``: registered to the right
    hold0 / hold1   Out(signed(w.p))          the finished P of the last even / odd group

    Per valid beat (1 cycle): ``P = (first ? 0 : P) + sum_i q[i] ? a << i : 0``; on the
    group's last beat the new P is also written into ``hold<parity>`` (visible the next cycle),
    so the dequantizer can read a group while the next one accumulates.
    """

    def __init__(self, w: Widths = W4A8) -> None:
        self.w = w
        super().__init__({
            "a_in": In(signed(w.a)), "a_out": Out(signed(w.a)),
            "q_in": In(4), "q_out": Out(4), "ctl_in": In(CTL_BITS), "ctl_out": Out(CTL_BITS),
            "hold0": Out(signed(w.p)), "hold1": Out(signed(w.p)),
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        valid, first, last, par = (self.ctl_in[i] for i in range(CTL_BITS))
        # Datapath registers need no reset: a group's first beat overwrites P, and the
        # dequantizer reads a hold register only after the group has written it.
        p_reg = Signal(signed(self.w.p), name="p_reg", reset_less=True)
        holds = [Signal(signed(self.w.p), name=f"hold_reg{i}", reset_less=True) for i in (0, 1)]
        a_reg = Signal.like(self.a_out, name="a_reg", reset_less=True)
        q_reg = Signal(4, name="q_reg", reset_less=True)
        ctl_reg = Signal(CTL_BITS, name="ctl_reg")
        terms = [Mux(self.q_in[i], self.a_in << i, 0) for i in range(4)]
        product = Signal(signed(self.w.a + 4), name="product")
        m.d.comb += product.eq(terms[0] + terms[1] + terms[2] + terms[3])
        p_next = Signal(signed(self.w.p), name="p_next")
        m.d.comb += p_next.eq(Mux(first, 0, p_reg) + product)
        with m.If(valid):
            m.d.sync += p_reg.eq(p_next)
            with m.If(last):
                m.d.sync += holds[0].eq(Mux(par, holds[0], p_next))
                m.d.sync += holds[1].eq(Mux(par, p_next, holds[1]))
        m.d.sync += [a_reg.eq(self.a_in), q_reg.eq(self.q_in), ctl_reg.eq(self.ctl_in)]
        m.d.comb += [self.a_out.eq(a_reg), self.q_out.eq(q_reg), self.ctl_out.eq(ctl_reg),
                     self.hold0.eq(holds[0]), self.hold1.eq(holds[1])]
        return m


class DequantUnit(wiring.Component):
    """One array column's dequantizer: two stages, one group result (one row) per cycle.

    Parameters
    ----------
    rows : int
        Array rows R (one FP32 accumulator each).
    w : Widths
        The variant's widths (W4A8 or W4A16).

    Attributes
    ----------
    valid, first, last : In(1)   stage-1 token: a row's group result is on ``p``/``s_sum``;
                                 ``first``/``last``: it is the tile's first / last group
    row                 : In(range(R))       the row it belongs to
    p                   : In(signed(w.p))    the group's P of that row in this column
    s_sum               : In(signed(w.s))    the group's S of that row
    e_big               : In(5)              W4A16 only: the row's group exponent E (biased)
    z                   : In(4)              the column's zero point of the group
    scale               : In(16)             the column's FP16 scale of the group (bits)
    o_valid             : Out(1)             ``o_data`` is the row's final output
    o_data              : Out(32)            FP32 bits

    Stage 1 (the token's cycle): ``D = P - z*S`` exact, registered with the token and the
    scale. Stage 2 (next cycle): ``t = fl32(s * D)`` (the exact product ``ms * D`` of the
    scale's 11-bit significand, scaled by ``2^(e-25)``, W4A16 also by ``2^u``, ``u = E -
    U_OFFSET``, rounded once by
    :class:`~qaccel.rtl.fp.Fp32FromScaledInt`), ``acc[row] = fl32((first ? +0 : acc[row]) +
    t)`` (:class:`~qaccel.rtl.fp.Fp32Add`); on the last group the sum is also the output, in
    that same cycle. Latency 2 cycles (``DEQUANT_LATENCY_CYCLES``), throughput 1 row/cycle.
    """

    def __init__(self, rows: int, w: Widths = W4A8) -> None:
        self.rows, self.w = rows, w
        ports = {
            "valid": In(1), "first": In(1), "last": In(1), "row": In(range(max(rows, 2))),
            "p": In(signed(w.p)), "s_sum": In(signed(w.s)), "z": In(4),
            "scale": In(16), "o_valid": Out(1), "o_data": Out(32),
        }
        if w.aligned:
            ports["e_big"] = In(E_BITS)
        super().__init__(ports)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        # ---- stage 1 ----
        w = self.w
        d = Signal(signed(w.d), name="d")
        m.d.comb += d.eq(self.p - self.z * self.s_sum)  # exact (module docstring)
        d1 = Signal(signed(w.d), name="d1", reset_less=True)
        row1 = Signal.like(self.row, name="row1", reset_less=True)
        scale1 = Signal(16, name="scale1", reset_less=True)
        valid1, first1, last1 = Signal(name="valid1"), Signal(name="first1"), Signal(name="last1")
        m.d.sync += [d1.eq(d), row1.eq(self.row), scale1.eq(self.scale), valid1.eq(self.valid),
                     first1.eq(self.first), last1.eq(self.last)]
        # ---- stage 2 ----
        exp = scale1[10:15]
        sig = Cat(scale1[:10], exp != 0)                  # 11-bit significand
        mag = Signal(signed(w.d + 12), name="sd")
        m.d.comb += mag.eq(sig * d1)                      # exact: 11 x d bits
        m.submodules.to_fp32 = to_fp32 = Fp32FromScaledInt(w.d + 13, 7)
        x = Mux(exp != 0, exp, 1) - 25                    # s = sig * 2^(e - 25)
        if w.aligned:                                     # 2^u: x in -53..5
            e1 = Signal(E_BITS, name="e1", reset_less=True)
            m.d.sync += e1.eq(self.e_big)
            x = x + e1 - U_OFFSET
        m.d.comb += [to_fp32.p.eq(Mux(scale1[15], -mag, mag)), to_fp32.x.eq(x)]
        m.submodules.acc_mem = acc_mem = Memory(shape=32, depth=max(self.rows, 2), init=[])
        wr, rd = acc_mem.write_port(), acc_mem.read_port(domain="comb")
        m.submodules.add = add = Fp32Add()
        m.d.comb += [rd.addr.eq(row1),
                     add.a.eq(Mux(first1, Const(0, 32), rd.data)), add.b.eq(to_fp32.f),
                     wr.addr.eq(row1), wr.data.eq(add.s), wr.en.eq(valid1),
                     self.o_valid.eq(valid1 & last1), self.o_data.eq(add.s)]
        return m
