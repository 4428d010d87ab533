"""Synthesize array cores for the area calibration and fit the model to them.

    python -m qaccel.rtl.calibrate                  # every family, CALIBRATION_ARRAYS, resumable
    python -m qaccel.rtl.calibrate --family ant --array 16x16
    python -m qaccel.rtl.calibrate --fit-only       # refit from the stored points

Each point is the hierarchical ASIC estimate of :mod:`qaccel.rtl.synth` (modules identical
up to their names merged, yosys ``synth; dfflegalize; stat -tech cmos -top``, gate
equivalents x 0.3008 µm² at 28 nm) of the family's array core (``create_core``; serial
preload, the family's default RTL parameters). Points are stored, with the yosys version and
the flow (:data:`FLOW`), in :data:`qaccel.arch.calibration.CALIBRATION_FILE`; a point already
stored for the same yosys version and flow is not synthesized again (another version or flow
re-synthesizes them all, keeping each family's stored PE fields). After synthesis the
model of :mod:`qaccel.arch.calibration` is fitted per family (non-negative least squares
of the relative error) and written to the same file: all four coefficients with five or
more points; with four, the better (max relative error) of ``col_um2`` = 0 and
``log_factor`` = 0; with three, ``log_factor`` = 0 and one edge coefficient for rows and
columns alike. Every fit has more points than free coefficients.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import nnls

from qaccel.arch.calibration import CALIBRATION_FILE, COEFFICIENTS, design_row
from qaccel.arch.components import TECH_SCALE

__all__ = ["FLOW", "synth_point", "fit_family", "pe_fields", "calibration_lines", "write_markdown",
           "CALIBRATION_ARRAYS", "main", "SECTION"]

#: the heading of the section :func:`write_markdown` keeps up to date in docs/area.md
SECTION = "## Calibrated area model"

#: the synthesis script of the stored points (a change re-synthesizes them all): merged
#: modules, hierarchical ``synth``, ``stat -tech cmos -top`` (:mod:`qaccel.rtl.synth`)
FLOW = "hierarchical"
#: arrays synthesized per family: the acceptance sizes (4x4, 8x8, 16x16), two non-square
#: ones that separate the per-row from the per-column edge units, and 64x16, the shape of the
#: decode presets (without it bitmod's fit was 14 % over a synthesized 64x16 core)
CALIBRATION_ARRAYS = ((4, 4), (4, 8), (8, 4), (8, 8), (16, 16), (64, 16))
#: points for the full model (more than its coefficients); three suffice for the reduced one
MIN_POINTS = len(COEFFICIENTS) + 1
REDUCED_MIN_POINTS = 3


def _params(family: str, rows: int, cols: int, fields: dict[str, Any] | None = None):
    """The array the calibration synthesizes: ``fields`` (the PE fields stored with the
    family's points) on the family's RTL defaults."""
    from qaccel.cli.rtl import rtl_params

    return rtl_params(family, rows, cols, None, dict(fields or {}))


def pe_fields(params: Any) -> dict[str, Any]:
    """The PE fields of ``params`` that are not its shape (stored with the points, so a later
    change of the family's defaults or presets cannot change what they describe)."""
    return {k: v for k, v in params.to_dict().items()
            if k not in ("family", "rows", "cols", "preload")}


def synth_point(family: str, rows: int, cols: int,
                fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """Synthesize ``family``'s rows x cols array core: gate equivalents, flip-flops, 28 nm
    area (µm²) and the wall time of the synthesis (s)."""
    from amaranth.back import verilog

    from qaccel.arch.pe.registry import level_module
    from qaccel.rtl.synth import GE_AREA_UM2_28NM, _cmos

    start = time.perf_counter()
    params = _params(family, rows, cols, fields)
    core = level_module(family, "rtl").create_core(params)
    name = f"{family}_{rows}x{cols}_core"
    with tempfile.TemporaryDirectory(prefix="qaccel-calib-") as tmp:
        folder = Path(tmp)
        src = folder / f"{name}.v"
        src.write_text(verilog.convert(core, name=name, emit_src=False))
        row = _cmos(src, name, folder, hierarchical=True)
    return {"rows": rows, "cols": cols, "dataflow": str(params.dataflow),
            "gate_equivalents": row["gate_equivalents"], "flip_flops": row["flip_flops"],
            "area_um2_28nm": row["gate_equivalents"] * GE_AREA_UM2_28NM,
            "synth_seconds": round(time.perf_counter() - start, 1)}


def fit_family(family: str, points: list[dict[str, Any]],
               fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """Least-squares coefficients of :func:`qaccel.arch.calibration.design_row` for
    ``family``'s synthesized ``points`` (28 nm), and each point's relative error."""
    area_28 = TECH_SCALE[28][1]
    rows = []
    for p in points:
        params = _params(family, p["rows"], p["cols"], fields)
        rows.append(design_row(params, area_28))
    x = np.array(rows, dtype=float)
    y = np.array([p["area_um2_28nm"] for p in points], dtype=float)
    # free coefficients: fewer than the points, so every fit is checked by its points
    n = len(points)
    if n >= MIN_POINTS:
        candidates = {"full": [0, 1, 2, 3]}
    elif n == 4:   # the better of two three-coefficient models
        candidates = {"rows-log": [0, 1, 2], "rows-cols": [0, 2, 3]}
    else:          # log_factor = 0, row_um2 = col_um2
        candidates = {"shared-edge": None}
    best = None
    for model_name, cols in candidates.items():
        xf = np.column_stack([x[:, 0], x[:, 2] + x[:, 3]]) if cols is None else x[:, cols]
        # non-negative least squares: a PE or an edge unit cannot have negative area
        c, _ = nnls(xf / y[:, None], np.ones_like(y))   # relative error, not absolute
        coef = np.zeros(len(COEFFICIENTS))
        if cols is None:
            coef[0], coef[2], coef[3] = c[0], c[1], c[1]
        else:
            coef[cols] = c
        err = float(np.max(np.abs(x @ coef - y) / y))
        if best is None or err < best[0]:
            best = (err, model_name, coef)
    _, model_name, coef = best
    model = x @ coef
    return {**{k: float(v) for k, v in zip(COEFFICIENTS, coef, strict=True)},
            "points": n, "model": model_name,
            "max_rel_error": float(np.max(np.abs(model - y) / y)),
            "params": _describe(_params(family, 4, 4, fields))}


def _describe(params: Any) -> str:
    """The PE parameters of ``params`` (not its shape): ``dataflow=ws bits=4``."""
    d = params.to_dict()
    return " ".join(f"{k}={v}" for k, v in d.items()
                    if k not in ("family", "rows", "cols", "preload"))


def calibration_lines(data: dict[str, Any]) -> list[str]:
    """The docs/area.md section: fitted coefficients and, per synthesized array, synthesis
    beside the calibrated and the uncalibrated (analytic) model."""
    from qaccel.arch.calibration import design_row
    from qaccel.arch.cost import analytic_area_um2

    area_28 = TECH_SCALE[28][1]
    lines = [SECTION, "",
             f"`area_um2` everywhere (sweeps, `qaccel size`, `compare --iso-area`) is "
             f"`qaccel.arch.cost.array_area_um2`: the model of `qaccel.arch.calibration` "
             f"fitted to yosys ASIC estimates of our array cores ({data.get('yosys', '?')}, "
             f"{data.get('flow', 'flat')} synthesis, "
             f"stored in `arch/area_calibration.json`; regenerate with "
             f"`python -m qaccel.rtl.calibrate --markdown docs/area.md`):",
             "", "    area(R, C) = A_pe x R x C x (pe_factor + log_factor x log2(R))",
             "                 + row_um2 x R + col_um2 x C", "",
             "A_pe is the analytic PE area (`pe_cost()`, Horowitz 45 nm x 0.377); the fit is "
             "non-negative least squares of the relative error over the synthesized arrays.",
             "", *_flow_lines(data.get("flow", "flat")), "",
             "| family | synthesized parameters | A_pe (µm²) | pe_factor | log_factor "
             "| row_um2 | col_um2 | points | max error |", "|---|---|--:|--:|--:|--:|--:|--:|--:|"]
    rows = ["", "| family | array | synthesized µm² | calibrated µm² | error | analytic µm² "
            "(uncalibrated) | analytic / synthesized | synthesis (s) |",
            "|---|---|--:|--:|--:|--:|--:|--:|"]
    for family, entry in sorted(data["families"].items()):
        fit = entry.get("fit")
        if fit is None:
            continue
        fields = entry.get("pe_fields")
        a_pe = _params(family, 4, 4, fields).pe_cost().area_um2 * area_28
        lines.append(f"| {family} | `{fit['params']}` | {a_pe:,.1f} | {fit['pe_factor']:.3f} "
                     f"| {fit['log_factor']:.4f} | {fit['row_um2']:,.1f} "
                     f"| {fit['col_um2']:,.1f} | {fit['points']} | {fit['max_rel_error']:.1%} |")
        for p in entry["points"]:
            params = _params(family, p["rows"], p["cols"], fields)
            x = design_row(params, area_28)
            model = sum(fit[k] * v for k, v in zip(COEFFICIENTS, x, strict=True))
            analytic = analytic_area_um2(params, 28)
            synth = p["area_um2_28nm"]
            rows.append(f"| {family} | {p['rows']}x{p['cols']} | {synth:,.0f} | {model:,.0f} "
                        f"| {(model - synth) / synth:+.1%} | {analytic:,.0f} "
                        f"| {analytic / synth:.2f} | {_seconds(p)} |")
    return lines + rows + [""]


def _flow_lines(flow: str) -> list[str]:
    """How the calibration's points were synthesized (the Method above is the flat script of
    the other tables)."""
    if flow != "hierarchical":
        return ["Points: the flat script of the Method section."]
    return ["Points: hierarchical synthesis (`qaccel.rtl.synth._cmos(..., hierarchical=True)`). "
            "Amaranth emits one Verilog module per PE instance; `qaccel.rtl.dedup` merges the "
            "modules identical up to their names (a 16x16 core: corner, edge and inner PEs "
            "and the edge units, a dozen modules instead of hundreds), then `synth; delete "
            "t:$scopeinfo; dfflegalize -cell $_DFF_P_ 01; stat -tech cmos -top CORE` "
            "synthesizes each distinct module once and sums its cells x instance count. The "
            "cost grows with the distinct modules, while `synth -flatten`'s `share` pass "
            "compares every pair of shareable cells of the whole array. No optimization "
            "crosses a module boundary, so these figures differ from the flat Arrays table "
            "above: see \"Synthesis flow of the calibration\" below."]


def _seconds(point: dict[str, Any]) -> str:
    """A point's synthesis wall time, or where the figure was taken from."""
    if point.get("synth_seconds") is None:
        return point.get("source", "-")
    return f"{point['synth_seconds']:g}"


def write_markdown(path: Path, data: dict[str, Any]) -> None:
    """Replace (or append) the :data:`SECTION` of ``path`` with :func:`calibration_lines`."""
    text = path.read_text() if path.is_file() else ""
    section = "\n".join(calibration_lines(data))
    if SECTION in text:
        head, rest = text.split(SECTION, 1)
        nxt = rest.find("\n## ")
        tail = rest[nxt + 1:] if nxt >= 0 else ""
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {"families": {}}


def _save(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    from qaccel.cli.rtl import rtl_families
    from qaccel.rtl.synth import yosys_version

    ap = argparse.ArgumentParser(prog="python -m qaccel.rtl.calibrate",
                                 description=__doc__.split("\n\n")[2])
    ap.add_argument("--family", action="append", help="families (default: all with RTL)")
    ap.add_argument("--array", action="append", help="RxC (default: CALIBRATION_ARRAYS)")
    ap.add_argument("--out", type=Path, default=CALIBRATION_FILE)
    ap.add_argument("--fit-only", action="store_true")
    ap.add_argument("--markdown", type=Path, help="update the calibration section of this "
                    "page (docs/area.md)")
    args = ap.parse_args(argv)
    families = args.family or rtl_families()
    arrays = ([tuple(int(v) for v in a.lower().split("x")) for a in args.array]
              if args.array else list(CALIBRATION_ARRAYS))
    data = _load(args.out)
    version = yosys_version()
    if data.get("yosys") not in (None, version) or data.get("flow", "flat") != FLOW:
        print(f"stored points are from {data['yosys']} ({data.get('flow', 'flat')}), this is "
              f"{version} ({FLOW}): resynthesizing")
        data = {"families": {f: {"points": [], "pe_fields": e["pe_fields"]}
                             for f, e in data["families"].items() if "pe_fields" in e}}
    data["yosys"] = version
    data["flow"] = FLOW
    data["node_nm"] = 28
    for family in families:
        entry = data["families"].setdefault(family, {"points": []})
        entry.setdefault("pe_fields", pe_fields(_params(family, 4, 4)))
        for rows, cols in arrays if not args.fit_only else []:
            if any((p["rows"], p["cols"]) == (rows, cols) for p in entry["points"]):
                continue
            print(f"{family} {rows}x{cols} ...", end=" ", flush=True)
            point = synth_point(family, rows, cols, entry["pe_fields"])
            print(f"{point['area_um2_28nm']:,.0f} um^2 in {point['synth_seconds']} s",
                  flush=True)
            entry["points"].append(point)
            entry["points"].sort(key=lambda p: (p["rows"] * p["cols"], p["rows"]))
            _save(args.out, data)
        if len(entry["points"]) >= REDUCED_MIN_POINTS:
            entry["fit"] = fit_family(family, entry["points"], entry["pe_fields"])
            print(f"{family}: {entry['fit']}")
        _save(args.out, data)
    if args.markdown is not None:
        write_markdown(args.markdown, data)
        print(f"wrote {args.markdown}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
