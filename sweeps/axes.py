"""Sweep axes: which accelerator field (a dotted path) takes which values.

An axis is written ``<path>: <values>`` under ``axes:``. Values are one of::

    pe_array.rows: [16, 32, 64]                       # an explicit list
    pe_array.dataflow: {values: [ws, os]}             # the same, spelled out
    clock_mhz: {start: 500, stop: 1000, step: 250}    # arithmetic, stop inclusive: 500, 750, 1000
    pe_array.cols: {start: 8, stop: 128, factor: 2}   # geometric, stop inclusive: 8, 16, ..., 128

Paths name leaves of the accelerator dict (:meth:`qaccel.arch.Accelerator.to_dict`):
``pe_array.rows``, ``buffers.weight.size_kib``, ``dram.bits_per_cycle``, ``clock_mhz``,
``tech.node_nm``, ``pe_array.family`` ... A ``*`` segment matches every key of one mapping, so
``buffers.*.size_kib`` sets the three buffers together. The axis named ``workload`` picks
workloads by name instead of an arch field.
"""

from __future__ import annotations

import copy
import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qaccel.arch.fields import Context

__all__ = ["Axis", "WORKLOAD_AXIS", "MAX_AXIS_VALUES", "parse_axis_values", "expand_path",
           "leaf_paths", "set_leaves", "flatten"]

WORKLOAD_AXIS = "workload"
#: fields that describe the spec itself, not the hardware
NOT_SWEEPABLE = ("version", "name", "description")
#: the most values one axis may take (a range that long is almost surely a typo)
MAX_AXIS_VALUES = 10_000
RANGE_KEYS = ("start", "stop", "step", "factor")


@dataclass(frozen=True)
class Axis:
    """One swept field: ``name`` as written in the spec, its ``values`` in order, and the
    concrete arch paths it sets (more than one when the name holds a ``*``)."""

    name: str
    values: tuple[Any, ...]
    paths: tuple[str, ...] = ()

    @property
    def is_workload(self) -> bool:
        return self.name == WORKLOAD_AXIS


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def parse_axis_values(raw: Any, path: str, ctx: Context) -> tuple[Any, ...] | None:
    """The values of one axis (stage one: shape and types only); None after adding problems."""
    if isinstance(raw, Mapping):
        keys = set(raw)
        if keys == {"values"}:
            return parse_axis_values(raw["values"], path, ctx)
        unknown = sorted(keys - set(RANGE_KEYS) - {"values"})
        for key in unknown:
            ctx.add(f"{path}.{key}", "is not a known key; allowed: values, or start, stop and "
                    "one of step, factor")
        if unknown:
            return None
        return _parse_range(raw, path, ctx)
    if not isinstance(raw, list):
        ctx.add(path, f"must be a list of values, {{values: [...]}} or {{start, stop, step}}, "
                f"not {raw!r}")
        return None
    if not raw:
        ctx.add(path, "must hold at least one value, not an empty list")
        return None
    bad = [v for v in raw if not isinstance(v, str | int | float | bool) or
           (isinstance(v, float) and not math.isfinite(v))]
    if bad:
        ctx.add(path, f"must hold plain values (numbers or names), not {bad[0]!r}")
        return None
    seen: list[Any] = []
    for v in raw:
        if any(v == s and type(v) is type(s) for s in seen):
            ctx.add(path, f"must hold distinct values, not {v!r} twice")
            return None
        seen.append(v)
    if len(raw) > MAX_AXIS_VALUES:
        ctx.add(path, f"must hold at most {MAX_AXIS_VALUES} values, not {len(raw)}")
        return None
    return tuple(raw)


def _parse_range(raw: Mapping[str, Any], path: str, ctx: Context) -> tuple[Any, ...] | None:
    before = len(ctx.problems)
    for key in ("start", "stop"):
        if key not in raw:
            ctx.add(f"{path}.{key}", "is missing; a range needs start, stop and step or factor")
        elif not _is_number(raw[key]):
            ctx.add(f"{path}.{key}", f"must be a finite number, not {raw[key]!r}")
    if ("step" in raw) == ("factor" in raw):
        ctx.add(path, "must give exactly one of step (arithmetic) or factor (geometric), not "
                + ("both" if "step" in raw else "neither"))
    elif "step" in raw and not (_is_number(raw["step"]) and raw["step"] > 0):
        ctx.add(f"{path}.step", f"must be a number > 0, not {raw['step']!r}")
    elif "factor" in raw and not (_is_number(raw["factor"]) and raw["factor"] > 1):
        ctx.add(f"{path}.factor", f"must be a number > 1, not {raw['factor']!r}")
    if len(ctx.problems) > before:
        return None
    start, stop = raw["start"], raw["stop"]
    if start > stop:
        ctx.add(path, f"must not be an empty range, not start {start!r} > stop {stop!r}")
        return None
    if "factor" in raw and start <= 0:
        ctx.add(f"{path}.start", f"must be > 0 for a geometric range, not {start!r}")
        return None
    integral = all(isinstance(raw[k], int) for k in raw)
    values: list[Any] = []
    if "step" in raw:
        count = math.floor((stop - start) / raw["step"] + 1e-9) + 1
        if count > MAX_AXIS_VALUES:
            ctx.add(path, f"must give at most {MAX_AXIS_VALUES} values, not {count}")
            return None
        values = [start + i * raw["step"] for i in range(count)]
    else:
        count = math.floor(math.log(stop / start) / math.log(raw["factor"]) + 1e-9) + 1
        values = [start * raw["factor"] ** i for i in range(min(count, MAX_AXIS_VALUES + 1))]
        if len(values) > MAX_AXIS_VALUES:
            ctx.add(path, f"must give at most {MAX_AXIS_VALUES} values, not {count}")
            return None
    if integral:
        return tuple(int(v) for v in values)
    return tuple(round(float(v), 12) for v in values)


def leaf_paths(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of every non-mapping value in ``data``."""
    out = []
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else key
        out += leaf_paths(value, path) if isinstance(value, Mapping) else [path]
    return out


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"pe_array": {"rows": 8}}`` -> ``{"pe_array.rows": 8}``."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, Mapping):
            out.update(flatten(value, path))
        else:
            out[path] = value
    return out


def expand_path(arch: Mapping[str, Any], name: str) -> tuple[list[str], str | None]:
    """Concrete leaf paths of axis ``name`` in ``arch`` (``*`` expanded), or an error message.

    The last segment may name a key the base arch lacks (a field of another PE family); the
    accelerator loader judges it. Every earlier segment must exist and be a mapping.
    """
    parts = name.split(".")
    if parts[0] in NOT_SWEEPABLE:
        return [], f"must name a hardware field, not {parts[0]!r} (it labels the spec)"
    nodes: list[tuple[str, Any]] = [("", arch)]
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        nxt: list[tuple[str, Any]] = []
        for prefix, node in nodes:
            keys = list(node) if part == "*" else [part]
            for key in keys:
                path = f"{prefix}.{key}" if prefix else key
                if not last and not isinstance(node.get(key), Mapping):
                    return [], _unknown(arch, name)
                if last and isinstance(node.get(key), Mapping):
                    return [], (f"must name one field, not the group {path!r}; fields: "
                                + ", ".join(leaf_paths(node[key], path)))
                nxt.append((path, node.get(key)))
        nodes = nxt
    if parts[-1] == "*":
        return [], _unknown(arch, name)
    return [p for p, _ in nodes], None


def _unknown(arch: Mapping[str, Any], name: str) -> str:
    leaves = [p for p in leaf_paths(arch) if p.split(".")[0] not in NOT_SWEEPABLE]
    hint = difflib.get_close_matches(name, leaves, n=1)
    return ("is not a field of base_arch"
            + (f" (did you mean {hint[0]!r}?)" if hint else "")
            + "; fields: " + ", ".join(leaves) + ", or workload")


def set_leaves(arch: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``arch`` with each dotted leaf path in ``changes`` set to its value."""
    out = copy.deepcopy(dict(arch))
    for path, value in changes.items():
        node = out
        *parents, leaf = path.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
    return out
