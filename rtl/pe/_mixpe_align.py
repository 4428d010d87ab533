"""The W4A16 group aligner at the MixPE array edge (private to :mod:`qaccel.rtl.pe.mixpe`).

An aligned activation ``A = trunc(a * 2^(10 + F - E))`` (``arch/pe/mixpe.py``
``align_fp16``) needs its (row, group)'s largest exponent E, i.e. the group's last beat,
before the group's first beat may enter the integer datapath. :class:`GroupAligner` therefore
writes every beat (FP16 activations, weight codes, ``a_last``) into a circular buffer of two
groups (``2 * G_SIZE`` beats) while each row keeps its running exponent maximum; a group's
last beat stores the row maxima in the bank of the group's parity. From the cycle after the
tile's group 0 has arrived (``min(K, 128)`` beats) it replays the buffered beats, one per
cycle without a gap (input beats come one per cycle, too), aligning each row's activation
with the bank of the replayed group's parity: the stream leaves exactly ``min(K, 128)``
cycles late (``MixPE.align_cycles``).

Activations must be finite: FP16 inf/NaN (exponent field 31) are outside ``golden()``'s
domain (``align_fp16`` truncates ``a * 2^shift`` to an integer).

Banks are safe: group g's maxima are written when its last beat arrives (cycle ``128g +
L_g``) and read by its replay, which ends by cycle ``128(g+2)``, before group g+2 (same
parity) writes them again (at the earliest in cycle ``128(g+2) + 1``). Buffer slots are
safe: beat k is read in cycle ``1 + k + min(K, 128)``, its slot rewritten by beat k + 256 in
cycle ``k + 257``. A tile's replay ends in cycle ``K + min(K, 128)``, before the tile does
(``timing()`` adds at least R + C + 2), so every tile starts with the replay idle.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from qaccel.arch.pe.mixpe import ALIGN_FRAC_BITS, G_SIZE
from qaccel.rtl.pe._mixpe_units import E_BITS, W4A16

__all__ = ["GroupAligner", "biased_exponent", "align"]

#: FP16 field positions: 10 fraction bits, 5 exponent bits, sign (unit: bits)
_FRAC, _EXP = 10, 5


def biased_exponent(bits: Value) -> Value:
    """``max(field, 1)`` of FP16 ``bits`` (subnormals and zeros count as exponent -14)."""
    field = bits[_FRAC:_FRAC + _EXP]
    return Mux(field != 0, field, 1)


def align(m: Module, bits: Value, e_big: Value, name: str) -> Signal:
    """Combinational ``A = trunc(a * 2^(10 + F - E))`` of FP16 ``bits`` (``e_big``: the
    group's biased maximum, >= this value's): ``(significand << F) >> (E - e)``, signed."""
    field = bits[_FRAC:_FRAC + _EXP]
    sig = Cat(bits[:_FRAC], field != 0)                       # 11-bit significand
    dist = Signal(E_BITS, name=f"{name}_dist")                # E - e, 0..29
    m.d.comb += dist.eq(e_big - biased_exponent(bits))
    mag = Signal(_FRAC + 1 + ALIGN_FRAC_BITS, name=f"{name}_mag")
    m.d.comb += mag.eq(Cat(Const(0, ALIGN_FRAC_BITS), sig) >> dist)
    out = Signal(signed(W4A16.a), name=name)
    m.d.comb += out.eq(Mux(bits[_FRAC + _EXP], -mag, mag))
    return out


class GroupAligner(wiring.Component):
    """Look-ahead buffer and aligners for ``rows`` FP16 activation rows (module docstring).

    Attributes
    ----------
    a_in, w_in, valid_in, last_in : In   the core's ``a_row`` (FP16 words), ``w_row``,
                                         ``a_valid``, ``a_last`` (``rtl/core.py`` "os")
    a_out  : Out(rows * 17)   aligned activations (signed words), valid with ``valid_out``
    e_out  : Out(rows * 5)    each row's biased group exponent E of the replayed beat
    w_out, valid_out, last_out : Out   the replayed ``w_row``, ``a_valid``, ``a_last``

    Latency: beat k of a tile leaves in tile cycle ``1 + k + min(K, 128)``.
    """

    def __init__(self, rows: int, w_row_bits: int) -> None:
        self.rows, self.w_row_bits = rows, w_row_bits
        super().__init__({
            "a_in": In(16 * rows), "w_in": In(w_row_bits), "valid_in": In(1),
            "last_in": In(1), "a_out": Out(W4A16.a * rows), "e_out": Out(E_BITS * rows),
            "w_out": Out(w_row_bits), "valid_out": Out(1), "last_out": Out(1),
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        R = self.rows  # noqa: N806
        depth = 2 * G_SIZE
        # ---- receive: running maxima, banks by group parity ---------------------------------
        kin, par = Signal(range(G_SIZE), name="rx_kin"), Signal(name="rx_par")
        gfirst = Signal(name="rx_gfirst", init=1)       # the next group is the tile's first
        glast = (kin == G_SIZE - 1) | self.last_in
        banks = [[Signal(E_BITS, name=f"e_bank{r}_{p}", reset_less=True) for p in (0, 1)]
                 for r in range(R)]
        with m.If(self.valid_in):
            m.d.sync += kin.eq(Mux(glast, 0, kin + 1))
            with m.If(glast):
                m.d.sync += [par.eq(~par & ~self.last_in), gfirst.eq(self.last_in)]
        for r in range(R):
            e = biased_exponent(self.a_in.word_select(r, 16))
            run = Signal(E_BITS, name=f"e_run{r}", reset_less=True)
            new = Signal(E_BITS, name=f"e_new{r}")
            m.d.comb += new.eq(Mux((kin == 0) | (run < e), e, run))
            with m.If(self.valid_in):
                m.d.sync += run.eq(new)
                for p in (0, 1):
                    with m.If(glast & (par == p)):
                        m.d.sync += banks[r][p].eq(new)
        # ---- buffer ----------------------------------------------------------------------------
        width = 16 * R + self.w_row_bits + 1
        m.submodules.buf = buf = Memory(shape=width, depth=depth, init=[])
        wr, rd = buf.write_port(), buf.read_port(domain="comb")
        wp, rp = Signal(range(depth), name="wp"), Signal(range(depth), name="rp")
        m.d.comb += [wr.addr.eq(wp), wr.en.eq(self.valid_in),
                     wr.data.eq(Cat(self.a_in, self.w_in, self.last_in))]
        with m.If(self.valid_in):
            m.d.sync += wp.eq(Mux(wp == depth - 1, 0, wp + 1))
        # ---- replay ----------------------------------------------------------------------------
        active = Signal(name="replay")
        a_buf, w_buf = rd.data[:16 * R], rd.data[16 * R:width - 1]
        last = rd.data[width - 1]
        m.d.comb += [rd.addr.eq(rp), self.valid_out.eq(active), self.last_out.eq(active & last),
                     self.w_out.eq(w_buf)]
        with m.If(self.valid_in & glast & gfirst):
            m.d.sync += active.eq(1)
        with m.If(active):
            m.d.sync += rp.eq(Mux(rp == depth - 1, 0, rp + 1))
            with m.If(last):
                m.d.sync += active.eq(0)
        rkin, rpar = Signal(range(G_SIZE), name="rp_kin"), Signal(name="rp_par")
        rglast = (rkin == G_SIZE - 1) | last
        with m.If(active):
            m.d.sync += rkin.eq(Mux(rglast, 0, rkin + 1))
            with m.If(rglast):
                m.d.sync += rpar.eq(~rpar & ~last)
        for r in range(R):
            e_big = Array(banks[r])[rpar]
            m.d.comb += [self.e_out.word_select(r, E_BITS).eq(e_big),
                         self.a_out.word_select(r, W4A16.a).eq(
                             align(m, a_buf.word_select(r, 16), e_big, f"a_align{r}"))]
        return m
