"""Energy of an array core from its signals' toggle counts: sum over components of (toggles of
their bits) x (per-bit energy from the component library).

Activity convention: every anchor of :mod:`qaccel.arch.components` is one operation of random
operands, in which each input bit toggles with probability ``RANDOM_TOGGLE_RATE`` (1/2). So a
combinational component whose ``B`` input bits (constants excluded) toggled ``T`` times in the
run costs ``E_anchor * T / (RANDOM_TOGGLE_RATE * B)``: a component whose inputs never change
costs nothing, one whose inputs toggle like random data every cycle costs its anchor every
cycle. Components (:mod:`qaccel.rtl.vcells`, one per Verilog statement):

* ``mult`` a x b bits: :func:`~qaccel.arch.components.int_mult`; ``add`` / ``compare`` of w
  bits (also negation, increments): :func:`~qaccel.arch.components.int_add`;
* ``shift`` (variable amount): :func:`~qaccel.arch.components.shifter`; ``mux`` (2:1 mux-bits):
  :func:`~qaccel.arch.components.mux2`; ``logic`` (gate bits, comparisons with a constant):
  :func:`~qaccel.arch.components.logic_gate`;
* ``register``: ``register_data``, :func:`~qaccel.arch.components.register_toggle_pj` per
  output toggle (toggles of the whole run, loads and drains included), plus its clock
  energy (:func:`~qaccel.arch.components.register_clock`) in one of two conventions:
  ``register_clock``, every flip-flop every busy cycle (no clock gating: an upper bound), or
  clock-gated, a register clocked only in the cycles where it changes, which number at least
  the most toggles of any one of its bits (``register_clock_gated_lo``) and at most the sum of
  its bits' toggles (``register_clock_gated_hi``), both capped at the busy cycles.

A cell identical to an earlier one of its module (same operator on the same operands, as
``$11`` and ``$12`` of a shifter feeding both the aligned value and its sticky bit) is priced
once, as synthesis merges it (yosys ``opt_merge``); ``merged`` lists them.

Unpriced, and listed with their bits: wires (slices, concatenations, constants, constant
shifts, additions of zero, ports: interconnect has no anchor), memory read ports, and signals
with no toggle data. Everything outside the ``core`` instance (the stream controller and its
tile buffers, SRAM priced by the SRAM model) is left out and listed as one line.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from qaccel.arch.components import (
    RANDOM_TOGGLE_RATE,
    Cost,
    int_add,
    int_mult,
    logic_gate,
    mux2,
    register_clock,
    register_toggle_pj,
    scale_to,
    shifter,
)
from qaccel.rtl.vcells import Cell, Ref, VModule, parse_verilog

__all__ = ["PricedCell", "Unpriced", "ActivityEnergy", "price_activity", "anchor_pj",
           "instance_paths", "group_of", "CORE", "CLOCKS"]

#: the array core's instance name under the top (PEs, edge units, skew)
CORE = "core"
#: clock conventions -> the register-clock kind each keeps
CLOCKS = {"ungated": "register_clock", "gated_lo": "register_clock_gated_lo",
          "gated_hi": "register_clock_gated_hi"}


@dataclass(frozen=True)
class PricedCell:
    """One priced component: instance path (under the top), kind, size, input bits and their
    toggles, output toggles (registers) and energy over the run at the node (unit: pJ)."""

    instance: str
    kind: str
    outputs: tuple[str, ...]
    widths: tuple[int, ...]
    input_bits: int
    input_toggles: int
    energy_pj: float


@dataclass(frozen=True)
class Unpriced:
    """Signals left unpriced: instance path, signal, bits, why."""

    instance: str
    signal: str
    bits: int
    reason: str


@dataclass
class ActivityEnergy:
    """Energy of the core over a run (unit: pJ at ``node_nm``), per component and per
    instance group; ``busy_cycles``: RUN cycles the clock energy is charged for;
    ``merged``: cells priced once with an identical earlier cell (bits 0)."""

    node_nm: int
    busy_cycles: int
    pes: int
    cells: list[PricedCell] = field(default_factory=list)
    unpriced: list[Unpriced] = field(default_factory=list)
    merged: list[Unpriced] = field(default_factory=list)

    def total_pj(self, *, pe_only: bool = False, kind: str | None = None,
                 clock: str = "ungated") -> float:
        """Energy of the core (or of its PE instances) over the run, optionally one kind's.
        ``clock``: :data:`CLOCKS` (``ungated``: every flip-flop every busy cycle; ``gated_lo``
        / ``gated_hi``: the clock-gated bounds)."""
        if clock not in CLOCKS:
            raise ValueError(f"clock must be one of {', '.join(CLOCKS)}, not {clock!r}")
        keep = CLOCKS[clock]
        return sum(c.energy_pj for c in self.cells
                   if (not pe_only or group_of(c.instance) == "pe")
                   and (c.kind == kind if kind is not None
                        else not c.kind.startswith("register_clock") or c.kind == keep))

    def per_pe_cycle(self, *, pe_only: bool = False, kind: str | None = None,
                     clock: str = "ungated") -> float:
        """pJ per PE per busy cycle (the core's edge units shared out when not ``pe_only``)."""
        return self.total_pj(pe_only=pe_only, kind=kind, clock=clock) / (
            self.pes * self.busy_cycles)

    def by_kind(self, *, pe_only: bool = False) -> dict[str, float]:
        """pJ per PE per busy cycle by component kind (registers as ``register_clock`` and
        ``register_data``)."""
        out: dict[str, float] = defaultdict(float)
        for c in self.cells:
            if pe_only and group_of(c.instance) != "pe":
                continue
            out[c.kind] += c.energy_pj / (self.pes * self.busy_cycles)
        return dict(out)

    def by_group(self) -> dict[str, float]:
        """pJ per PE per busy cycle by instance group under the core (indices replaced by
        ``#``: ``pe_#_#``; the core's own cells are ``(core)``; clock ungated)."""
        out: dict[str, float] = defaultdict(float)
        for c in self.cells:
            if c.kind.startswith("register_clock_gated"):
                continue
            out[_group_label(c.instance)] += c.energy_pj / (self.pes * self.busy_cycles)
        return dict(out)

    def unpriced_bits(self) -> dict[str, int]:
        """Bits left unpriced by reason."""
        out: dict[str, int] = defaultdict(int)
        for u in self.unpriced:
            out[u.reason] += u.bits
        return dict(out)


def _group_label(instance: str) -> str:
    parts = instance.split(".")
    if len(parts) < 2:
        return "(core)"
    return re.sub(r"\d+", "#", parts[1])


def group_of(instance: str) -> str:
    """``pe`` for an instance inside a PE (``core.pe_<r>_<c>[...]``), else its group label."""
    label = _group_label(instance)
    return "pe" if label == "pe_#_#" else label


def instance_paths(modules: dict[str, VModule], top: str) -> dict[str, str]:
    """Instance path (``""`` for the top, ``core``, ``core.pe_0_0``...) -> module name."""
    out: dict[str, str] = {}

    def walk(path: str, module: str) -> None:
        out[path] = module
        for inst, child in modules[module].instances.items():
            walk(f"{path}.{inst}" if path else inst, child)

    walk("", top)
    return out


def anchor_pj(cell: Cell) -> Cost:
    """The 45 nm cost of one random-operand operation of ``cell`` (not for registers)."""
    if cell.kind == "mult":
        return int_mult(*cell.widths)
    if cell.kind in ("add", "compare"):
        return int_add(max(cell.widths[0], 1))
    if cell.kind == "shift":
        return shifter(cell.widths[0], max(cell.widths[1], 1))
    if cell.kind == "mux":
        return mux2(cell.mux_bits)
    if cell.kind == "logic":
        return logic_gate(cell.widths[0])
    raise ValueError(f"Cannot price a {cell.kind!r} cell by its inputs")


def _ref_toggles(toggles: dict[str, np.ndarray], widths: dict[str, int],
                 ref: Ref) -> tuple[int, int] | None:
    """(bits, toggles) of ``ref``; None when its signal has no toggle data."""
    arr = toggles.get(ref.signal)
    if arr is None:
        return None
    if ref.hi < 0:
        return widths.get(ref.signal, len(arr)), int(arr.sum())
    return ref.hi - ref.lo + 1, int(arr[ref.lo:ref.hi + 1].sum())


def _price_module(path: str, module: VModule, toggles: dict[str, np.ndarray],
                  result: ActivityEnergy) -> None:
    scale = scale_to(Cost(1.0, 0.0), result.node_nm).energy_pj
    driven: set[str] = set()
    skipped: set[str] = set()
    merged: dict[str, tuple[str, ...]] = {}
    for cell in module.cells:
        if cell.kind in ("wire", "memory"):
            continue
        if cell.text.startswith("assign "):  # identical cells: one after synthesis
            rhs = " ".join(cell.text.split(" = ", 1)[1].split())
            if rhs in merged:
                driven.update(cell.outputs)
                result.merged.append(Unpriced(path, ",".join(cell.outputs), 0,
                                              f"same as {','.join(merged[rhs])}"))
                continue
            merged[rhs] = cell.outputs
        if cell.kind == "register":
            bits = cell.widths[0]
            missing = [s for s in cell.outputs if s not in toggles]
            if missing:
                continue
            out_t = sum(int(toggles[s].sum()) for s in cell.outputs)
            lo = min(max(int(toggles[s].max(initial=0)) for s in cell.outputs),
                     result.busy_cycles)
            hi = min(out_t, result.busy_cycles)
            clock = register_clock(bits).energy_pj * scale
            driven.update(cell.outputs)
            result.cells += [
                PricedCell(path, "register_clock", cell.outputs, (bits,), 0, 0,
                           clock * result.busy_cycles),
                PricedCell(path, "register_clock_gated_lo", cell.outputs, (bits,), 0, lo,
                           clock * lo),
                PricedCell(path, "register_clock_gated_hi", cell.outputs, (bits,), 0, hi,
                           clock * hi),
                PricedCell(path, "register_data", cell.outputs, (bits,), 0, out_t,
                           out_t * register_toggle_pj() * scale)]
            continue
        seen = [_ref_toggles(toggles, module.signals, r) for r in cell.inputs]
        if not seen or any(s is None for s in seen):
            skipped.update(cell.outputs)
            continue
        bits = sum(s[0] for s in seen if s is not None)
        t = sum(s[1] for s in seen if s is not None)
        e = anchor_pj(cell).energy_pj * t / (RANDOM_TOGGLE_RATE * bits) * scale if bits else 0.0
        driven.update(cell.outputs)
        result.cells.append(PricedCell(path, cell.kind, cell.outputs, cell.widths, bits, t, e))
    reasons = {s: c.kind for c in module.cells if c.kind in ("wire", "memory")
               for s in c.outputs}
    for signal, bits in module.signals.items():
        if signal in driven or signal.startswith("$auto$verilog_backend"):
            continue
        if signal not in toggles:
            why = "no toggle data"
        elif signal in skipped:
            why = "logic whose inputs have no toggle data"
        elif reasons.get(signal) == "memory":
            why = "memory read port"
        elif signal in reasons:
            why = "wire (slice, concatenation, constant, constant shift, + 0)"
        else:
            why = "port or alias (priced where driven)"
        result.unpriced.append(Unpriced(path, signal, bits, why))
    for name, bits in module.memories.items():
        result.unpriced.append(Unpriced(path, name, bits, "memory"))


def price_activity(verilog: str, top: str, toggles: dict[tuple[str, str], np.ndarray], *,
                   busy_cycles: int, pes: int, node_nm: int = 28) -> ActivityEnergy:
    """Price the ``core`` instance of ``top`` in ``verilog`` from Verilator ``toggles``
    (keys ``(TOP.<top>.<path>, signal)``) over a run of ``busy_cycles`` RUN cycles."""
    if busy_cycles < 1 or pes < 1:
        raise ValueError(f"busy_cycles and pes must be >= 1, not {busy_cycles} and {pes}")
    modules = parse_verilog(verilog)
    paths = instance_paths(modules, top)
    if CORE not in paths:
        raise ValueError(f"Cannot price the array core because {top} has no {CORE!r} instance")
    per_instance: dict[str, dict[str, np.ndarray]] = defaultdict(dict)
    prefix = f"TOP.{top}"
    for (hier, signal), arr in toggles.items():
        if hier == prefix or hier.startswith(prefix + "."):
            per_instance[hier[len(prefix) + 1:]][signal] = arr
    result = ActivityEnergy(node_nm, busy_cycles, pes)
    outside = 0
    for path, module in paths.items():
        if path == CORE or path.startswith(CORE + "."):
            _price_module(path, modules[module], per_instance.get(path, {}), result)
        else:
            outside += sum(modules[module].signals.values()) + sum(
                modules[module].memories.values())
    result.unpriced.append(Unpriced("(outside core)", "*", outside,
                                    "stream controller and tile buffers (not the PE array)"))
    return result
