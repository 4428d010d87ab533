"""cocotb test module: the generated ``qaccel_xrt.py``, unmodified, against the U280 kernel.

The module :mod:`qaccel.rtl.fpga.pyxrt_standin` is bound as ``pyxrt`` in ``sys.modules`` and
attached to this simulation: an ``AxiLiteMaster`` on ``s_axi_control`` and an ``AxiRam`` as
the HBM behind ``m_axi_gmem`` (with the job's random pauses, as in
:mod:`~qaccel.rtl.fpga.tb_kernel`). The driver file is loaded from the plan folder as it is
(named in ``shell.json``) and its blocking ``run`` is bridged into the simulation with the
plan's simulation xclbin and tiles file. Writes the driver's summary to ``report.json``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import cocotb
from cocotb.task import bridge, resume

from qaccel.rtl.fpga import pyxrt_standin
from qaccel.rtl.fpga.sim import SHELL_JSON
from qaccel.rtl.fpga.tb_kernel import _reset, attach
from qaccel.rtl.tb.job import PLUSARG, Job


@cocotb.test()
async def xrt_driver(dut: Any) -> None:
    folder = Path(str(cocotb.plusargs[PLUSARG]))
    job = Job.load(folder)
    options = json.loads((folder / SHELL_JSON).read_text())
    axil, ram = attach(dut, job.seed, job.gap, job.stall)
    await _reset(dut)
    pyxrt_standin.attach(axil, ram, resume)
    sys.modules["pyxrt"] = pyxrt_standin  # what `import pyxrt` finds in the simulation
    spec = importlib.util.spec_from_file_location("qaccel_xrt", options["driver"])
    assert spec is not None and spec.loader is not None
    driver = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(driver)
    lines: list[str] = []
    summary = await bridge(driver.run)(options["xclbin"], options["tiles_file"],
                                       log=lines.append)
    summary["log"] = lines
    (folder / "report.json").write_text(json.dumps(summary, indent=1))
    assert summary["passed"], "\n".join(lines)
