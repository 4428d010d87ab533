"""Verilog export of a family's array top (``qaccel rtl verilog``)."""

from __future__ import annotations

from pathlib import Path

from amaranth.back import verilog

from qaccel.arch.pe.registry import level_module
from qaccel.arch.spec import PEArray
from qaccel.rtl.controller import ArrayTop

__all__ = ["create_top", "verilog_text", "write_if_changed"]


def create_top(params: PEArray, *, buffer_rows: int = 256, max_tiles: int = 16) -> ArrayTop:
    """The array top of ``params``'s family (its ``rtl/pe/<family>.py`` ``create``)."""
    return level_module(params.family, "rtl").create(params, buffer_rows=buffer_rows,
                                                     max_tiles=max_tiles)


def verilog_text(top: ArrayTop) -> str:
    """Verilog of ``top``, module named ``top.design.name``; no source paths (reproducible)."""
    return verilog.convert(top, name=top.design.name, emit_src=False)


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` unless ``path`` already holds it (keeps mtimes, so builds are reused)."""
    if path.is_file() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return True
