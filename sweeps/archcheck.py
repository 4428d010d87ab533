"""Stage two of sweep-spec validation for the hardware: the base accelerator and every axis
value, each built through :func:`qaccel.arch.load_accelerator`.

An axis value is checked alone on the base accelerator. A problem the loader reports at the
axis's own field (wrong type, out of range, unknown key, unknown PE family) is an error of
that axis. A problem elsewhere (``rows: 256`` overflows the base's weight buffer) depends on
the other axes' values, so it is left to the combination check in :mod:`qaccel.sweeps.plan`.

``base_arch`` may list several accelerators (one per PE family, say): they are crossed with
the axes like one more axis, :data:`BASE_AXIS`, whose values are the accelerators' names.
An axis value is then an error only if every base rejects it at the axis's field; a value
that suits some bases only (``pe_array.dataflow: ws`` on an output-stationary family) is left
to the combination check.
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

#: the axis (and row column) a list of ``base_arch`` entries becomes: each base's name
BASE_AXIS = "base_arch"

__all__ = ["base_accelerator", "base_accelerators", "check_axes", "arch_columns",
           "HIDDEN_ARCH_FIELDS", "BASE_AXIS"]

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


def base_accelerators(raw: Any, ctx: Context, folder: Path) -> list[Accelerator] | None:
    """``base_arch``: one entry (see :func:`base_accelerator`) or a list of at least two with
    distinct accelerator names."""
    if not isinstance(raw, list):
        base = base_accelerator(raw, ctx, folder)
        return None if base is None else [base]
    if len(raw) < 2:
        ctx.add("base_arch", f"must list at least two accelerators (or give one without a "
                f"list), not {raw!r}")
        return None
    bases: list[Accelerator] = []
    for i, item in enumerate(raw):
        sub = Context(lines=ctx.lines, source=ctx.source)
        base = base_accelerator(item, sub, folder)
        for problem in sub.problems:
            ctx.add(problem.path.replace("base_arch", f"base_arch[{i}]", 1), problem.message)
        if base is None:
            continue
        if any(b.name == base.name for b in bases):
            ctx.add(f"base_arch[{i}]", f"must differ in name from the other bases, not "
                    f"{base.name!r} twice")
        bases.append(base)
    return bases if len(bases) == len(raw) and not ctx.problems else None


def _owns(problem_path: str, paths: tuple[str, ...]) -> bool:
    """Whether a loader problem is about the axis's own field(s)."""
    return any(problem_path == p or problem_path.startswith(p + ".")
               or p.startswith(problem_path + ".") for p in paths)


def check_axes(raw_axes: Mapping[str, tuple[Any, ...]], bases: list[Accelerator],
               workload_names: set[str], ctx: Context
               ) -> tuple[tuple[Axis, ...], dict[str, Any]]:
    """Axes with their concrete paths (first the :data:`BASE_AXIS` of several bases), and an
    example value of every arch column any base or single axis value produces (a PE-family
    axis can add fields the base lacks)."""
    base_dicts = [b.to_dict() for b in bases]
    base_dict = base_dicts[0]
    seen_columns: dict[str, Any] = {}
    for base in bases[1:]:
        for key, example in arch_columns(base).items():
            seen_columns.setdefault(key, example)
    axes: list[Axis] = []
    if len(bases) > 1:
        if BASE_AXIS in raw_axes:
            ctx.add(f"axes.{BASE_AXIS}", "must not be an axis; list the accelerators under "
                    "the top-level base_arch instead")
        axes.append(Axis(BASE_AXIS, tuple(b.name for b in bases)))
    claimed: dict[str, str] = {}
    for name, values in raw_axes.items():
        where = f"axes.{name}"
        if name == BASE_AXIS and len(bases) > 1:
            continue  # reported above
        if name == WORKLOAD_AXIS:
            unknown = [v for v in values if v not in workload_names]
            if unknown:
                ctx.add(where, f"must name workloads ({', '.join(sorted(workload_names))}), "
                        f"not {unknown[0]!r}")
            axes.append(Axis(name, values))
            continue
        paths, error = expand_path(base_dict, name)
        if error is None and any(expand_path(d, name)[0] != paths for d in base_dicts[1:]):
            error = "must name the same fields in every base_arch, not fields only some have"
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
            rejected: list[list[str]] = []  # per base that rejects it at the axis's field
            for arch in base_dicts:
                try:
                    accel = load_accelerator(set_leaves(arch, {p: value for p in paths}))
                except ConfigError as exc:
                    mine = [p.message for p in exc.problems if _owns(p.path, tuple(paths))]
                    if mine:
                        rejected.append(mine)
                    continue
                for key, example in arch_columns(accel).items():
                    seen_columns.setdefault(key, example)
            if len(rejected) < len(base_dicts):
                continue
            for message in rejected[0]:
                if message not in reported:
                    reported.add(message)
                    ctx.add(where, message)
        axes.append(Axis(name, values, tuple(paths)))
    return tuple(axes), seen_columns
