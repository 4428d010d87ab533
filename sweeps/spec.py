"""Sweep specs: strict YAML (or a dict) -> a frozen :class:`SweepSpec`.

Validation runs in two stages (STYLE.md 10) and every problem of one spec is raised together
as one :class:`qaccel.ConfigError` with dotted paths and YAML lines. Stage one checks keys,
types and shapes; stage two builds the base accelerator and every single axis value through
:func:`qaccel.arch.load_accelerator`, resolves workloads, and checks that objectives,
constraints and plots name existing numeric columns and that constraints can hold together.
Combinations of axis values are checked when the sweep is planned (:mod:`qaccel.sweeps.plan`),
still before any point runs. The format is in ``docs/sweeps.md``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from qaccel.arch.fields import Context
from qaccel.arch.yamlio import load_yaml
from qaccel.sim.engine import ENGINES
from qaccel.sweeps.archcheck import BASE_AXIS, base_accelerators, check_axes
from qaccel.sweeps.axes import Axis, parse_axis_values
from qaccel.sweeps.columns import check_columns
from qaccel.sweeps.workloads import Workload, parse_workloads

__all__ = ["SweepSpec", "Objective", "Constraint", "Sampling", "PlotSpec", "Goal", "Method",
           "OnInvalid", "load_spec", "SPEC_VERSION"]

SPEC_VERSION = 1
TOP_KEYS = ("version", "name", "description", "base_arch", "engine", "axes", "sampling",
            "workloads", "constraints", "objectives", "on_invalid", "plots")
REQUIRED = ("version", "name", "base_arch", "axes", "workloads", "objectives")
MAX_OBJECTIVES = 3


class Goal(StrEnum):
    MIN = "min"
    MAX = "max"


class Method(StrEnum):
    """How points are drawn from the product of the axes' values."""

    GRID = "grid"  # every combination
    RANDOM = "random"  # ``points`` distinct combinations, uniformly
    LHS = "lhs"  # ``points`` combinations, Latin hypercube over each axis's value indices


class OnInvalid(StrEnum):
    """What a combination of axis values that is not a valid accelerator does."""

    ERROR = "error"  # reject the spec, listing examples
    SKIP = "skip"  # leave those combinations out, counted in the plan


@dataclass(frozen=True)
class Objective:
    column: str
    goal: Goal = Goal.MIN


@dataclass(frozen=True)
class Constraint:
    """``min <= column <= max`` (either bound may be absent), in the column's own unit."""

    column: str
    min: float | None = None
    max: float | None = None

    def holds(self, value: Any) -> bool:
        return ((self.min is None or value >= self.min)
                and (self.max is None or value <= self.max))


@dataclass(frozen=True)
class Sampling:
    method: Method = Method.GRID
    points: int | None = None
    seed: int = 0


@dataclass(frozen=True)
class PlotSpec:
    """A PNG written after the run: a Pareto scatter (x, y, colour) or a heatmap over two axes
    (x, y) of ``value``. ``file`` is relative to the sweep's output folder."""

    kind: str
    x: str
    y: str
    value: str | None = None
    color: str | None = None
    file: str | None = None
    #: heatmap: which value per cell is best (default: the objective's goal, else min)
    goal: Goal | None = None

    def filename(self) -> str:
        if self.file:
            return self.file
        def clean(s: str) -> str:
            return s.replace("*", "all").replace(".", "_")
        parts = [self.kind] + ([self.value] if self.value else []) + [self.x, self.y]
        return "-".join(clean(p) for p in parts) + ".png"


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep. ``base_arch`` is plain accelerator data (``Accelerator.to_dict``);
    with several bases it is the first, ``bases`` maps every base's name to its data and the
    first axis is :data:`~qaccel.sweeps.archcheck.BASE_AXIS` over those names."""

    name: str
    base_arch: Mapping[str, Any] = field(hash=False)
    axes: tuple[Axis, ...]
    workloads: tuple[Workload, ...]
    objectives: tuple[Objective, ...]
    constraints: tuple[Constraint, ...] = ()
    sampling: Sampling = Sampling()
    engine: str = "fast"
    on_invalid: OnInvalid = OnInvalid.ERROR
    plots: tuple[PlotSpec, ...] = ()
    description: str = ""
    version: int = SPEC_VERSION
    #: column name -> "number" | "text", every column a result row has
    columns: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False,
                                       repr=False)
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, hash=False,
                                     repr=False)
    source: str | None = field(default=None, compare=False)
    bases: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, hash=False)

    def base_for(self, values: Mapping[str, Any]) -> Mapping[str, Any]:
        """The base accelerator data of one combination of axis values."""
        return self.bases[values[BASE_AXIS]] if self.bases else self.base_arch

    @property
    def arch_axes(self) -> tuple[Axis, ...]:
        return tuple(a for a in self.axes if not a.is_workload)

    @property
    def workload_names(self) -> tuple[str, ...]:
        """The workloads every sampled accelerator runs on (the ``workload`` axis, or all)."""
        for axis in self.axes:
            if axis.is_workload:
                return tuple(axis.values)
        return tuple(w.name for w in self.workloads)

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :func:`load_spec` turns back into an equal spec (traces inlined)."""
        out: dict[str, Any] = {
            "version": self.version, "name": self.name, "description": self.description,
            "base_arch": ([dict(b) for b in self.bases.values()] if self.bases
                          else dict(self.base_arch)),
            "engine": self.engine,
            "axes": {a.name: list(a.values) for a in self.axes
                     if not (self.bases and a.name == BASE_AXIS)},
            "sampling": {"method": str(self.sampling.method), "seed": self.sampling.seed},
            "workloads": [w.to_dict() for w in self.workloads],
            "constraints": [{k: v for k, v in (("column", c.column), ("min", c.min),
                                               ("max", c.max)) if v is not None}
                            for c in self.constraints],
            "objectives": [{"column": o.column, "goal": str(o.goal)} for o in self.objectives],
            "on_invalid": str(self.on_invalid),
            "plots": [{k: str(v) if k == "goal" else v for k, v in vars(p).items()
                       if v is not None} for p in self.plots],
        }
        if self.sampling.points is not None:
            out["sampling"]["points"] = self.sampling.points
        return out


def load_spec(source: str | Path | Mapping[str, Any], base_dir: str | Path | None = None
              ) -> SweepSpec:
    """Read and validate a sweep spec from a YAML path or a dict.

    ``base_dir``: folder that relative paths (``trace:``, a ``base_arch`` YAML) are read from;
    default: the spec file's folder, or the current folder for a dict.
    """
    if isinstance(source, Mapping):
        data, lines, name = source, {}, "<dict>"
        folder = Path(base_dir) if base_dir is not None else Path.cwd()
    else:
        data, lines = load_yaml(source)
        name = str(source)
        folder = Path(base_dir) if base_dir is not None else Path(source).parent
    ctx = Context(lines=lines, source=name)
    spec = _parse(data, ctx, folder)
    ctx.raise_if_any()
    if spec is None:  # pragma: no cover - _parse returns None only after adding problems
        raise RuntimeError("spec parsing failed without a problem")
    return spec


def _parse(data: Any, ctx: Context, folder: Path) -> SweepSpec | None:
    if not isinstance(data, Mapping):
        ctx.add("", f"must be a mapping of {', '.join(TOP_KEYS)}, not {type(data).__name__}")
        return None
    for key in data:
        if key not in TOP_KEYS:
            hint = difflib.get_close_matches(str(key), TOP_KEYS, n=1)
            ctx.add(str(key), "is not a known key" + (f" (did you mean {hint[0]!r}?)" if hint
                                                      else "") + f"; allowed: "
                    f"{', '.join(TOP_KEYS)}")
    for key in REQUIRED:
        if key not in data:
            ctx.add(key, "is missing")
    if "version" in data and data["version"] != SPEC_VERSION:
        ctx.add("version", f"must be {SPEC_VERSION}, not {data['version']!r}")
    name = data.get("name")
    if "name" in data and (not isinstance(name, str) or not name.strip()):
        ctx.add("name", f"must be a non-empty string, not {name!r}")
    description = data.get("description", "")
    if not isinstance(description, str):
        ctx.add("description", f"must be a string, not {description!r}")
    engine = data.get("engine", "fast")
    if engine not in ENGINES:
        ctx.add("engine", f"must be one of {', '.join(ENGINES)}, not {engine!r}")
    on_invalid = _enum(OnInvalid, data.get("on_invalid", "error"), "on_invalid", ctx)
    sampling = _sampling(data.get("sampling", {}), ctx)
    raw_axes = _raw_axes(data.get("axes"), ctx) if "axes" in data else {}
    workloads = parse_workloads(data["workloads"], ctx, folder) if "workloads" in data else ()
    objectives = _objectives(data.get("objectives"), ctx) if "objectives" in data else ()
    constraints = _constraints(data.get("constraints", []), ctx)
    plots = _plots(data.get("plots", []), ctx)
    # stage two runs on the parts that passed stage one, so one run reports every problem;
    # its problems about a path stage one already flagged are repeats and left out
    if "base_arch" not in data:
        return None
    later = Context(lines=ctx.lines, source=ctx.source)
    bases = base_accelerators(data["base_arch"], later, folder)
    if bases is not None:
        axes, arch_cols = check_axes(raw_axes, bases, {w.name for w in workloads}, later)
        columns = check_columns(bases, axes, arch_cols, engine if engine in ENGINES else
                                "fast", objectives, constraints,
                                tuple(p for p in plots if p.x != "None" and p.y != "None"),
                                later)
    flagged = [p.path for p in ctx.problems]
    ctx.problems += [p for p in later.problems
                     if not any(_related(p.path, path) for path in flagged)]
    if ctx.problems or bases is None:
        return None
    many = {b.name: b.to_dict() for b in bases} if len(bases) > 1 else {}
    return SweepSpec(name=name, base_arch=bases[0].to_dict(), axes=axes, workloads=workloads,
                     objectives=objectives, constraints=constraints, sampling=sampling,
                     engine=engine, on_invalid=on_invalid, plots=plots, description=description,
                     columns=columns, lines=dict(ctx.lines), source=ctx.source, bases=many)


def _related(a: str, b: str) -> bool:
    """Whether dotted paths ``a`` and ``b`` are the same field or one holds the other."""
    return a == b or a.startswith((b + ".", b + "[")) or b.startswith((a + ".", a + "["))


def _enum(enum: type[StrEnum], value: Any, path: str, ctx: Context) -> Any:
    try:
        return enum(value)
    except ValueError:
        ctx.add(path, f"must be one of {', '.join(repr(m.value) for m in enum)}, not {value!r}")
        return None


def _keys(raw: Mapping[str, Any], path: str, allowed: tuple[str, ...], ctx: Context) -> None:
    for key in raw:
        if key not in allowed:
            ctx.add(f"{path}.{key}", f"is not a known key; allowed: {', '.join(allowed)}")


def _int(value: Any, lo: int, hi: int) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and lo <= value <= hi


def _sampling(raw: Any, ctx: Context) -> Sampling | None:
    if not isinstance(raw, Mapping):
        ctx.add("sampling", f"must be a mapping {{method, points, seed}}, not {raw!r}")
        return None
    _keys(raw, "sampling", ("method", "points", "seed"), ctx)
    method = _enum(Method, raw.get("method", "grid"), "sampling.method", ctx)
    points, seed = raw.get("points"), raw.get("seed", 0)
    if method is Method.GRID and points is not None:
        ctx.add("sampling.points", f"must be left out for grid sampling (every combination "
                f"runs), not {points!r}; use method random or lhs to draw a number of points")
    elif method in (Method.RANDOM, Method.LHS) and not _int(points, 1, 1_000_000):
        ctx.add("sampling.points", f"must be an int in 1..1000000 for {method} sampling, "
                f"not {points!r}")
    if not _int(seed, 0, 2**63 - 1):
        ctx.add("sampling.seed", f"must be a non-negative int, not {seed!r}")
    if method is None:
        return None
    return Sampling(method, points, seed)


def _raw_axes(raw: Any, ctx: Context) -> dict[str, tuple[Any, ...]]:
    if not isinstance(raw, Mapping) or not raw:
        ctx.add("axes", f"must map at least one arch path (e.g. pe_array.rows) to values, "
                f"not {raw!r}")
        return {}
    out = {}
    for name, values in raw.items():
        parsed = parse_axis_values(values, f"axes.{name}", ctx)
        if parsed is not None:
            out[name] = parsed
    return out


def _objectives(raw: Any, ctx: Context) -> tuple[Objective, ...]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_OBJECTIVES:
        ctx.add("objectives", f"must be a list of 1 to {MAX_OBJECTIVES} {{column, goal}}, "
                f"not {raw!r}")
        return ()
    out = []
    for i, item in enumerate(raw):
        path = f"objectives[{i}]"
        if not isinstance(item, Mapping) or "column" not in item:
            ctx.add(path, f"must be a mapping {{column, goal: min|max}}, not {item!r}")
            continue
        _keys(item, path, ("column", "goal"), ctx)
        goal = _enum(Goal, item.get("goal", "min"), f"{path}.goal", ctx)
        if any(o.column == item["column"] for o in out):
            ctx.add(f"{path}.column", f"must differ from the other objectives, not "
                    f"{item['column']!r} twice")
        out.append(Objective(str(item["column"]), goal))
    return tuple(out)


def _constraints(raw: Any, ctx: Context) -> tuple[Constraint, ...]:
    if not isinstance(raw, list):
        ctx.add("constraints", f"must be a list of {{column, min, max}}, not {raw!r}")
        return ()
    out = []
    for i, item in enumerate(raw):
        path = f"constraints[{i}]"
        if not isinstance(item, Mapping) or "column" not in item:
            ctx.add(path, f"must be a mapping {{column, min?, max?}}, not {item!r}")
            continue
        _keys(item, path, ("column", "min", "max"), ctx)
        if "min" not in item and "max" not in item:
            ctx.add(path, "must give min, max or both, not neither")
        bounds = {}
        for key in ("min", "max"):
            value = item.get(key)
            if value is not None and (isinstance(value, bool) or
                                      not isinstance(value, int | float)):
                ctx.add(f"{path}.{key}", f"must be a number, not {value!r}")
                value = None
            bounds[key] = value
        if bounds["min"] is not None and bounds["max"] is not None \
                and bounds["min"] > bounds["max"]:
            ctx.add(path, f"must have min <= max, not min {bounds['min']!r} > max "
                    f"{bounds['max']!r}")
        out.append(Constraint(str(item["column"]), bounds["min"], bounds["max"]))
    return tuple(out)


def _plots(raw: Any, ctx: Context) -> tuple[PlotSpec, ...]:
    if not isinstance(raw, list):
        ctx.add("plots", f"must be a list of {{kind, x, y, ...}}, not {raw!r}")
        return ()
    allowed = {"pareto": ("kind", "x", "y", "color", "file"),
               "heatmap": ("kind", "x", "y", "value", "goal", "file")}
    out = []
    for i, item in enumerate(raw):
        path = f"plots[{i}]"
        kind = item.get("kind") if isinstance(item, Mapping) else None
        if kind not in allowed:
            ctx.add(f"{path}.kind", f"must be one of 'pareto', 'heatmap', not {kind!r}")
            continue
        _keys(item, path, allowed[kind], ctx)
        needed = ("x", "y", "value") if kind == "heatmap" else ("x", "y")
        goal = _enum(Goal, item["goal"], f"{path}.goal", ctx) if "goal" in item else None
        for key in allowed[kind][1:]:
            if key == "goal":
                continue
            if key in needed and key not in item:
                ctx.add(f"{path}.{key}", "is missing")
            elif key in item and not isinstance(item[key], str):
                ctx.add(f"{path}.{key}", f"must be a string, not {item[key]!r}")
        file = item.get("file")
        if isinstance(file, str) and (not file.endswith(".png") or "/" in file):
            ctx.add(f"{path}.file", f"must be a file name ending in .png, not {file!r}")
        out.append(PlotSpec(kind, str(item.get("x")), str(item.get("y")), item.get("value"),
                            item.get("color"), file, goal))
    return tuple(out)
