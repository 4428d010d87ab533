"""Verilator lint (``--lint-only -Wall``) of the exported Verilog, with per-signal waivers.

Each family has a checked-in waiver file next to its RTL, ``rtl/pe/<family>.vlt``: one
``lint_off -rule R -file "*" -match "..."`` line per waived signal / expression form, grouped
under a ``// [category]`` comment; :data:`CATEGORIES` gives each category's reason. No rule is
switched off for a whole file: a warning on a signal or an expression form that no waiver
names fails the lint.

Every waived form comes from how Amaranth's Verilog backend writes code, not from the design:
:func:`classify` maps a Verilator message to its category and match pattern (digits in names
and all widths become ``*``, so one line covers every array size), and returns ``None`` for
anything else (an assignment that truncates, a port of wrong width ...), which can never be
waived that way. ``tests/rtl/test_lint.py`` lints :func:`lint_designs` of every family with
its file (clean) and without it (every waiver line still matches a warning: none is stale).
:func:`write_waivers` regenerates a family's file (``python -m qaccel.rtl.lint FAMILY``).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from qaccel.arch.pe.registry import level_module
from qaccel.arch.spec import PEArray
from qaccel.rtl.controller import ArrayTop
from qaccel.rtl.export import verilog_text
from qaccel.rtl.verilator import SimulatorMissing

__all__ = ["CATEGORIES", "LintResult", "lint", "classify", "waiver_path", "waiver_lines",
           "wildcard_match", "lint_designs", "write_waivers"]

#: waiver category -> why warnings of that form are accepted
CATEGORIES: dict[str, str] = {
    "register-init": "Amaranth declares every register with its reset value as initializer "
                     "(`reg done = 1'h0;`, the power-up value FPGA flows load) and assigns it "
                     "again in the reset branch; both are intended (X power-up is checked "
                     "separately with the initializers stripped).",
    "debug-name": "Amaranth keeps each named Python-level signal as a wire for waveform "
                  "debugging even where the logic reads an equal net under an internal "
                  "`$N` name, or where a port field (memory address, data) is part of a "
                  "signature the module does not read; no logic is lost.",
    "partial-use": "Only some bits of this signal are read by design (the sign bit of a "
                   "widened sum, the high half of a packed word, the tag bits of a row); "
                   "the rest are kept for the waveform.",
    "intermediate": "Amaranth's internal `$N` / `$signal` / `$signature` nets hold the full "
                    "width of an operation (the +1 bit of every addition) where the next "
                    "operation reads only the low bits; the truncation is Amaranth's `.eq()` "
                    "semantics, written as an explicit slice.",
    "operand-extension": "Amaranth writes operands at their natural widths (constants at "
                         "their minimal width, `$signed()` operands, the narrower side of a "
                         "comparison or sum) and lets Verilog's context rules zero- or "
                         "sign-extend them; Amaranth's arithmetic is defined on exactly those "
                         "extensions, so nothing is lost.",
    "lognot": "Amaranth writes the test `x == 0` of a multi-bit value as `!x`, which Verilog "
              "defines as the logical negation of the whole vector (true only when every bit "
              "is 0).",
    "hierarchy": "Amaranth writes the whole hierarchy into one file and names submodules "
                 "`<top>.<path>`; only the top can match the file name.",
}

_NAME = r"'(?P<name>[^']*)'"
#: (rule, message regex, category or None to pick by name, pattern template)
_FORMS: list[tuple[str, re.Pattern[str], str | None, str]] = [
    ("PROCASSINIT", re.compile(rf"Procedural assignment to declaration with initial value: "
                               rf"{_NAME}$"), "register-init",
     "Procedural assignment to declaration with initial value: '{name}'"),
    ("UNUSEDSIGNAL", re.compile(rf"Signal is not used: {_NAME}$"), None,
     "Signal is not used: '{name}'"),
    ("UNUSEDSIGNAL", re.compile(rf"Bits of signal are not used: {_NAME}\[[\d:,]+\]$"), None,
     "Bits of signal are not used: '{name}'[*]"),
    ("WIDTHEXPAND", re.compile(r"Operator (?P<op>\w+) expects \d+ bits on the (?P<side>[LR]HS),"
                               r" but (?P=side)'s (?P<kind>\w+)(?: '(?P<name>.*)')? generates "
                               r"\d+ bits\.$"), "operand-extension",
     "Operator {op} expects * bits on the {side}, but {side}'s {kind}{quoted} generates * bits."),
    ("WIDTHTRUNC", re.compile(r"Logical operator LOGNOT expects 1 bit on the LHS, but LHS's "
                              r"(?P<kind>\w+)(?: " + _NAME + r")? generates \d+ bits\.$"),
     "lognot", "Logical operator LOGNOT expects 1 bit on the LHS, but LHS's {kind}{quoted} "
               "generates * bits."),
    ("DECLFILENAME", re.compile(r"Filename '[^']*' does not match MODULE name: '[^'.]+\.[^']+'$"),
     "hierarchy", "Filename '*' does not match MODULE name: '*.*'"),
]


def _normal_name(name: str) -> str:
    """A signal name with every digit run as ``*`` (one waiver for every size / index)."""
    return re.sub(r"\d+", "*", name)


def classify(rule: str, message: str) -> tuple[str, str] | None:
    """``(category, match pattern)`` of one Verilator warning, or ``None`` when its form is
    not an accepted Amaranth idiom (such a warning must be fixed, not waived)."""
    for form_rule, regex, category, template in _FORMS:
        found = regex.match(message) if form_rule == rule else None
        if not found:
            continue
        fields = found.groupdict()
        name = fields.get("name")
        if name is not None:
            fields["name"] = _normal_name(name)
        if category is None:
            category = "intermediate" if name.startswith("$") else (
                "debug-name" if message.startswith("Signal") else "partial-use")
        if rule == "WIDTHEXPAND" and fields["kind"] == "CONST":
            fields["name"] = "*"
        elif rule.startswith("WIDTH") and name is not None and name.startswith("$"):
            fields["name"] = "$*"  # an internal net: its `$` name varies with the design
        fields["quoted"] = "" if fields.get("name") is None else f" '{fields['name']}'"
        return category, template.format(**fields)
    return None


def waiver_path(family: str) -> Path:
    """The family's checked-in waiver file, ``rtl/pe/<family>.vlt``."""
    module = level_module(family, "rtl")
    return Path(module.__file__).with_suffix(".vlt")


def wildcard_match(pattern: str, text: str) -> bool:
    """Verilator's ``-match`` semantics: ``*`` any run, ``?`` one character, all else
    literal (``[`` included)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.S) is not None


_LINE = re.compile(r'^lint_off -rule (?P<rule>\w+) -file "\*" -match "(?P<match>.*)"$')


def waiver_lines(text: str) -> list[tuple[str, str, str]]:
    """``(category, rule, match)`` of each ``lint_off`` line of a waiver file; raises
    ``ValueError`` for a line outside a known ``// [category]`` or of another shape."""
    out, category = [], None
    for number, line in enumerate(text.splitlines(), 1):
        head = re.match(r"^// \[(?P<cat>[\w-]+)\]", line)
        if head:
            category = head["cat"]
            if category not in CATEGORIES:
                raise ValueError(f"line {number}: unknown waiver category {category!r}")
        elif line.startswith("lint_off"):
            found = _LINE.match(line)
            if not found or category is None:
                raise ValueError(f"line {number}: a waiver must be `lint_off -rule R -file "
                                 f"\"*\" -match \"...\"` under a `// [category]`: {line!r}")
            out.append((category, found["rule"], found["match"]))
    return out


@dataclass(frozen=True)
class LintResult:
    """Outcome of one lint run: ``warnings`` are Verilator's ``%Warning-`` / ``%Error`` lines;
    ``messages`` the ``(rule, message)`` of each warning."""

    design: str
    returncode: int
    warnings: tuple[str, ...]
    messages: tuple[tuple[str, str], ...] = ()

    @property
    def clean(self) -> bool:
        return self.returncode == 0 and not self.warnings

    def rules(self) -> set[str]:
        """The warning rules that fired (``WIDTHEXPAND`` ...)."""
        return {rule for rule, _ in self.messages}


_WARNING = re.compile(r"^%Warning-(?P<rule>\w+): [^:]+:\d+:\d+: (?P<message>.*)$")


def lint(top: ArrayTop, *, waivers: bool = True, family: str | None = None) -> LintResult:
    """Run ``verilator --lint-only -Wall`` on ``top``'s Verilog with its family's waiver file
    (``family``: taken from ``top.design.params`` when not given)."""
    name = top.design.name
    if family is None:
        family = str(top.design.params["family"])
    with tempfile.TemporaryDirectory(prefix="qaccel-lint-") as tmp:
        folder = Path(tmp)
        source = folder / f"{name}.v"
        source.write_text(verilog_text(top))
        files = [str(source)]
        if waivers:
            files.insert(0, str(waiver_path(family)))
        try:
            proc = subprocess.run(["verilator", "--lint-only", "-Wall", "--top-module", name,
                                   *files], capture_output=True, text=True, check=False)
        except FileNotFoundError:
            raise SimulatorMissing("Cannot lint because `verilator` is not on PATH") from None
    lines = proc.stderr.splitlines()
    found = tuple(line for line in lines if line.startswith(("%Warning", "%Error")))
    messages = tuple((m["rule"], m["message"]) for m in map(_WARNING.match, lines) if m)
    return LintResult(name, proc.returncode, found, messages)


#: array sizes :func:`lint_designs` tries (1x1 degenerates counters; 4x3 is non-square)
LINT_SIZES = ((1, 1), (2, 1), (4, 3))


def lint_designs(family: str) -> list[PEArray]:
    """The designs a family's waivers are generated from and checked against: each distinct
    preset PE (and the family module's ``LINT_FIELDS``), each dataflow and preload its RTL
    builds, at :data:`LINT_SIZES`."""
    from qaccel.cli.rtl import preset_pe_variants, rtl_params
    from qaccel.errors import ConfigError

    variants = [{k: v for k, v in p.to_dict().items()
                 if k not in ("family", "rows", "cols", "dataflow", "preload")}
                for p in preset_pe_variants(family)]
    variants += list(getattr(level_module(family, "rtl"), "LINT_FIELDS", []))
    out, seen = [], set()
    for fields in variants:
        for flow in ("ws", "is", "os"):
            for preload in ("serial", "overlapped"):
                for rows, cols in LINT_SIZES:
                    try:
                        params = rtl_params(family, rows, cols, flow,
                                            {**fields, "preload": preload})
                    except ConfigError:
                        continue
                    key = repr(params)
                    if key not in seen:
                        seen.add(key)
                        out.append(params)
    return out


def write_waivers(family: str) -> Path:
    """Regenerate ``rtl/pe/<family>.vlt`` from the warnings of :func:`lint_designs` without
    waivers; raises ``ValueError`` listing every warning :func:`classify` does not accept."""
    from qaccel.rtl.export import create_top

    by_category: dict[str, dict[tuple[str, str], None]] = {c: {} for c in CATEGORIES}
    rejected: list[str] = []
    for params in lint_designs(family):
        for rule, message in lint(create_top(params), waivers=False).messages:
            found = classify(rule, message)
            if found is None:
                rejected.append(f"{rule}: {message}")
            else:
                by_category[found[0]][(rule, found[1])] = None
    if rejected:
        raise ValueError("warnings that are not Amaranth idioms (fix them):\n"
                         + "\n".join(sorted(set(rejected))))
    lines = ["`verilator_config",
             f"// Lint waivers (-Wall) of the {family} RTL, one per signal / expression",
             "// form (regenerate: python -m qaccel.rtl.lint FAMILY; see qaccel/rtl/lint.py)."]
    for category, entries in by_category.items():
        if not entries:
            continue
        lines += ["", f"// [{category}] {CATEGORIES[category]}"]
        lines += [f'lint_off -rule {rule} -file "*" -match "{match}"'
                  for rule, match in sorted(entries)]
    path = waiver_path(family)
    path.write_text("\n".join(lines) + "\n")
    return path


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(write_waivers(name))
