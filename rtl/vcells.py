"""Components of the Verilog that Amaranth (yosys' ``write_verilog``) emits, for activity pricing.

yosys writes one cell per statement, so each module of an exported design reads as

* ``assign LHS = RHS;`` with at most one operator in RHS: ``a * b`` (multiplier), ``a + b``,
  ``a - b``, unary ``- a`` (adder), ``a < b`` and friends (comparator, priced as an adder),
  ``a << b`` / ``>>`` / ``>>>`` (a shifter when ``b`` is a signal, wiring when a constant),
  ``s ? a : b`` (2:1 mux), ``a & b``, ``|``, ``^``, ``~ a``, ``! a``, reductions, ``==``
  (logic); no operator: a wire (slices, concatenations, constants);
* ``always @*`` blocks of blocking assignments under ``if`` / ``case``: multiplexers (a target
  assigned ``n`` times is ``n - 1`` 2:1 mux-bits per bit);
* ``always @(posedge clk)`` blocks: registers (their targets);
* ``\\module instance ( .port(expr), ... );``: submodule instances (the Amaranth hierarchy);
* ``reg [w] name [depth];``: memories.

:func:`parse_verilog` turns the text into :class:`VModule` records. It parses this subset only
(the output of ``qaccel.rtl.export.verilog_text``), not Verilog in general.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Ref", "Cell", "VModule", "parse_verilog", "refs_in", "CELL_KINDS"]

#: kinds of :class:`Cell` (``wire``: no logic; ``register``: flip-flops; ``memory``: a
#: memory's read port)
CELL_KINDS = ("mult", "add", "compare", "shift", "mux", "logic", "register", "wire", "memory")

_IDENT = r"(?:\\\S+|(?<![\w$'\\])[A-Za-z_][\w$]*)"
_REF = re.compile(rf"({_IDENT})(?:\s*\[(\d+)(?::(\d+))?\])?")
_LITERAL = re.compile(r"\d*'s?[bhdoBHDO][0-9a-fA-FxXzZ_?]+|\b\d+\b")
_KEYWORDS = {"if", "else", "case", "casez", "casex", "endcase", "begin", "end", "default",
             "signed", "unsigned", "posedge", "negedge", "always", "assign"}
_DECL = re.compile(r"^\s*(input|output|inout|wire|reg)\s+(?:signed\s+)?(?:\[(\d+):(\d+)\]\s*)?"
                   rf"({_IDENT})\s*(\[[^\]]*\])?\s*(?:=[^;]*)?;")
_INSTANCE = re.compile(rf"^\s*({_IDENT})\s+({_IDENT})\s*\($")
_BINARY = ("<<<", ">>>", "<<", ">>", "==", "!=", "<=", ">=", "&&", "||", "^~", "~^",
           "*", "+", "-", "<", ">", "&", "|", "^")


@dataclass(frozen=True)
class Ref:
    """Bits ``lo..hi`` (inclusive) of ``signal``; ``hi = -1``: the whole signal."""

    signal: str
    lo: int = 0
    hi: int = -1


@dataclass(frozen=True)
class Cell:
    """One component: ``kind`` (:data:`CELL_KINDS`), the signals it drives, the signal bits it
    reads (constants excluded), and its size: ``widths`` (operand widths of a multiplier, the
    adder/comparator width, (data width, amount width) of a shifter, the bits of a register or
    logic cell) and ``mux_bits`` (2:1 mux-bits of a mux)."""

    kind: str
    outputs: tuple[str, ...]
    inputs: tuple[Ref, ...]
    widths: tuple[int, ...] = ()
    mux_bits: int = 0
    text: str = ""


@dataclass
class VModule:
    """A module: signal widths (unit: bits), memories (name -> bits), cells, and instances
    (instance name -> module name)."""

    name: str
    signals: dict[str, int] = field(default_factory=dict)
    memories: dict[str, int] = field(default_factory=dict)
    cells: list[Cell] = field(default_factory=list)
    instances: dict[str, str] = field(default_factory=dict)


def _name(token: str) -> str:
    return token[1:] if token.startswith("\\") else token


def refs_in(expr: str) -> list[Ref]:
    """Signal references of ``expr`` (slices kept; keywords and literals skipped)."""
    out = []
    for m in _REF.finditer(expr):
        name = _name(m.group(1))
        if name in _KEYWORDS:
            continue
        if m.group(2) is None:
            out.append(Ref(name))
        else:
            hi = int(m.group(2))
            lo = int(m.group(3)) if m.group(3) is not None else hi
            out.append(Ref(name, min(lo, hi), max(lo, hi)))
    return out


def _strip_operands(expr: str) -> str:
    """``expr`` with references, literals, casts, brackets and commas removed: its operators."""
    s = _REF.sub(" ", expr)
    s = _LITERAL.sub(" ", s).replace("$signed", " ").replace("$unsigned", " ")
    return re.sub(r"[\s(){},]", "", s)


def _split_top(expr: str, op: str) -> tuple[str, str]:
    """``expr`` split at its first ``op`` outside brackets (and outside escaped names)."""
    depth, i = 0, 0
    while i < len(expr):
        ch = expr[i]
        if ch == "\\":  # escaped identifier: up to the next whitespace
            while i < len(expr) and not expr[i].isspace():
                i += 1
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and expr.startswith(op, i) and (i > 0 and expr[:i].strip()):
            return expr[:i], expr[i + len(op):]
        i += 1
    raise ValueError(f"operator {op!r} not found at the top level of {expr!r}")


def _is_const(expr: str) -> bool:
    return not refs_in(expr)


def _is_zero(expr: str) -> bool:
    s = expr.replace("$signed", "").replace("$unsigned", "")
    s = re.sub(r"[\s()]", "", s)
    m = re.fullmatch(r"\d*'s?[bhdo]([0-9a-fA-F_]+)|(\d+)", s)
    return bool(m) and set(m.group(1) or m.group(2)) <= {"0", "_"}


class _Widths:
    def __init__(self, signals: dict[str, int], memories: dict[str, int]) -> None:
        self.signals, self.memories = signals, memories

    def ref(self, r: Ref) -> int:
        return self.signals.get(r.signal, 1) if r.hi < 0 else r.hi - r.lo + 1

    def expr(self, expr: str) -> int:
        """Bits an operand expression reads (references only; constants count 0)."""
        return sum(self.ref(r) for r in refs_in(expr))


def _assign_cell(lhs: str, rhs: str, w: _Widths, text: str) -> Cell:
    outs = tuple(r.signal for r in refs_in(lhs))
    out_bits = sum(w.ref(r) for r in refs_in(lhs))
    ins = tuple(refs_in(rhs))
    ops = _strip_operands(rhs)
    if not ops:
        return Cell("wire", outs, ins, (out_bits,), text=text)
    if ops == "[]":  # a dynamic index: a memory read port or a mux over a signal's slices
        base = refs_in(rhs)[0].signal
        if base in w.memories:
            return Cell("memory", outs, ins, (out_bits,), text=text)
        n = max(w.signals.get(base, 1) // max(out_bits, 1), 2)
        return Cell("mux", outs, ins, (out_bits,), mux_bits=(n - 1) * out_bits, text=text)
    if ops == "?:":
        return Cell("mux", outs, ins, (out_bits,), mux_bits=out_bits, text=text)
    body = rhs.strip()
    if body[0] in "-~!|&^" and ops in ("-", "~", "!", "|", "&", "^", "~&", "~|", "~^"):
        bits = w.expr(body[1:])
        if ops == "-":
            return Cell("add", outs, ins, (bits,), text=text)
        gates = bits if ops in ("~", "!") else max(bits - 1, 1)
        return Cell("logic", outs, ins, (gates,), text=text)
    op = next((o for o in _BINARY if o == ops), None)
    if op is None:
        raise ValueError(f"Cannot classify the Verilog statement {text!r}: operators {ops!r}")
    left, right = _split_top(rhs, op)
    wl, wr = w.expr(left), w.expr(right)
    if op == "*":
        return Cell("mult", outs, ins, (max(wl, 1), max(wr, 1)), text=text)
    if op in ("+", "-"):
        if _is_zero(left) or _is_zero(right):
            return Cell("wire", outs, ins, (out_bits,), text=text)
        return Cell("add", outs, ins, (max(wl, wr),), text=text)
    if op in ("<<", ">>", ">>>", "<<<"):
        if _is_const(right):
            return Cell("wire", outs, ins, (out_bits,), text=text)
        return Cell("shift", outs, ins, (max(wl, 1), wr), text=text)
    if op in ("<", ">", "<=", ">="):
        if _is_const(left) or _is_const(right):  # against a constant: a gate tree
            return Cell("logic", outs, ins, (max(wl, wr, 2) - 1,), text=text)
        return Cell("compare", outs, ins, (max(wl, wr),), text=text)
    if op in ("==", "!="):
        return Cell("logic", outs, ins, (2 * max(wl, wr) - 1,), text=text)
    if op in ("&&", "||"):
        return Cell("logic", outs, ins, (1,), text=text)
    return Cell("logic", outs, ins, (out_bits,), text=text)


def _block_cell(kind: str, body: str, w: _Widths) -> Cell:
    """An ``always`` block: a register (posedge) or a mux (``@*``)."""
    body = re.sub(r"\(\*.*?\*\)", " ", body)  # attributes such as (* full_case = 32'd1 *)
    assigns = re.findall(rf"({_IDENT}(?:\s*\[[^\]]*\])?)\s*(<=|=)(?!=)", body)
    counts: dict[str, int] = {}
    for lhs, _ in assigns:
        for r in refs_in(lhs):
            counts[r.signal] = counts.get(r.signal, 0) + 1
    if kind == "register":  # a memory's write port is the memory's, not a register
        counts = {s: n for s, n in counts.items() if s not in w.memories}
    outs = tuple(counts)
    bits = sum(w.signals.get(s, 1) for s in outs)
    if kind == "register":
        return Cell("register", outs, (), (bits,), text=body.strip())
    ins = tuple(r for r in refs_in(body) if r.signal not in counts
                and not r.signal.startswith("$auto$verilog_backend"))
    mux_bits = sum((n - 1) * w.signals.get(s, 1) for s, n in counts.items())
    if mux_bits == 0:
        return Cell("wire", outs, ins, (bits,), text=body.strip())
    return Cell("mux", outs, ins, (bits,), mux_bits=mux_bits, text=body.strip())


def _block_end(lines: list[str], i: int) -> int:
    """Index after the statement or ``begin ... end`` block that starts at ``lines[i]``."""
    depth = 0
    while i < len(lines):
        tokens = re.findall(r"\b(begin|end|case[zx]?|endcase)\b", lines[i])
        for t in tokens:
            depth += 1 if t in ("begin", "case", "casez", "casex") else -1
        i += 1
        if depth <= 0 and (tokens or lines[i - 1].rstrip().endswith(";")):
            return i
    return i


def parse_verilog(text: str) -> dict[str, VModule]:
    """Modules of ``text`` by name (escapes removed)."""
    modules: dict[str, VModule] = {}
    mod: VModule | None = None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("module "):
            mod = VModule(_name(stripped.split()[1].split("(")[0]))
            modules[mod.name] = mod
            while not lines[i].rstrip().endswith(";"):  # a port list over several lines
                i += 1
            i += 1
            continue
        if mod is None or not stripped or stripped.startswith("(*"):
            i += 1
            continue
        if stripped == "endmodule":
            mod = None
            i += 1
            continue
        decl = _DECL.match(line)
        if decl:
            name = _name(decl.group(4))
            bits = int(decl.group(2)) - int(decl.group(3)) + 1 if decl.group(2) else 1
            if decl.group(5):  # memory: reg [w] name [a:b]
                depth = [int(x) for x in re.findall(r"\d+", decl.group(5))]
                mod.memories[name] = bits * (abs(depth[0] - depth[-1]) + 1)
            else:
                mod.signals[name] = max(mod.signals.get(name, 0), bits)
            i += 1
            continue
        w = _Widths(mod.signals, mod.memories)
        if stripped.startswith("assign "):
            lhs, rhs = stripped[len("assign "):].rstrip(";").split(" = ", 1)
            mod.cells.append(_assign_cell(lhs, rhs, w, stripped))
            i += 1
            continue
        if stripped.startswith("always @"):
            kind = "register" if "posedge" in stripped else "mux"
            end = _block_end(lines, i if stripped.endswith("begin") else i + 1)
            mod.cells.append(_block_cell(kind, "\n".join(lines[i + 1:end]), w))
            i = end
            continue
        if stripped.startswith("initial"):
            i = _block_end(lines, i)
            continue
        inst = _INSTANCE.match(line)
        if inst:
            mod.instances[_name(inst.group(2))] = _name(inst.group(1))
            while i < len(lines) and lines[i].strip() != ");":
                i += 1
            i += 1
            continue
        raise ValueError(f"Cannot parse line {i + 1} of the Verilog: {line!r}")
    return modules
