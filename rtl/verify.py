"""Check an array top against its family's ``golden()`` and ``batch_timing()``, tile by tile.

:func:`verify` runs :class:`qaccel.rtl.tb.bench.TileBench` on one of two simulators:

* ``"verilator"``: cocotb 2 on Verilator through the cocotb runner. One build per design
  (:mod:`qaccel.rtl.verilator`), reused while unchanged; the tiles travel in a job folder
  (:mod:`qaccel.rtl.tb.job`) named by a plusarg.
* ``"icarus"``: the same cocotb bench on Icarus Verilog (its default ``-g2012`` mode), the
  portability check; about 100x slower than Verilator, so for bounded runs.
* ``"amaranth"``: Amaranth's Python simulator, in this process (slow; for small runs).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from qaccel.arch.pe.tile import Tile
from qaccel.arch.spec import PEArray
from qaccel.rtl.controller import ArrayTop, ControllerFault
from qaccel.rtl.export import create_top, verilog_text
from qaccel.rtl.tb.bench import Report, TileBench
from qaccel.rtl.tb.driver import Corruption
from qaccel.rtl.tb.job import PLUSARG, PROGRESS_FILE, Job
from qaccel.rtl.verilator import (
    SimulatorMissing,
    build_icarus,
    build_verilator,
    sim_top_name,
    strip_initial_values,
)

__all__ = ["verify", "SimulatorMissing", "SIMULATORS", "default_build_root", "Progress"]

SIMULATORS = ("verilator", "icarus", "amaranth")
#: progress callback: ``(stage, done, total)``; stage ``"build"`` (done 0 then 1, total 1)
#: or ``"tiles"`` (tiles drained and checked so far, tiles in all)
Progress = Callable[[str, int, int], None]
#: how often the parent reads the job's progress file (unit: s)
POLL_SECONDS = 0.5
TEST_MODULE = "qaccel.rtl.tb.cocotb_bench"
#: job folders of failed runs kept per build (with their sim.log) for debugging
KEEP_FAILED_JOBS = 4


def default_build_root() -> Path:
    """Where simulator builds go unless told: ``<cache>/build/rtl`` (``$QACCEL_CACHE``, else
    ``~/.cache/qaccel``; :func:`qaccel.cache.cache_dir`), not the working folder."""
    from qaccel.cache import cache_dir

    return cache_dir() / "build" / "rtl"


def _prune_jobs(build_dir: Path, keep: int = KEEP_FAILED_JOBS) -> None:
    """Delete all but the newest ``keep`` job folders (passing runs delete their own)."""
    jobs = sorted(build_dir.glob("job-*"), key=lambda p: p.stat().st_mtime)
    for old in jobs[:max(len(jobs) - keep, 0)]:
        shutil.rmtree(old, ignore_errors=True)


def _run_cocotb(simulator: str, top: ArrayTop, job: Job, build_root: Path, *,
                x_power_up: bool = False, netlist: bool = False,
                progress: Progress | None = None) -> Report:
    """The cocotb bench on ``"verilator"`` or ``"icarus"`` through the cocotb runner."""
    from cocotb_tools.runner import get_runner

    if progress is not None:
        progress("build", 0, 1)
    if netlist:
        from qaccel.rtl.netlist import netlist_verilog

        gates = netlist_verilog(top, cache_dir=build_root / "netlist")
        build_dir = build_icarus(top, build_root, verilog=gates)
    elif simulator == "verilator":
        build_dir = build_verilator(top, build_root)
    elif x_power_up:
        build_dir = build_icarus(top, build_root,
                                 verilog=strip_initial_values(verilog_text(top)))
    else:
        build_dir = build_icarus(top, build_root)
    if progress is not None:
        progress("build", 1, 1)
    _prune_jobs(build_dir)
    job_dir = Path(tempfile.mkdtemp(prefix="job-", dir=build_dir))
    job.save(job_dir)
    runner = get_runner(simulator)

    def simulate() -> None:
        try:
            runner.test(test_module=TEST_MODULE, hdl_toplevel=sim_top_name(top),
                        hdl_toplevel_lang="verilog", build_dir=build_dir, test_dir=job_dir,
                        plusargs=[f"+{PLUSARG}={job_dir}"], log_file=job_dir / "sim.log")
        except SystemExit:
            pass  # under pytest the runner exits on a failing cocotb test; the report says why

    if progress is None:
        simulate()
    else:  # the simulator runs in a thread; this one reports the bench's progress file
        _watch(simulate, job_dir / PROGRESS_FILE, len(job.tiles), progress)
    report_file = job_dir / "report.json"
    if not report_file.is_file():
        log = job_dir / "sim.log"
        tail = log.read_text()[-3000:] if log.is_file() else "(no log)"
        raise RuntimeError(f"Cannot read the {simulator} report because the simulation ended "
                           f"early; log {log}:\n{tail}")
    report = Report.load(report_file)
    if report.passed:
        shutil.rmtree(job_dir, ignore_errors=True)
    return report


def _watch(simulate: Callable[[], None], progress_file: Path, total: int,
           progress: Progress) -> None:
    """Run ``simulate`` in a thread and call ``progress("tiles", done, total)`` whenever the
    bench's progress file changes (and once at the end)."""
    worker = threading.Thread(target=simulate, name="qaccel-sim", daemon=True)
    worker.start()
    last = -1
    progress("tiles", 0, total)
    while worker.is_alive():
        worker.join(POLL_SECONDS)
        try:
            done = int(progress_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if done != last:
            last = done
            progress("tiles", done, total)


def _run_amaranth(top: ArrayTop, job: Job, progress: Progress | None = None) -> Report:
    from amaranth.sim import Simulator

    from qaccel.rtl.tb.pins import AmaranthPins

    result: list[Report] = []

    async def testbench(ctx: object) -> None:
        bench = TileBench(AmaranthPins(ctx, top), top.design, simulator="amaranth",
                          gap=job.gap, stall=job.stall, seed=job.seed, corrupt=job.corrupt,
                          progress=None if progress is None
                          else lambda done, total, _: progress("tiles", done, total))
        result.append(await bench.run(job.tiles))

    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return result[0]


def verify(params: PEArray, tiles: Sequence[Tile], *, simulator: str = "verilator",
           build_root: Path | None = None, buffer_rows: int = 256, max_tiles: int = 16,
           seed: int = 0, gap: float = 0.0, stall: float = 0.0,
           corrupt: Corruption | None = None, fault: ControllerFault | None = None,
           x_power_up: bool = False, netlist: bool = False,
           progress: Progress | None = None) -> Report:
    """Replay ``tiles`` through ``params``'s array top on ``simulator``; the bench's report.

    Tiles go in batches that fill the buffers (several tiles per ``start``). Every tile's
    drained result is compared bit for bit with ``params.golden(tile)`` and its ``cycles``
    (both the port and the clock periods between ``start``/``done`` edges) with its entry of
    ``params.batch_timing(batch)`` (``timing(tile)`` unless the preload is overlapped).
    ``gap`` / ``stall`` randomize the LOAD / DRAIN handshakes; ``corrupt`` injects a fault on
    the input wires (see :class:`Corruption`), ``fault`` one into the controller (see
    :class:`ControllerFault`; its own design and build). ``x_power_up`` (Icarus only): every
    initial value stripped from the Verilog (:func:`strip_initial_values`), so registers and
    memories power up X and only ``rst`` may define them. ``netlist`` (Icarus only): simulate
    the yosys gate-level netlist of the top instead of its RTL (:mod:`qaccel.rtl.netlist`;
    flip-flops and RAMs without initial values, so X power-up as well). ``build_root``:
    where builds go (default :func:`default_build_root`). ``progress``: called with
    ``("build", 0|1, 1)`` around the build and ``("tiles", done, total)`` as batches drain.
    """
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {simulator!r}")
    if x_power_up and simulator != "icarus":
        raise ValueError(f"Cannot power up with X on {simulator} because only Icarus simulates "
                         f"X (Verilator is two-state)")
    top = create_top(params, buffer_rows=buffer_rows, max_tiles=max_tiles)
    if fault is not None:
        top = top.with_fault(fault)
    job = Job(top.design, tuple(tiles), seed=seed, gap=gap, stall=stall, corrupt=corrupt)
    if simulator == "amaranth":
        return _run_amaranth(top, job, progress)
    root = Path(build_root) if build_root is not None else default_build_root()
    return _run_cocotb(simulator, top, job, root, x_power_up=x_power_up, netlist=netlist,
                       progress=progress)
