"""cocotb test module: the generated ``qaccel_pynq.py``, unmodified, against the shell.

cocotbpynq stands in for the ``pynq`` package inside a cocotb test: its ``Overlay`` reads
``$HWH_LOCATION_DIR/<bitfile>.hwh`` (the plan's simulation handoff), finds the shell module
by its MODTYPE, starts ``ap_clk`` and resets ``ap_rst_n``; its ``MMIO`` drives
``s_axi_control`` and the DMA channels drive ``s_axis`` / ``m_axis``. The driver file is
loaded from the plan folder as it is (named in ``shell.json``), with the module name
``pynq`` bound to cocotbpynq, and its blocking ``run`` is bridged into the simulation.
Writes the driver's summary to ``report.json``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import cocotb
from cocotb.task import bridge

from qaccel.rtl.fpga.sim import SHELL_JSON
from qaccel.rtl.tb.job import PLUSARG


@cocotb.test()
async def pynq_driver(dut: Any) -> None:
    import cocotbpynq

    folder = Path(str(cocotb.plusargs[PLUSARG]))
    options = json.loads((folder / SHELL_JSON).read_text())
    sys.modules["pynq"] = cocotbpynq  # what `from pynq import ...` finds in the simulation
    spec = importlib.util.spec_from_file_location("qaccel_pynq", options["driver"])
    assert spec is not None and spec.loader is not None
    driver = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(driver)
    lines: list[str] = []
    summary = await bridge(driver.run)(options["bitfile"], options["tiles_file"],
                                       log=lines.append)
    summary["log"] = lines
    (folder / "report.json").write_text(json.dumps(summary, indent=1))
    assert summary["passed"], "\n".join(lines)
