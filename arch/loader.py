"""Strict loading of accelerator specs: YAML file, preset name or dict -> :class:`Accelerator`.

Validation runs in two stages (STYLE.md): stage one checks every field's type and range and
rejects unknown keys (:mod:`qaccel.arch.fields`); stage two checks rules that span fields
(a buffer must hold one stationary tile, byte-addressable word widths...). All problems of
one input are raised together as one :class:`qaccel.ConfigError`.

Spec layout (units in the key names)::

    version: 1
    name: systolic-int8-32x32
    clock_mhz: 1000
    pe_array: {family: systolic_int8, rows: 32, cols: 32, dataflow: ws}
    buffers:
      weight: {size_kib: 64, word_bits: 256, banks: 4}
      input:  {size_kib: 64, word_bits: 256, banks: 4}
      output: {size_kib: 64, word_bits: 1024, banks: 4}
    dram: {bits_per_cycle: 128, pj_per_bit: 8.0}
    tech: {node_nm: 28}

Optional: ``kv_format`` (the KV cache's format, ``qaccel.arch.kv``: fp16, int8, int4 or a
registered format the PEs can compute on), ``buffers.kv`` (an on-chip buffer reserved for the
KV cache), ``dram.capacity_gib`` and ``vector_unit`` (``{lanes, cycles_per_element}``,
``qaccel.arch.vector``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from qaccel.arch.components import TECH_SCALE
from qaccel.arch.fields import Context, FloatIn, OneOf, build
from qaccel.arch.pe import PE_FAMILIES
from qaccel.arch.spec import SPEC_VERSION, Accelerator, Buffer, Dram, MappingMode, PEArray, Tech
from qaccel.arch.yamlio import load_yaml
from qaccel.errors import ConfigError

__all__ = ["load_accelerator", "preset_names", "PRESET_DIR"]

PRESET_DIR = Path(__file__).parent / "presets"
TOP_KEYS = ("version", "name", "description", "clock_mhz", "pe_array", "buffers", "dram", "tech",
            "mapping", "kv_format", "vector_unit")
BUFFER_KEYS = ("weight", "input", "output")
#: optional buffers: ``kv``, the on-chip buffer reserved for the KV cache
OPTIONAL_BUFFER_KEYS = ("kv",)


def preset_names() -> list[str]:
    """Names of the shipped presets (``arch/presets/<name>.yaml``)."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_accelerator(spec: str | Path | Mapping[str, Any]) -> Accelerator:
    """Build an :class:`Accelerator` from a preset name, a YAML path or an in-memory dict."""
    if isinstance(spec, Mapping):
        return _from_dict(spec, Context(source="<dict>"))
    text = str(spec)
    if text in preset_names():
        path = PRESET_DIR / f"{text}.yaml"
    elif text.endswith((".yaml", ".yml")) or Path(text).exists():
        path = Path(text)
        if not path.is_file():
            raise ConfigError.single("--arch", f"must be an existing YAML file, not {text!r}")
    else:
        raise ConfigError.single(
            "--arch", f"must be a preset name ({', '.join(preset_names())}) or a YAML file, "
            f"not {text!r}")
    data, lines = load_yaml(path)
    return _from_dict(data, Context(lines=lines, source=str(path)))


def _from_dict(data: Any, ctx: Context) -> Accelerator:
    if not isinstance(data, Mapping):
        ctx.add("", f"must be a mapping of {', '.join(TOP_KEYS)}, not {type(data).__name__}")
        ctx.raise_if_any()
    for key in data:
        if key not in TOP_KEYS:
            ctx.add(str(key), f"is not a known key; allowed: {', '.join(TOP_KEYS)}")
    for key in ("version", "name", "clock_mhz", "pe_array", "buffers", "dram", "tech"):
        if key not in data:
            ctx.add(key, "is missing")
    version = data.get("version")
    if "version" in data and version != SPEC_VERSION:
        ctx.add("version", f"must be {SPEC_VERSION}, not {version!r}")
    name = data.get("name")
    if "name" in data and (not isinstance(name, str) or not name):
        ctx.add("name", f"must be a non-empty string, not {name!r}")
    clock = None
    if "clock_mhz" in data:
        try:
            clock = FloatIn(1.0, 10000.0)(data["clock_mhz"])
        except ValueError as exc:
            ctx.add("clock_mhz", f"must be {exc} (unit: MHz), not {data['clock_mhz']!r}")
    mapping = MappingMode.AUTO
    if "mapping" in data:
        try:
            mapping = OneOf(MappingMode)(data["mapping"])
        except ValueError as exc:
            ctx.add("mapping", f"must be {exc}, not {data['mapping']!r}")
    pe_array = _pe_array(data.get("pe_array"), ctx) if "pe_array" in data else None
    buffers = _buffers(data.get("buffers"), ctx) if "buffers" in data else {}
    dram = build(Dram, data["dram"], "dram", ctx) if "dram" in data else None
    if dram is not None and dram.weight_bits is not None and dram.traffic != "layer_refetch":
        ctx.add("dram.weight_bits", f"applies only with dram.traffic layer_refetch (the rule "
                f"it parameterizes), not with {dram.traffic.value}")
    tech = build(Tech, data["tech"], "tech", ctx) if "tech" in data else None
    if tech is not None and tech.node_nm not in TECH_SCALE:  # the energy/area model's nodes
        nodes = ", ".join(str(n) for n in sorted(TECH_SCALE))
        ctx.add("tech.node_nm", f"must be one of {nodes} for the energy/area model (no "
                f"scaling anchor for other nodes), not {tech.node_nm}")
    vector_unit = None
    if "vector_unit" in data:
        from qaccel.arch.vector import VectorUnit

        vector_unit = build(VectorUnit, data["vector_unit"], "vector_unit", ctx)
    kv_format = data.get("kv_format")
    if kv_format is not None:
        _check_kv_format(kv_format, pe_array, ctx)
    if pe_array is not None and all(k in buffers for k in BUFFER_KEYS):  # what stage two reads
        _cross_checks(pe_array, buffers, ctx)  # even beside other fields' problems: one pass
    ctx.raise_if_any()
    return Accelerator(name=name, pe_array=pe_array, weight_buffer=buffers["weight"],
                       input_buffer=buffers["input"], output_buffer=buffers["output"],
                       dram=dram, clock_mhz=clock, tech=tech, mapping=mapping,
                       kv_format=kv_format, kv_buffer=buffers.get("kv"),
                       vector_unit=vector_unit)


def _check_kv_format(name: Any, pe: PEArray | None, ctx: Context) -> None:
    """``kv_format`` must name a format the PEs can compute on (``PEArray.kv_array``)."""
    from qaccel.arch.kv import kv_bits

    try:
        bits = kv_bits(name)
    except ConfigError as exc:
        ctx.add("kv_format", exc.problems[0].message)
        return
    if pe is None:
        return
    try:
        pe.kv_array(bits)
    except ValueError as exc:
        ctx.add("kv_format", f"must be a format the {pe.family} PEs compute on, not "
                f"{name!r} ({exc})")


def _pe_array(data: Any, ctx: Context) -> PEArray | None:
    if not isinstance(data, Mapping):
        ctx.add("pe_array", f"must be a mapping, not {data!r}")
        return None
    family = data.get("family")
    if not isinstance(family, str) or family not in PE_FAMILIES:  # a list is unhashable
        ctx.add("pe_array.family", f"must be one of {', '.join(sorted(PE_FAMILIES))}, "
                f"not {family!r}")
        return None
    return build(PE_FAMILIES[family], data, "pe_array", ctx, skip=("family",))


def _buffers(data: Any, ctx: Context) -> dict[str, Buffer]:
    if not isinstance(data, Mapping):
        ctx.add("buffers", f"must be a mapping of {', '.join(BUFFER_KEYS)}, not {data!r}")
        return {}
    for key in data:
        if key not in BUFFER_KEYS + OPTIONAL_BUFFER_KEYS:
            ctx.add(f"buffers.{key}", f"is not a known buffer; allowed: "
                    f"{', '.join(BUFFER_KEYS + OPTIONAL_BUFFER_KEYS)}")
    out = {}
    for key in OPTIONAL_BUFFER_KEYS:
        if key in data:
            buf = build(Buffer, data[key], f"buffers.{key}", ctx)
            if buf is not None:
                out[key] = buf
    for key in BUFFER_KEYS:
        if key not in data:
            ctx.add(f"buffers.{key}", "is missing")
            continue
        buf = build(Buffer, data[key], f"buffers.{key}", ctx)
        if buf is not None:
            out[key] = buf
    return out


def _cross_checks(pe: PEArray, buffers: dict[str, Buffer], ctx: Context) -> None:
    """Stage two: rules that span fields."""
    for key, buf in buffers.items():
        if buf.word_bits % 8:
            ctx.add(f"buffers.{key}.word_bits",
                    f"must be a multiple of 8 (byte-addressable), not {buf.word_bits}")
    w_bits = getattr(pe, "b_bits", 8) * pe.lanes
    tile_bytes = pe.rows * pe.cols * w_bits // 8
    if buffers["weight"].size_bytes < 2 * tile_bytes:
        ctx.add("buffers.weight.size_kib",
                f"must hold two {pe.rows}x{pe.cols} weight tiles ({2 * tile_bytes / 1024:g} KiB, "
                f"double-buffered), not {buffers['weight'].size_kib:g}")
