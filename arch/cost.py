"""The first energy/area model: prices a layer's event counts and memory traffic.

- **PE energy**: every event a family's ``events()`` counts is priced by the family's
  ``event_costs()`` (45 nm component costs from :mod:`qaccel.arch.components`, scaled to the
  accelerator's node). Events whose name starts with ``decoder_`` go to the decoder column.
  Events priced ``None`` are counted but not priced (e.g. ``pe_cycles``: register/clock energy
  has no anchor yet, so it is left out rather than guessed).
- **SRAM energy**: per buffer, (read + write bits) / word_bits accesses x the access energy of
  an SRAM of that size and word width (:func:`~qaccel.arch.components.sram_access_pj`).
- **DRAM energy**: DRAM bits x ``dram.pj_per_bit``.
- **Area** (:func:`area_um2`): the PE-array logic area of the model calibrated to our
  synthesized RTL (:mod:`qaccel.arch.calibration`: the analytic PE area ``pe_cost()`` times a
  fitted factor, plus fitted per-row and per-column edge units); families without a fit
  (no RTL) get :func:`analytic_area_um2`, R x C x ``pe_cost()``. SRAM macros are not in it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from qaccel.arch.components import Cost, scale_to, sram_access_pj
from qaccel.arch.spec import Accelerator

__all__ = ["ENERGY_COLUMNS", "counts_energy_pj", "EnergyModel", "energy_model", "area_um2",
           "array_area_um2", "analytic_area_um2", "BUFFER_OF_OPERAND", "UNPRICED_EVENTS"]

ENERGY_COLUMNS = ("energy_pj_pe", "energy_pj_sram", "energy_pj_dram", "energy_pj_decoder",
                  "energy_pj_total")
#: operand -> the buffer that holds it
BUFFER_OF_OPERAND = {"A": "input_buffer", "B": "weight_buffer", "O": "output_buffer"}
#: events the engines count for every family (clocked PE-cycles, array cycles): registers and
#: clock have no energy anchor yet, so they are reported, not priced
UNPRICED_EVENTS = ("pe_cycles", "array_cycles")


@lru_cache(maxsize=1024)
def _event_prices(pe: Any, node: int) -> dict[str, float | None]:
    """pJ per event of each kind the family prices, at ``node`` (None: counted, unpriced)."""
    return {name: None if cost is None else scale_to(cost, node).energy_pj
            for name, cost in pe.event_costs().items()}


def _sram_pj_per_bit(accel: Accelerator) -> dict[str, float]:
    """Operand -> pJ per bit of its buffer at the accelerator's node."""
    out = {}
    for op, attr in BUFFER_OF_OPERAND.items():
        buf = getattr(accel, attr)
        access = scale_to(Cost(sram_access_pj(buf.size_bytes, buf.word_bits), 0.0),
                          accel.tech.node_nm).energy_pj
        out[op] = access / buf.word_bits
    return out


class EnergyModel:
    """The energy coefficients of one accelerator with one array (its PEs under one
    dataflow), computed once: pJ per event of each name (``None``: counted, unpriced; the
    engines' ``pe_cycles`` / ``array_cycles`` among them) and whether it is a decoder event,
    pJ per bit of each operand's buffer, pJ per DRAM bit. :meth:`columns` prices counts."""

    __slots__ = ("family", "events", "sram_a", "sram_b", "sram_o", "dram_pj_per_bit",
                 "array_pj_per_cycle")

    def __init__(self, accel: Accelerator, pe: Any) -> None:
        self.family = pe.family
        #: event name -> (pJ per event or None, whether it goes to the decoder column)
        self.events: dict[str, tuple[float | None, bool]] = {
            name: (None, False) for name in UNPRICED_EVENTS}
        for name, price in _event_prices(pe, accel.tech.node_nm).items():
            self.events[name] = (price, name.startswith("decoder_"))
        per_bit = _sram_pj_per_bit(accel)
        self.sram_a, self.sram_b, self.sram_o = per_bit["A"], per_bit["B"], per_bit["O"]
        self.dram_pj_per_bit = accel.dram.pj_per_bit
        #: ``tech.pe_pj_per_cycle`` x the PEs (pJ per compute cycle), or None: event-priced
        per_pe = accel.tech.pe_pj_per_cycle
        self.array_pj_per_cycle = None if per_pe is None else per_pe * pe.rows * pe.cols

    def columns(self, counts: Any) -> dict[str, float]:
        """Energy columns (unit: pJ) of a :class:`~qaccel.sim.counts.GemmCounts` (traffic in
        bits, events by name); ``ValueError`` for an event the family does not price."""
        pe_pj = decoder_pj = 0.0
        known = self.events
        missing = []
        for name, count in counts.events.items():
            kind = known.get(name)
            if kind is None:
                missing.append(name)
                continue
            price, decoder = kind
            if price is None:
                continue
            if decoder:
                decoder_pj += price * count
            else:
                pe_pj += price * count
        if missing:
            raise ValueError(f"Cannot price events {sorted(set(missing))} of family "
                             f"{self.family!r} because its event_costs() does not list them")
        if self.array_pj_per_cycle is not None:     # a paper's accounting: all PEs, per cycle
            pe_pj = self.array_pj_per_cycle * counts.compute_cycles
        rd, wr = counts.sram_rd, counts.sram_wr
        sram_pj = ((rd.A + wr.A) * self.sram_a + (rd.B + wr.B) * self.sram_b
                   + (rd.O + wr.O) * self.sram_o)
        rd, wr = counts.dram_rd, counts.dram_wr               # counts.dram_bits, inlined
        dram_pj = (rd.A + rd.B + rd.O + wr.A + wr.B + wr.O) * self.dram_pj_per_bit
        return {"energy_pj_pe": pe_pj, "energy_pj_sram": sram_pj, "energy_pj_dram": dram_pj,
                "energy_pj_decoder": decoder_pj,
                "energy_pj_total": pe_pj + sram_pj + dram_pj + decoder_pj}


@lru_cache(maxsize=1024)
def energy_model(accel: Accelerator, pe: Any) -> EnergyModel:
    """The :class:`EnergyModel` of ``accel`` with the array ``pe`` (cached; the simulator's
    per-accelerator context keeps its own, so the hot path does not hash ``accel``)."""
    return EnergyModel(accel, pe)


def counts_energy_pj(accel: Accelerator, pe: Any, counts: Any) -> dict[str, float]:
    """Energy columns (unit: pJ) of a GEMM or layer from its :class:`~qaccel.sim.counts.
    GemmCounts` (traffic in bits, events by name) on ``pe`` (the array under the chosen
    dataflow). The engines' cycle events (``pe_cycles``, ``array_cycles``) are unpriced."""
    return energy_model(accel, pe).columns(counts)


def area_um2(accel: Accelerator) -> float:
    """PE-array logic area of ``accel`` at its node (unit: µm²); SRAM not included:
    :func:`array_area_um2` of its array."""
    return array_area_um2(accel.pe_array, accel.tech.node_nm)


def array_area_um2(pe: Any, node_nm: int) -> float:
    """Logic area of the R x C array ``pe`` at ``node_nm`` (unit: µm²): the model calibrated
    to our synthesized RTL (:mod:`qaccel.arch.calibration`) when ``pe``'s family has a fit,
    else R x C x the analytic PE area (``pe_cost()``)."""
    from qaccel.arch.calibration import calibrated_area_um2

    calibrated = calibrated_area_um2(pe, node_nm)
    if calibrated is not None:
        return calibrated
    return analytic_area_um2(pe, node_nm)


def analytic_area_um2(pe: Any, node_nm: int) -> float:
    """R x C x the family's analytic PE logic area (``pe_cost()``) at ``node_nm`` (µm²)."""
    return scale_to(pe.pe_cost(), node_nm).area_um2 * pe.rows * pe.cols
