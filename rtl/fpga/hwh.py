"""A small simulation ``.hwh`` (Vivado hardware handoff) of the PYNQ-Z2 block design.

Vivado writes the real one (``build_pynq.tcl`` copies it beside the bitstream). This one
describes the same block design as far as a PYNQ driver sees it: processing_system7 with a
memory map holding the shell's ``s_axi_control`` at :data:`~qaccel.rtl.fpga.vivado.
PYNQ_BASE_ADDRESS` and the AXI DMA, the shell module (its Verilog module name as MODTYPE,
``ap_clk`` / ``ap_rst_n``, one bus interface per AXI port with its port map, and the
register map under its address block), and the AXI DMA's two stream interfaces wired to the
shell. cocotbpynq reads it to stand in for pynq on the Verilated shell.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from qaccel.rtl.fpga.regmap import registers
from qaccel.rtl.fpga.vivado import (
    DMA_BASE_ADDRESS,
    DMA_INSTANCE,
    PS7_INSTANCE,
    PYNQ_ADDRESS_RANGE,
    PYNQ_BASE_ADDRESS,
    SHELL_INSTANCE,
)

__all__ = ["simulation_hwh", "AXIS_VLNV", "AXILITE_VLNV"]

AXIS_VLNV = "xilinx.com:interface:axis:1.0"
AXILITE_VLNV = "xilinx.com:interface:aximm:1.0"
#: the DMA's VLNV in the simulation handoff only (the real one comes from Vivado's catalog)
_SIM_DMA_VLNV = "xilinx.com:ip:axi_dma:sim"
_SIM_PS7_VLNV = "xilinx.com:ip:processing_system7:sim"

_LITE = ("AWADDR", "AWVALID", "AWREADY", "WDATA", "WSTRB", "WVALID", "WREADY", "BRESP",
         "BVALID", "BREADY", "ARADDR", "ARVALID", "ARREADY", "RDATA", "RRESP", "RVALID",
         "RREADY")
_STREAM_IN = ("TDATA", "TVALID", "TREADY", "TLAST")
_STREAM_OUT = ("TDATA", "TVALID", "TREADY", "TLAST", "TKEEP")


def _bus(parent: ET.Element, name: str, busname: str, kind: str, vlnv: str,
         ports: dict[str, str]) -> None:
    bus = ET.SubElement(parent, "BUSINTERFACE", BUSNAME=busname, NAME=name, TYPE=kind,
                        VLNV=vlnv)
    maps = ET.SubElement(bus, "PORTMAPS")
    for logical, physical in ports.items():
        ET.SubElement(maps, "PORTMAP", LOGICAL=logical, PHYSICAL=physical)


def simulation_hwh(top: str, port_widths: dict[str, tuple[str, int]], *,
                   clock_mhz: float = 100.0, modtype: str | None = None) -> str:
    """The handoff XML for shell module ``top`` with ports ``name -> (dir, width)``;
    ``modtype``: the module type recorded (the simulated top's name; default ``top``)."""
    hz = str(int(clock_mhz * 1e6))
    root = ET.Element("EDKSYSTEM", EDWVERSION="1.2", TIMESTAMP="qaccel", VIVADOVERSION="sim")
    ET.SubElement(root, "SYSTEMINFO", ARCH="zynq", BOARD="tul.com.tw:pynq-z2:part0:1.0",
                  DEVICE="7z020", NAME="qaccel_bd", PACKAGE="clg400", SPEEDGRADE="-1")
    ET.SubElement(root, "EXTERNALPORTS")
    modules = ET.SubElement(root, "MODULES")
    lite_bus, mm2s_bus, s2mm_bus = (f"{PS7_INSTANCE}_axi_periph_M00_AXI",
                                    f"{DMA_INSTANCE}_M_AXIS_MM2S", f"{SHELL_INSTANCE}_m_axis")

    ps7 = ET.SubElement(modules, "MODULE", FULLNAME=f"/{PS7_INSTANCE}", INSTANCE=PS7_INSTANCE,
                        MODTYPE="processing_system7", VLNV=_SIM_PS7_VLNV)
    memmap = ET.SubElement(ps7, "MEMORYMAP")
    ET.SubElement(memmap, "MEMRANGE", ADDRESSBLOCK="reg0", BASENAME="C_BASEADDR",
                  BASEVALUE=f"0x{PYNQ_BASE_ADDRESS:08X}", HIGHNAME="C_HIGHADDR",
                  HIGHVALUE=f"0x{PYNQ_BASE_ADDRESS + PYNQ_ADDRESS_RANGE - 1:08X}",
                  INSTANCE=SHELL_INSTANCE, IS_DATA="TRUE", IS_INSTRUCTION="TRUE",
                  MASTERBUSINTERFACE="M_AXI_GP0", MEMTYPE="REGISTER",
                  SLAVEBUSINTERFACE="s_axi_control")
    ET.SubElement(memmap, "MEMRANGE", ADDRESSBLOCK="Reg", BASENAME="C_BASEADDR",
                  BASEVALUE=f"0x{DMA_BASE_ADDRESS:08X}", HIGHNAME="C_HIGHADDR",
                  HIGHVALUE=f"0x{DMA_BASE_ADDRESS + 0xFFFF:08X}", INSTANCE=DMA_INSTANCE,
                  IS_DATA="TRUE", IS_INSTRUCTION="TRUE", MASTERBUSINTERFACE="M_AXI_GP0",
                  MEMTYPE="REGISTER", SLAVEBUSINTERFACE="S_AXI_LITE")

    shell = ET.SubElement(modules, "MODULE", FULLNAME=f"/{SHELL_INSTANCE}",
                          INSTANCE=SHELL_INSTANCE, MODTYPE=modtype or top,
                          VLNV=f"user:module_ref:{top}:1.0")
    params = ET.SubElement(shell, "PARAMETERS")
    ET.SubElement(params, "PARAMETER", NAME="C_BASEADDR", VALUE=f"0x{PYNQ_BASE_ADDRESS:08X}")
    blocks = ET.SubElement(ET.SubElement(shell, "ADDRESSBLOCKS"), "ADDRESSBLOCK",
                           ACCESS="read-write", INTERFACE="s_axi_control", NAME="reg0",
                           RANGE=str(PYNQ_ADDRESS_RANGE), USAGE="register")
    regs = ET.SubElement(blocks, "REGISTERS")
    for reg in registers("axis"):
        r = ET.SubElement(regs, "REGISTER", NAME=reg.name)
        for name, value in (("DESCRIPTION", reg.description),
                            ("ADDRESS_OFFSET", f"0x{reg.offset:X}"), ("SIZE", "32"),
                            ("ACCESS", reg.access)):
            ET.SubElement(r, "PROPERTY", NAME=name, VALUE=value)
        fields = ET.SubElement(r, "FIELDS")
        for bit in reg.bits:
            f = ET.SubElement(fields, "FIELD", NAME=bit.name)
            ET.SubElement(f, "PROPERTY", NAME="BIT_OFFSET", VALUE=str(bit.lsb))
            ET.SubElement(f, "PROPERTY", NAME="BIT_WIDTH", VALUE=str(bit.width))
    ports = ET.SubElement(shell, "PORTS")
    for name, (direction, width) in port_widths.items():
        attrs = {"DIR": "I" if direction == "in" else "O", "NAME": name, "SIGIS": "undef"}
        if width > 1:
            attrs.update(LEFT=str(width - 1), RIGHT="0")
        if name == "ap_clk":
            attrs.update(SIGIS="clk", CLKFREQUENCY=hz)
        elif name == "ap_rst_n":
            attrs.update(SIGIS="rst", POLARITY="ACTIVE_LOW")
        elif name == "interrupt":
            attrs.update(SIGIS="INTERRUPT", SENSITIVITY="LEVEL_HIGH")
        ET.SubElement(ports, "PORT", **attrs)
    buses = ET.SubElement(shell, "BUSINTERFACES")
    _bus(buses, "s_axi_control", lite_bus, "SLAVE", AXILITE_VLNV,
         {x: f"s_axi_control_{x.lower()}" for x in _LITE})
    _bus(buses, "s_axis", mm2s_bus, "TARGET", AXIS_VLNV,
         {x: f"s_axis_{x.lower()}" for x in _STREAM_IN})
    _bus(buses, "m_axis", s2mm_bus, "INITIATOR", AXIS_VLNV,
         {x: f"m_axis_{x.lower()}" for x in _STREAM_OUT})

    dma = ET.SubElement(modules, "MODULE", FULLNAME=f"/{DMA_INSTANCE}", INSTANCE=DMA_INSTANCE,
                        MODTYPE="axi_dma", VLNV=_SIM_DMA_VLNV)
    dma_buses = ET.SubElement(dma, "BUSINTERFACES")
    _bus(dma_buses, "M_AXIS_MM2S", mm2s_bus, "INITIATOR", AXIS_VLNV, {})
    _bus(dma_buses, "S_AXIS_S2MM", s2mm_bus, "TARGET", AXIS_VLNV, {})
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8" standalone="no" ?>\n' \
        + ET.tostring(root, encoding="unicode") + "\n"
