"""From a spec to the list of design points, each keyed by a content hash.

:func:`plan_sweep` draws combinations of axis values (:mod:`qaccel.sweeps.sampling`), builds
each combination through :func:`qaccel.arch.load_accelerator`, drops those that violate a
constraint on a column known before simulating (arch fields, axis values, arch metrics), and
crosses the rest with the workloads. Everything here runs before any point is simulated, so a
bad combination is a :class:`qaccel.ConfigError` (or, with ``on_invalid: skip``, a count).

A point's id is :func:`point_id`: SHA-256 of the canonical JSON of the accelerator (all
fields but its name), the workload's layer shapes, the engine and the qaccel version. The same
design on the same workload has the same id in every spec, so results are shared and reruns
skip it; a new qaccel version recomputes everything.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from qaccel import __version__
from qaccel.arch.fields import Context
from qaccel.arch.loader import load_accelerator
from qaccel.arch.sizing import size_accelerator
from qaccel.errors import ConfigError
from qaccel.sweeps.archcheck import arch_columns
from qaccel.sweeps.axes import set_leaves
from qaccel.sweeps.evaluate import Point
from qaccel.sweeps.metrics import arch_metrics
from qaccel.sweeps.sampling import MAX_GRID, grid, latin_hypercube, random_subset
from qaccel.sweeps.spec import Method, OnInvalid, SweepSpec
from qaccel.sweeps.workloads import Workload

__all__ = ["Plan", "plan_sweep", "point_id", "ID_HEX"]

#: hex digits of SHA-256 kept in a point id (96 bits)
ID_HEX = 24
MAX_EXAMPLES = 3


def point_id(arch: Mapping[str, Any], workload: Workload, engine: str = "fast",
             version: str = __version__, *, _workload_json: str | None = None) -> str:
    """Content hash of one design point (see the module docstring): SHA-256 of
    ``json.dumps({"arch": arch without "name", "engine": engine, "qaccel_version": version,
    "workload": workload.fingerprint()}, sort_keys=True, separators=(",", ":"))``, written
    here key by key so that a workload's JSON (289 layers for a Llama decode step) can be
    made once per plan (``_workload_json``, from :func:`_canonical`) instead of per point."""
    body = {k: v for k, v in arch.items() if k != "name"}
    text = (f'{{"arch":{_canonical(body)},"engine":{_canonical(engine)},'
            f'"qaccel_version":{_canonical(version)},"workload":'
            f'{_workload_json or _canonical(workload.fingerprint())}}}')
    return hashlib.sha256(text.encode()).hexdigest()[:ID_HEX]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True)
class Plan:
    """The points of one sweep, in run order, and what was left out before running.

    ``combinations``: axis-value combinations drawn; ``invalid``: those that are not valid
    accelerators (left out with ``on_invalid: skip``); ``excluded``: valid ones that violate a
    constraint on a pre-run column.
    """

    spec: SweepSpec
    points: tuple[Point, ...]
    combinations: int
    invalid: int = 0
    excluded: int = 0

    @property
    def workloads(self) -> dict[str, Workload]:
        return {w.name: w for w in self.spec.workloads}

    def frame(self) -> pd.DataFrame:
        """One row per point: ``point_id``, ``workload`` and the axis values."""
        names = [a.name for a in self.spec.arch_axes]
        rows = [{"point_id": p.point_id, "workload": p.workload,
                 **{n: p.columns[n] for n in names}} for p in self.points]
        return pd.DataFrame(rows, columns=["point_id", "workload", *names])


def _combinations(spec: SweepSpec, ctx: Context) -> list[tuple[int, ...]]:
    sizes = [len(a.values) for a in spec.arch_axes]
    method = spec.sampling.method
    if method is Method.GRID:
        total = math.prod(sizes)
        if total > MAX_GRID:
            ctx.add("axes", f"must give at most {MAX_GRID:,} combinations for grid sampling, "
                    f"not {total:,}; use sampling method random or lhs with a number of points")
            ctx.raise_if_any()
        return grid(sizes)
    if method is Method.RANDOM:
        return random_subset(sizes, spec.sampling.points, spec.sampling.seed)
    return latin_hypercube(sizes, spec.sampling.points, spec.sampling.seed)


def plan_sweep(spec: SweepSpec) -> Plan:
    """All points of ``spec``; ConfigError when combinations are invalid (``on_invalid:
    error``) or when nothing is left to run."""
    ctx = Context(lines=spec.lines, source=spec.source)
    axes = spec.arch_axes
    combos = _combinations(spec, ctx)
    workloads = {w.name: w for w in spec.workloads}
    points: dict[str, Point] = {}
    invalid: list[str] = []
    excluded = 0
    kv_formats: set[str] = set()
    workload_json = {n: _canonical(w.fingerprint()) for n, w in workloads.items()}
    for combo in combos:
        values = {a.name: a.values[i] for a, i in zip(axes, combo, strict=True)}
        changes = {p: values[a.name] for a in axes for p in a.paths}
        try:
            accel = load_accelerator(set_leaves(spec.base_for(values), changes))
            if spec.iso_area_mm2 is not None:   # rows/cols axes set the aspect only
                accel = size_accelerator(accel, spec.iso_area_mm2, field="iso_area_mm2")[0]
        except ConfigError as exc:
            invalid.append(", ".join(f"{k}={v!r}" for k, v in values.items())
                           + f": {exc.problems[0]}")
            continue
        if accel.kv_format is not None:   # KV layers lose their marks in shape-only workloads
            kv_formats.add(accel.kv_format)
            continue
        columns = arch_columns(accel)
        columns.update({a.name: columns[a.paths[0]] if a.paths else values[a.name]
                        for a in axes})
        columns.update(arch_metrics(accel))
        if not all(c.holds(columns[c.column]) for c in spec.constraints
                   if c.column in columns):
            excluded += 1
            continue
        arch = accel.to_dict()
        for name in spec.workload_names:
            pid = point_id(arch, workloads[name], spec.engine,
                           _workload_json=workload_json[name])
            points.setdefault(pid, Point(pid, name, arch, columns))
    if kv_formats:
        ctx.add("kv_format", f"cannot be swept yet, not {', '.join(sorted(kv_formats))}: sweep "
                "workloads are GEMM shapes, so the KV cache layers would run at the weight "
                "width; remove kv_format (qaccel sim --kv-format runs it)")
    if invalid and spec.on_invalid is OnInvalid.ERROR:
        ctx.add("axes", f"must give a valid accelerator in every combination, not "
                f"{len(invalid)} of {len(combos)} invalid, e.g. "
                + "; ".join(_examples(invalid)) + "; set on_invalid: skip to leave them out")
    elif not points and excluded:
        ctx.add("constraints", f"must leave at least one point to run, not exclude all "
                f"{excluded} valid combinations")
    elif not points:
        ctx.add("axes", f"must give at least one valid accelerator, not {len(invalid)} invalid "
                "combinations, e.g. " + "; ".join(_examples(invalid)))
    ctx.raise_if_any()
    return Plan(spec, tuple(points.values()), len(combos), len(invalid), excluded)


def _examples(invalid: list[str]) -> list[str]:
    """Up to MAX_EXAMPLES failures with different problems."""
    out: dict[str, str] = {}
    for text in invalid:
        out.setdefault(text.split(": ", 1)[1], text)
        if len(out) == MAX_EXAMPLES:
            break
    return list(out.values())
