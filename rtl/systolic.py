"""A stationary-operand systolic array core built from any family's PE (the ws grid).

:class:`SystolicCore` implements :func:`qaccel.rtl.core.core_signature`: stationary words
shift down the columns during preload, streamed words enter the rows skewed by one cycle per
row and move right, partial sums move down, and each column's bottom PE delivers one result
per streamed row. A family plugs in by giving a PE factory whose component has
:func:`pe_signature`; the grid, skew and valid pipeline are shared.

Edge hooks (optional): a family whose stream words are not what its PEs consume (OliVe's
pair codes -> exponent-integer pairs) passes ``a_edge`` / ``w_edge``, combinational logic at
the array edge that turns a raw streamed / stationary row into the row of PE words. It runs in
the edge register stage (before the row skew, and on the preload path into the top PE row),
so it adds no cycle: the timing below is unchanged. With ``spec.a_early`` the core takes the
streamed row a cycle early (:mod:`qaccel.rtl.core`, "Early streamed row") and registers the
row the edge logic made, with ``a_valid``; from that register on, the timing below holds with
``s`` the cycle after the row was on ``a_row`` (:func:`grid_a_early` says which grids do).

Timing (cycle ``s + m`` is the one in which streamed row ``m`` is on ``a_row``):
PE ``(k, n)`` multiplies row ``m``'s word ``k`` in cycle ``s + m + k + n`` and the result of
row ``m`` in column ``n`` is on ``o_data`` (with ``o_valid[n]``) in cycle ``s + m + R + n``.
A PE uses its stationary word for the last time ``R + C - 2`` cycles after the last streamed
row was presented, so the next preload may start in the cycle after the last result.

Shadow registers (``spec.shadow``, ``preload: overlapped``): every PE is wrapped in a
:class:`ShadowPE`, which adds a shadow register for the stationary word. The preload shift
chain runs through the shadow registers (``w_load``), and ``w_swap`` copies, in every PE at
the same edge, the word the shadow register latches at that edge into the PE's own register
(the word in use). The PE itself is unchanged: the swap is its ``w_load``. So the next tile's
block shifts in while the current one streams, and the swap costs no cycle
(:mod:`qaccel.rtl.core` gives the schedule). Without ``spec.shadow`` none of this is
generated: the Verilog is the serial-preload grid.
"""

from __future__ import annotations

from collections.abc import Callable

from amaranth.hdl import Cat, Module, Signal, Value, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out, Signature

from qaccel.arch.spec import Preload
from qaccel.rtl.core import CoreSpec, core_signature

__all__ = ["GRID_DATAFLOWS", "grid_a_early", "grid_dataflow", "grid_result", "grid_shadow",
           "pe_signature", "shadow_pe_signature", "ShadowPE", "SystolicCore", "EdgeHook"]

#: ``hook(m, row) -> row``: adds combinational logic to the core's module ``m`` that turns
#: a raw row (``a_row`` or ``w_row``) into the row of PE words (word i in bits
#: ``[i*pe_bits, (i+1)*pe_bits)``)
EdgeHook = Callable[[Module, Value], Value]


def pe_signature(a_bits: int, w_bits: int, acc_bits: int) -> Signature:
    """Ports of one PE of a stationary-operand systolic grid (directions seen from the PE)::

        a_in   In(signed(a_bits))    streamed word from the left neighbour (or the row skew)
        a_out  Out(signed(a_bits))   ``a_in`` registered, to the right neighbour
        w_in   In(signed(w_bits))    stationary word from the PE above (preload shift)
        w_load In(1)                 latch ``w_in`` at this edge
        w_out  Out(signed(w_bits))   the stationary word held, to the PE below
        p_in   In(signed(acc_bits))  partial sum from the PE above (0 for the top row)
        p_out  Out(signed(acc_bits)) registered ``p_in + f(a_in, w)``, to the PE below

    ``a_out`` and ``p_out`` must be registered (one cycle per hop): :class:`SystolicCore`'s
    skew and valid pipeline assume it.
    """
    return Signature({
        "a_in": In(signed(a_bits)), "a_out": Out(signed(a_bits)),
        "w_in": In(signed(w_bits)), "w_load": In(1), "w_out": Out(signed(w_bits)),
        "p_in": In(signed(acc_bits)), "p_out": Out(signed(acc_bits)),
    })


def shadow_pe_signature(a_bits: int, w_bits: int, acc_bits: int) -> Signature:
    """:func:`pe_signature` plus ``w_swap In(1)`` (:class:`ShadowPE`); ``w_out`` is then the
    shadow register, the next PE's ``w_in`` in the preload chain."""
    members = dict(pe_signature(a_bits, w_bits, acc_bits).members)
    members["w_swap"] = In(1)
    return Signature(members)


class ShadowPE(wiring.Component):
    """Any family's PE with a shadow stationary register (double-buffered preload).

    Parameters
    ----------
    pe : Component
        The family's PE, with :func:`pe_signature`.

    Attributes (:func:`shadow_pe_signature`; directions seen from the PE)
    ----------------------------------------------------------------------
    a_in, a_out, p_in, p_out   as the inner PE's (registered, 1 cycle per hop)
    w_in   In(w_bits)   stationary word from the shadow register above (preload shift)
    w_load In(1)        latch ``w_in`` into the shadow register at this edge
    w_swap In(1)        latch ``w_in`` into the inner PE's stationary register at this edge:
                        with ``w_load`` at the same edge, the word in use becomes the word the
                        shadow register latches (the controller always pairs them)
    w_out  Out(w_bits)  the shadow register, to the PE below

    Cost: one ``w_bits`` register (no multiplexer: the inner PE's ``w_in`` is the wrapper's).
    Latency and throughput are the inner PE's.
    """

    def __init__(self, pe: wiring.Component) -> None:
        want = {n: m for n, m in pe.signature.members.items()}
        self.pe = pe
        a_bits = want["a_in"].shape.width
        w_bits = want["w_in"].shape.width
        acc_bits = want["p_in"].shape.width
        if pe.signature != pe_signature(a_bits, w_bits, acc_bits):
            raise TypeError(f"PE must have signature {pe_signature(a_bits, w_bits, acc_bits)!r}, "
                            f"not {pe.signature!r}")
        super().__init__(shadow_pe_signature(a_bits, w_bits, acc_bits))

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.pe = pe = self.pe
        # No reset: as the PEs' own stationary registers (read only after a preload).
        shadow = Signal.like(self.w_out, name="shadow", reset_less=True)
        with m.If(self.w_load):
            m.d.sync += shadow.eq(self.w_in)
        m.d.comb += [pe.a_in.eq(self.a_in), self.a_out.eq(pe.a_out),
                     pe.p_in.eq(self.p_in), self.p_out.eq(pe.p_out),
                     pe.w_in.eq(self.w_in), pe.w_load.eq(self.w_swap),
                     self.w_out.eq(shadow)]
        return m


class SystolicCore(wiring.Component):
    """An R x C stationary-operand systolic core (see the module docstring for timing).

    Parameters
    ----------
    spec : CoreSpec
        Array sides and word widths.
    make_pe : callable
        ``make_pe() -> Component`` with :func:`pe_signature` ``(pe_a_bits, pe_w_bits,
        spec.acc_bits)``; called once per PE.
    pe_a_bits, pe_w_bits : int, optional
        Width of one PE's streamed / stationary word (unit: bits); default the stream word
        widths ``spec.a_word_bits`` / ``spec.w_word_bits``. Differ only with an edge hook.
    a_edge, w_edge : EdgeHook, optional
        Combinational edge logic from ``a_row`` (``rows * spec.a_word_bits`` bits) to
        ``rows * pe_a_bits`` bits, and from ``w_row`` to ``cols * pe_w_bits`` bits. None:
        the row words go to the PEs as they are.

    Attributes
    ----------
    The ports of :func:`qaccel.rtl.core.core_signature`. Latency: a streamed row presented in
    cycle ``c`` yields column ``n``'s result in cycle ``c + R + n``. Throughput: one streamed
    row per cycle. Preload: R cycles (with ``spec.shadow``: into the shadow registers, hidden
    behind the previous tile's stream; the PEs are wrapped in :class:`ShadowPE`).
    """

    def __init__(self, spec: CoreSpec, make_pe: Callable[[], wiring.Component], *,
                 pe_a_bits: int | None = None, pe_w_bits: int | None = None,
                 a_edge: EdgeHook | None = None, w_edge: EdgeHook | None = None) -> None:
        self.spec = spec
        self._make_pe = make_pe
        self.pe_a_bits = spec.a_word_bits if pe_a_bits is None else pe_a_bits
        self.pe_w_bits = spec.w_word_bits if pe_w_bits is None else pe_w_bits
        for what, edge, pe_bits, word_bits in (
                ("a", a_edge, self.pe_a_bits, spec.a_word_bits),
                ("w", w_edge, self.pe_w_bits, spec.w_word_bits)):
            if edge is None and pe_bits != word_bits:
                raise ValueError(f"pe_{what}_bits must be {word_bits} (the stream word) "
                                 f"without an {what}_edge hook, not {pe_bits!r}")
        self._a_edge, self._w_edge = a_edge, w_edge
        super().__init__(core_signature(spec))

    @staticmethod
    def _edge(m: Module, hook: EdgeHook | None, row: Value, want: int, what: str) -> Value:
        if hook is None:
            return row
        out = hook(m, row)
        if len(out) != want:
            raise ValueError(f"{what}_edge must return a row of {want} bits, not {len(out)}")
        return out

    def elaborate(self, platform: object) -> Module:
        spec = self.spec
        rows, cols = spec.rows, spec.cols
        aw, ww, pw = self.pe_a_bits, self.pe_w_bits, spec.acc_bits
        want = pe_signature(aw, ww, pw)
        m = Module()

        grid = []
        for k in range(rows):
            row = []
            for n in range(cols):
                pe = self._make_pe()
                if pe.signature != want:
                    raise TypeError(f"PE must have signature {want!r}, not {pe.signature!r}")
                if spec.shadow:
                    pe = ShadowPE(pe)
                    m.d.comb += pe.w_swap.eq(self.w_swap)
                m.submodules[f"pe_{k}_{n}"] = pe
                row.append(pe)
            grid.append(row)

        a_row = self._edge(m, self._a_edge, self.a_row, rows * aw, "a")
        w_row = self._edge(m, self._w_edge, self.w_row, cols * ww, "w")
        a_valid = self.a_valid
        if spec.a_early:  # the row came a cycle early: register it after the edge logic
            a_row_q, a_valid_q = Signal(rows * aw, name="a_row_edge_q"), Signal(name="a_valid_q")
            m.d.sync += [a_row_q.eq(a_row), a_valid_q.eq(a_valid)]
            a_row, a_valid = a_row_q, a_valid_q
        for k in range(rows):
            # Row k's streamed word enters k cycles late (the skew), then hops right.
            word = a_row.word_select(k, aw)
            for d in range(k):
                reg = Signal(aw, name=f"skew_{k}_{d}", reset_less=True)
                m.d.sync += reg.eq(word)
                word = reg
            m.d.comb += grid[k][0].a_in.eq(word)
            for n in range(1, cols):
                m.d.comb += grid[k][n].a_in.eq(grid[k][n - 1].a_out)

        for n in range(cols):
            m.d.comb += grid[0][n].w_in.eq(w_row.word_select(n, ww))
            m.d.comb += grid[0][n].p_in.eq(0)
            for k in range(rows):
                m.d.comb += grid[k][n].w_load.eq(self.w_load)
                if k:
                    m.d.comb += [grid[k][n].w_in.eq(grid[k - 1][n].w_out),
                                 grid[k][n].p_in.eq(grid[k - 1][n].p_out)]

        # Valid pipeline: column n's result of a row appears R + n cycles after the row.
        delayed = [a_valid]
        for d in range(1, rows + cols):
            reg = Signal(name=f"valid_d{d}")
            m.d.sync += reg.eq(delayed[-1])
            delayed.append(reg)
        m.d.comb += self.o_valid.eq(Cat(delayed[rows + n] for n in range(cols)))
        if spec.o_next:  # o_valid of the next cycle: the stage before
            m.d.comb += self.o_next.eq(Cat(delayed[rows + n - 1] for n in range(cols)))
        m.d.comb += self.o_data.eq(Cat(grid[rows - 1][n].p_out for n in range(cols)))
        return m


#: dataflows the stationary-operand grid runs: ``ws`` preloads B and streams A's rows, ``is``
#: preloads A.T and streams B's columns (``os`` keeps outputs in the PEs: another grid)
GRID_DATAFLOWS = ("ws", "is")


def grid_dataflow(params: object) -> str:
    """``params.dataflow`` as ``"ws"`` or ``"is"``; ``ValueError`` for one the grid does not
    run (``<family> dataflow must be 'ws' or 'is' for RTL, not 'os'``)."""
    flow = str(getattr(params.dataflow, "value", params.dataflow))
    if flow not in GRID_DATAFLOWS:
        raise ValueError(f"{params.family} dataflow must be 'ws' or 'is' for RTL, "
                         f"not {flow!r}")
    return flow


def grid_shadow(params: object) -> bool:
    """Whether the grid of ``params`` has shadow stationary registers: ``params.preload`` is
    ``overlapped`` (``CoreSpec.shadow``)."""
    return Preload(params.preload) is Preload.OVERLAPPED


def grid_a_early(params: object) -> bool:
    """Whether a grid with an edge decoder on its streamed rows takes them a cycle early
    (``CoreSpec.a_early``): every grid that can, i.e. serial preload and at least 2 rows, so
    the decoder and PE(0,0)'s multiply-add are not one path from the controller's buffer."""
    return not grid_shadow(params) and int(params.rows) >= 2


def grid_result(params: object, tile: object, rows: object) -> object:
    """``out`` (M x N) from the rows a grid drained (S x C): ws rows are rows of ``out``,
    is rows are its columns."""
    if grid_dataflow(params) == "ws":
        return rows[:, :tile.N]
    return rows[:, :tile.M].T
