"""RTL level of ``mixpe``: the output-stationary MixPE array (W4A8, W4A16) with per-column
dequantizers.

The array top is the generic :class:`qaccel.rtl.controller.ArrayTop` (schedule ``"os"``, with
metadata) around :class:`MixPECore`; ``cycles`` equals ``MixPE.timing(tile)`` =
``R + C - 2 + f_{G-1} + 2 + align_cycles(K)`` (``arch/pe/mixpe.py`` "Timing"; the last
term is 0 for W4A8, ``min(K, 128)`` for W4A16).

Streams (``rtl/core.py`` "os" schedule): beat ``k`` carries ``a[:, k]`` (row operand, INT8
codes or FP16 bit patterns, word ``r`` for array row r = output row m) and ``q[k, :]``
(column operand, 4-bit codes, word ``n`` for column n); metadata beat ``g`` carries group
g's scale (FP16 bits, ``[20n, 20n+16)``) and zero point (``[20n+16, 20n+20)``) of every
column n. Result row ``r`` of a tile is ``out[r, :]`` (FP32 bits).

W4A16 edge (:class:`~qaccel.rtl.pe._mixpe_align.GroupAligner`): the stream is buffered and
replayed ``d = min(K, 128)`` cycles late (each group's largest exponent E is known before
its first beat leaves), activations aligned to 17-bit integers ``A``, each row's E riding
with them. Below, "beat k on the inputs in cycle 1 + k" then reads ``1 + k + d`` and
``t_g`` reads ``t_g + d``; the datapath is W4A8's with wider integers
(:class:`~qaccel.rtl.pe._mixpe_units.Widths`), E held next to S and passed to the
dequantizers (``t = fl32(s * D * 2^(E - 10 - F))``).

Core (cycle numbers are tile cycles; beat k is on the inputs in cycle 1 + k):

* PE (r, n) (:class:`~qaccel.rtl.pe._mixpe_units.ShiftAddPE`) sees beat k in cycle
  ``1 + k + r + n`` (activations skewed by row and passed right, codes skewed by column and
  passed down, with beat control bits valid/first/last/parity); on a group's last beat its P
  goes to the hold register of the group's parity. Row r's adder forms S on the same skewed
  beats (cycle ``1 + k + r``) into its own parity-held register.
* Group g ends at the array edge in cycle ``t_g = min((g+1)*128, K)``. A sequencer starts the
  columns' sweep of group g in cycle ``u_g = max(t_g, f_{g-1})`` (``f_g = u_g + R``): one
  row per cycle, rows in order. Its tokens reach column 0's dequantizer ``R + 1`` cycles
  later and move one column per cycle, so column n dequantizes row r of group g (stage 1)
  in cycle ``R + 1 + u_g + r + n`` and delivers the last group's result one cycle later.
  The last result (r = R-1, n = C-1) is delivered in cycle ``2R + C + u_{G-1} = R + C - 2 +
  f_{G-1} + 2`` = ``timing()``. ``m_addr`` names group g from the cycle in which group g-1's
  metadata row was latched (group 0: from the tile's start); every column latches its scale
  and zero point of group g into the slot of the group's parity in cycle ``R + u_g``.
* Parity-held values are safe while ``rows <= 128`` and ``cols <= 128``: group g+2 of the
  same parity cannot overwrite them before the last column has used group g (full groups
  are 128 beats apart; only the tile's last group can be shorter). :func:`core_spec`
  rejects larger arrays.
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Array, Cat, Module, Mux, Signal, signed
from amaranth.lib import data, wiring

from qaccel.arch.pe.mixpe import G_SIZE, GroupWeights, MixPE
from qaccel.arch.pe.tile import Tile
from qaccel.rtl.controller import ArrayTop
from qaccel.rtl.core import CoreSpec, core_signature
from qaccel.rtl.pe._mixpe_align import GroupAligner
from qaccel.rtl.pe._mixpe_units import CTL_BITS, E_BITS, DequantUnit, ShiftAddPE, widths

__all__ = ["edge_units", "MixPECore", "create", "create_core", "create_pe", "pe_config",
           "core_spec", "tile_streams", "tile_meta", "tile_result", "random_operands",
           "random_fp16", "META_WORD_BITS", "MAX_SIDE"]

#: one column's metadata word: FP16 scale (bits 0..15) and 4-bit zero point (16..19)
META_WORD_BITS = 20
#: largest array side the parity-held group registers support (unit: PEs)
MAX_SIDE = G_SIZE


def core_spec(params: MixPE) -> CoreSpec:
    """The array core's shape for ``params`` (rows and cols <= 128); ``a_word_bits`` is the
    activation stream's word: 8 (INT8) or 16 (FP16 bits)."""
    for side in ("rows", "cols"):
        if getattr(params, side) > MAX_SIDE:
            raise ValueError(f"mixpe {side} must be <= {MAX_SIDE} for RTL, not "
                             f"{getattr(params, side)}")
    return CoreSpec(rows=params.rows, cols=params.cols, w_word_bits=MixPE.b_bits,
                    a_word_bits=params.a_bits, acc_bits=MixPE.acc_bits,
                    meta_bits=params.cols * META_WORD_BITS, schedule="os")


class MixPECore(wiring.Component):
    """R x C MixPE array core (module docstring): shift-and-add PEs, row adders, the group
    sequencer and one :class:`~qaccel.rtl.pe._mixpe_units.DequantUnit` per column.

    Ports: :func:`qaccel.rtl.core.core_signature` of :func:`core_spec`. Latency: see the
    module docstring; throughput one beat per cycle.
    """

    def __init__(self, spec: CoreSpec) -> None:
        self.spec, self.widths = spec, widths(spec.a_word_bits)
        super().__init__(core_signature(spec))

    def elaborate(self, platform: object) -> Module:
        spec, w = self.spec, self.widths
        R, C = spec.rows, spec.cols  # noqa: N806
        m = Module()

        # ---- W4A16: the group aligner replays the stream min(K, 128) cycles late ------------
        if w.aligned:
            m.submodules.aligner = al = GroupAligner(R, spec.w_row_bits)
            m.d.comb += [al.a_in.eq(self.a_row), al.w_in.eq(self.w_row),
                         al.valid_in.eq(self.a_valid), al.last_in.eq(self.a_last)]
            a_valid, a_last, w_row = al.valid_out, al.last_out, al.w_out
            words = [Cat(al.a_out.word_select(r, w.a), al.e_out.word_select(r, E_BITS))
                     for r in range(R)]
        else:
            a_valid, a_last, w_row = self.a_valid, self.a_last, self.w_row
            words = [self.a_row.word_select(r, w.a) for r in range(R)]

        # ---- beat control at the array edge -------------------------------------------------
        kin = Signal(range(G_SIZE), name="kin")       # beat index within the group
        par = Signal(name="par")                      # group parity
        glast = (kin == G_SIZE - 1) | a_last
        with m.If(a_valid):
            m.d.sync += kin.eq(Mux(glast, 0, kin + 1))
            with m.If(glast):
                m.d.sync += par.eq(~par & ~a_last)
        ctl = [Signal(CTL_BITS, name="ctl_edge")]
        m.d.comb += ctl[0].eq(Cat(a_valid, kin == 0, glast, par))
        for r in range(1, R):                          # row r's control, r cycles late
            reg = Signal(CTL_BITS, name=f"ctl_skew{r}")
            m.d.sync += reg.eq(ctl[-1])
            ctl.append(reg)

        # ---- PE grid, row adders -------------------------------------------------------------
        grid = [[ShiftAddPE(w) for _ in range(C)] for _ in range(R)]
        for r in range(R):
            for n in range(C):
                m.submodules[f"pe_{r}_{n}"] = grid[r][n]
        s_holds, e_holds = [], []
        for r in range(R):
            word = self._skew(m, words[r], r, f"a_skew{r}")
            a = word[:w.a].as_signed()
            m.d.comb += [grid[r][0].a_in.eq(a), grid[r][0].ctl_in.eq(ctl[r])]
            for n in range(1, C):
                m.d.comb += [grid[r][n].a_in.eq(grid[r][n - 1].a_out),
                             grid[r][n].ctl_in.eq(grid[r][n - 1].ctl_out)]
            e = word[w.a:] if w.aligned else None
            s_pair, e_pair = self._row_adder(m, a, e, ctl[r], r)
            s_holds.append(s_pair)
            e_holds.append(e_pair)
        for n in range(C):
            q = self._skew(m, w_row.word_select(n, spec.w_word_bits), n, f"q_skew{n}")
            m.d.comb += grid[0][n].q_in.eq(q)
            for r in range(1, R):
                m.d.comb += grid[r][n].q_in.eq(grid[r - 1][n].q_out)

        # ---- group sequencer, tokens, metadata -----------------------------------------------
        tok_load, tok = self._sequencer(m, a_valid & glast, a_valid & a_last)
        slots = self._metadata(m, tok_load)

        # ---- dequantizers ------------------------------------------------------------------
        def by_row(items: list) -> Array:   # every row index value decodes (lint: CASE...)
            return Array(items + items[-1:] * ((1 << len(tok.row)) - len(items)))

        s_sum = Signal(signed(w.s), name="s_col0")
        m.d.comb += s_sum.eq(by_row([Array(pair) for pair in s_holds])[tok.row][tok.par])
        if w.aligned:
            e_big = Signal(E_BITS, name="e_col0")
            m.d.comb += e_big.eq(by_row([Array(pair) for pair in e_holds])[tok.row][tok.par])
        for n in range(C):
            unit = DequantUnit(R, w)
            m.submodules[f"dequant{n}"] = unit
            holds = by_row([Array((grid[r][n].hold0, grid[r][n].hold1)) for r in range(R)])
            scale, zero = slots[n]
            m.d.comb += [unit.valid.eq(tok.valid), unit.first.eq(tok.first),
                         unit.last.eq(tok.last), unit.row.eq(tok.row),
                         unit.p.eq(holds[tok.row][tok.par]), unit.s_sum.eq(s_sum),
                         unit.scale.eq(Array(scale)[tok.par]), unit.z.eq(Array(zero)[tok.par]),
                         self.o_valid[n].eq(unit.o_valid),
                         self.o_data.word_select(n, 32).eq(unit.o_data)]
            if w.aligned:
                m.d.comb += unit.e_big.eq(e_big)
            if n + 1 < C:                              # the token, S (and E) hop to column n + 1
                nxt, s_next = Signal.like(tok, name=f"tok_col{n + 1}"), Signal.like(s_sum)
                m.d.sync += [nxt.eq(tok), s_next.eq(s_sum)]
                tok, s_sum = nxt, s_next
                if w.aligned:
                    e_next = Signal.like(e_big, name=f"e_col{n + 1}")
                    m.d.sync += e_next.eq(e_big)
                    e_big = e_next
        return m

    @staticmethod
    def _skew(m: Module, word: object, depth: int, name: str) -> Signal:
        """``word`` delayed by ``depth`` cycles (a chain of data registers)."""
        out = word
        for d in range(depth):
            reg = Signal(len(word), name=f"{name}_{d}", reset_less=True)
            m.d.sync += reg.eq(out)
            out = reg
        return out

    def _row_adder(self, m: Module, a: object, e: object, ctl: Signal,
                   r: int) -> tuple[tuple[Signal, Signal], tuple[Signal, Signal] | None]:
        """Row r's ``S = sum a`` over each group, held per parity (shared by the row); W4A16
        (``e`` not None): also the group exponent E, held next to S."""
        valid, first, last, par = (ctl[i] for i in range(CTL_BITS))
        s_bits = self.widths.s
        acc = Signal(signed(s_bits), name=f"s_acc{r}", reset_less=True)
        holds = (Signal(signed(s_bits), name=f"s_hold{r}_0", reset_less=True),
                 Signal(signed(s_bits), name=f"s_hold{r}_1", reset_less=True))
        e_holds = None if e is None else (
            Signal(E_BITS, name=f"e_hold{r}_0", reset_less=True),
            Signal(E_BITS, name=f"e_hold{r}_1", reset_less=True))
        nxt = Signal(signed(s_bits), name=f"s_next{r}")
        m.d.comb += nxt.eq(Mux(first, 0, acc) + a)
        with m.If(valid):
            m.d.sync += acc.eq(nxt)
            for p in (0, 1):
                with m.If(last & (par == p)):
                    m.d.sync += holds[p].eq(nxt)
                    if e_holds is not None:
                        m.d.sync += e_holds[p].eq(e)
        return holds, e_holds

    def _sequencer(self, m: Module, ev: object, ev_last: object) -> tuple[Signal, Signal]:
        """Sweep tokens: one row of one group per cycle, group g from ``u_g = max(t_g,
        f_{g-1})`` (``ev``: a group ends this cycle; ``ev_last``: the tile's last). Returns the
        tokens delayed ``R`` (metadata load) and ``R + 1`` cycles (column 0's dequantizer)."""
        R = self.spec.rows  # noqa: N806
        layout = data.StructLayout({"valid": 1, "first": 1, "last": 1, "par": 1,
                                    "row": range(max(R, 2))})
        pend, pend_last = Signal(name="pend"), Signal(name="pend_last")
        sweeping, srow = Signal(name="sweeping"), Signal(range(max(R, 2)), name="srow")
        gpar, gfirst = Signal(name="gpar"), Signal(name="gfirst", init=1)
        cur = Signal(layout, name="sweep")
        tok = Signal(layout, name="tok_seq")
        start = (ev | pend) & ~sweeping
        start_last = Mux(pend, pend_last, ev_last)
        with m.If(start):
            m.d.comb += [tok.valid.eq(1), tok.row.eq(0), tok.par.eq(gpar),
                         tok.first.eq(gfirst), tok.last.eq(start_last)]
            m.d.sync += [cur.par.eq(gpar), cur.first.eq(gfirst), cur.last.eq(start_last),
                         gpar.eq(~gpar & ~start_last), gfirst.eq(start_last)]
            if R > 1:
                m.d.sync += [sweeping.eq(1), srow.eq(1)]
            with m.If(pend):   # the pending group starts; a group ending now waits
                m.d.sync += [pend.eq(ev), pend_last.eq(ev_last)]
        with m.Elif(sweeping):
            m.d.comb += [tok.valid.eq(1), tok.row.eq(srow), tok.par.eq(cur.par),
                         tok.first.eq(cur.first), tok.last.eq(cur.last)]
            m.d.sync += srow.eq(srow + 1)
            with m.If(srow == R - 1):
                m.d.sync += sweeping.eq(0)
            with m.If(ev):
                m.d.sync += [pend.eq(1), pend_last.eq(ev_last)]
        delayed = [tok]
        for d in range(1, R + 2):
            reg = Signal(layout, name=f"tok_d{d}")
            m.d.sync += reg.eq(delayed[-1])
            delayed.append(reg)
        return delayed[R], delayed[R + 1]

    def _metadata(self, m: Module, tok: Signal) -> list[tuple[list[Signal], list[Signal]]]:
        """Per column, the (scale, zero point) slots of both group parities, loaded from
        ``m_row`` when a sweep's row-0 token passes ``tok``."""
        load = tok.valid & (tok.row == 0)
        count = Signal(len(self.m_addr), name="meta_next")   # groups loaded in this tile
        nxt = Mux(load, Mux(tok.last, 0, count + 1), count)
        m.d.sync += count.eq(nxt)
        m.d.comb += self.m_addr.eq(nxt)
        slots = []
        for n in range(self.spec.cols):
            word = self.m_row.word_select(n, META_WORD_BITS)
            scale = [Signal(16, name=f"scale{n}_{p}", reset_less=True) for p in (0, 1)]
            zero = [Signal(4, name=f"zero{n}_{p}", reset_less=True) for p in (0, 1)]
            for p in (0, 1):
                with m.If(load & (tok.par == p)):
                    m.d.sync += [scale[p].eq(word[:16]), zero[p].eq(word[16:20])]
            slots.append((scale, zero))
        return slots


def create_pe(params: MixPE) -> ShiftAddPE:
    """One PE (for ``qaccel rtl synth --pe``): the shift-and-add PE with its parity-held P
    (the row adders and the per-column dequantizers are outside the PE)."""
    return ShiftAddPE(widths(params.a_bits))


def edge_units(params: MixPE) -> dict[str, object]:
    """Units at the array edge (synthesized beside the PE): a column's two-stage FP32
    dequantizer."""
    return {"dequantizer (per column)": DequantUnit(params.rows, widths(params.a_bits))}


def pe_config(params: MixPE) -> str:
    """The PE's configuration as the synthesis tables name it."""
    return params.fmt


def create_core(params: MixPE) -> MixPECore:
    """The array core alone."""
    return MixPECore(core_spec(params))


def create(params: MixPE, *, buffer_rows: int = 512, max_tiles: int = 8,
           meta_rows: int = 32) -> ArrayTop:
    """The R x C array top for ``params`` (W4A8 or W4A16): :func:`create_core` plus
    controller.

    ``buffer_rows`` bounds a tile's K (and the K of one batch), ``meta_rows`` its groups.
    The Verilog module is named ``mixpe_<w4a8|w4a16>_<R>x<C>_d<buffer_rows>_t<max_tiles>``.
    """
    core = create_core(params)
    name = f"mixpe_{params.fmt}_{params.rows}x{params.cols}_d{buffer_rows}_t{max_tiles}"
    return ArrayTop(core.spec, core, params=params.to_dict(), name=name,
                    buffer_rows=buffer_rows, max_tiles=max_tiles, meta_rows=meta_rows)


def tile_streams(params: MixPE, tile: Tile) -> tuple[np.ndarray, np.ndarray]:
    """(column operand ``q`` [K x N] for ``w_*``, row operand ``a.T`` [K x M] for ``a_*``:
    INT8 codes, or FP16 bit patterns for W4A16)."""
    params.check_tile(tile)
    a = tile.a if params.a_bits == 8 else tile.a.view(np.uint16)
    return tile.b.q.astype(np.int64), a.T.astype(np.int64)


def tile_meta(params: MixPE, tile: Tile) -> list[int]:
    """One metadata beat per group: column n's FP16 scale bits and zero point."""
    w = tile.b
    scales = w.s.astype(np.float16).view(np.uint16).astype(np.int64)
    beats = []
    for g in range(w.s.shape[0]):
        word = 0
        for n in range(w.s.shape[1]):
            word |= (int(scales[g, n]) | int(w.z[g, n]) << 16) << (META_WORD_BITS * n)
        beats.append(word)
    return beats


def tile_result(params: MixPE, tile: Tile, rows: np.ndarray) -> np.ndarray:
    """``out`` (M x N, float32) from the drained rows (R x C binary32 bit patterns as signed
    integers): the bits are reinterpreted, never converted."""
    bits = np.ascontiguousarray(rows, dtype=np.int64).astype(np.int32).view(np.float32)
    return bits[:tile.M, :tile.N]


def random_operands(params: MixPE, rng: np.random.Generator, m: int, k: int,
                    n: int) -> tuple[np.ndarray, GroupWeights]:
    """Random activations (W4A8: INT8, -128 included; W4A16: :func:`random_fp16`) and group
    weights encoded from random floats (``GroupWeights.from_float``: real scales and zero
    points, partial last groups)."""
    if params.a_bits == 8:
        a = rng.integers(-128, 128, size=(m, k), dtype=np.int64).astype(np.int8)
    else:
        a = random_fp16(rng, m, k)
    spread = float(rng.choice([1e-3, 1.0, 30.0]))
    b = (rng.standard_normal((k, n)) * spread + rng.normal(0, spread, size=(1, n)))
    return a, GroupWeights.from_float(b.astype(np.float32))


def random_fp16(rng: np.random.Generator, m: int, k: int) -> np.ndarray:
    """Finite FP16 A [M x K]: per (row, group) an exponent field centre in 0..30 and a spread
    of 0, 3, 10 or 30 (so groups span one binade up to the whole range: subnormals, and
    elements truncated to 0 by the alignment), random signs and fractions, 1 in 8 a +-0."""
    groups = -(-k // G_SIZE)
    centre = np.repeat(rng.integers(0, 31, size=(m, groups)), G_SIZE, axis=1)[:, :k]
    spread = np.repeat(rng.choice([0, 3, 10, 30], size=(m, groups)), G_SIZE, axis=1)[:, :k]
    field = np.clip(centre + rng.integers(-spread, spread + 1), 0, 30)
    frac = rng.integers(0, 1 << 10, size=(m, k))
    zero = rng.random((m, k)) < 0.125
    bits = (rng.integers(0, 2, size=(m, k)) << 15) | np.where(zero, 0, field << 10 | frac)
    return bits.astype(np.uint16).view(np.float16)
