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

Choices are memoized per (accelerator, M, K, N, objective) in the accelerator's
:class:`AccelContext` (found by the object's identity, so a lookup does not hash the
accelerator): repeated layer shapes cost a lookup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from qaccel.arch.cost import EnergyModel
from qaccel.arch.spec import Accelerator, Dataflow, DramTraffic, MappingMode, PEArray
from qaccel.sim.counts import GemmCounts
from qaccel.sim.fast import closed_form
from qaccel.sim.fast.closed_form import (
    gemm_counts,
    gemm_cycles,
    gemm_traffic,
    with_cycles_and_events,
)
from qaccel.sim.plan import (
    FoldPlan,
    LoopOrder,
    Mapping,
    fixed_mapping,
    mapping_problem,
    plan_on,
    reuse_bits_of,
    total_cycles,
)

__all__ = ["Objective", "Choice", "candidate_mappings", "choose", "evaluate", "MIN_TILE",
           "AccelContext", "context_of", "clear_caches", "hold_one"]

#: builds a frozen dataclass without its __init__ (hot path; fields set through __dict__)
_new = object.__new__
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
    one GEMM, total cycles and (:attr:`energy_pj`, priced on first use) energy."""

    mapping: Mapping
    pe: PEArray
    plan: FoldPlan
    counts: GemmCounts
    cycles: int
    energy: EnergyModel = field(repr=False, compare=False)

    @property
    def energy_columns(self) -> dict[str, float]:
        """The energy columns (unit: pJ) of :attr:`counts` (priced once; shared: do not
        modify it)."""
        cached = self.__dict__.get("_energy_columns")
        if cached is None:
            cached = self.__dict__["_energy_columns"] = self.energy.columns(self.counts)
        return cached

    @property
    def energy_pj(self) -> float:
        """Total energy of one GEMM (unit: pJ)."""
        return self.energy_columns["energy_pj_total"]

    def score(self, objective: Objective) -> float:
        if objective is Objective.CYCLES:
            return self.cycles
        if objective is Objective.ENERGY:
            return self.energy_pj
        return self.cycles * self.energy_pj


class AccelContext:
    """What the mapper and the fast engine need of one accelerator, derived once (issue 17
    item 6): its array under each dataflow with that array's :class:`EnergyModel` and the
    columns a result row copies from it, the buffers' reuse bits, DRAM bits per cycle, the
    mapping mode; and the memos: :attr:`choices` (:func:`choose`'s, per GEMM shape) and
    :attr:`rows` (``sim.engine``'s timing-only rows, per layer shape). An accelerator is
    immutable (frozen), so nothing here goes stale; :func:`context_of` finds it."""


    def __init__(self, accel: Accelerator) -> None:
        self.accel = accel
        self.reuse_bits = reuse_bits_of(accel)
        self.bits_per_cycle = accel.dram.bits_per_cycle
        self.fixed = accel.mapping is MappingMode.FIXED
        self.pinned = accel.mapping is MappingMode.DATAFLOW
        #: ``dram.traffic: layer_refetch``: the layer's DRAM traffic comes from a rule
        #: (``sim.layer_refetch``), not from the mapping, so the mapper weighs only what the
        #: mapping decides: the prologue, compute and epilogue
        self.rule_traffic = accel.dram.traffic is DramTraffic.LAYER_REFETCH
        self._arrays: dict[str, tuple[PEArray, EnergyModel, dict[str, Any]]] = {}
        self.choices: dict[tuple, Choice] = {}
        self.rows: dict[tuple, Any] = {}

    def array(self, dataflow: Dataflow) -> tuple[PEArray, EnergyModel, dict[str, Any]]:
        """(the array under ``dataflow``, its energy model, the result columns that depend
        on the array only: family, fmt, dataflow, preload, rows, cols, lanes)."""
        key = getattr(dataflow, "_value_", dataflow)  # the enum's str: hashed in C
        hit = self._arrays.get(key)
        if hit is None:
            pe = self.accel.pe_array.with_dataflow(dataflow)
            static = {"family": pe.family, "fmt": pe.fmt, "dataflow": str(pe.dataflow),
                      "preload": str(pe.preload), "rows": pe.rows, "cols": pe.cols,
                      "lanes": pe.lanes}
            hit = self._arrays[key] = (pe, EnergyModel(self.accel, pe), static)
        return hit

    def choose(self, M: int, K: int, N: int, objective: Objective | str,  # noqa: N803
               fixed: bool, pin_dataflow: bool, memo: bool = True) -> Choice:
        """:func:`choose` on this accelerator, memoized per (M, K, N, objective, fixed,
        pin_dataflow) unless ``memo`` is false."""
        if not memo:
            return _choose(self, M, K, N, objective, fixed, pin_dataflow)
        key = (M, K, N, objective, fixed, pin_dataflow)
        hit = self.choices.get(key)
        if hit is None:
            hold_one()
            hit = self.choices[key] = _choose(self, M, K, N, objective, fixed, pin_dataflow)
        return hit


#: id(accelerator) -> (the accelerator, its context): holding the object keeps its id from
#: being reused, so a hit is that very object (found without hashing its fields)
_BY_ID: dict[int, tuple[Accelerator, AccelContext]] = {}
#: accelerator -> its context: equal accelerators (e.g. loaded twice) share one
_BY_VALUE: dict[Accelerator, AccelContext] = {}
#: accelerators kept in each of the two tables before it is emptied
MAX_CONTEXTS = 256
#: memo entries (choices and rows, over every context) held before every context is
#: forgotten: bounds memory on long sweeps (a row is a few kB)
MAX_ENTRIES = 1 << 16
_held = 0


def hold_one() -> None:
    """Count one more memo entry; past :data:`MAX_ENTRIES`, forget every context first."""
    global _held
    _held += 1
    if _held > MAX_ENTRIES:
        _BY_ID.clear()
        _BY_VALUE.clear()
        _held = 1


def context_of(accel: Accelerator) -> AccelContext:
    """The :class:`AccelContext` of ``accel`` (the same one for equal accelerators)."""
    hit = _BY_ID.get(id(accel))
    if hit is not None:
        return hit[1]
    ctx = _BY_VALUE.get(accel)
    if ctx is None:
        if len(_BY_VALUE) >= MAX_CONTEXTS:
            _BY_VALUE.clear()
        ctx = _BY_VALUE[accel] = AccelContext(accel)
    if len(_BY_ID) >= MAX_CONTEXTS:
        _BY_ID.clear()
    _BY_ID[id(accel)] = (accel, ctx)
    return ctx


def clear_caches() -> None:
    """Forget every memo of the mapper and the closed forms (every accelerator's context,
    fold cycles and events): the next evaluation of any shape is computed in full."""
    global _held
    _BY_ID.clear()
    _BY_VALUE.clear()
    _held = 0
    closed_form.clear_caches()


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
    return _evaluate(context_of(accel), M, K, N, mapping)


def _evaluate(ctx: AccelContext, M: int, K: int, N: int,  # noqa: N803
              mapping: Mapping) -> Choice | None:
    pe, energy, _ = ctx.array(mapping.dataflow)
    plan = plan_on(pe, ctx.reuse_bits, M, K, N, mapping)
    if mapping_problem(plan) is not None:
        return None
    counts = gemm_counts(pe, plan)
    return _choice(mapping, pe, plan, counts, _total(ctx, counts, counts.compute_cycles),
                   energy)


def _complete(ctx: AccelContext, mapping: Mapping, pe: PEArray, plan: FoldPlan,
              traffic: GemmCounts, compute: int) -> Choice:
    counts = with_cycles_and_events(pe, plan, traffic, compute)
    return _choice(mapping, pe, plan, counts, _total(ctx, traffic, compute),
                   ctx.array(mapping.dataflow)[1])


def _choice(mapping: Mapping, pe: PEArray, plan: FoldPlan, counts: GemmCounts, cycles: int,
            energy: EnergyModel) -> Choice:
    """``Choice(...)`` without the dataclass ``__init__`` (hot path)."""
    out = _new(Choice)
    d = out.__dict__
    d["mapping"], d["pe"], d["plan"], d["counts"] = mapping, pe, plan, counts
    d["cycles"], d["energy"] = cycles, energy
    return out



def _total(ctx: AccelContext, traffic: GemmCounts, compute: int) -> int:
    """Total cycles of one GEMM as the mapper scores it (``sim.plan.total_cycles``; under
    ``dram.traffic: layer_refetch`` without the mapping's DRAM term, which the rule
    replaces)."""
    rd, wr = traffic.dram_rd, traffic.dram_wr                # traffic.dram_bits, inlined
    dram = 0 if ctx.rule_traffic else rd.A + rd.B + rd.O + wr.A + wr.B + wr.O
    return total_cycles(compute, dram, traffic.prologue_bits, traffic.epilogue_bits,
                        ctx.bits_per_cycle)


def _nest(order: LoopOrder, n_r: int, n_c: int, n_s: int) -> tuple[str, ...]:
    """The fold loop nest of ``order`` without its loops of one iteration: two mappings
    with the same nest run the same folds in the same order."""
    blocks = [("r", n_r), ("c", n_c)] if order.rows_first else [("c", n_c), ("r", n_r)]
    loops = ([blocks[0], ("s", n_s), blocks[1]] if order.chunk_inside
             else [("s", n_s), *blocks])
    return tuple(name for name, n in loops if n > 1)


def choose(accel: Accelerator, M: int, K: int, N: int,  # noqa: N803
           objective: Objective = Objective.CYCLES, fixed: bool = False,
           pin_dataflow: bool = False) -> Choice:
    """The best mapping of out[M x N] = A[M x K] . B[K x N] on ``accel`` under
    ``objective`` (first of equal scores), or the fixed mapping when ``fixed``;
    ``pin_dataflow``: keep the array's dataflow. Memoized in the accelerator's context."""
    return context_of(accel).choose(M, K, N, Objective(objective), fixed, pin_dataflow)



def _choose(ctx: AccelContext, M: int, K: int, N: int,  # noqa: N803
            objective: Objective | str, fixed: bool, pin_dataflow: bool) -> Choice:
    accel = ctx.accel
    if fixed:
        choice = _evaluate(ctx, M, K, N, fixed_mapping(accel.pe_array, M, K, N))
        assert choice is not None  # cols_outer without chunks is always valid
        return choice
    objective = Objective(objective)
    if objective is not Objective.CYCLES:
        best = None
        for mapping in candidate_mappings(accel.pe_array, M, K, N, pin_dataflow):
            choice = _evaluate(ctx, M, K, N, mapping)
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
    floor = 0 if ctx.rule_traffic else -(-(M * K * pe0.a_bits + K * N * pe0.b_stored_bits
                                           + M * N * pe0.acc_bits) // ctx.bits_per_cycle)
    for mapping in candidate_mappings(accel.pe_array, M, K, N, pin_dataflow):
        if best_key is not None and best_key <= floor:
            break
        known = computes.get((mapping.dataflow, mapping.stream_tile))
        if best_key is not None and known is not None and known >= best_key:
            continue
        pe = ctx.array(mapping.dataflow)[0]
        plan = plan_on(pe, ctx.reuse_bits, M, K, N, mapping)
        compute = known if known is not None else gemm_cycles(pe, plan)
        computes[(mapping.dataflow, mapping.stream_tile)] = compute
        if best_key is not None and compute >= best_key:
            continue
        if mapping_problem(plan) is not None:
            continue
        traffic = gemm_traffic(plan)
        cycles = _total(ctx, traffic, compute)
        if best_key is None or cycles < best_key:
            best_key, best = cycles, (mapping, pe, plan, traffic, compute)
    assert best is not None  # the fixed mapping of each dataflow is always valid
    return _complete(ctx, *best)
