"""FPGA targets (DESIGN.md "FPGA", docs/fpga.md, ``qaccel fpga``).

:mod:`~qaccel.rtl.fpga.regmap` (the one register map and stream word format),
:mod:`~qaccel.rtl.fpga.shell` (the AXI shell around any family's array top),
:mod:`~qaccel.rtl.fpga.datapath` (the control slave, beat assembler and output drain the shell
and the kernel share),
:mod:`~qaccel.rtl.fpga.kernel` (the U280 RTL kernel: AXI4-Lite control and the AXI4 master
of :mod:`~qaccel.rtl.fpga.axi_master`; Vitis files in :mod:`~qaccel.rtl.fpga.vitis`, the
XRT driver in :mod:`~qaccel.rtl.fpga.xrt_driver`, tested through
:mod:`~qaccel.rtl.fpga.pyxrt_standin` by :mod:`~qaccel.rtl.fpga.tb_kernel` and
:mod:`~qaccel.rtl.fpga.tb_xrt`, sharing :mod:`~qaccel.rtl.fpga.scoreboard`),
:mod:`~qaccel.rtl.fpga.boards`, :mod:`~qaccel.rtl.fpga.plan` (build projects: Vivado TCL in
:mod:`~qaccel.rtl.fpga.vivado`, drivers in :mod:`~qaccel.rtl.fpga.drivers` with the lines
they share in :mod:`~qaccel.rtl.fpga.driver_text`, the simulation
handoff in :mod:`~qaccel.rtl.fpga.hwh`), :mod:`~qaccel.rtl.fpga.estimate` (yosys resources
and the fit verdict), :mod:`~qaccel.rtl.fpga.ecp5` (the ULX3S bitstream), and the checks:
:mod:`~qaccel.rtl.fpga.sim` with the cocotb modules :mod:`~qaccel.rtl.fpga.tb_shell`
(cocotbext-axi) and :mod:`~qaccel.rtl.fpga.tb_pynq` (cocotbpynq), their shared setup
:mod:`~qaccel.rtl.fpga.tb_common`, and
:mod:`~qaccel.rtl.fpga.tclcheck` (TCL in tclsh).
"""
