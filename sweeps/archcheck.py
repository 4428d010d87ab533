"""Stage two of sweep-spec validation for the hardware: the base accelerator and every axis
value, each built through :func:`qaccel.arch.load_accelerator`.

An axis value is checked alone on the base accelerator. A problem the loader reports at the
axis's own field (wrong type, out of range, unknown key, unknown PE family) is an error of
that axis. A problem elsewhere (``rows: 256`` overflows the base's weight buffer) depends on
the other axes' values, so it is left to the combination check in :mod:`qaccel.sweeps.plan`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from qaccel.arch.fields import Context
from qaccel.arch.loader import load_accelerator, preset_names
from qaccel.arch.spec import Accelerator
from qaccel.errors import ConfigError
from qaccel.sweeps.axes import WORKLOAD_AXIS, Axis, expand_path, flatten, set_leaves

__all__ = ["base_accelerator", "check_axes", "arch_columns", "HIDDEN_ARCH_FIELDS"]

#: accelerator fields that are not result columns (they label the spec, not the hardware)
HIDDEN_ARCH_FIELDS = ("version", "name")


def arch_columns(accel: Accelerator) -> dict[str, Any]:
    """The accelerator flattened to dotted paths (``pe_array.rows``...), labels left out."""
    return {k: v for k, v in flatten(accel.to_dict()).items() if k not in HIDDEN_ARCH_FIELDS}


def base_accelerator(raw: Any, ctx: Context, folder: Path) -> Accelerator | None:
    """Build ``base_arch`` (preset name, YAML path relative to ``folder``, or inline mapping)."""
    if isinstance(raw, Mapping):
        try:
            return load_accelerator(raw)
        except ConfigError as exc:
            for problem in exc.problems:
                ctx.add(f"base_arch.{problem.path}" if problem.path else "base_arch",
                        problem.message)
            return None
    if not isinstance(raw, str) or not raw:
        ctx.add("base_arch", f"must be a preset name ({', '.join(preset_names())}), a YAML "
                f"file or an accelerator mapping, not {raw!r}")
        return None
    target = raw
    if raw not in preset_names() and not Path(raw).is_absolute():
        target = str(folder / raw)
    try:
        return load_accelerator(target)
    except ConfigError as exc:
        for problem in exc.problems:
            if problem.path == "--arch":
                ctx.add("base_arch", problem.message.replace(repr(target), repr(raw)))
            else:
                ctx.add("base_arch", f"{target}: {problem}")
        return None


def _owns(problem_path: str, paths: tuple[str, ...]) -> bool:
    """Whether a loader problem is about the axis's own field(s)."""
    return any(problem_path == p or problem_path.startswith(p + ".")
               or p.startswith(problem_path + ".") for p in paths)


def check_axes(raw_axes: Mapping[str, tuple[Any, ...]], base: Accelerator,
               workload_names: set[str], ctx: Context
               ) -> tuple[tuple[Axis, ...], dict[str, Any]]:
    """Axes with their concrete paths, and an example value of every arch column any single
    axis value produces (a PE-family axis can add fields the base lacks)."""
    base_dict = base.to_dict()
    seen_columns: dict[str, Any] = {}
    axes: list[Axis] = []
    claimed: dict[str, str] = {}
    for name, values in raw_axes.items():
        where = f"axes.{name}"
        if name == WORKLOAD_AXIS:
            unknown = [v for v in values if v not in workload_names]
            if unknown:
                ctx.add(where, f"must name workloads ({', '.join(sorted(workload_names))}), "
                        f"not {unknown[0]!r}")
            axes.append(Axis(name, values))
            continue
        paths, error = expand_path(base_dict, name)
        if error is not None:
            ctx.add(where, error)
            continue
        for path in paths:
            if path in claimed:
                ctx.add(where, f"must not set {path} again, not a second axis for it (axis "
                        f"{claimed[path]!r} sets it)")
            claimed[path] = name
        reported: set[str] = set()
        for value in values:
            try:
                accel = load_accelerator(set_leaves(base_dict, {p: value for p in paths}))
            except ConfigError as exc:
                for problem in exc.problems:
                    if _owns(problem.path, tuple(paths)) and problem.message not in reported:
                        reported.add(problem.message)
                        ctx.add(where, problem.message)
                continue
            for key, example in arch_columns(accel).items():
                seen_columns.setdefault(key, example)
        axes.append(Axis(name, values, tuple(paths)))
    return tuple(axes), seen_columns
