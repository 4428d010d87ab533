"""The BitMoD array core (private to ``rtl/pe/bitmod.py``): R x C :class:`BitmodPE` on the
generic controller's ``os`` schedule (``rtl/core.py``), N on rows, M on columns, K streamed.

Datapath, in the order a beat flows (stage numbers of ``arch/pe/bitmod.py``):

1. **Group buffer** (column edge). Beat ``k`` (``lanes`` consecutive K of every column's
   token on ``w_row`` and of every row's weights on ``a_row``) is presented for
   ``beat_cycles = cpw`` cycles; its first cycle writes it, with its ``a_last`` bit, into a
   circular buffer of ``2 * group_size / lanes`` beats, and the column's running
   ``Emax = max(E)`` over the group; the group's last beat stores ``Emax`` in one of two
   banks (group parity). The lanes may only start a group once its ``Emax`` is known, so
   they start when group 0 has been written and then run without a gap (beats arrive as
   fast as the lanes consume them).
2. **Fetch/execute** (lanes). Stage F reads beat ``k`` from the buffer and the group's
   metadata (``m_addr`` = group: a scale and a type id per row) for ``cpw`` cycles; in
   stage E (one cycle later) the column aligners (stage 1: ``Aligner``) and the row
   decoders (stage 2: ``TermDecoder``, term ``j`` in the ``j``-th cycle of the beat) feed
   every PE (stages 3-4: ``BitmodPE``).
3. **Row output unit** (stages 5-6), one per row: when the PEs of the row deliver a group
   (all in the same cycle ``D``) it visits columns ``0 .. C-1`` in cycles ``D .. D+C-1``:
   ``fl32(P * 2^X)`` (``Fp32FromScaledInt``, X = Emax + Es - 50 - F - wf) added to that
   output's FP32 accumulator (``Fp32Add``, a ring of C registers rotated once per visit);
   for the tile's last group the sum is rounded to FP16 (``Fp32ToFp16``) and the ring
   restarts at +0. The PEs' dequantizers start a group only when its result cannot arrive
   before the unit has visited every column of the previous one (``dq_en``).
4. **Result columns**: column ``c``'s R final results (rows 0..R-1) are loaded into a
   shift register at the visit of column ``c`` and leave on ``o_data`` word ``c`` in the
   next R cycles (``o_valid[c]``), so result row ``j`` of the drain is array row ``j``.

Timing (tile cycles, ``rtl/core.py`` numbering; beat ``k`` on the inputs in cycles
``1 + k*cpw .. k*cpw + cpw``): with ``n0`` beats in group 0 the lanes run lane cycle ``i``
(1-based) in cycle ``c1 + i - 1``, ``c1 = 3 + (n0 - 1) * cpw``; the last group's results
reach the output units in cycle ``D = c1 + 11 + z`` with ``z = L`` (one group) or
``max(L, t0 + max(11, C))`` (``L`` lane cycles in all, ``t0`` before the last group); the
last result leaves in cycle ``D + C + R - 1``. ``BitmodArray.timing`` is this count.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.memory import Memory

from qaccel.arch.pe._bitmod_numerics import _EXP_OFFSET
from qaccel.arch.pe.bitmod import DEQUANT_CYCLES, BitmodArray
from qaccel.rtl.core import CoreSpec, core_signature
from qaccel.rtl.fp import Fp32Add, Fp32FromScaledInt, Fp32ToFp16
from qaccel.rtl.pe._bitmod_pe import EXP_BITS, Aligner, BitmodPE, PeWidths, TermDecoder

__all__ = ["BitmodCore", "META_WORD_BITS", "X_OFFSET"]

#: metadata bits per array row in one beat: FP16 scale (bits 0..15) and type id (16..17)
META_WORD_BITS = 16 + 2
#: X = Emax + Es - X_OFFSET - F - wf (FP16 biases and fraction bits of both operands; the
#: golden model's dequantizer constant, not typed in again)
X_OFFSET = _EXP_OFFSET


def _max(m: Module, values: list, name: str) -> Signal:
    """Unsigned maximum of ``values`` (a comparator tree)."""
    while len(values) > 1:
        nxt = []
        for i in range(0, len(values) - 1, 2):
            s = Signal(EXP_BITS, name=f"{name}_{len(values)}_{i}")
            m.d.comb += s.eq(Mux(values[i] > values[i + 1], values[i], values[i + 1]))
            nxt.append(s)
        values = nxt + ([values[-1]] if len(values) % 2 else [])
    return values[0]


def _pick(values: list, index: Value) -> Value:
    """``values[index]``, padded to every value of ``index`` (a complete case: lint)."""
    values = list(values)
    values += [values[-1]] * ((1 << len(index)) - len(values))
    return Array(values)[index]


class BitmodCore(wiring.Component):
    """The R x C BitMoD array core (module docstring: datapath and exact timing).

    Attributes: :func:`qaccel.rtl.core.core_signature` of ``spec`` (os schedule with
    metadata): ``w_row`` C words of ``lanes`` FP16 activations, ``a_row`` R words of ``lanes``
    weight codes, ``m_row`` R words of :data:`META_WORD_BITS`, ``o_data`` C FP16 results.
    """

    def __init__(self, spec: CoreSpec, params: BitmodArray) -> None:
        self.spec, self.params = spec, params
        self.w = PeWidths.of(params)
        super().__init__(core_signature(spec))

    def elaborate(self, platform: object) -> Module:
        spec, p, w = self.spec, self.params, self.w
        R, C, lanes, cpw = spec.rows, spec.cols, w.lanes, w.cpw  # noqa: N806
        n_g = p.group_size // lanes            # beats per full group
        depth = 2 * n_g
        aw, ww = spec.a_word_bits, spec.w_word_bits
        m = Module()

        # ---- 1. group buffer and Emax (arrival side) ---------------------------------------
        m.submodules.gbuf = gbuf = Memory(shape=spec.a_row_bits + spec.w_row_bits + 1,
                                          depth=depth, init=[])
        wr, rd = gbuf.write_port(), gbuf.read_port()
        in_j = Signal(range(cpw), name="in_j")
        in_addr = Signal(range(depth), name="in_addr")
        in_pos = Signal(range(n_g), name="in_pos")
        in_grp = Signal(name="in_grp")          # parity of the arriving group
        in_first = Signal(init=1, name="in_first")  # the arriving group is the tile's first
        beat_in = self.a_valid & (in_j == 0)
        m.d.sync += in_j.eq(Mux(self.a_valid & (in_j != cpw - 1), in_j + 1, 0))
        m.d.comb += [wr.addr.eq(in_addr), wr.en.eq(beat_in),
                     wr.data.eq(Cat(self.a_row, self.w_row, self.a_last))]
        g_end_in = beat_in & ((in_pos == n_g - 1) | self.a_last)
        run_e = [Signal(EXP_BITS, name=f"run_emax{c}") for c in range(C)]
        bank = [[Signal(EXP_BITS, name=f"emax{b}_{c}") for c in range(C)] for b in range(2)]
        for c in range(C):
            es = []
            for lane in range(lanes):
                x = self.w_row.word_select(c, ww).word_select(lane, 16)
                e = Signal(EXP_BITS, name=f"in_e{c}_{lane}")
                m.d.comb += e.eq(Mux(x[10:15] != 0, x[10:15], 1))
                es.append(e)
            beat_max = _max(m, es, f"bmax{c}")
            new = Mux((in_pos == 0) | (run_e[c] < beat_max), beat_max, run_e[c])
            with m.If(beat_in):
                m.d.sync += run_e[c].eq(new)
            with m.If(g_end_in & ~in_grp):
                m.d.sync += bank[0][c].eq(new)
            with m.If(g_end_in & in_grp):
                m.d.sync += bank[1][c].eq(new)
        with m.If(beat_in):
            m.d.sync += [in_addr.eq(Mux(in_addr == depth - 1, 0, in_addr + 1)),
                         in_pos.eq(Mux(g_end_in, 0, in_pos + 1))]
            with m.If(g_end_in):
                m.d.sync += [in_grp.eq(~in_grp), in_first.eq(0)]
            with m.If(self.a_last):  # the tile has arrived: the next beat starts a tile
                m.d.sync += [in_addr.eq(0), in_pos.eq(0), in_grp.eq(0), in_first.eq(1)]

        # ---- 2. fetch (F) and execute (E) ---------------------------------------------------
        f_on, f_j = Signal(name="f_on"), Signal(range(cpw), name="f_j")
        f_addr, f_pos = Signal(range(depth), name="f_addr"), Signal(range(n_g), name="f_pos")
        f_grp = Signal(range(1 << 16), name="f_grp")
        e_on, e_j = Signal(name="e_on"), Signal(range(cpw), name="e_j")
        e_pos, e_par = Signal(range(n_g), name="e_pos"), Signal(name="e_par")
        e_last = rd.data[-1]
        e_row = rd.data[:spec.a_row_bits]
        e_col = rd.data[spec.a_row_bits:spec.a_row_bits + spec.w_row_bits]
        g_last = e_on & (e_j == cpw - 1) & ((e_pos == n_g - 1) | e_last)
        t_last = g_last & e_last
        f_beat_end = f_j == cpw - 1
        f_g_end = f_beat_end & (f_pos == n_g - 1)
        m.d.comb += [rd.addr.eq(f_addr), self.m_addr.eq(f_grp)]
        with m.If(g_end_in & in_first):     # group 0 is in: fetch beat 0 next cycle
            m.d.sync += [f_on.eq(1), f_j.eq(0), f_addr.eq(0), f_pos.eq(0), f_grp.eq(0)]
        with m.Elif(f_on):
            m.d.sync += [f_j.eq(Mux(f_beat_end, 0, f_j + 1)),
                         f_addr.eq(Mux(f_beat_end, Mux(f_addr == depth - 1, 0, f_addr + 1),
                                       f_addr)),
                         f_pos.eq(Mux(f_beat_end, Mux(f_g_end, 0, f_pos + 1), f_pos)),
                         f_grp.eq(Mux(f_g_end, f_grp + 1, f_grp))]
        with m.If(t_last):
            m.d.sync += f_on.eq(0)
        m.d.sync += [e_on.eq(f_on & ~t_last), e_j.eq(f_j), e_pos.eq(f_pos), e_par.eq(f_grp[0])]

        # edges: column aligners, row decoders
        col_a, col_emax = [], []
        for c in range(C):
            emax = Signal(EXP_BITS, name=f"col_emax{c}")
            m.d.comb += emax.eq(Mux(e_par, bank[1][c], bank[0][c]))
            words = []
            for lane in range(lanes):
                al = Aligner(w)
                m.submodules[f"align_{c}_{lane}"] = al
                m.d.comb += [al.x.eq(e_col.word_select(c, ww).word_select(lane, 16)),
                             al.emax.eq(emax)]
                words.append(al.a)
            col_a.append(Cat(words))
            col_emax.append(emax)
        row_terms, row_meta = [], []
        for r in range(R):
            meta = self.m_row.word_select(r, META_WORD_BITS)
            scale, tid = meta[:16], meta[16:18]
            nz, neg, sh = [], [], []
            for lane in range(lanes):
                dec = TermDecoder(w)
                m.submodules[f"decode_{r}_{lane}"] = dec
                m.d.comb += [dec.code.eq(e_row.word_select(r, aw).word_select(lane, w.bits)),
                             dec.tid.eq(tid), dec.j.eq(e_j)]
                nz.append(dec.nz)
                neg.append(dec.neg)
                sh.append(dec.shift)
            s_exp = scale[10:15]
            row_terms.append((Cat(nz), Cat(neg), Cat(sh)))
            row_meta.append((Cat(scale[:10], s_exp != 0), scale[15], Mux(s_exp != 0, s_exp, 1)))

        # ---- 3. PEs and the dequantizer enable ---------------------------------------------
        since = Signal(range(C + 1), name="since_result")   # cycles since results arrived
        grid = []
        for r in range(R):
            row = []
            for c in range(C):
                pe = BitmodPE(w)
                m.submodules[f"pe_{r}_{c}"] = pe
                nz, neg, sh = row_terms[r]
                ms, s_neg, es = row_meta[r]
                m.d.comb += [pe.a.eq(col_a[c]), pe.nz.eq(nz), pe.neg.eq(neg), pe.shift.eq(sh),
                             pe.step.eq(e_on), pe.g_last.eq(g_last), pe.t_last.eq(t_last),
                             pe.ms.eq(ms), pe.s_neg.eq(s_neg), pe.esum.eq(col_emax[c] + es)]
                row.append(pe)
            grid.append(row)
        arrived = grid[0][0].p_valid           # every PE delivers in the same cycle
        wait = max(C - DEQUANT_CYCLES, 0)       # a take in cycle x delivers in x + 11
        dq_en = Signal(name="dq_en")
        m.d.comb += dq_en.eq(1 if wait == 0 else ~arrived & (since >= wait))
        m.d.sync += since.eq(Mux(arrived, 1, Mux(since == C, C, since + 1)))
        for row in grid:
            for pe in row:
                m.d.comb += pe.dq_en.eq(dq_en)

        # ---- 4. row output units, result columns -------------------------------------------
        visit = Signal(range(max(C, 2)), name="visit")   # (a 1-bit index when C = 1)
        active = Signal(name="visit_on")
        idx = Signal(range(max(C, 2)), name="visit_idx")
        m.d.comb += idx.eq(Mux(arrived, 0, visit))
        busy = arrived | active
        m.d.sync += [visit.eq(Mux(busy & (idx != C - 1), idx + 1, 0)),
                     active.eq(busy & (idx != C - 1))]
        final = grid[0][0].p_tlast             # the visited results are the tile's last group
        x_off = X_OFFSET + p.guard_bits + w.wf
        results = []
        for r in range(R):
            pes = grid[r]
            cvt = Fp32FromScaledInt(w.prod, w.esum + 2)
            add, rnd = Fp32Add(), Fp32ToFp16()
            m.submodules[f"unit{r}_cvt"], m.submodules[f"unit{r}_add"] = cvt, add
            m.submodules[f"unit{r}_rnd"] = rnd
            ring = [Signal(32, name=f"acc{r}_{c}") for c in range(C)]
            m.d.comb += [cvt.p.eq(_pick([pe.p for pe in pes], idx)),
                         cvt.x.eq(_pick([pe.p_esum for pe in pes], idx) - x_off),
                         add.a.eq(ring[0]), add.b.eq(cvt.f), rnd.a.eq(add.s)]
            with m.If(busy):
                m.d.sync += [ring[c].eq(ring[c + 1]) for c in range(C - 1)]
                m.d.sync += ring[C - 1].eq(Mux(final, 0, add.s))
            results.append(rnd.h)
        outs, valids = [], []
        for c in range(C):
            stack = [Signal(16, name=f"out{c}_{r}") for r in range(R)]
            left = Signal(range(R + 1), name=f"out{c}_left")
            load = busy & final & (idx == c)
            with m.If(load):
                m.d.sync += [stack[r].eq(results[r]) for r in range(R)]
                m.d.sync += left.eq(R)
            with m.Elif(left != 0):
                m.d.sync += [stack[r].eq(stack[r + 1]) for r in range(R - 1)]
                m.d.sync += left.eq(left - 1)
            outs.append(stack[0])
            valids.append(left != 0)
        m.d.comb += [self.o_data.eq(Cat(outs)), self.o_valid.eq(Cat(valids))]
        return m
