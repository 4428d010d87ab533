"""cocotb test module: the generated ``qaccel_xrt.py``, unmodified, against the U280 kernel.

The module :mod:`qaccel.rtl.fpga.pyxrt_standin` is bound as ``pyxrt`` in ``sys.modules`` and
attached to this simulation: an ``AxiLiteMaster`` on ``s_axi_control`` and an ``AxiRam`` as
the HBM behind ``m_axi_gmem`` (with the job's random pauses, as in
:mod:`~qaccel.rtl.fpga.tb_kernel`). The driver file is loaded from the plan folder as it is
(named in ``shell.json``) and its blocking ``run`` is bridged into the simulation with the
plan's simulation xclbin and tiles file (:func:`qaccel.rtl.fpga.tb_common.run_driver`).
Writes the driver's summary to ``report.json``.
"""

from __future__ import annotations

from typing import Any

import cocotb
from cocotb.task import resume

from qaccel.rtl.fpga import pyxrt_standin
from qaccel.rtl.fpga.tb_common import load_job, reset, run_driver
from qaccel.rtl.fpga.tb_kernel import attach


@cocotb.test()
async def xrt_driver(dut: Any) -> None:
    folder, job, options = load_job()
    axil, ram = attach(dut, job.seed, job.gap, job.stall)
    await reset(dut)
    pyxrt_standin.attach(axil, ram, resume)
    await run_driver(folder, options["driver"], "pyxrt", pyxrt_standin, options["xclbin"],
                     options["tiles_file"])
