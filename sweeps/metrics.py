"""Columns a sweep row holds besides :meth:`qaccel.sim.SimResult.totals`.

Two kinds, each a tuple of plain functions so that a new metric is one line here and the
runner does not change:

- :data:`ARCH_METRICS` ``(accel) -> {column: value}``: known before simulating, so constraints
  on them prune points before any run (array shape, the analytic area model's ``area_um2``);
- :data:`RESULT_METRICS` ``(accel, totals) -> {column: value}``: derived from the simulation
  totals (latency; EDP only when the totals carry ``energy_pj_total``).

A metric that cannot be computed is left out, never zero-filled: a spec naming a column that
no metric or total provides is rejected with the list of available columns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from qaccel.arch.cost import area_um2
from qaccel.arch.spec import Accelerator

__all__ = ["ARCH_METRICS", "RESULT_METRICS", "arch_metrics", "result_metrics",
           "array_shape", "area", "latency", "energy_delay"]


def array_shape(accel: Accelerator) -> dict[str, Any]:
    """``pe_count`` (rows x cols, unit: PEs), ``macs_per_cycle`` (peak, unit: MACs/cycle),
    ``buffer_kib_total`` (weight + input + output buffers, unit: KiB)."""
    pe = accel.pe_array
    return {
        "pe_count": pe.rows * pe.cols,
        "macs_per_cycle": pe.rows * pe.cols * pe.lanes,
        "buffer_kib_total": float(accel.weight_buffer.size_kib + accel.input_buffer.size_kib
                                  + accel.output_buffer.size_kib),
    }


def area(accel: Accelerator) -> dict[str, Any]:
    """``area_um2``: the analytic model's PE-array logic area at the accelerator's node
    (:func:`qaccel.arch.cost.area_um2`; SRAM macros are not in it yet) (unit: µm²)."""
    return {"area_um2": area_um2(accel)}


def latency(accel: Accelerator, totals: Mapping[str, Any]) -> dict[str, Any]:
    """``latency_us``: total_cycles / clock_mhz (unit: microseconds)."""
    return {"latency_us": totals["total_cycles"] / accel.clock_mhz}


def energy_delay(accel: Accelerator, totals: Mapping[str, Any]) -> dict[str, Any]:
    """``edp_pj_us``: energy_pj_total x latency (unit: pJ x us); absent without energy."""
    if "energy_pj_total" not in totals:
        return {}
    return {"edp_pj_us": totals["energy_pj_total"] * totals["total_cycles"] / accel.clock_mhz}


ARCH_METRICS: tuple[Callable[[Accelerator], dict[str, Any]], ...] = (array_shape, area)
RESULT_METRICS: tuple[Callable[[Accelerator, Mapping[str, Any]], dict[str, Any]], ...] = (
    latency, energy_delay)


def arch_metrics(accel: Accelerator) -> dict[str, Any]:
    """Every :data:`ARCH_METRICS` column of one accelerator."""
    out: dict[str, Any] = {}
    for metric in ARCH_METRICS:
        out.update(metric(accel))
    return out


def result_metrics(accel: Accelerator, totals: Mapping[str, Any]) -> dict[str, Any]:
    """Every :data:`RESULT_METRICS` column of one simulated point."""
    out: dict[str, Any] = {}
    for metric in RESULT_METRICS:
        out.update(metric(accel, totals))
    return out
