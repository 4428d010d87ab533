"""What a worker does: simulate design points and turn each into one result row.

This module is imported in worker processes (local or Dask), so it stays small and holds no
state: a task is ``evaluate_batch(points, workloads, engine)`` and returns plain dicts.

A row holds, in order: ``point_id``, ``qaccel_version``, ``workload``, the point's columns (the
full accelerator flattened to dotted paths, ``*`` axis values, :data:`ARCH_METRICS`), then the
simulation totals (:meth:`qaccel.sim.SimResult.totals`) and :data:`RESULT_METRICS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from qaccel import __version__
from qaccel.arch.loader import load_accelerator
from qaccel.arch.spec import Accelerator
from qaccel.sim.engine import run_totals
from qaccel.sweeps.metrics import result_metrics
from qaccel.sweeps.workloads import ShapeLayer, Workload

__all__ = ["Point", "ID_COLUMNS", "evaluate_point", "evaluate_batch", "result_columns"]

#: the first columns of every row
ID_COLUMNS = ("point_id", "qaccel_version", "workload")


@dataclass(frozen=True)
class Point:
    """One design point: an accelerator (as validated plain data) on one workload.

    ``columns``: what is known before simulating (flattened arch, axis values, arch metrics).
    """

    point_id: str
    workload: str
    arch: Mapping[str, Any] = field(hash=False)
    columns: Mapping[str, Any] = field(hash=False)


def evaluate_point(point: Point, workload: Workload, engine: str = "fast") -> dict[str, Any]:
    """Simulate one point (timing only) and return its row."""
    accel = load_accelerator(point.arch)
    row: dict[str, Any] = {"point_id": point.point_id, "qaccel_version": __version__,
                           "workload": point.workload}
    row.update(point.columns)
    row.update(_simulate(accel, workload.layers, engine))
    return row


def _simulate(accel: Accelerator, layers: Sequence[Any], engine: str) -> dict[str, Any]:
    totals = run_totals(list(layers), accel, engine=engine)
    return {**totals, **result_metrics(accel, totals)}


def evaluate_batch(points: Sequence[Point], workloads: Mapping[str, Workload],
                   engine: str = "fast") -> list[dict[str, Any]]:
    """Rows of ``points`` in order (one task of the runner)."""
    return [evaluate_point(p, workloads[p.workload], engine) for p in points]


def result_columns(accel: Accelerator, engine: str = "fast") -> list[str]:
    """Names of the simulated columns a row gets (totals + result metrics), found by running
    a 1x1x1 GEMM, so that new SimResult totals (energy) appear without a list kept here."""
    return list(_simulate(accel, [ShapeLayer("probe", "matmul", 1, 1, 1)], engine))
