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

__all__ = ["ENERGY_COLUMNS", "counts_energy_pj", "area_um2", "array_area_um2", "analytic_area_um2",
           "BUFFER_OF_OPERAND", "UNPRICED_EVENTS"]

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


@lru_cache(maxsize=1024)
def _sram_pj_per_bit(accel: Accelerator) -> dict[str, float]:
    """Operand -> pJ per bit of its buffer at the accelerator's node."""
    out = {}
    for op, attr in BUFFER_OF_OPERAND.items():
        buf = getattr(accel, attr)
        access = scale_to(Cost(sram_access_pj(buf.size_bytes, buf.word_bits), 0.0),
                          accel.tech.node_nm).energy_pj
        out[op] = access / buf.word_bits
    return out


def counts_energy_pj(accel: Accelerator, pe: Any, counts: Any) -> dict[str, float]:
    """Energy columns (unit: pJ) of a GEMM or layer from its :class:`~qaccel.sim.counts.
    GemmCounts` (traffic in bits, events by name) on ``pe`` (the array under the chosen
    dataflow). The engines' cycle events (``pe_cycles``, ``array_cycles``) are unpriced."""
    prices = _event_prices(pe, accel.tech.node_nm)
    missing = sorted(set(counts.events) - set(prices) - set(UNPRICED_EVENTS))
    if missing:
        raise ValueError(f"Cannot price events {missing} of family {pe.family!r} because its "
                         f"event_costs() does not list them")
    pe_pj = decoder_pj = 0.0
    for name, count in counts.events.items():
        price = prices.get(name)
        if price is None:
            continue
        if name.startswith("decoder_"):
            decoder_pj += price * count
        else:
            pe_pj += price * count
    per_bit = _sram_pj_per_bit(accel)
    sram_pj = sum((counts.sram_rd.get(op) + counts.sram_wr.get(op)) * per_bit[op]
                  for op in BUFFER_OF_OPERAND)
    dram_pj = counts.dram_bits * accel.dram.pj_per_bit
    return {"energy_pj_pe": pe_pj, "energy_pj_sram": sram_pj, "energy_pj_dram": dram_pj,
            "energy_pj_decoder": decoder_pj,
            "energy_pj_total": pe_pj + sram_pj + dram_pj + decoder_pj}


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
