"""FPGA test helpers: where shell builds go, and the families with RTL."""

from __future__ import annotations

from pathlib import Path

from qaccel.arch.spec import PEArray
from qaccel.cli.rtl import rtl_families, rtl_params

#: Verilator builds of the shells (gitignored; reused between runs)
BUILD_ROOT = Path(__file__).resolve().parents[2] / "build" / "fpga"
#: every family with RTL, in registry order
FAMILIES = rtl_families()


def shell_params(family: str, side: int = 4) -> PEArray:
    """The ``side x side`` array of ``family`` the FPGA tests build (its paper preset's PE)."""
    return rtl_params(family, side, side, None)
