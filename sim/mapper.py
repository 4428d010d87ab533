"""The mapper: for each GEMM, the mapping (dataflow, loop order, stream tile) that minimizes an
objective, evaluated with the fast engine's closed forms. Candidates are listed dataflow by
dataflow, then stream tile (S, then the powers of two upwards), then loop order.

**The mapping space** of a GEMM on a family's array (what :func:`candidate_mappings` lists):

- every dataflow the family's hardware supports (``PEArray.dataflows``);
- every loop order (``sim.plan.LoopOrder``: the chunk loop outermost or inside the outer
  block loop, column or row blocks outer; ``cols_outer`` first); of orders that run the same
  folds in the same order (loops of one iteration dropped) only the first is listed;
- stream tiles T: the whole streamed dim S, and every power of two from :data:`MIN_TILE` up
  to S (exclusive). In ``os`` the streamed dim is K: a K split is only listed
  for families whose partial sums may leave the array (``PEArray.k_split``), at multiples of
  ``PEArray.k_split_multiple`` (a quantization group for the FP32-group-sum PEs);
- minus the mappings :func:`qaccel.sim.plan.mapping_problem` rejects (partial sums that a
  ws/is order revisits must fit the output buffer; a K split needs one fold's partial sums to
  fit and spills the rest between chunks).

**Objectives** (:class:`Objective`): ``cycles`` (total cycles, memory stalls included),
``energy`` (total pJ) and ``edp`` (their product). Ties go to the first candidate in the order
above, so the choice is deterministic. ``mapping: fixed`` (:func:`choose` with ``fixed=True``)
skips the search: the preset's dataflow, ``cols_outer``, no stream tiling (SCALE-Sim's
schedule).

Choices are memoized per (accelerator, M, K, N, objective): repeated layer shapes cost a
lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from qaccel.arch.cost import counts_energy_pj
from qaccel.arch.spec import Accelerator, Dataflow, PEArray
from qaccel.sim.counts import GemmCounts
from qaccel.sim.fast.closed_form import gemm_cycles, gemm_traffic, with_cycles_and_events
from qaccel.sim.plan import (
    FoldPlan,
    LoopOrder,
    Mapping,
    fixed_mapping,
    mapping_problem,
    plan_gemm,
    total_cycles,
)

__all__ = ["Objective", "Choice", "candidate_mappings", "choose", "evaluate", "MIN_TILE"]

#: smallest stream tile the mapper tries (unit: elements of the streamed dim)
MIN_TILE = 16


class Objective(StrEnum):
    """What the mapper minimizes per layer."""

    CYCLES = "cycles"
    ENERGY = "energy"
    EDP = "edp"


@dataclass(frozen=True)
class Choice:
    """A mapping with its plan, the array under its dataflow, its fast-engine counts for
    one GEMM, total cycles and energy (unit: pJ)."""

    mapping: Mapping
    pe: PEArray
    plan: FoldPlan
    counts: GemmCounts
    cycles: int
    energy_pj: float

    def score(self, objective: Objective) -> float:
        if objective is Objective.CYCLES:
            return self.cycles
        if objective is Objective.ENERGY:
            return self.energy_pj
        return self.cycles * self.energy_pj


def candidate_mappings(pe: PEArray, M: int, K: int, N: int,  # noqa: N803
                       pin_dataflow: bool = False) -> list[Mapping]:
    """Every mapping of the space (module docstring), in tie-break order; validity against
    the buffers is checked by :func:`evaluate` (``mapping_problem``). ``pin_dataflow``: only
    the array's own dataflow."""
    dims = {"M": M, "K": K, "N": N}
    out = []
    for dataflow in (pe.dataflow,) if pin_dataflow else pe.dataflows:
        arr = pe.with_dataflow(dataflow)
        row, col, stream = arr.mapping
        S = dims[stream]  # noqa: N806
        tiles = []
        step = arr.k_split_multiple if stream == "K" else 1
        if stream != "K" or arr.k_split:
            t = MIN_TILE
            while t < S:
                if t % step == 0:
                    tiles.append(t)
                t *= 2
        tiles = [S, *tiles]
        n_r, n_c = -(-dims[row] // arr.rows), -(-dims[col] // arr.cols)
        seen = set()
        for t in tiles:
            for order in LoopOrder:
                key = (t, _nest(order, n_r, n_c, -(-S // t)))
                if key not in seen:
                    seen.add(key)
                    out.append(Mapping(dataflow, order, t))
    return out


def evaluate(accel: Accelerator, M: int, K: int, N: int,  # noqa: N803
             mapping: Mapping) -> Choice | None:
    """One GEMM under ``mapping`` with the fast engine's closed forms, or None when the
    mapping breaks the buffer rule (``mapping_problem``)."""
    pe = accel.pe_array.with_dataflow(mapping.dataflow)
    plan = plan_gemm(accel, M, K, N, mapping)
    if mapping_problem(plan) is not None:
        return None
    return _complete(accel, mapping, pe, plan, gemm_traffic(plan), gemm_cycles(pe, plan))


def _complete(accel: Accelerator, mapping: Mapping, pe: PEArray, plan: FoldPlan,
              traffic: GemmCounts, compute: int) -> Choice:
    counts = with_cycles_and_events(pe, plan, traffic, compute)
    return Choice(mapping, pe, plan, counts, _total(accel, traffic, compute),
                  counts_energy_pj(accel, pe, counts)["energy_pj_total"])


def _total(accel: Accelerator, traffic: GemmCounts, compute: int) -> int:
    return total_cycles(compute, traffic.dram_bits, traffic.prologue_bits,
                        traffic.epilogue_bits, accel.dram.bits_per_cycle)


def _nest(order: LoopOrder, n_r: int, n_c: int, n_s: int) -> tuple[str, ...]:
    """The fold loop nest of ``order`` without its loops of one iteration: two mappings
    with the same nest run the same folds in the same order."""
    blocks = [("r", n_r), ("c", n_c)] if order.rows_first else [("c", n_c), ("r", n_r)]
    loops = ([blocks[0], ("s", n_s), blocks[1]] if order.chunk_inside
             else [("s", n_s), *blocks])
    return tuple(name for name, n in loops if n > 1)


@lru_cache(maxsize=16384)
def choose(accel: Accelerator, M: int, K: int, N: int,  # noqa: N803
           objective: Objective = Objective.CYCLES, fixed: bool = False,
           pin_dataflow: bool = False) -> Choice:
    """The best mapping of out[M x N] = A[M x K] . B[K x N] on ``accel`` under
    ``objective`` (first of equal scores), or the fixed mapping when ``fixed``;
    ``pin_dataflow``: keep the array's dataflow."""
    if fixed:
        choice = evaluate(accel, M, K, N, fixed_mapping(accel.pe_array, M, K, N))
        assert choice is not None  # cols_outer without chunks is always valid
        return choice
    objective = Objective(objective)
    if objective is not Objective.CYCLES:
        best = None
        for mapping in candidate_mappings(accel.pe_array, M, K, N, pin_dataflow):
            choice = evaluate(accel, M, K, N, mapping)
            if choice is not None and (best is None
                                       or choice.score(objective) < best.score(objective)):
                best = choice
        assert best is not None  # the fixed mapping of each dataflow is always valid
        return best
    # cycles: total >= compute, so a candidate whose compute alone reaches the best total
    # cannot win (ties go to the earlier one); events and energy only for the winner
    best_key, best = None, None
    computes: dict[tuple[Dataflow, int], int] = {}   # the loop order does not change compute
    # no mapping moves less than every operand once: a floor under every candidate's total
    pe0 = accel.pe_array
    floor = -(-(M * K * pe0.a_bits + K * N * pe0.b_bits + M * N * pe0.acc_bits)
              // accel.dram.bits_per_cycle)
    for mapping in candidate_mappings(accel.pe_array, M, K, N, pin_dataflow):
        if best_key is not None and best_key <= floor:
            break
        known = computes.get((mapping.dataflow, mapping.stream_tile))
        if best_key is not None and known is not None and known >= best_key:
            continue
        pe = accel.pe_array.with_dataflow(mapping.dataflow)
        plan = plan_gemm(accel, M, K, N, mapping)
        compute = known if known is not None else gemm_cycles(pe, plan)
        computes[(mapping.dataflow, mapping.stream_tile)] = compute
        if best_key is not None and compute >= best_key:
            continue
        if mapping_problem(plan) is not None:
            continue
        traffic = gemm_traffic(plan)
        cycles = _total(accel, traffic, compute)
        if best_key is None or cycles < best_key:
            best_key, best = cycles, (mapping, pe, plan, traffic, compute)
    assert best is not None  # the fixed mapping of each dataflow is always valid
    return _complete(accel, *best)
