"""The first energy/area model: prices a layer's event counts and memory traffic.

- **PE energy**: every event a family's ``events()`` counts is priced by the family's
  ``event_costs()`` (45 nm component costs from :mod:`qaccel.arch.components`, scaled to the
  accelerator's node). Events whose name starts with ``decoder_`` go to the decoder column.
  Events priced ``None`` are counted but not priced (e.g. ``pe_cycles``: register/clock energy
  has no anchor yet, so it is left out rather than guessed).
- **SRAM energy**: per buffer, (read + write bits) / word_bits accesses x the access energy of
  an SRAM of that size and word width (:func:`~qaccel.arch.components.sram_access_pj`).
- **DRAM energy**: DRAM bits x ``dram.pj_per_bit``.
- **Area** (:func:`area_um2`): R x C x the family's PE logic area (``pe_cost()``), scaled to
  the node; SRAM macros and registers are not in it yet (no anchor).
"""

from __future__ import annotations

from collections.abc import Mapping

from qaccel.arch.components import Cost, scale_to, sram_access_pj
from qaccel.arch.spec import Accelerator

__all__ = ["ENERGY_COLUMNS", "layer_energy_pj", "area_um2", "BUFFER_OF_OPERAND"]

ENERGY_COLUMNS = ("energy_pj_pe", "energy_pj_sram", "energy_pj_dram", "energy_pj_decoder",
                  "energy_pj_total")
#: operand -> the buffer that holds it
BUFFER_OF_OPERAND = {"A": "input_buffer", "B": "weight_buffer", "O": "output_buffer"}


def layer_energy_pj(accel: Accelerator, counts: Mapping[str, int],
                    events: Mapping[str, int]) -> dict[str, float]:
    """Energy columns (unit: pJ) of one layer from its traffic ``counts`` (bits, keys as in
    ``sim.fast.closed_form.gemm_traffic``) and its ``events``."""
    pe = accel.pe_array
    node = accel.tech.node_nm
    prices = pe.event_costs()
    missing = sorted(set(events) - set(prices))
    if missing:
        raise ValueError(f"Cannot price events {missing} of family {pe.family!r} because its "
                         f"event_costs() does not list them")
    pe_pj = decoder_pj = 0.0
    for name, count in events.items():
        cost = prices[name]
        if cost is None:
            continue
        pj = scale_to(cost, node).energy_pj * count
        if name.startswith("decoder_"):
            decoder_pj += pj
        else:
            pe_pj += pj
    sram_pj = 0.0
    for op, attr in BUFFER_OF_OPERAND.items():
        buf = getattr(accel, attr)
        access = scale_to(Cost(sram_access_pj(buf.size_bytes, buf.word_bits), 0.0),
                          node).energy_pj
        bits = counts[f"sram_rd_bits_{op}"] + counts[f"sram_wr_bits_{op}"]
        sram_pj += bits / buf.word_bits * access
    dram_pj = (counts["dram_rd_bits"] + counts["dram_wr_bits"]) * accel.dram.pj_per_bit
    return {"energy_pj_pe": pe_pj, "energy_pj_sram": sram_pj, "energy_pj_dram": dram_pj,
            "energy_pj_decoder": decoder_pj,
            "energy_pj_total": pe_pj + sram_pj + dram_pj + decoder_pj}


def area_um2(accel: Accelerator) -> float:
    """PE-array logic area of ``accel`` at its node (unit: µm²); SRAM not included."""
    pe = accel.pe_array
    return scale_to(pe.pe_cost(), accel.tech.node_nm).area_um2 * pe.rows * pe.cols
