"""cocotb test module: replays a job's tiles through the top and writes the report.

Run by :func:`qaccel.rtl.verify.verify` through the cocotb runner
(``test_module="qaccel.rtl.tb.cocotb_bench"``) with the plusarg ``+qaccel_job=<folder>``
(:mod:`qaccel.rtl.tb.job`). The test fails when the scoreboard reports any mismatch; the
report (``<folder>/report.json``) is written either way; ``<folder>/progress`` holds
"tiles-drained tiles mismatches" after each batch (replaced atomically).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cocotb
from cocotb.triggers import SimTimeoutError, with_timeout

from qaccel.rtl.tb.bench import TileBench
from qaccel.rtl.tb.job import PLUSARG, PROGRESS_FILE, Job
from qaccel.rtl.tb.pins import CocotbPins
from qaccel.rtl.verilator import CLOCK_PERIOD_NS


@cocotb.test()
async def replay_tiles(dut: Any) -> None:
    """LOAD / RUN / DRAIN every tile of the job; values and cycles against the model."""
    folder = Path(str(cocotb.plusargs[PLUSARG]))
    job = Job.load(folder)
    pins = CocotbPins(dut, period_ns=CLOCK_PERIOD_NS)
    await pins.start()
    progress_file = folder / PROGRESS_FILE

    def progress(done: int, total: int, mismatches: int) -> None:
        """Tell the parent process (:func:`qaccel.rtl.verify.verify`) how far the job is."""
        tmp = progress_file.with_suffix(".tmp")
        tmp.write_text(f"{done} {total} {mismatches}\n")
        tmp.replace(progress_file)

    bench = TileBench(pins, job.design, simulator=f"cocotb/{cocotb.SIM_NAME}", gap=job.gap,
                      stall=job.stall, seed=job.seed, corrupt=job.corrupt, progress=progress)
    try:
        report = await with_timeout(bench.run(job.tiles), bench.cycle_budget(job.tiles)
                                    * pins.period_ns, "ns")
    except SimTimeoutError:
        raise AssertionError(f"{job.design.name}: the run exceeded its cycle budget "
                             f"({bench.cycle_budget(job.tiles):,} cycles)") from None
    report.save(folder / "report.json")
    assert report.passed, report.summary()
