"""Merge the modules of a Verilog design that are identical up to their names.

Amaranth emits one Verilog module per component *instance* (``core.pe_0_0``,
``core.pe_0_1``, ...), each with its own names for ports and internal wires
(``\\port$418$0``, ``\\$auto$verilog_backend...$23``). Yosys synthesizes every one of them.
:func:`dedup_verilog` gives each module a canonical text -- its escaped identifiers renamed
``\\n0``, ``\\n1``, ... in order of first appearance, its children named by their canonical
class and their connections renamed to the child's canonical port names -- and keeps one
module per distinct text, so that a hierarchical synthesis (``synth`` without ``-flatten``)
handles each distinct module once and ``stat -top`` multiplies by the instance counts.

Two modules that differ in anything but names (an edge PE whose unused output Amaranth
dropped, a constant) stay distinct: the merge never changes what is synthesized, only how
often. Input: the output of ``amaranth.back.verilog.convert`` (yosys ``write_verilog``: one
module header per line, one ``.port(expr)`` connection per line).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

__all__ = ["dedup_verilog", "Dedup"]

_MODULE = re.compile(r"^module (\S+) *\((.*?)\);\n(.*?)^endmodule\n", re.M | re.S)
_ESCAPED = re.compile(r"\\\S+ ")
_INSTANCE = re.compile(r"^(\s+)(\S+)\s+(\S+) \($")
_CONNECTION = re.compile(r"^(\s+)\.(\\\S+ |\w+)\((.*)\)(,?)$")


@dataclass
class Dedup:
    """A merged design: ``text`` (Verilog), ``top`` (its top module's name), ``classes``
    (distinct modules kept) and ``modules`` (modules in the input)."""

    text: str
    top: str
    classes: int
    modules: int
    members: dict[str, list[str]] = field(default_factory=dict)


def _key(name: str) -> str:
    """A module name as it appears in the header and in instances (escaped or plain)."""
    return name.strip()


def _children(body: str, names: set[str]) -> list[str]:
    found = []
    for line in body.splitlines():
        m = _INSTANCE.match(line)
        if m and _key(m.group(2)) in names:
            found.append(_key(m.group(2)))
    return found


def _order(modules: dict[str, tuple[str, str]]) -> list[str]:
    """Module names, children before parents."""
    names = set(modules)
    done: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for child in _children(modules[name][1], names):
            visit(child)
        done.append(name)

    for name in modules:
        visit(name)
    return done


def _canonical(ports: str, body: str, classes: dict[str, str],
               port_maps: dict[str, dict[str, str]]) -> tuple[str, dict[str, str]]:
    """The canonical header port list + body of one module, and its identifier map."""
    rename: dict[str, str] = {}

    def sub(m: re.Match[str]) -> str:
        tok = m.group(0)
        if tok not in rename:
            rename[tok] = f"\\n{len(rename)} "
        return rename[tok]

    head = _ESCAPED.sub(sub, ports + " ")
    out: list[str] = []
    lines = body.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = _INSTANCE.match(line)
        if m and _key(m.group(2)) in classes:
            child = _key(m.group(2))
            out.append(f"{m.group(1)}{classes[child]} {_ESCAPED.sub(sub, m.group(3) + ' ')[:-1]} (")
            conns = []
            i += 1
            while lines[i].strip() != ");":
                c = _CONNECTION.match(lines[i])
                if c is None:
                    raise ValueError(f"cannot read the connection {lines[i]!r}")
                port = port_maps[child].get(c.group(2), c.group(2))
                conns.append((port, _ESCAPED.sub(sub, c.group(3) + " ")[:-1]))
                i += 1
            conns.sort()
            out += [f"{m.group(1)}  .{p}({e}){',' if k < len(conns) - 1 else ''}"
                    for k, (p, e) in enumerate(conns)]
            out.append(f"{m.group(1)});")
        else:
            out.append(_ESCAPED.sub(sub, line + " ")[:-1] if "\\" in line else line)
        i += 1
    return head[:-1] + ");\n" + "\n".join(out) + "\n", rename


def dedup_verilog(text: str) -> Dedup:
    """Merge the modules of ``text`` (Amaranth's Verilog) that are identical up to names."""
    found = {_key(m.group(1)): (m.group(2), m.group(3)) for m in _MODULE.finditer(text)}
    if not found:
        raise ValueError("no module in the Verilog text")
    tops = [_key(m.group(1)) for m in _MODULE.finditer(text)
            if "(* top =  1  *)" in text[max(0, m.start() - 60):m.start()]]
    top = tops[0] if tops else next(iter(found))
    classes: dict[str, str] = {}            # module -> its class's module name
    port_maps: dict[str, dict[str, str]] = {}
    kept: dict[str, tuple[str, str]] = {}   # canonical text hash -> (class name, text)
    members: dict[str, list[str]] = {}
    for name in _order(found):
        ports, body = found[name]
        canon, rename = _canonical(ports, body, classes, port_maps)
        port_maps[name] = rename
        digest = hashlib.sha256(canon.encode()).hexdigest()
        if name == top:
            digest = "top"
        if digest not in kept:
            kept[digest] = (name, canon)
        classes[name] = kept[digest][0]
        members.setdefault(kept[digest][0], []).append(name)
    parts = [f"module {cls} (" + canon + "endmodule\n" for cls, canon in kept.values()]
    return Dedup(text="\n".join(parts), top=top, classes=len(kept), modules=len(found),
                 members=members)
