"""A stationary-operand systolic array core built from any family's PE (the ws grid).

:class:`SystolicCore` implements :func:`qaccel.rtl.core.core_signature`: stationary words
shift down the columns during preload, streamed words enter the rows skewed by one cycle per
row and move right, partial sums move down, and each column's bottom PE delivers one result
per streamed row. A family plugs in by giving a PE factory whose component has
:func:`pe_signature`; the grid, skew and valid pipeline are shared.

Timing (cycle ``s + m`` is the one in which streamed row ``m`` is on ``a_row``):
PE ``(k, n)`` multiplies row ``m``'s word ``k`` in cycle ``s + m + k + n`` and the result of
row ``m`` in column ``n`` is on ``o_data`` (with ``o_valid[n]``) in cycle ``s + m + R + n``.
A PE uses its stationary word for the last time ``R + C - 2`` cycles after the last streamed
row was presented, so the next preload may start in the cycle after the last result.
"""

from __future__ import annotations

from collections.abc import Callable

from amaranth.hdl import Cat, Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out, Signature

from qaccel.rtl.core import CoreSpec, core_signature

__all__ = ["pe_signature", "SystolicCore"]


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


class SystolicCore(wiring.Component):
    """An R x C stationary-operand systolic core (see the module docstring for timing).

    Parameters
    ----------
    spec : CoreSpec
        Array sides and word widths.
    make_pe : callable
        ``make_pe() -> Component`` with :func:`pe_signature` ``(spec.a_word_bits,
        spec.w_word_bits, spec.acc_bits)``; called once per PE.

    Attributes
    ----------
    The ports of :func:`qaccel.rtl.core.core_signature`. Latency: a streamed row presented in
    cycle ``c`` yields column ``n``'s result in cycle ``c + R + n``. Throughput: one streamed
    row per cycle. Preload: R cycles.
    """

    def __init__(self, spec: CoreSpec, make_pe: Callable[[], wiring.Component]) -> None:
        self.spec = spec
        self._make_pe = make_pe
        super().__init__(core_signature(spec))

    def elaborate(self, platform: object) -> Module:
        spec = self.spec
        rows, cols = spec.rows, spec.cols
        aw, ww, pw = spec.a_word_bits, spec.w_word_bits, spec.acc_bits
        want = pe_signature(aw, ww, pw)
        m = Module()

        grid = []
        for k in range(rows):
            row = []
            for n in range(cols):
                pe = self._make_pe()
                if pe.signature != want:
                    raise TypeError(f"PE must have signature {want!r}, not {pe.signature!r}")
                m.submodules[f"pe_{k}_{n}"] = pe
                row.append(pe)
            grid.append(row)

        for k in range(rows):
            # Row k's streamed word enters k cycles late (the skew), then hops right.
            word = self.a_row.word_select(k, aw)
            for d in range(k):
                reg = Signal(aw, name=f"skew_{k}_{d}", reset_less=True)
                m.d.sync += reg.eq(word)
                word = reg
            m.d.comb += grid[k][0].a_in.eq(word)
            for n in range(1, cols):
                m.d.comb += grid[k][n].a_in.eq(grid[k][n - 1].a_out)

        for n in range(cols):
            m.d.comb += grid[0][n].w_in.eq(self.w_row.word_select(n, ww))
            m.d.comb += grid[0][n].p_in.eq(0)
            for k in range(rows):
                m.d.comb += grid[k][n].w_load.eq(self.w_load)
                if k:
                    m.d.comb += [grid[k][n].w_in.eq(grid[k - 1][n].w_out),
                                 grid[k][n].p_in.eq(grid[k - 1][n].p_out)]

        # Valid pipeline: column n's result of a row appears R + n cycles after the row.
        delayed = [self.a_valid]
        for d in range(1, rows + cols):
            reg = Signal(name=f"valid_d{d}")
            m.d.sync += reg.eq(delayed[-1])
            delayed.append(reg)
        m.d.comb += self.o_valid.eq(Cat(delayed[rows + n] for n in range(cols)))
        m.d.comb += self.o_data.eq(Cat(grid[rows - 1][n].p_out for n in range(cols)))
        return m
