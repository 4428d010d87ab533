"""``sim.run``: simulate a trace (or a list of layers) on an accelerator.

The engine is chosen by name; the family's module at that level is found by file stem
(``qaccel.sim.<engine>.<family>``), so adding a family adds no branch here. Both engines
return the same columns; the reference engine loops over folds with simulated buffers, the
fast engine uses closed forms and BLAS.

Vector layers (``op == "vector"``: softmax, norms, activations...) run on the vector unit
(``sim/vector.py``), timing only; KV layers under a ``kv_format`` on the array computing on
the KV cache (``sim/kv.py``). Both are simulated layer by layer, never from the per-shape
memo (their cost depends on more than the GEMM shape).

A *layer* is anything with ``name``, ``op``, ``gemm_shape() -> (count, M, K, N)``,
``has_values`` and ``operands() -> (A int8 [count, M, K], B int8 [count, K, N])``
(:class:`qaccel.models.Layer` is one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from qaccel.arch.pe.registry import level_module
from qaccel.arch.spec import Accelerator, MappingMode
from qaccel.errors import ConfigError
from qaccel.sim import kv
from qaccel.sim.counts import GemmCounts
from qaccel.sim.layer_refetch import refetch_counts
from qaccel.sim.mapper import (
    AccelContext,
    Choice,
    Objective,
    clear_caches,
    context_of,
    hold_one,
)
from qaccel.sim.plan import ceil_div
from qaccel.sim.result import COLUMNS, TOTAL_INPUTS, SimResult, column_totals
from qaccel.sim.vector import overlap_rows, simulate_vector_layer

__all__ = ["run", "run_totals", "ENGINES", "simulate_layer", "clear_caches"]

ENGINES = ("fast", "reference")


def simulate_layer(layer: Any, accel: Accelerator, engine: str = "fast",
                   values: bool = False, objective: str = "cycles", pin_dataflow: bool = False,
                   kv_on_chip: bool = False,
                   ) -> tuple[dict[str, Any], GemmCounts, np.ndarray | None]:
    """One layer: (result row, its counts, output [count, M, N] or None).

    The mapping comes from the mapper (``accel.mapping`` ``auto``: the best of the family's
    mapping space under ``objective``; ``fixed``: the preset's); the chosen engine then
    simulates it (the reference engine fold by fold with its buffers). The fast engine's
    timing-only result depends on the layer's shape alone, so it is computed once per
    (accelerator, shape, objective) and reused (:func:`_timed_shape`; :func:`clear_caches`
    forgets every memo). A vector layer runs on
    the vector unit; a KV layer under a ``kv_format`` on the array computing on the KV cache
    (``qaccel.sim.kv``; ``kv_on_chip``: the cache sits in ``buffers.kv``)."""
    if layer.op == "vector":                 # non-GEMM operator: the vector unit
        row, counts = simulate_vector_layer(layer, accel, engine)
        return row, counts, None
    pin = pin_dataflow or accel.mapping is MappingMode.DATAFLOW
    if accel.kv_format is not None and kv.is_kv_layer(layer):
        return _kv_layer(layer, kv.kv_accelerator(accel), engine, objective, pin, kv_on_chip)
    count, M, K, N = layer.gemm_shape()  # noqa: N806
    ctx = context_of(accel)
    if engine == "fast" and not values:
        core, scaled = _timed_row(ctx, count, M, K, N, objective, pin)
        return {"layer": layer.name, "op": layer.op, **core}, scaled, None
    choice = _choice(ctx, M, K, N, objective, pin)
    pe, plan = choice.pe, choice.plan
    module = level_module(pe.family, engine)
    outputs = None
    if values:
        results = [module.simulate_gemm(pe, plan, a, b) for a, b in pe.layer_operands(layer)]
        counts = results[0][0]
        outputs = np.stack([out for _, out in results])
    else:
        counts, _ = module.simulate_gemm(pe, plan)
    scaled = _layer_traffic(ctx, choice, counts.scaled(count), count)
    core = _row_core(ctx, choice, counts, scaled, count, M, K, N)
    return {"layer": layer.name, "op": layer.op, **core}, scaled, outputs


def _kv_layer(layer: Any, accel: Accelerator, engine: str, objective: str, pin: bool,
              on_chip: bool) -> tuple[dict[str, Any], GemmCounts, None]:
    """A KV layer (timing only): its GEMMs on ``accel`` (the KV view), plus the cache's
    writes and, on chip, its reads moved off DRAM (``kv.with_kv_traffic``)."""
    count, M, K, N = kv.kv_shape(layer)  # noqa: N806
    ctx = context_of(accel)
    choice = _choice(ctx, M, K, N, objective, pin)
    if engine == "fast":
        counts = choice.counts
    else:
        counts, _ = level_module(choice.pe.family, engine).simulate_gemm(choice.pe, choice.plan)
    scaled, rd, wr = kv.with_kv_traffic(counts.scaled(count), choice.plan, layer,
                                        choice.pe.b_bits, on_chip)
    scaled = _layer_traffic(ctx, choice, scaled, count)
    core = _row_core(ctx, choice, scaled, scaled, count, M, K, N)
    core.update(kv_rd_bytes=ceil_div(rd, 8), kv_wr_bytes=ceil_div(wr, 8))
    return {"layer": layer.name, "op": layer.op, **core}, scaled, None


#: the result columns a row core holds (all but ``layer`` and ``op``, the first two)
_ROW_COLUMNS = COLUMNS[2:]
assert COLUMNS[:2] == ("layer", "op")

#: objective name -> Objective (a dict lookup instead of the Enum call on the hot path)
_OBJECTIVES = {o.value: o for o in Objective}


def _choice(ctx: AccelContext, M: int, K: int, N: int, objective: str,  # noqa: N803
            pin: bool) -> Choice:
    return ctx.choose(M, K, N, Objective(objective), ctx.fixed, pin)


def _timed_shape(accel: Accelerator, count: int, M: int, K: int, N: int,  # noqa: N803
                 objective: str, pin: bool) -> tuple[dict[str, Any], GemmCounts]:
    """The fast engine's timing-only row (without the layer's name and op) and counts of
    ``count`` GEMMs of M x K x N: the mapper already evaluated the closed forms. Memoized in
    the accelerator's context (:func:`_timed_row`)."""
    return _timed_row(context_of(accel), count, M, K, N, objective, pin)



def _timed_row(ctx: AccelContext, count: int, M: int, K: int, N: int,  # noqa: N803
               objective: str, pin: bool) -> tuple[dict[str, Any], GemmCounts]:
    """:func:`_timed_shape` on the accelerator of ``ctx`` (memo: ``ctx.rows``)."""
    key = (count, M, K, N, objective, pin)
    hit = ctx.rows.get(key)
    if hit is None:
        objective = _OBJECTIVES.get(objective) or Objective(objective)
        # the fixed mapping is cheap to evaluate: only ctx.rows keeps it (fewer live objects)
        choice = ctx.choose(M, K, N, objective, ctx.fixed, pin, memo=not ctx.fixed)
        scaled = _layer_traffic(ctx, choice, choice.counts.scaled(count), count)
        hold_one()
        hit = ctx.rows[key] = (_row_core(ctx, choice, choice.counts, scaled, count, M, K, N),
                               scaled)
    return hit


def _layer_traffic(ctx: AccelContext, choice: Choice, scaled: GemmCounts,
                   count: int) -> GemmCounts:
    """``scaled`` (``count`` GEMMs under ``choice``), its DRAM traffic by the
    ``dram.traffic: layer_refetch`` rule when the accelerator asks for it
    (``sim.layer_refetch``: the same function after either engine)."""
    if not ctx.rule_traffic:
        return scaled
    return refetch_counts(scaled, choice.plan, count, choice.pe.acc_bits, ctx.reuse_bits,
                          ctx.accel.dram.weight_bits)


def _row_core(ctx: AccelContext, choice: Choice, counts: GemmCounts, scaled: GemmCounts,
              count: int, M: int, K: int, N: int) -> dict[str, Any]:  # noqa: N803
    """A result row's columns but ``layer`` and ``op``: mapping, cycles, traffic, energy.
    Total cycles by ``sim.plan.total_cycles``' rule (written out here: the hot path)."""
    pe, plan, mapping = choice.pe, choice.plan, choice.mapping
    _, energy, static = ctx.array(mapping.dataflow)
    rd, wr, srd, swr = scaled.dram_rd, scaled.dram_wr, scaled.sram_rd, scaled.sram_wr
    dram_rd, dram_wr = rd.A + rd.B + rd.O, wr.A + wr.B + wr.O          # their .total
    dram_bits = dram_rd + dram_wr
    compute = scaled.compute_cycles
    bpc = ctx.bits_per_cycle
    total = max(-(-counts.prologue_bits // bpc) + compute + -(-counts.epilogue_bits // bpc),
                -(-dram_bits // bpc))
    macs = count * M * K * N
    row = {
        "M": M, "K": K, "N": N, "gemms": count,
        "family": static["family"], "fmt": static["fmt"], "dataflow": static["dataflow"],
        "loop_order": plan.loop_order._value_, "stream_tile": plan.tile,
        "preload": static["preload"],
        "rows": pe.rows, "cols": pe.cols, "lanes": static["lanes"], "folds": scaled.folds,
        "macs": macs,
        "compute_cycles": compute,
        "stall_cycles": total - compute, "total_cycles": total,
        "utilization": macs / (total * pe.rows * pe.cols * static["lanes"]) if total else 0.0,
        "sram_rd_bytes": -(-(srd.A + srd.B + srd.O) // 8),
        "sram_wr_bytes": -(-(swr.A + swr.B + swr.O) // 8),
        "dram_rd_bytes": -(-dram_rd // 8),
        "dram_wr_bytes": -(-dram_wr // 8),
        "dram_bytes": -(-dram_bits // 8), "kv_rd_bytes": 0, "kv_wr_bytes": 0,
        "hidden_cycles": 0,
    }
    row.update(choice.energy_columns if scaled is choice.counts else energy.columns(scaled))
    return row


def _check_run(engine: str, objective: str) -> None:
    if engine not in ENGINES:
        raise ConfigError.single("engine", f"must be one of {', '.join(ENGINES)}, not {engine!r}")
    if objective not in tuple(Objective):
        raise ConfigError.single("objective", f"must be one of "
                                 f"{', '.join(o.value for o in Objective)}, not {objective!r}")


def _layers(trace: Any) -> list[Any]:
    layers = list(getattr(trace, "layers", trace))
    if not layers:
        raise ConfigError.single("trace", "must hold at least one layer, not 0")
    return layers


def run(trace: Any, accel: Accelerator, engine: str = "fast", values: bool | None = None,
        progress: bool = False, objective: str = "cycles",
        pin_dataflow: bool = False) -> SimResult:
    """Simulate every layer of ``trace`` (a Trace or an iterable of layers) on ``accel``.

    ``values``: simulate bit-exact outputs. Default: when every layer holds *captured*
    operands (``layer.act``); shape-only layers (meta-device captures, workload presets,
    ``--gemm``) can generate seeded values but run timing-only unless ``values=True``.
    ``progress``: show a progress bar on stderr. ``objective``: what the mapper minimizes
    per layer (``cycles``, ``energy``, ``edp``; ignored with ``mapping: fixed``);
    ``pin_dataflow``: the mapper keeps the array's dataflow (searches loop order and stream
    tile only).
    """
    _check_run(engine, objective)
    layers = _layers(trace)
    if values is not None and not isinstance(values, bool):  # "yes" is truthy: refuse it
        raise ConfigError.single("values", f"must be True, False or None, not {values!r}")
    gemms = [layer for layer in layers if layer.op != "vector"]   # vector layers: timing
    if values is None:
        values = bool(gemms) and all(getattr(layer, "act", None) is not None
                                     for layer in gemms)
    elif values and not all(layer.has_values for layer in gemms):
        missing = next(layer.name for layer in gemms if not layer.has_values)
        raise ConfigError.single("values", f"cannot be simulated because layer {missing!r} "
                                 "has no operand values (shapes only)")
    if accel.kv_format is not None and values and any(map(kv.is_kv_layer, layers)):
        raise ConfigError.single("values", f"cannot be simulated with kv_format "
                                 f"{accel.kv_format!r} (KV layers are timed at the KV width; "
                                 "bit values exist for B in the PE's own format): run "
                                 "timing only (--no-values)")
    kv.check_capacity(layers, accel, getattr(trace, "meta", {}))
    on_chip = kv.kv_on_chip(layers, accel)
    records, events, outputs = [], {}, {}
    iterator: Iterable[Any] = layers
    if progress:
        from tqdm import tqdm

        iterator = tqdm(layers, desc=f"sim ({engine})", unit="layer", leave=False,
                        disable=None)  # None: only on a terminal
    timed = engine == "fast" and not values
    shape_result = _shape_results(accel, objective, pin_dataflow) if timed else None
    kv_format = accel.kv_format is not None
    for layer in iterator:
        if timed and layer.op != "vector" and not (kv_format and kv.is_kv_layer(layer)):
            core, counts = shape_result(layer)     # one result per distinct GEMM shape
            out = None
        else:
            core, counts, out = simulate_layer(layer, accel, engine, values, objective,
                                               pin_dataflow, on_chip)
        records.append(core)                       # a row, maybe without layer and op
        events[layer.name] = counts.events.to_dict()
        if out is not None:
            outputs[layer.name] = out
    if any(layer.op == "vector" for layer in layers):
        rows = [{**core, "layer": layer.name, "op": layer.op}
                for core, layer in zip(records, layers, strict=True)]
        overlap_rows(rows, accel.vector().schedule.value == "overlapped")
        records = rows
    # (without vector layers overlap_rows changes nothing: every row's hidden_cycles is 0)
    columns = {"layer": [layer.name for layer in layers], "op": [layer.op for layer in layers]}
    columns.update({c: [rec[c] for rec in records] for c in _ROW_COLUMNS})
    frame = _frame(columns)
    return SimResult(frame=frame, accel_name=accel.name, engine=engine, outputs=outputs,
                     events=events)


def _frame(columns: dict[str, list[Any]]) -> pd.DataFrame:
    """The result frame of these columns: numeric columns handed to pandas as the NumPy
    arrays it would infer from the lists (int64, float64), the others as lists (a third of
    the cost of letting pandas infer every column; same frame, same dtypes)."""
    data: dict[str, Any] = {}
    for name, values in columns.items():
        try:
            arr = np.array(values)
        except (OverflowError, ValueError):
            arr = None
        data[name] = arr if arr is not None and arr.dtype in _NUMERIC else values
    return pd.DataFrame(data, columns=list(COLUMNS))


#: column dtypes :func:`_frame` passes as arrays
_NUMERIC = (np.dtype(np.int64), np.dtype(np.float64))


def run_totals(trace: Any, accel: Accelerator, engine: str = "fast", objective: str = "cycles",
               pin_dataflow: bool = False) -> dict[str, Any]:
    """``run(trace, accel, engine, values=False, ...).totals()`` without building the
    per-layer frame: what a sweep point needs (same numbers, by the same
    :func:`~qaccel.sim.result.column_totals`)."""
    layers = _layers(trace)
    if engine != "fast" or any(_special(layer, accel) for layer in layers):
        return run(trace, accel, engine, values=False, objective=objective,
                   pin_dataflow=pin_dataflow).totals()
    _check_run(engine, objective)
    shape_result = _shape_results(accel, objective, pin_dataflow)
    cores = [shape_result(layer)[0] for layer in layers]
    return column_totals({c: [core[c] for core in cores] for c in TOTAL_INPUTS})


def _shape_results(accel: Accelerator, objective: str, pin_dataflow: bool,
                   ) -> Callable[[Any], tuple[dict[str, Any], GemmCounts]]:
    """layer -> the fast engine's timing-only (row core, counts) of its GEMM shape, each
    distinct shape looked up once per run (a dict keyed by the shape, so the accelerator is
    not hashed per layer as :func:`_timed_shape`'s cache would)."""
    pin = pin_dataflow or accel.mapping is MappingMode.DATAFLOW
    ctx = context_of(accel)
    memo: dict[tuple[int, int, int, int], tuple[dict[str, Any], GemmCounts]] = {}

    def result(layer: Any) -> tuple[dict[str, Any], GemmCounts]:
        shape = layer.gemm_shape()
        hit = memo.get(shape)
        if hit is None:
            hit = memo[shape] = _timed_row(ctx, *shape, objective, pin)
        return hit

    return result


def _special(layer: Any, accel: Accelerator) -> bool:
    """Whether a layer's cost depends on more than its GEMM shape: a vector layer, or a KV
    layer under a ``kv_format``."""
    return layer.op == "vector" or (accel.kv_format is not None and kv.is_kv_layer(layer))
