"""Energy and area of the BitMoD PE and its edge units (private to ``arch/pe/bitmod.py``),
from :mod:`qaccel.arch.components` at 45 nm, and the comparison with the paper's PE.

Inventory, with ``w = 11 + F`` (aligned activation magnitude), ``pmax`` the largest term shift
(4 for FP4, 2 for FP3), ``lw = w + pmax`` (a lane's product magnitude), ``acc`` the group
accumulator width and ``pw = acc + 11`` (the dequantized product):

=====================  ===========================  ===================================
unit (instances)       priced (anchored)            gates (estimate only, see below)
=====================  ===========================  ===================================
lane (lanes / PE)      negation: int add, lw + 1    term shifter: lw x stages(pmax) mux2
adder tree (1 / PE)    lanes - 1 int adds           --
group acc. (1 / PE)    int add, acc                 --
dequantizer (1 / PE)   int add, pw (11 per group)   acc AND2 (gating by the scale bit)
output unit (u / row)  FP32 add per group,          normalizer: pw x stages(pw) mux2
                       int add 11 per FP16 output
aligner (per column)   2 int adds of 5 bits         right shifter: w x stages(w) mux2
decoder (per row)      int add of the value width   value table + special: mux2
=====================  ===========================  ===================================

``stages(s)`` = bit length of s (a log shifter). Aligners and decoders: ``ceil(lanes/cpw)``
per column / row (one lane step of ``lanes`` weights every ``cpw`` cycles); output units:
``u = BitmodArray.out_units_per_row``.

**Priced** events (``event_costs``, ``pe_cost``) use anchored components only: integer adders
and the FP32 adder (Horowitz). Muxes, XOR/AND gates and registers have no anchor in
``components.py`` and are left out, like the other families' shifters. **Gates** are only
estimated for :func:`paper_comparison`: a 2:1 mux, XOR2 or AND2 costs a full-adder bit of
Horowitz's 32-bit adder (0.1 pJ, 137 µm² / 32) times its NanGate FreePDK45 cell area over
FA_X1's (MUX2_X1 1.862, XOR2_X1 1.596, AND2_X1 1.064, FA_X1 4.256 µm²; Horowitz's adders are
4.3-4.5 µm² per bit, i.e. one FA_X1), energy taken proportional to area. Registers and the
clock tree stay unpriced (the paper's 1221.6 µm² excludes registers too; its 0.56 pJ/cycle
does not say).
"""

from __future__ import annotations

from typing import Any

from qaccel.arch.components import Cost, fp_add, int_add, scale_to
from qaccel.arch.pe._bitmod_numerics import DEQUANT_CYCLES, term_tables, weight_ints

__all__ = ["event_costs", "pe_cost", "paper_comparison", "PAPER_PE", "mux2", "gate"]

#: the paper's PE (DESIGN.md "Energy/area model"): 28 nm, 1 GHz
PAPER_PE = {"node_nm": 28, "energy_pj_per_cycle": 0.56, "logic_area_um2": 1221.6,
            "area_with_registers_um2": 1793.7}
#: NanGate FreePDK45 typical cell areas (unit: µm²)
CELL_UM2 = {"FA_X1": 4.256, "MUX2_X1": 1.862, "XOR2_X1": 1.596, "AND2_X1": 1.064}
_ADDER_BIT = int_add(32) * (1 / 32)


def gate(cell: str, n: int) -> Cost:
    """``n`` cells of ``cell`` at 45 nm, as fractions of a full-adder bit (estimate)."""
    return _ADDER_BIT * (n * CELL_UM2[cell] / CELL_UM2["FA_X1"])


def mux2(n: int) -> Cost:
    return gate("MUX2_X1", n)


def shifter(width: int, max_shift: int) -> Cost:
    """A log shifter of ``width`` bits by 0..``max_shift`` (estimate)."""
    return mux2(width * max_shift.bit_length())


def _widths(pe: Any) -> dict[str, int]:
    ints, _ = weight_ints(pe.bits)
    _, shifts = term_tables(pe.bits, pe.cpw)
    w = 11 + pe.guard_bits
    pmax = int(shifts.max())
    return {"w": w, "pmax": pmax, "lw": w + pmax, "acc": pe.group_acc_bits,
            "pw": pe.group_acc_bits + DEQUANT_CYCLES,
            "vw": int(abs(ints).max()).bit_length()}


def _units(pe: Any) -> dict[str, tuple[Cost, Cost]]:
    """Per unit: (anchored cost, gate estimate) of one use (energy) / one instance (area)."""
    d = _widths(pe)
    tree = Cost(0.0, 0.0)
    width, n = d["lw"] + 1, pe.lanes
    while n > 1:
        tree = tree + int_add(width + 1) * (n // 2)
        width, n = width + 1, n // 2
    zero = Cost(0.0, 0.0)
    table = (2 ** (pe.bits - 1) + 1) * d["vw"]
    return {
        "lane": (int_add(d["lw"] + 1), shifter(d["lw"], d["pmax"])),
        "tree_acc": (tree + int_add(d["acc"]), zero),
        "dequant": (int_add(d["pw"]), gate("AND2_X1", d["acc"])),
        "out_add": (fp_add(32), shifter(d["pw"], d["pw"])),
        "out_round": (int_add(11), zero),
        "align": (int_add(5) * 2, shifter(d["w"], d["w"])),
        "decoder": (int_add(d["vw"]), mux2(table)),
    }


def event_costs(pe: Any) -> dict[str, Cost | None]:
    """45 nm energy of one event of each kind ``BitmodArray.events`` counts (anchored parts
    only; the engines' ``pe_cycles``/``array_cycles`` stay unpriced: no register anchor)."""
    u = {k: v[0] for k, v in _units(pe).items()}
    return {"lane_terms": u["lane"], "pe_steps": u["tree_acc"], "dequant_steps": u["dequant"],
            "out_adds": u["out_add"], "out_rounds": u["out_round"], "align": u["align"],
            "decoder_terms": u["decoder"]}


def _per_pe(pe: Any, gates: bool) -> Cost:
    """One PE with its share of the edge units: area of the instances, energy of one fully
    busy cycle (every lane on a real weight, groups of ``group_size`` back to back)."""
    units = {k: (a + g if gates else a) for k, (a, g) in _units(pe).items()}
    steps_per_cycle = pe.lanes / pe.cpw                    # weights entering a PE per cycle
    group_cycles = pe.group_cycles
    edge = -(-pe.lanes // pe.cpw)                          # aligners per column, decoders per row
    energy = (pe.lanes * units["lane"].energy_pj + units["tree_acc"].energy_pj
              + DEQUANT_CYCLES / group_cycles * units["dequant"].energy_pj
              + units["out_add"].energy_pj / group_cycles
              + steps_per_cycle / pe.rows * units["align"].energy_pj
              + steps_per_cycle / pe.cols * units["decoder"].energy_pj)
    area = (pe.lanes * units["lane"].area_um2 + units["tree_acc"].area_um2
            + units["dequant"].area_um2
            + pe.out_units_per_row * (units["out_add"].area_um2
                                      + units["out_round"].area_um2) / pe.cols
            + edge * units["align"].area_um2 / pe.rows
            + edge * units["decoder"].area_um2 / pe.cols)
    return Cost(energy, area)


def pe_cost(pe: Any) -> Cost:
    """Anchored parts of one PE at 45 nm (see :func:`_per_pe`)."""
    return _per_pe(pe, gates=False)


def paper_comparison(pe: Any) -> dict[str, float]:
    """This model's PE beside the paper's (28 nm): energy per busy cycle (pJ) and logic area
    (µm²), priced parts only and with the gate estimate, and their ratios to the paper."""
    node = PAPER_PE["node_nm"]
    out: dict[str, float] = {}
    for label, gates in (("priced", False), ("with_gates", True)):
        c = scale_to(_per_pe(pe, gates), node)
        out[f"energy_pj_{label}"] = c.energy_pj
        out[f"area_um2_{label}"] = c.area_um2
        out[f"energy_ratio_{label}"] = c.energy_pj / PAPER_PE["energy_pj_per_cycle"]
        out[f"area_ratio_{label}"] = c.area_um2 / PAPER_PE["logic_area_um2"]
    return out
