"""Resource estimate of a shell on a board with yosys, and the fit verdict.

``synth_xilinx -family xc7`` (PYNQ-Z2) or ``-family xcup`` (U280), or ``synth_ecp5``
(ULX3S), flattened, out of context (no I/O buffers); the cells are grouped into LUTs
(LUTRAM and SRL cells by the LUTs they occupy), flip-flops, DSP slices and block RAM (a
RAMB18 is half a BRAM36). No Xilinx place-and-route is installable, so these are
post-synthesis figures. A design fits when every resource stays within its timing-closure
limit (:data:`qaccel.rtl.fpga.boards.CLOSURE_LIMITS`) of the board's capacity.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from qaccel.arch.spec import PEArray
from qaccel.rtl.fpga.boards import CLOSURE_LIMITS, RESOURCES, Board
from qaccel.rtl.fpga.sim import create_kernel, create_shell, shell_verilog
from qaccel.rtl.synth import _cells, _yosys

__all__ = ["Estimate", "estimate", "max_array", "cell_resources"]

_XILINX = """read_verilog {src}
synth_xilinx -flatten -top {top} -family {family} -noiopad -noclkbuf
delete t:$scopeinfo
tee -q -o {out} stat
"""
_ECP5 = """read_verilog {src}
synth_ecp5 -flatten -top {top}
delete t:$scopeinfo
tee -q -o {out} stat
"""
#: LUTs a LUTRAM / shift-register cell occupies
_LUT_CELLS = {**{f"LUT{i}": 1 for i in range(1, 7)}, "RAM32X1S": 1, "RAM64X1S": 1,
              "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1S": 2, "RAM128X1D": 4, "RAM256X1S": 4,
              "RAM256X1D": 8, "RAM32M": 4, "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8,
              "SRL16E": 1, "SRLC32E": 1, "LUT4": 1, "TRELLIS_DPR16X4": 2, "CCU2C": 2}
_FF_CELLS = ("FDRE", "FDSE", "FDCE", "FDPE", "TRELLIS_FF")
_DSP_CELLS = ("DSP48E1", "DSP48E2", "MULT18X18D")
_BRAM_CELLS = {"RAMB36E1": 1.0, "RAMB36E2": 1.0, "RAMB18E1": 0.5, "RAMB18E2": 0.5,
               "DP16KD": 1.0}


def cell_resources(cells: dict[str, int]) -> dict[str, float]:
    """Cell counts from ``stat`` grouped into :data:`RESOURCES`."""
    return {"lut": sum(n * _LUT_CELLS[c] for c, n in cells.items() if c in _LUT_CELLS),
            "ff": sum(n for c, n in cells.items() if c in _FF_CELLS),
            "dsp": sum(n for c, n in cells.items() if c in _DSP_CELLS),
            "bram": sum(n * _BRAM_CELLS[c] for c, n in cells.items() if c in _BRAM_CELLS)}


@dataclass(frozen=True)
class Estimate:
    """Resources of one shell on one board, beside the capacity, and the verdict.

    ``used``/``capacity``: counts per resource; ``utilisation``: used / capacity (fraction);
    ``over``: for each resource past its closure limit, by how much (count over the limit).
    """

    board: str
    design: str
    family: str
    rows: int
    cols: int
    used: dict[str, float]
    capacity: dict[str, int]
    utilisation: dict[str, float]
    over: dict[str, float]
    seconds: float

    @property
    def fits(self) -> bool:
        return not self.over

    def verdict(self) -> str:
        if self.fits:
            return "fits"
        worst = ", ".join(f"{r.upper()} {self.used[r]:,.0f} is {self.over[r]:,.0f} over the "
                          f"{CLOSURE_LIMITS[r]:.0%} limit of {self.capacity[r]:,}"
                          for r in self.over)
        return f"does not fit: {worst}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fits": self.fits, "verdict": self.verdict(),
                "limits": dict(CLOSURE_LIMITS)}


def _synthesize(board: Board, verilog: str, top: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="qaccel-estimate-") as tmp:
        folder = Path(tmp)
        (folder / "top.v").write_text(verilog)
        if board.synth_family:
            script = _XILINX.format(src="top.v", top=top, family=board.synth_family,
                                    out="stat.txt")
        else:
            script = _ECP5.format(src="top.v", top=top, out="stat.txt")
        _yosys(script, folder)
        return cell_resources(_cells((folder / "stat.txt").read_text()))


def estimate(board: Board, params: PEArray) -> Estimate:
    """Synthesize the shell (U280: the AXI4-master kernel) around ``params``'s array for
    ``board``; resources and verdict."""
    start = time.perf_counter()
    shell = create_kernel(params) if board.shell == "maxi" else create_shell(params)
    used = _synthesize(board, shell_verilog(shell), shell.name)
    util = {r: used[r] / board.capacity[r] for r in RESOURCES}
    over = {r: used[r] - CLOSURE_LIMITS[r] * board.capacity[r] for r in RESOURCES
            if util[r] > CLOSURE_LIMITS[r]}
    return Estimate(board.name, shell.name, params.family, params.rows, params.cols, used,
                    dict(board.capacity), util, over, time.perf_counter() - start)


def max_array(board: Board, make: Callable[[int], PEArray], *, limit: int = 64,
              on_step: Callable[[Estimate], None] | None = None) -> Estimate | None:
    """The largest square array ``make(side)`` that fits ``board`` (sides 1..``limit`` that
    ``make`` accepts: a family may need even sides): doubling from the second buildable
    side, then bisection; None when not even the smallest fits."""
    from qaccel.errors import ConfigError

    sides = []
    for side in range(1, limit + 1):
        try:
            make(side)
        except (ConfigError, ValueError):
            continue  # a size the family's RTL does not build
        sides.append(side)
    if not sides:
        return None

    def fits(i: int) -> Estimate:
        est = estimate(board, make(sides[i]))
        if on_step:
            on_step(est)
        return est

    best: Estimate | None = None
    lo, hi, i = -1, len(sides), min(1, len(sides) - 1)
    while i < len(sides):
        est = fits(i)
        if not est.fits:
            hi = i
            break
        best, lo = est, i
        i = 2 * i + 1
    if lo < 0 and hi > 0:  # the second side did not fit: try the first
        est = fits(0)
        if not est.fits:
            return None
        best, lo = est, 0
    elif lo < 0:
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        est = fits(mid)
        if est.fits:
            best, lo = est, mid
        else:
            hi = mid
    return best
