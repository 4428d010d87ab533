"""The BitMoD PE and its edge units (private to ``rtl/pe/bitmod.py``).

Stages as numbered in ``arch/pe/bitmod.py``'s docstring; every table and width is computed
from the golden model's helpers (``term_tables``, ``weight_ints``, ``group_acc_bits``):

* :class:`Aligner` (stage 1, column edge, combinational): one FP16 activation and its group's
  ``Emax`` -> the signed aligned integer ``A = +-((m << F) >> (Emax - E))``.
* :class:`TermDecoder` (stage 2, row edge, combinational): one weight code, its group's type id
  and the term index ``j`` -> the signed power-of-two term (``nz``, ``neg``, ``shift``).
* :class:`BitmodPE` (stages 3-4): lanes, adder tree, group accumulator, the bit-serial
  dequantizer with its hold register; it hands ``P`` and ``Emax + Es`` to the row's output
  unit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from qaccel.arch.pe.bitmod import DEQUANT_CYCLES, BitmodArray, term_tables, weight_ints

__all__ = ["PeWidths", "Aligner", "TermDecoder", "BitmodPE"]

#: FP16 significand bits (hidden bit included) and exponent field bits
SIG_BITS, EXP_BITS = 11, 5


@dataclass(frozen=True)
class PeWidths:
    """Datapath widths of one PE (unit: bits), all derived from the parameter object.

    ``act``: a signed aligned activation (``11 + guard_bits + 1``); ``shift``: a term's shift
    field (largest shift of ``term_tables``); ``acc``: the group accumulator
    (``group_acc_bits``); ``prod``: the dequantizer's ``P = S * ms`` (``acc + 11``);
    ``esum``: ``Emax + Es`` (6 bits, 2..60); ``type``: a type id (2).
    """

    lanes: int
    cpw: int
    bits: int
    guard_bits: int
    wf: int
    act: int
    shift: int
    acc: int
    prod: int
    esum: int = EXP_BITS + 1
    type: int = 2

    @classmethod
    def of(cls, params: BitmodArray) -> PeWidths:
        _, shifts = term_tables(params.bits, params.cpw)
        acc = params.group_acc_bits
        return cls(lanes=params.lanes, cpw=params.cpw, bits=params.bits,
                   guard_bits=params.guard_bits, wf=weight_ints(params.bits)[1],
                   act=SIG_BITS + params.guard_bits + 1,
                   shift=max(int(shifts.max()).bit_length(), 1), acc=acc,
                   prod=acc + SIG_BITS)


class Aligner(wiring.Component):
    """Stage 1 for one activation (combinational, rounding point 1: truncation toward zero).

    Attributes
    ----------
    x     In(16)              FP16 activation (finite)
    emax  In(5)               the group's ``Emax`` = max over the group of ``max(e, 1)``
    e     Out(5)              this activation's ``E = max(e, 1)`` (for the ``Emax`` tree)
    a     Out(signed(act))    ``+-((m << F) >> (Emax - E))``
    """

    def __init__(self, w: PeWidths) -> None:
        self.w = w
        super().__init__({"x": In(16), "emax": In(EXP_BITS), "e": Out(EXP_BITS),
                          "a": Out(signed(w.act))})

    def elaborate(self, platform: object) -> Module:
        m, f = Module(), self.w.guard_bits
        exp, frac, sign = self.x[10:15], self.x[0:10], self.x[15]
        normal = exp != 0
        mag = Signal(SIG_BITS + f)
        dist = Signal(EXP_BITS)
        m.d.comb += [self.e.eq(Mux(normal, exp, 1)),
                     dist.eq(self.emax - self.e),
                     mag.eq(Cat(frac, normal) << f >> dist),
                     self.a.eq(Mux(sign, -mag, mag))]
        return m


class TermDecoder(wiring.Component):
    """Stage 2 for one lane (combinational): term ``j`` of a code under a type id.

    The table is :func:`qaccel.arch.pe.bitmod.term_tables` of the format (never typed in).

    Attributes
    ----------
    code  In(bits)   weight code
    tid   In(2)      the group's type id
    j     In(range(cpw))  term index, most significant term first
    nz    Out(1)     the term is not zero
    neg   Out(1)     the term is negative
    shift Out(shift) the term is ``+-2^shift``
    """

    def __init__(self, w: PeWidths) -> None:
        self.w = w
        super().__init__({"code": In(w.bits), "tid": In(w.type), "j": In(range(w.cpw)),
                          "nz": Out(1), "neg": Out(1), "shift": Out(w.shift)})

    def elaborate(self, platform: object) -> Module:
        m, w = Module(), self.w
        signs, shifts = term_tables(w.bits, w.cpw)
        # one ROM word {shift, neg, nz} per (type id, code, term): a complete lookup table
        index = Cat(self.j, self.code, self.tid)
        j_bits = len(self.j)
        table = [0] * (1 << len(index))
        for (tid, code, j), s in np.ndenumerate(signs):
            if s:
                entry = 1 | int(s < 0) << 1 | int(shifts[tid, code, j]) << 2
                table[j | code << j_bits | tid << (j_bits + w.bits)] = entry
        word = Signal(2 + w.shift, name="term")
        m.d.comb += [word.eq(Array(Const(v, len(word)) for v in table)[index]),
                     self.nz.eq(word[0]), self.neg.eq(word[1]), self.shift.eq(word[2:])]
        return m


class BitmodPE(wiring.Component):
    """One bit-serial PE: stages 3-4 of ``arch/pe/bitmod.py`` (no stalls, see below).

    Per lane cycle (``step``), lane ``l`` adds ``+-(a_l << shift_l)`` (or 0) through the adder
    tree into the group accumulator; on a group's last lane cycle (``g_last``) the sum,
    negated if the scale is negative, goes to the dequantizer's hold register with the scale
    significand ``ms`` and ``esum = Emax + Es``, and the accumulator restarts at 0. The
    dequantizer takes a held sum in the cycle after it was held (when idle) and spends
    ``DEQUANT_CYCLES`` = 11 cycles on ``P <- 2P + S * bit`` (MSB first); the edge closing the
    11th raises ``p_valid`` for one cycle with ``P`` on ``p`` (held until the next result).
    Exactly ``sim.reference.bitmod.run_pe``'s cycles: a group ending in cycle ``t`` (1-based,
    counting lane cycles) is dequantized in cycles ``t+1 .. t+11`` when the dequantizer is
    idle and ``dq_en`` is high (the array lowers ``dq_en`` only to let its row output unit
    finish the previous group). The hold register is never offered a second sum while full
    as long as only the last group of a dot product is shorter than 11 lane cycles
    (``BitmodArray.group_cycles`` >= 11 for every legal ``lanes``, and >= C), which is how
    the array is driven; there is no stall logic.

    Attributes
    ----------
    a        In(lanes*act)   aligned activations of the lane step (signed words)
    nz, neg  In(lanes)       per lane: the term is non-zero / negative
    shift    In(lanes*shift) per lane: the term's power of two
    step     In(1)           a lane cycle
    g_last   In(1)           ... the last one of a group
    ms       In(11)          the group's scale significand (with ``g_last``)
    s_neg    In(1)           the group's scale is negative (with ``g_last``)
    esum     In(6)           ``Emax + Es`` of the group (with ``g_last``)
    t_last   In(1)           the group is the tile's last (with ``g_last``)
    dq_en    In(1)           the dequantizer may take a held sum this cycle (the row's
                             output unit is free to receive its result 11 cycles later)
    p        Out(signed(prod))  ``P = S * ms`` of the last dequantized group
    p_esum   Out(6)          its ``Emax + Es``
    p_tlast  Out(1)          its ``t_last``
    p_valid  Out(1)          one-cycle pulse: a new ``p``
    """

    def __init__(self, w: PeWidths) -> None:
        self.w = w
        super().__init__({
            "a": In(w.lanes * w.act), "nz": In(w.lanes), "neg": In(w.lanes),
            "shift": In(w.lanes * w.shift), "step": In(1), "g_last": In(1),
            "ms": In(SIG_BITS), "s_neg": In(1), "esum": In(w.esum), "t_last": In(1),
            "dq_en": In(1), "p": Out(signed(w.prod)), "p_esum": Out(w.esum),
            "p_tlast": Out(1), "p_valid": Out(1)})
        # state visible to tests (line traces)
        self.acc = Signal(signed(w.acc), name="acc")
        self.hold_v = Signal(name="hold_v")
        self.dq_left = Signal(range(DEQUANT_CYCLES + 1), name="dq_left")
        self.dq_p = Signal(signed(w.prod), name="dq_p")

    def elaborate(self, platform: object) -> Module:
        m, w = Module(), self.w
        # ---- stage 3: lanes, adder tree, group accumulator --------------------------------
        terms = []
        for lane in range(w.lanes):
            a = self.a.word_select(lane, w.act).as_signed()
            shifted = Signal(signed(w.act + (1 << w.shift) - 1), name=f"shifted{lane}")
            term = Signal(signed(w.act + (1 << w.shift)), name=f"term{lane}")
            m.d.comb += [shifted.eq(a << self.shift.word_select(lane, w.shift)),
                         term.eq(Mux(self.nz[lane], Mux(self.neg[lane], -shifted, shifted), 0))]
            terms.append(term)
        while len(terms) > 1:  # balanced adder tree
            pairs = [terms[i] + terms[i + 1] for i in range(0, len(terms) - 1, 2)]
            terms = pairs + ([terms[-1]] if len(terms) % 2 else [])
        total = Signal(signed(w.acc), name="acc_next")
        m.d.comb += total.eq(self.acc + terms[0])

        hold_s = Signal(signed(w.acc), name="hold_s", reset_less=True)
        hold_ms = Signal(SIG_BITS, name="hold_ms", reset_less=True)
        hold_e = Signal(w.esum, name="hold_esum", reset_less=True)
        hold_t = Signal(name="hold_tlast", reset_less=True)
        with m.If(self.step):
            m.d.sync += self.acc.eq(Mux(self.g_last, 0, total))
        with m.If(self.step & self.g_last):
            m.d.sync += [hold_s.eq(Mux(self.s_neg, -total, total)), hold_ms.eq(self.ms),
                         hold_e.eq(self.esum), hold_t.eq(self.t_last)]

        # ---- stage 4: bit-serial dequantizer, MSB first ------------------------------------
        dq_s = Signal(signed(w.acc), name="dq_s", reset_less=True)
        dq_ms = Signal(SIG_BITS, name="dq_ms", reset_less=True)
        dq_e = Signal(w.esum, name="dq_esum", reset_less=True)
        dq_t = Signal(name="dq_tlast", reset_less=True)
        take = (self.dq_left == 0) & self.hold_v & self.dq_en  # idle, a sum held: start
        s = Mux(take, hold_s, dq_s)
        ms = Mux(take, hold_ms, dq_ms)
        p_in = Mux(take, 0, self.dq_p)
        p_next = Signal(signed(w.prod), name="dq_p_next")
        m.d.comb += p_next.eq((p_in << 1) + Mux(ms[SIG_BITS - 1], s, 0))
        m.d.sync += [self.hold_v.eq((self.hold_v & ~take) | (self.step & self.g_last)),
                     self.p_valid.eq(0)]
        with m.If(take):
            m.d.sync += [dq_s.eq(hold_s), dq_e.eq(hold_e), dq_t.eq(hold_t),
                         self.dq_left.eq(DEQUANT_CYCLES - 1),
                         dq_ms.eq(hold_ms << 1), self.dq_p.eq(p_next)]
        with m.Elif(self.dq_left != 0):
            m.d.sync += [self.dq_left.eq(self.dq_left - 1), dq_ms.eq(dq_ms << 1),
                         self.dq_p.eq(p_next)]
            with m.If(self.dq_left == 1):
                m.d.sync += [self.p.eq(p_next), self.p_esum.eq(dq_e), self.p_tlast.eq(dq_t),
                             self.p_valid.eq(1)]
        return m
