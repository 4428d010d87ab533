"""The AXI shell on Verilator with cocotbext-axi: real-layer tiles of every family with RTL,
bit-exact against golden(), CYCLES against timing() (per tile for one-tile batches, the sum
for full batches), under random stream pauses."""

from __future__ import annotations

import pytest

from qaccel.rtl.fpga.layers import layer_tiles
from qaccel.rtl.fpga.sim import create_shell, run_shell_test
from tests.fpga.support import BUILD_ROOT, FAMILIES, shell_params
from tests.rtl.support import require_tool

pytestmark = pytest.mark.rtl

#: real-layer tiles per family through the shell (the issue's minimum is 100)
SHELL_TILES = 100
#: of those, the first run one per batch, where CYCLES is each tile's own timing()
SINGLE_TILES = 10
#: probability per cycle that s_axis / m_axis pauses (cocotbext-axi pause generators)
PAUSE = 0.2


def _run(family: str, tiles: int, **kw: object) -> dict:
    require_tool("verilator")
    params = shell_params(family)
    return run_shell_test(create_shell(params), params, layer_tiles(params, tiles),
                          test_module="qaccel.rtl.fpga.tb_shell", build_root=BUILD_ROOT, **kw)


@pytest.mark.parametrize("family", FAMILIES)
def test_layer_tiles_through_the_shell(family: str) -> None:
    report = _run(family, SHELL_TILES, gap=PAUSE, stall=PAUSE, seed=3,
                  options={"single": SINGLE_TILES})
    assert report["passed"], report["mismatches"][:10]
    assert report["tiles_checked"] == report["cycles_compared"] == SHELL_TILES
    assert report["batches"] > SINGLE_TILES


def test_a_fault_on_the_stream_is_reported() -> None:
    """One activation bit flipped on s_axis after the golden words were made."""
    report = _run("systolic_int8", 4, options={"flip": [0, "a", 0, 0x1]})
    assert not report["passed"]
    assert report["mismatches"][0].startswith("batch 0: result words differ from golden()")
    assert any(m.startswith("tile 0: values differ from golden()")
               for m in report["mismatches"])
