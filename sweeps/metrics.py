"""Columns a sweep row holds besides :meth:`qaccel.sim.SimResult.totals`.

Two kinds, each a tuple of plain functions so that a new metric is one line here and the
runner does not change:

- :data:`ARCH_METRICS` ``(accel) -> {column: value}``: known before simulating, so constraints
  on them prune points before any run (array shape, the calibrated area model's ``area_um2``,
  the weight format's accuracy proxy ``accuracy_proxy_sqnr_db``);
- :data:`RESULT_METRICS` ``(accel, totals) -> {column: value}``: derived from the simulation
  totals (latency; EDP only when the totals carry ``energy_pj_total``).

A metric that cannot be computed is left out, never zero-filled: a spec naming a column that
no metric or total provides is rejected with the list of available columns.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from qaccel.arch.cost import area_um2
from qaccel.arch.spec import Accelerator

__all__ = ["ARCH_METRICS", "RESULT_METRICS", "arch_metrics", "result_metrics",
           "array_shape", "area", "accuracy_proxy", "latency", "energy_delay",
           "weight_format", "weight_sqnr_db", "proxy_weights",
           "PROXY_TENSORS", "PROXY_ROWS"]


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
    """``area_um2``: the calibrated model's PE-array logic area at the accelerator's node
    (:func:`qaccel.arch.cost.area_um2`; SRAM macros are not in it yet) (unit: µm²)."""
    return {"area_um2": area_um2(accel)}


#: the proxy's sample: rows ``0 .. PROXY_ROWS-1`` of these weights of each of MiniLM's six
#: encoder layers (every one has 384 inputs), stacked: 6 x 5 x 32 = 960 rows x 384
PROXY_TENSORS = ("attention.self.query", "attention.self.key", "attention.self.value",
                 "attention.output.dense", "intermediate.dense")
PROXY_ROWS = 32


def weight_format(accel: Accelerator) -> str:
    """The ``models.formats`` name of ``accel``'s weights (the family's
    ``weight_format_name``)."""
    return accel.pe_array.weight_format_name


@functools.cache
def proxy_weights() -> np.ndarray:
    """The fixed weight sample of the accuracy proxy (float32, 960 x 384): real trained
    weights of all-MiniLM-L6-v2 (:data:`PROXY_TENSORS`), read straight from the bundled
    safetensors file (``load_minilm`` would import transformers, ~5 s)."""
    from pathlib import Path

    from safetensors import safe_open

    from qaccel.models.minilm import model_path

    parts = []
    with safe_open(str(Path(model_path()) / "model.safetensors"), "np") as f:
        for layer in range(6):
            for name in PROXY_TENSORS:
                tensor = f.get_slice(f"encoder.layer.{layer}.{name}.weight")
                parts.append(np.asarray(tensor[:PROXY_ROWS], dtype=np.float32))
    return np.concatenate(parts)


@functools.cache
def weight_sqnr_db(fmt: str) -> float:
    """SQNR (dB, :func:`qaccel.models.accuracy.sqnr_db`) of :func:`proxy_weights` encoded
    and decoded in format ``fmt``; computed once per format and process (deterministic)."""
    from qaccel.models.accuracy import sqnr_db
    from qaccel.models.formats import decode, get_format

    w = proxy_weights()
    return round(float(sqnr_db(w, decode(get_format(fmt).encode(w)))), 3)


def accuracy_proxy(accel: Accelerator) -> dict[str, Any]:
    """``weight_format`` (a ``models.formats`` name) and ``accuracy_proxy_sqnr_db``: the weight
    SQNR of that format on :func:`proxy_weights` (unit: dB; higher is better)."""
    fmt = weight_format(accel)
    return {"weight_format": fmt, "accuracy_proxy_sqnr_db": weight_sqnr_db(fmt)}


def latency(accel: Accelerator, totals: Mapping[str, Any]) -> dict[str, Any]:
    """``latency_us``: total_cycles / clock_mhz (unit: microseconds)."""
    return {"latency_us": totals["total_cycles"] / accel.clock_mhz}


def energy_delay(accel: Accelerator, totals: Mapping[str, Any]) -> dict[str, Any]:
    """``edp_pj_us``: energy_pj_total x latency (unit: pJ x us); absent without energy."""
    if "energy_pj_total" not in totals:
        return {}
    return {"edp_pj_us": totals["energy_pj_total"] * totals["total_cycles"] / accel.clock_mhz}


ARCH_METRICS: tuple[Callable[[Accelerator], dict[str, Any]], ...] = (array_shape, area,
                                                                    accuracy_proxy)
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
