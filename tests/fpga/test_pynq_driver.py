"""The generated PYNQ driver, unmodified, on the Verilated shell through cocotbpynq
(issue 14, item 4): every family with RTL, real-layer tiles bit-exact against the golden
words the plan ships beside the driver, CYCLES against timing()."""

from __future__ import annotations

from pathlib import Path

import pytest

from qaccel.rtl.fpga.boards import BOARDS
from qaccel.rtl.fpga.drivers import PYNQ_DRIVER, TILES_FILE
from qaccel.rtl.fpga.plan import SIM_HWH, write_plan
from qaccel.rtl.fpga.sim import create_shell, run_shell_test
from tests.fpga.support import BUILD_ROOT, FAMILIES, shell_params
from tests.rtl.support import require_tool

pytestmark = pytest.mark.rtl

#: real-layer tiles the driver replays per family (the issue's minimum is 50)
DRIVER_TILES = 50


@pytest.mark.parametrize("family", FAMILIES)
def test_pynq_driver_runs_unmodified(family: str, tmp_path: Path) -> None:
    require_tool("verilator")
    params = shell_params(family)
    plan = write_plan(BOARDS["pynq-z2"], params, tmp_path, tiles=DRIVER_TILES, estimate=False)
    driver = plan.folder / PYNQ_DRIVER
    text = driver.read_text()
    report = run_shell_test(
        create_shell(params), params, [], test_module="qaccel.rtl.fpga.tb_pynq",
        build_root=BUILD_ROOT, pynq=True,
        options={"driver": str(driver), "bitfile": "qaccel.bit",
                 "tiles_file": str(plan.folder / TILES_FILE)},
        extra_env={"HWH_LOCATION_DIR": str((plan.folder / SIM_HWH).parent)})
    assert driver.read_text() == text  # the plan's file, as generated
    assert report["passed"], report["log"]
    assert report["tiles"] == DRIVER_TILES and not report["mismatches"]
    assert report["words_compared"] > 0
