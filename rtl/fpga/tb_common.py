"""What the FPGA cocotb test modules share (imported inside the simulation only).

:mod:`~qaccel.rtl.fpga.tb_shell` and :mod:`~qaccel.rtl.fpga.tb_kernel` drive a design with
cocotbext-axi models: both read the job the plusarg names (:func:`load_job`), split its
tiles into batches the same way (:func:`job_batches`), reset with :func:`reset`, pause the
models with :func:`pauses`, talk to ``s_axi_control`` through :func:`control_master` and end
with :func:`finish_report`.
:mod:`~qaccel.rtl.fpga.tb_pynq` and :mod:`~qaccel.rtl.fpga.tb_xrt` run a generated host
driver file as it is, with a stand-in bound as the board package (:func:`run_driver`).
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import cocotb
from cocotb.clock import Clock
from cocotb.task import bridge
from cocotb.triggers import ClockCycles

from qaccel.arch.pe.registry import level_module
from qaccel.arch.spec import PEArray
from qaccel.rtl.fpga.host import BatchTraffic, traffic
from qaccel.rtl.fpga.sim import SHELL_JSON
from qaccel.rtl.tb.bench import params_of
from qaccel.rtl.tb.job import PLUSARG, Job

__all__ = ["pauses", "reset", "control_master", "load_job", "job_batches", "finish_report",
           "run_driver", "CLOCK_NS"]

#: reset: cycles with ``ap_rst_n`` low, then cycles before the first transaction
RESET_CYCLES, SETTLE_CYCLES = 4, 2
#: the period of ``ap_clk`` in simulation (unit: ns)
CLOCK_NS = 10


def pauses(rng: random.Random, probability: float) -> Iterator[int]:
    """A cocotbext-axi pause generator: 1 (pause) with ``probability`` each cycle."""
    while True:
        yield int(rng.random() < probability)


async def reset(dut: Any) -> None:
    """Hold ``ap_rst_n`` low for :data:`RESET_CYCLES` cycles of ``ap_clk``, then wait
    :data:`SETTLE_CYCLES`."""
    dut.ap_rst_n.value = 0
    await ClockCycles(dut.ap_clk, RESET_CYCLES)
    dut.ap_rst_n.value = 1
    await ClockCycles(dut.ap_clk, SETTLE_CYCLES)


def control_master(dut: Any) -> Any:
    """Start ``ap_clk`` (:data:`CLOCK_NS`); a cocotbext-axi ``AxiLiteMaster`` on
    ``s_axi_control`` (reset by ``ap_rst_n``, active low)."""
    from cocotbext.axi import AxiLiteBus, AxiLiteMaster

    Clock(dut.ap_clk, CLOCK_NS, unit="ns").start()
    return AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axi_control"), dut.ap_clk,
                         dut.ap_rst_n, reset_active_level=False)


def load_job() -> tuple[Path, Job, dict[str, Any]]:
    """The job folder the ``+qaccel_job`` plusarg names, its job and its ``shell.json``."""
    folder = Path(str(cocotb.plusargs[PLUSARG]))
    return folder, Job.load(folder), json.loads((folder / SHELL_JSON).read_text())


def job_batches(job: Job, options: dict[str, Any]
                ) -> tuple[PEArray, ModuleType, list[BatchTraffic]]:
    """The job's parameters, its family's RTL module and its batches: the first
    ``options["single"]`` tiles one per batch (CYCLES is each tile's own ``timing()``), the
    rest in batches of at most ``options["max_batch"]`` tiles (default: the design's)."""
    params = params_of(job.design)
    family_rtl = level_module(params.family, "rtl")
    single = int(options.get("single", 0))
    batches = traffic(params, family_rtl, job.design, job.tiles[:single], max_batch=1) \
        + traffic(params, family_rtl, job.design, job.tiles[single:],
                  max_batch=options.get("max_batch"))
    return params, family_rtl, batches


def finish_report(folder: Path, report: dict[str, Any], tiles: int) -> None:
    """Set ``passed`` (no mismatch, every one of ``tiles`` tiles checked and its CYCLES
    compared), write ``report.json`` into ``folder`` and fail the cocotb test if not passed."""
    bad = report["mismatches"]
    report["passed"] = (not bad and report["tiles_checked"] == tiles
                        and report["cycles_compared"] == tiles)
    (folder / "report.json").write_text(json.dumps(report, indent=1))
    assert report["passed"], "\n".join(bad[:20])


async def run_driver(folder: Path, driver_file: str, package: str, stand_in: ModuleType,
                     *args: object) -> None:
    """Load the generated driver ``driver_file`` unmodified, with ``stand_in`` bound as
    ``package`` (what its ``import`` finds in the simulation), run its blocking ``run(*args)``
    bridged into the simulation and write its summary (plus ``log``: the lines it logged)
    to ``folder/report.json``; fail the cocotb test if it did not pass."""
    sys.modules[package] = stand_in
    spec = importlib.util.spec_from_file_location(Path(driver_file).stem, driver_file)
    assert spec is not None and spec.loader is not None
    driver = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(driver)
    lines: list[str] = []
    run: Callable[..., dict[str, Any]] = driver.run
    summary = await bridge(run)(*args, log=lines.append)
    summary["log"] = lines
    (folder / "report.json").write_text(json.dumps(summary, indent=1))
    assert summary["passed"], "\n".join(lines)
