"""``sim.run``: simulate a trace (or a list of layers) on an accelerator.

The engine is chosen by name; the family's module at that level is found by file stem
(``qaccel.sim.<engine>.<family>``), so adding a family adds no branch here. Both engines
return the same columns; the reference engine loops over folds with simulated buffers, the
fast engine uses closed forms and BLAS.

Vector layers (``op == "vector"``: softmax, norms, activations...) run on the vector unit
(``sim/vector.py``), timing only, serially after the layer before them.

A *layer* is anything with ``name``, ``op``, ``gemm_shape() -> (count, M, K, N)``,
``has_values`` and ``operands() -> (A int8 [count, M, K], B int8 [count, K, N])``
(:class:`qaccel.models.Layer` is one).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from qaccel.arch.cost import counts_energy_pj
from qaccel.arch.pe.registry import level_module
from qaccel.arch.spec import Accelerator, MappingMode
from qaccel.errors import ConfigError
from qaccel.sim import kv
from qaccel.sim.counts import GemmCounts
from qaccel.sim.mapper import Objective, choose
from qaccel.sim.plan import ceil_div, total_cycles
from qaccel.sim.result import COLUMNS, SimResult
from qaccel.sim.vector import overlap_rows, simulate_vector_layer

__all__ = ["run", "ENGINES", "simulate_layer"]

ENGINES = ("fast", "reference")


def simulate_layer(layer: Any, accel: Accelerator, engine: str = "fast",
                   values: bool = False, objective: str = "cycles", pin_dataflow: bool = False,
                   kv_on_chip: bool = False,
                   ) -> tuple[dict[str, Any], GemmCounts, np.ndarray | None]:
    """One layer: (result row, its counts, output [count, M, N] or None).

    The mapping comes from the mapper (``accel.mapping`` ``auto``: the best of the family's
    mapping space under ``objective``; ``fixed``: the preset's); the chosen engine then
    simulates it (the reference engine fold by fold with its buffers). A KV layer under a
    ``kv_format`` runs on the array computing on the KV cache (``qaccel.sim.kv``);
    ``kv_on_chip``: the cache sits in ``buffers.kv``."""
    if layer.op == "vector":                 # non-GEMM operator: the vector unit
        row, counts = simulate_vector_layer(layer, accel, engine)
        return row, counts, None
    kv_layer = accel.kv_format is not None and kv.is_kv_layer(layer)
    if kv_layer:
        accel = kv.kv_accelerator(accel)
        count, M, K, N = kv.kv_shape(layer)  # noqa: N806
    else:
        count, M, K, N = layer.gemm_shape()  # noqa: N806
    choice = choose(accel, M, K, N, Objective(objective),
                    fixed=accel.mapping is MappingMode.FIXED,
                    pin_dataflow=pin_dataflow or accel.mapping is MappingMode.DATAFLOW)
    pe, plan = choice.pe, choice.plan
    outputs = None
    if engine == "fast" and not values:
        counts = choice.counts          # the mapper already evaluated the closed forms
    else:
        module = level_module(pe.family, engine)
        if values:
            results = [module.simulate_gemm(pe, plan, a, b) for a, b in pe.layer_operands(layer)]
            counts = results[0][0]
            outputs = np.stack([out for _, out in results])
        else:
            counts, _ = module.simulate_gemm(pe, plan)
    scaled = counts.scaled(count)
    kv_rd = kv_wr = 0
    if kv_layer:
        scaled, kv_rd, kv_wr = kv.with_kv_traffic(scaled, plan, layer, pe.b_bits, kv_on_chip)
    dram_bits = scaled.dram_bits
    total = total_cycles(scaled.compute_cycles, dram_bits, scaled.prologue_bits,
                         scaled.epilogue_bits, accel.dram.bits_per_cycle)
    macs = count * M * K * N
    mapping = choice.mapping
    row = {
        "layer": layer.name, "op": layer.op, "M": M, "K": K, "N": N, "gemms": count,
        "family": pe.family, "fmt": pe.fmt, "dataflow": str(pe.dataflow),
        "loop_order": str(mapping.loop_order), "stream_tile": plan.tile,
        "preload": str(pe.preload),
        "rows": pe.rows, "cols": pe.cols, "lanes": pe.lanes, "folds": scaled.folds,
        "macs": macs,
        "compute_cycles": scaled.compute_cycles,
        "stall_cycles": total - scaled.compute_cycles, "total_cycles": total,
        "utilization": macs / (total * pe.rows * pe.cols * pe.lanes) if total else 0.0,
        "sram_rd_bytes": ceil_div(scaled.sram_rd.total, 8),
        "sram_wr_bytes": ceil_div(scaled.sram_wr.total, 8),
        "dram_rd_bytes": ceil_div(scaled.dram_rd.total, 8),
        "dram_wr_bytes": ceil_div(scaled.dram_wr.total, 8),
        "dram_bytes": ceil_div(dram_bits, 8),
        "kv_rd_bytes": ceil_div(kv_rd, 8), "kv_wr_bytes": ceil_div(kv_wr, 8),
    }
    row.update(counts_energy_pj(accel, pe, scaled))
    return row, scaled, outputs


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
    if engine not in ENGINES:
        raise ConfigError.single("engine", f"must be one of {', '.join(ENGINES)}, not {engine!r}")
    if objective not in tuple(Objective):
        raise ConfigError.single("objective", f"must be one of "
                                 f"{', '.join(o.value for o in Objective)}, not {objective!r}")
    layers = list(getattr(trace, "layers", trace))
    if not layers:
        raise ConfigError.single("trace", "must hold at least one layer, not 0")
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
    rows, events, outputs = [], {}, {}
    iterator: Iterable[Any] = layers
    if progress:
        from tqdm import tqdm

        iterator = tqdm(layers, desc=f"sim ({engine})", unit="layer", leave=False,
                        disable=None)  # None: only on a terminal
    for layer in iterator:
        row, counts, out = simulate_layer(layer, accel, engine, values, objective,
                                          pin_dataflow, on_chip)
        rows.append(row)
        events[layer.name] = dict(counts.events)
        if out is not None:
            outputs[layer.name] = out
    overlap_rows(rows, accel.vector().schedule.value == "overlapped")
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return SimResult(frame=frame, accel_name=accel.name, engine=engine, outputs=outputs,
                     events=events)
