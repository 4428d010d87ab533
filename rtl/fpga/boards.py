"""The boards ``qaccel fpga`` targets: part, flow, shell, clock and capacity.

Capacities are the device totals from the vendors' data sheets (U280: per SLR, the device's
three SLRs taken as equal thirds). ``limits`` are the timing-closure utilisation limits the
fit verdict uses (LUT 70 %, FF 50 %, DSP and BRAM 80 %).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qaccel.errors import ConfigError

__all__ = ["Board", "BOARDS", "board", "RESOURCES", "CLOSURE_LIMITS"]

#: the resources an estimate counts, in table order
RESOURCES = ("lut", "ff", "dsp", "bram")
#: utilisation above which timing closure is not expected (fraction of the capacity)
CLOSURE_LIMITS = {"lut": 0.70, "ff": 0.50, "dsp": 0.80, "bram": 0.80}


@dataclass(frozen=True)
class Board:
    """One target board.

    ``flow``: ``vivado`` (block design + bitstream), ``vitis`` (RTL kernel + xclbin) or
    ``ecp5`` (the open flow); ``synth_family``: yosys ``synth_xilinx -family`` for the
    estimate (None: ``synth_ecp5``); ``capacity``: resources the design may use (per SLR on
    the U280; ``lut`` LUTs (LUTRAM included), ``ff`` flip-flops, ``dsp`` DSP48 / MULT18X18D
    slices, ``bram`` BRAM36 tiles (a RAMB18 counts half) / DP16KD blocks);
    ``clock_mhz``: the kernel clock the plan requests (unit: MHz).
    """

    name: str
    description: str
    part: str
    flow: str
    shell: str
    clock_mhz: float
    capacity: dict[str, int] = field(default_factory=dict)
    synth_family: str | None = None
    board_part: str | None = None
    platform: str | None = None
    memory_banks: int = 0


BOARDS: dict[str, Board] = {b.name: b for b in (
    Board("pynq-z2", "TUL PYNQ-Z2: Zynq-7020, PS7 with HP0, AXI DMA (DDR3 about 2.1 GB/s)",
          part="xc7z020clg400-1", flow="vivado", shell="axis", clock_mhz=100.0,
          capacity={"lut": 53_200, "ff": 106_400, "dsp": 220, "bram": 140},
          synth_family="xc7", board_part="tul.com.tw:pynq-z2:part0:1.0"),
    Board("u280", "AMD Alveo U280: Vitis RTL kernel (ap_ctrl_hs), HBM2 460 GB/s in 32 "
          "pseudo-channels; capacity per SLR", part="xcu280-fsvh2892-2L-e", flow="vitis",
          shell="maxi", clock_mhz=300.0,
          capacity={"lut": 434_560, "ff": 869_120, "dsp": 3_008, "bram": 672},
          synth_family="xcup", platform="xilinx_u280_gen3x16_xdma_1_202211_1",
          memory_banks=32),
    Board("ulx3s-85f", "Radiona ULX3S-85F: Lattice ECP5 LFE5U-85F, open flow (yosys, nextpnr, "
          "ecppack)", part="LFE5U-85F-6BG381C", flow="ecp5", shell="axis", clock_mhz=25.0,
          capacity={"lut": 83_640, "ff": 83_640, "dsp": 156, "bram": 208}),
)}


def board(name: str, path: str = "--board") -> Board:
    """The board called ``name``; a :class:`ConfigError` listing the boards otherwise."""
    try:
        return BOARDS[name]
    except KeyError:
        raise ConfigError.single(path, f"must be one of {', '.join(BOARDS)}, not {name!r}") \
            from None
