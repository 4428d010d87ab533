"""Verilator lint (``--lint-only -Wall``) of the exported Verilog, with named waivers.

:data:`WAIVERS` is the checked-in waiver list: every Verilator warning we accept, with why.
All of them come from how Amaranth's Verilog backend writes code, not from the design; the
list is turned into a Verilator control file (:func:`waivers_vlt`) and nothing else is
switched off. ``tests/rtl/test_lint.py`` lints several array sizes with it and also checks
that every waiver is still needed.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from qaccel.rtl.controller import ArrayTop
from qaccel.rtl.export import verilog_text
from qaccel.rtl.verilator import SimulatorMissing

__all__ = ["WAIVERS", "LintResult", "lint", "waivers_vlt"]

#: Verilator rule -> why it is waived for Amaranth-generated Verilog.
WAIVERS: dict[str, str] = {
    "WIDTHEXPAND": "Amaranth writes operands at their natural widths and lets Verilog's "
                   "context rules extend them (e.g. `$signed(p_in) + $signed(product)` with a "
                   "33-bit result, `state == 1'h1` on a 2-bit enum); the Amaranth semantics "
                   "are defined on those extensions.",
    "WIDTHTRUNC": "Amaranth tests multi-bit values with `!x` and assigns the low bits of its "
                  "full-width intermediates (the +1 bit of every addition) to narrower "
                  "signals; truncation is the Amaranth `.eq()` semantics.",
    "UNUSEDSIGNAL": "Amaranth keeps every named Python-level signal and memory-port field as a "
                    "wire for debugging even where the logic reads an equal net under another "
                    "name, and its `$N` intermediates are full width where only low bits are "
                    "used.",
    "PROCASSINIT": "Amaranth gives every register its reset value as a declaration initializer "
                   "(`reg done = 1'h0;`, the power-up value FPGA flows use) and also assigns "
                   "it procedurally; both are intended.",
    "DECLFILENAME": "Amaranth writes the whole hierarchy (top, core, every PE) into one file, "
                    "so at most one of its modules can match the file name (we name the file "
                    "after the top).",
}


def waivers_vlt() -> str:
    """:data:`WAIVERS` as a Verilator control file (justifications as comments)."""
    lines = ["`verilator_config"]
    for rule, why in WAIVERS.items():
        lines += [f"// {rule}: {why}", f"lint_off -rule {rule}"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class LintResult:
    """Outcome of one lint run: ``warnings`` are Verilator's ``%Warning-`` / ``%Error`` lines."""

    design: str
    returncode: int
    warnings: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return self.returncode == 0 and not self.warnings

    def rules(self) -> set[str]:
        """The warning rules that fired (``WIDTHEXPAND`` ...)."""
        return {w.split(":", 1)[0].removeprefix("%Warning-") for w in self.warnings
                if w.startswith("%Warning-")}


def lint(top: ArrayTop, *, waivers: bool = True) -> LintResult:
    """Run ``verilator --lint-only -Wall`` on ``top``'s Verilog (with :data:`WAIVERS`)."""
    name = top.design.name
    with tempfile.TemporaryDirectory(prefix="qaccel-lint-") as tmp:
        folder = Path(tmp)
        source = folder / f"{name}.v"  # file named after the module (DECLFILENAME)
        source.write_text(verilog_text(top))
        files = [str(source)]
        if waivers:
            (folder / "waivers.vlt").write_text(waivers_vlt())
            files.insert(0, str(folder / "waivers.vlt"))
        try:
            proc = subprocess.run(["verilator", "--lint-only", "-Wall", "--top-module", name,
                                   *files], capture_output=True, text=True, check=False)
        except FileNotFoundError:
            raise SimulatorMissing("Cannot lint because `verilator` is not on PATH") from None
    found = tuple(line for line in proc.stderr.splitlines()
                  if line.startswith(("%Warning", "%Error")))
    return LintResult(name, proc.returncode, found)
