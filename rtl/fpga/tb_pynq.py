"""cocotb test module: the generated ``qaccel_pynq.py``, unmodified, against the shell.

cocotbpynq stands in for the ``pynq`` package inside a cocotb test: its ``Overlay`` reads
``$HWH_LOCATION_DIR/<bitfile>.hwh`` (the plan's simulation handoff), finds the shell module
by its MODTYPE, starts ``ap_clk`` and resets ``ap_rst_n``; its ``MMIO`` drives
``s_axi_control`` and the DMA channels drive ``s_axis`` / ``m_axis``. The driver file is
loaded from the plan folder as it is (named in ``shell.json``), with the module name
``pynq`` bound to cocotbpynq, and its blocking ``run`` is bridged into the simulation
(:func:`qaccel.rtl.fpga.tb_common.run_driver`). Writes the driver's summary to
``report.json``.
"""

from __future__ import annotations

from typing import Any

import cocotb

from qaccel.rtl.fpga.tb_common import load_job, run_driver


@cocotb.test()
async def pynq_driver(dut: Any) -> None:
    import cocotbpynq

    folder, _, options = load_job()
    await run_driver(folder, options["driver"], "pynq", cocotbpynq, options["bitfile"],
                     options["tiles_file"])
