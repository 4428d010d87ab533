"""Sweep workloads: named lists of GEMM layers that every design point is simulated on.

A ``workloads`` entry has a ``name`` and exactly one source::

    - {name: gemm512, gemm: 512x512x512}                  # one GEMM layer, MxKxN
    - name: resnet50                                      # explicit layers
      layers:
        - {name: conv1, gemm: 12544x147x64, op: conv2d}
        - {name: conv2_x.c2, gemm: 3136x576x64, repeat: 3}   # 3 layers: conv2_x.c2.1 .. .3
        - {name: attn.qk, gemm: 1x128x512, count: 32}        # 32 GEMMs in one layer (heads)
    - {name: minilm, trace: minilm-trace}                 # a trace folder (qaccel capture)
    - {name: decode, preset: llama-2-7b, phase: decode}   # named presets, once they exist

``repeat`` makes separate layers; ``count`` is the engine's "identical GEMMs in one layer"
(conv groups, attention heads x batch). Trace paths are relative to the spec file's folder.
Sweeps simulate timing only, so a workload keeps shapes, never operand values: a trace is
reduced to its layer shapes when the spec is loaded.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from qaccel.arch.fields import Context
from qaccel.errors import ConfigError

__all__ = ["ShapeLayer", "Workload", "parse_workloads", "parse_gemm_text", "OPS",
           "PRESET_MODULE"]

OPS = ("linear", "conv2d", "matmul")
SOURCES = ("gemm", "layers", "trace", "preset")
LAYER_KEYS = ("name", "gemm", "op", "repeat", "count")
MAX_DIM = 10**7
#: where named workload presets will live (DESIGN.md: "workload presets" in models/)
PRESET_MODULE = "qaccel.models.workloads"


@dataclass(frozen=True)
class ShapeLayer:
    """One layer, shapes only: ``count`` GEMMs out[M x N] = A[M x K] . B[K x N].

    Satisfies the engine's layer protocol (``sim.run(..., values=False)``).
    """

    name: str
    op: str
    M: int  # noqa: N815 - GEMM notation
    K: int  # noqa: N815
    N: int  # noqa: N815
    count: int = 1
    has_values: ClassVar[bool] = False

    def gemm_shape(self) -> tuple[int, int, int, int]:
        return self.count, self.M, self.K, self.N

    def operands(self) -> Any:
        raise ValueError(f"Cannot form operands of layer {self.name} because sweep workloads "
                         "hold shapes only")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "op": self.op,
                               "gemm": f"{self.M}x{self.K}x{self.N}"}
        if self.count != 1:
            out["count"] = self.count
        return out


@dataclass(frozen=True)
class Workload:
    """A named, ordered tuple of shape-only layers. ``source`` says where it came from."""

    name: str
    layers: tuple[ShapeLayer, ...]
    source: str = field(default="layers", compare=False)

    @property
    def macs(self) -> int:
        """Multiply-accumulates of one pass (unit: MACs)."""
        return sum(ly.count * ly.M * ly.K * ly.N for ly in self.layers)

    def fingerprint(self) -> dict[str, Any]:
        """What determines simulation results: the name and every layer's shape, in order."""
        return {"name": self.name, "layers": [[ly.name, ly.op, ly.count, ly.M, ly.K, ly.N]
                                              for ly in self.layers]}

    def to_dict(self) -> dict[str, Any]:
        """A ``workloads`` entry (``layers`` form) that loads back into this workload."""
        return {"name": self.name, "layers": [ly.to_dict() for ly in self.layers]}


def parse_gemm_text(text: Any) -> tuple[int, int, int] | None:
    """``"512x256x128"`` -> (512, 256, 128); None unless three positive ints <= 10^7."""
    if not isinstance(text, str):
        return None
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(p.isdigit() and 0 < int(p) <= MAX_DIM for p in parts):
        return None
    m, k, n = (int(p) for p in parts)
    return m, k, n


def _gemm_problem(value: Any) -> str:
    return (f"must be MxKxN with positive integers up to {MAX_DIM} (e.g. 512x512x512), "
            f"not {value!r}")


def parse_workloads(raw: Any, ctx: Context, base_dir: Path) -> tuple[Workload, ...]:
    """Validate the ``workloads`` list and resolve every entry to shape-only layers."""
    if not isinstance(raw, list) or not raw:
        ctx.add("workloads", f"must be a non-empty list of {{name, gemm|layers|trace|preset}}, "
                f"not {raw!r}")
        return ()
    out: list[Workload] = []
    names: set[str] = set()
    for i, entry in enumerate(raw):
        path = f"workloads[{i}]"
        if not isinstance(entry, Mapping):
            ctx.add(path, f"must be a mapping with name and one of {', '.join(SOURCES)}, "
                    f"not {entry!r}")
            continue
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            ctx.add(f"{path}.name", f"must be a non-empty string, not {name!r}")
            name = None
        elif name in names:
            ctx.add(f"{path}.name", f"must be unique among workloads, not {name!r} twice")
        names.add(str(name))
        given = [k for k in SOURCES if k in entry]
        if len(given) != 1:
            ctx.add(path, f"must have exactly one of {', '.join(SOURCES)}, not "
                    + (" and ".join(given) if given else "none"))
            continue
        workload = _resolve(given[0], entry, path, ctx, base_dir, name)
        if workload is not None and name is not None:
            out.append(workload)
    return tuple(out)


def _resolve(kind: str, entry: Mapping[str, Any], path: str, ctx: Context, base_dir: Path,
             name: str | None) -> Workload | None:
    allowed = {"gemm": ("name", "gemm"), "layers": ("name", "layers"),
               "trace": ("name", "trace")}.get(kind)
    if allowed is not None:
        for key in entry:
            if key not in allowed:
                ctx.add(f"{path}.{key}", f"is not a known key for a {kind} workload; "
                        f"allowed: {', '.join(allowed)}")
    if kind == "preset":
        return _preset(entry, path, ctx, name)
    if kind == "gemm":
        shape = parse_gemm_text(entry["gemm"])
        if shape is None:
            ctx.add(f"{path}.gemm", _gemm_problem(entry["gemm"]))
            return None
        return Workload(str(name), (ShapeLayer(f"gemm_{entry['gemm']}", "matmul", *shape),),
                        "gemm")
    if kind == "trace":
        return _trace(entry["trace"], f"{path}.trace", ctx, base_dir, name)
    return _layers(entry["layers"], f"{path}.layers", ctx, name)


def _layers(raw: Any, path: str, ctx: Context, name: str | None) -> Workload | None:
    if not isinstance(raw, list) or not raw:
        ctx.add(path, f"must be a non-empty list of {{name, gemm}}, not {raw!r}")
        return None
    before = len(ctx.problems)
    layers: list[ShapeLayer] = []
    for j, item in enumerate(raw):
        where = f"{path}[{j}]"
        if not isinstance(item, Mapping):
            ctx.add(where, f"must be a mapping {{name, gemm, op?, repeat?, count?}}, not {item!r}")
            continue
        for key in item:
            if key not in LAYER_KEYS:
                ctx.add(f"{where}.{key}", f"is not a known key; allowed: {', '.join(LAYER_KEYS)}")
        lname = item.get("name")
        if not isinstance(lname, str) or not lname:
            ctx.add(f"{where}.name", f"must be a non-empty string, not {lname!r}")
        shape = parse_gemm_text(item.get("gemm"))
        if shape is None:
            ctx.add(f"{where}.gemm", _gemm_problem(item.get("gemm")))
        op = item.get("op", "matmul")
        if op not in OPS:
            ctx.add(f"{where}.op", f"must be one of {', '.join(OPS)}, not {op!r}")
        ints = {}
        for key in ("repeat", "count"):
            value = item.get(key, 1)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100_000:
                ctx.add(f"{where}.{key}", f"must be an int in 1..100000, not {value!r}")
            ints[key] = value
        if len(ctx.problems) > before:
            continue
        names = [lname] if ints["repeat"] == 1 else [f"{lname}.{r + 1}"
                                                     for r in range(ints["repeat"])]
        layers += [ShapeLayer(n, op, *shape, count=ints["count"]) for n in names]
    if len(ctx.problems) > before:
        return None
    seen: set[str] = set()
    for layer in layers:
        if layer.name in seen:
            ctx.add(path, f"must name layers uniquely, not {layer.name!r} twice")
            return None
        seen.add(layer.name)
    return Workload(str(name), tuple(layers), "layers")


def _trace(raw: Any, path: str, ctx: Context, base_dir: Path,
           name: str | None) -> Workload | None:
    if not isinstance(raw, str) or not raw:
        ctx.add(path, f"must be a trace folder path, not {raw!r}")
        return None
    folder = Path(raw) if Path(raw).is_absolute() else base_dir / raw
    from qaccel.models import Trace

    try:
        trace = Trace.load(folder, path=path)
    except ConfigError as exc:
        for problem in exc.problems:
            ctx.add(path, problem.message)
        return None
    if _refuse_vector_layers(trace, path, ctx):
        return None
    layers = tuple(ShapeLayer(ly.name, ly.op, *ly.gemm_shape()[1:], count=ly.gemm_shape()[0])
                   for ly in trace.layers)
    if not layers:
        ctx.add(path, f"must be a trace with at least one layer, not {raw!r} (no layers)")
        return None
    return Workload(str(name), layers, f"trace:{raw}")


def _preset(entry: Mapping[str, Any], path: str, ctx: Context,
            name: str | None) -> Workload | None:
    """``{name, preset: ID, <build_workload keyword>: ...}`` through
    :func:`qaccel.models.workloads.build_workload` (shapes only, built on the meta device),
    read from the trace cache when it holds the request (:mod:`qaccel.cache`)."""
    if importlib.util.find_spec(PRESET_MODULE) is None:
        ctx.add(f"{path}.preset", f"cannot be used because named workload presets "
                f"({PRESET_MODULE}) are not available yet, not {entry['preset']!r}; list the "
                "shapes with gemm or layers, or capture a trace folder")
        return None
    module = importlib.import_module(PRESET_MODULE)
    build = getattr(module, "build_workload", None)
    if build is None:
        ctx.add(f"{path}.preset", f"cannot be used because {PRESET_MODULE} has no "
                "build_workload(); list the shapes with gemm or layers")
        return None
    allowed = [p.name for p in inspect.signature(build).parameters.values()
               if p.kind is inspect.Parameter.KEYWORD_ONLY]
    kwargs = {k: v for k, v in entry.items() if k not in ("name", "preset")}
    unknown = [k for k in kwargs if k not in allowed]
    for key in unknown:
        ctx.add(f"{path}.{key}", "is not a known key for a preset workload; allowed: name, "
                f"preset, {', '.join(allowed)}")
    if unknown:
        return None
    from qaccel.cache import cached_workload

    try:  # through the on-disk trace cache: a rerun of the spec skips the capture
        trace = cached_workload(id=entry["preset"], **kwargs)
    except ConfigError as exc:
        for problem in exc.problems:
            key = "preset" if problem.path == "id" else problem.path
            ctx.add(f"{path}.{key}", problem.message)
        return None
    if _refuse_vector_layers(trace, f"{path}.vector_ops", ctx):
        return None
    layers = tuple(ShapeLayer(ly.name, ly.op, *ly.gemm_shape()[1:], count=ly.gemm_shape()[0])
                   for ly in trace.layers)
    return Workload(str(name), layers, f"preset:{entry['preset']}")


def _refuse_vector_layers(trace: Any, path: str, ctx: Context) -> bool:
    """Sweep workloads are GEMM shapes only: a trace with vector (non-GEMM) layers would run
    them as GEMMs, so it is refused (``qaccel sim`` runs them on the vector unit)."""
    vector = [ly.name for ly in trace.layers if ly.op == "vector"]
    if vector:
        ctx.add(path, f"cannot be swept because the workload has {len(vector)} vector "
                f"(non-GEMM) layers, e.g. {vector[0]!r}; sweeps simulate GEMM shapes only: "
                "drop vector_ops, or use qaccel sim")
    return bool(vector)
