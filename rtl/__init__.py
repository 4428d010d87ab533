"""RTL of the PE arrays: Amaranth generators, cocotb testbenches, lint and synthesis.

Modules (docs/rtl.md has the protocol, the cycle counting and how to add a family):

- :mod:`qaccel.rtl.core`        the plug-in boundary: ``CoreSpec`` and the core signature
- :mod:`qaccel.rtl.controller`  ``ArrayTop``: buffers, LOAD / RUN / DRAIN, ``cycles``
- :mod:`qaccel.rtl.systolic`    the stationary-operand systolic grid any PE plugs into
- :mod:`qaccel.rtl.pe`          one module per family (``create(params)`` ...)
- :mod:`qaccel.rtl.export`      Verilog (``qaccel rtl verilog``)
- :mod:`qaccel.rtl.verify`      tiles against ``golden()``/``timing()`` on Verilator or Amaranth
- :mod:`qaccel.rtl.tb`          driver, monitors, model, scoreboard, cocotb test module
- :mod:`qaccel.rtl.lint`        ``verilator --lint-only -Wall`` with the waiver list
- :mod:`qaccel.rtl.synth`       ``synth_report()``: gate equivalents, 28 nm area, xc7 cells

The names below are loaded on first use, so importing a submodule stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["create_top", "verilog_text", "verify", "synth_report", "lint"]

_LAZY = {"create_top": "qaccel.rtl.export", "verilog_text": "qaccel.rtl.export",
         "verify": "qaccel.rtl.verify", "synth_report": "qaccel.rtl.synth",
         "lint": "qaccel.rtl.lint"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'qaccel.rtl' has no attribute {name!r}")
