"""Result columns: which exist for a spec, and how plots and tables label them.

A row's columns are known before anything runs: the identity columns, the accelerator
flattened to dotted paths, the axis names, :data:`~qaccel.sweeps.metrics.ARCH_METRICS` and the
simulated columns (found by simulating a 1x1x1 GEMM, see
:func:`~qaccel.sweeps.evaluate.result_columns`). Objectives, constraints and plots must name
numeric ones; a missing column (``area_um2`` before the area model exists) is an error that
lists what is available, never a zero-filled column.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from qaccel.arch.fields import Context
from qaccel.arch.spec import Accelerator
from qaccel.sweeps.archcheck import arch_columns
from qaccel.sweeps.axes import Axis
from qaccel.sweeps.evaluate import ID_COLUMNS, result_columns
from qaccel.sweeps.metrics import arch_metrics

__all__ = ["check_columns", "label", "LABELS", "DEFAULT_COLOR", "HIGHER_IS_BETTER"]

#: what the Pareto scatter is coloured by unless a plot says otherwise
DEFAULT_COLOR = "pe_array.family"

#: columns whose higher values are better: plots use ``max`` for them unless an objective says
#: otherwise (every other column: ``min``)
HIGHER_IS_BETTER = frozenset({"accuracy_proxy_sqnr_db", "utilization", "macs_per_cycle"})

#: column -> (description, unit); the unit is "" for names and counts without one
LABELS: dict[str, tuple[str, str]] = {
    "total_cycles": ("total cycles", "cycles"),
    "compute_cycles": ("compute cycles", "cycles"),
    "stall_cycles": ("memory stall cycles", "cycles"),
    "latency_us": ("latency", "µs"),
    "utilization": ("PE utilization", "fraction of peak"),
    "macs": ("multiply-accumulates", "MACs"),
    "folds": ("folds", ""),
    "gemms": ("GEMMs", ""),
    "dram_bytes": ("DRAM traffic", "bytes"),
    "dram_rd_bytes": ("DRAM reads", "bytes"),
    "dram_wr_bytes": ("DRAM writes", "bytes"),
    "sram_rd_bytes": ("SRAM reads", "bytes"),
    "sram_wr_bytes": ("SRAM writes", "bytes"),
    "pe_count": ("array size, rows × cols", "PEs"),
    "macs_per_cycle": ("peak throughput", "MACs/cycle"),
    "buffer_kib_total": ("on-chip buffers, total", "KiB"),
    "area_um2": ("PE-array logic area", "µm²"),
    "accuracy_proxy_sqnr_db": ("weight SQNR (accuracy proxy)", "dB"),
    "weight_format": ("weight format", ""),
    "base_arch": ("base accelerator", ""),
    "energy_pj_total": ("energy", "pJ"),
    "energy_pj_pe": ("PE energy", "pJ"),
    "energy_pj_sram": ("SRAM energy", "pJ"),
    "energy_pj_dram": ("DRAM energy", "pJ"),
    "energy_pj_decoder": ("decoder energy", "pJ"),
    "edp_pj_us": ("energy-delay product", "pJ·µs"),
    "clock_mhz": ("clock", "MHz"),
    "pe_array.family": ("PE family", ""),
    "pe_array.rows": ("array rows", "PEs"),
    "pe_array.cols": ("array columns", "PEs"),
    "pe_array.dataflow": ("dataflow", ""),
    "dram.bits_per_cycle": ("DRAM bandwidth", "bits/cycle"),
    "dram.pj_per_bit": ("DRAM access energy", "pJ/bit"),
    "tech.node_nm": ("technology node", "nm"),
    "workload": ("workload", ""),
}
SUFFIX_UNITS = (("_cycles", "cycles"), ("_bytes", "bytes"), ("_us", "µs"), ("_um2", "µm²"),
                ("_mm2", "mm²"), ("_pj", "pJ"), ("_kib", "KiB"), ("_bits", "bits"),
                ("_mhz", "MHz"), ("_nm", "nm"))
BUFFER_FIELDS = {"size_kib": ("size", "KiB"), "word_bits": ("word width", "bits"),
                 "banks": ("banks", "")}


#: larger units a plot switches to (name, factor over the column's own unit), by that unit
DISPLAY_UNITS = {
    "pJ": (("pJ", 1.0), ("nJ", 1e3), ("µJ", 1e6), ("mJ", 1e9), ("J", 1e12)),
    "µs": (("µs", 1.0), ("ms", 1e3), ("s", 1e6)),
    "pJ·µs": (("pJ·µs", 1.0), ("nJ·µs", 1e3), ("µJ·µs", 1e6), ("mJ·µs", 1e9), ("mJ·ms", 1e12)),
}


def _text_unit(column: str) -> tuple[str, str]:
    if column in LABELS:
        return LABELS[column]
    parts = column.split(".")
    if len(parts) == 3 and parts[0] == "buffers" and parts[2] in BUFFER_FIELDS:
        what, unit = BUFFER_FIELDS[parts[2]]
        owner = "each buffer's" if parts[1] == "*" else f"{parts[1]} buffer"
        return f"{owner} {what}", unit
    return column, next((u for s, u in SUFFIX_UNITS if column.endswith(s)), "")


def label(column: str) -> str:
    """A plot label with the unit: ``latency_us`` -> ``latency (µs)``."""
    text, unit = _text_unit(column)
    return f"{text} ({unit})" if unit else text


def display_scale(column: str, values: Any) -> tuple[float, str]:
    """(divisor, label) to plot ``values`` of ``column`` in the largest unit of
    :data:`DISPLAY_UNITS` that keeps their largest magnitude at least 1: energies in pJ are
    shown in nJ, µJ, mJ or J, times in µs in ms or s (``(1.0, label(column))`` for other
    units)."""
    text, unit = _text_unit(column)
    if unit not in DISPLAY_UNITS:
        return 1.0, label(column)
    finite = [abs(float(v)) for v in values if isinstance(v, numbers.Real)
              and not isinstance(v, bool) and math.isfinite(float(v))]
    top = max(finite, default=0.0)
    name, factor = DISPLAY_UNITS[unit][0]
    for cand, cand_factor in DISPLAY_UNITS[unit]:
        if top >= cand_factor:
            name, factor = cand, cand_factor
    return factor, f"{text} ({name})"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_columns(bases: Sequence[Accelerator], axes: tuple[Axis, ...],
                  arch_cols: Mapping[str, Any], engine: str, objectives: tuple[Any, ...],
                  constraints: tuple[Any, ...], plots: tuple[Any, ...], ctx: Context
                  ) -> dict[str, str]:
    """Every column a row will have (name -> "number" | "text"), over every base accelerator;
    problems for objectives, constraints and plots that name missing or text columns, or
    constraints that contradict."""
    examples: dict[str, Any] = dict.fromkeys(ID_COLUMNS, "")
    examples.update(arch_columns(bases[0]))
    examples.update(arch_cols)
    for axis in axes:
        examples.setdefault(axis.name, axis.values[0])
    for base in bases:
        for key, value in arch_metrics(base).items():
            examples.setdefault(key, value)
        for key in result_columns(base, engine):
            examples.setdefault(key, 0)
    kinds = {k: "number" if _is_number(v) else "text" for k, v in examples.items()}
    numeric = ", ".join(k for k, v in kinds.items() if v == "number")

    def need(column: str, path: str, numeric_only: bool = True) -> None:
        if column not in kinds:
            ctx.add(path, f"must name a {'numeric ' if numeric_only else ''}result column "
                    f"({numeric if numeric_only else ', '.join(kinds)}), not {column!r}")
        elif numeric_only and kinds[column] != "number":
            ctx.add(path, f"must name a numeric column, not the text column {column!r}")

    for i, obj in enumerate(objectives):
        need(obj.column, f"objectives[{i}].column")
    for i, con in enumerate(constraints):
        need(con.column, f"constraints[{i}].column")
    _contradictions(constraints, ctx)
    arch_axes = [a.name for a in axes if not a.is_workload]
    for i, plot in enumerate(plots):
        path = f"plots[{i}]"
        if plot.kind == "pareto":
            need(plot.x, f"{path}.x")
            need(plot.y, f"{path}.y")
            if plot.color is not None:
                need(plot.color, f"{path}.color", numeric_only=False)
            continue
        for key in ("x", "y"):
            if getattr(plot, key) not in arch_axes:
                ctx.add(f"{path}.{key}", f"must name an arch axis ({', '.join(arch_axes)}), "
                        f"not {getattr(plot, key)!r}")
        if plot.x == plot.y:
            ctx.add(f"{path}.y", f"must differ from x, not {plot.y!r} twice")
        need(plot.value, f"{path}.value")
    return kinds


def _contradictions(constraints: tuple[Any, ...], ctx: Context) -> None:
    """Constraints on one column whose bounds leave no value (each alone is checked before)."""
    by_column: dict[str, list[tuple[int, Any]]] = {}
    for i, con in enumerate(constraints):
        by_column.setdefault(con.column, []).append((i, con))
    for column, items in by_column.items():
        lows = [(c.min, i) for i, c in items if c.min is not None]
        highs = [(c.max, i) for i, c in items if c.max is not None]
        if not lows or not highs:
            continue
        lo, i_lo = max(lows)
        hi, i_hi = min(highs)
        if lo > hi and i_lo != i_hi:
            ctx.add("constraints", f"on {column} must leave a non-empty range, not min {lo!r} "
                    f"(constraints[{i_lo}]) > max {hi!r} (constraints[{i_hi}])")
