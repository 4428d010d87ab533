"""What every SCALE-Sim-style systolic family shares: the dataflow mapping and fold timing.

=========  ============  ============  ========  ======================
dataflow   array rows    array cols    streamed  cycles of one fold
=========  ============  ============  ========  ======================
ws         K (weights)   N             M         2R + C + M - 2
os         M (outputs)   N             K         R + C + K - 2
is         K (inputs)    M             N         2R + C + N - 2
=========  ============  ============  ========  ======================

(SCALE-Sim v3 rules, DESIGN.md "PE families"). ``systolic_int8``, ``fp16``, ``olive`` and
``ant`` subclass :class:`SystolicArray`; a family whose PE needs several passes per step
multiplies :meth:`SystolicArray.fold_cycles` (``ant`` 8-bit mode).
"""

from __future__ import annotations

from dataclasses import dataclass

from qaccel.arch.spec import Dataflow, Drain, PEArray, Preload

__all__ = ["MAPPING", "SystolicArray"]

#: dataflow -> (GEMM dim on array rows, on array cols, streamed dim)
MAPPING: dict[Dataflow, tuple[str, str, str]] = {
    Dataflow.WS: ("K", "N", "M"),
    Dataflow.OS: ("M", "N", "K"),
    Dataflow.IS: ("K", "M", "N"),
}


@dataclass(frozen=True)
class SystolicArray(PEArray):
    """An R x C systolic array with SCALE-Sim fold timing (not registered: a base class).

    Its RTL (``rtl/systolic.py``) runs ws and is, with shadow stationary registers for
    ``preload: overlapped``; os is simulated only."""

    dataflows = (Dataflow.WS, Dataflow.OS, Dataflow.IS)
    rtl_dataflows = (Dataflow.WS, Dataflow.IS)
    preload_modes = (Preload.SERIAL, Preload.OVERLAPPED)
    drain_modes = (Drain.SERIAL, Drain.OVERLAPPED)

    @property
    def mapping(self) -> tuple[str, str, str]:
        """(dim on rows, dim on cols, streamed dim) for this dataflow."""
        return MAPPING[self.dataflow]

    def fold_cycles(self, streamed: int, overlapped: bool = False) -> int:
        """Cycles of one fold that streams ``streamed`` elements (no memory stalls).

        ``ws``/``is`` spend R cycles preloading the stationary operand, then the streamed
        operand enters skewed: the last result leaves ``S + R + C - 2`` cycles later.
        ``overlapped``: the preload ran in the shadow registers during the previous fold
        (``preload: overlapped``), so the fold is ``S + R + C - 2``.

        ``os`` has no preload: a fold is ``R + C + S - 2``; ``overlapped`` (``drain:
        overlapped``, shadow accumulators): the fold's stream follows the previous fold's
        stream at once and its skewed fill and drain overlap the neighbouring folds, so it
        costs ``max(S, R)`` (the R cycles a column of shadow accumulators takes to drain).
        """
        r, c = self.rows, self.cols
        if self.dataflow is Dataflow.OS:
            return max(streamed, r) if overlapped else r + c + streamed - 2
        preload = 0 if overlapped else r
        return preload + r + c + streamed - 2
