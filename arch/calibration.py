"""Array area calibrated to our own synthesized RTL.

Model, per family (fitted in ``python -m qaccel.rtl.calibrate`` to yosys ASIC estimates of
the family's array cores, stored with the yosys version in :data:`CALIBRATION_FILE`)::

    area(R, C) = A_pe * R * C * (pe_factor + log_factor * log2(R))
                 + row_um2 * R + col_um2 * C                                  (unit: µm²)

``A_pe`` is the family's analytic PE area (``pe_cost()``: Horowitz's 45 nm adders and
multipliers, Stillmaker-Baas scaled to the node), so ``pe_factor`` is what synthesis says
that component list misses (registers, shifters, muxes, decode logic: dimensionless);
``log_factor`` is the growth of a PE with the number of rows (synthesized weight-stationary
arrays: an 8x4 array is 13-29 % larger than a 4x8 one, while 4x8 and 4x4 cost the same per
PE: the partial sums run down the rows).
``row_um2`` / ``col_um2`` are the edge units and skew registers per array row / column
(fitted at 28 nm, scaled to other nodes with the area factor). Family parameters other than
the synthesized one (lanes, weight format, bits) move ``A_pe``; their edge units are assumed
to equal the synthesized variant's.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

from qaccel.arch.components import TECH_SCALE, scale_to

__all__ = ["calibrated_area_um2", "design_row", "calibration", "CALIBRATION_FILE",
           "COEFFICIENTS"]

#: synthesized points, fitted coefficients and the yosys version that made them
CALIBRATION_FILE = Path(__file__).with_name("area_calibration.json")


@lru_cache(maxsize=1)
def calibration() -> dict[str, Any]:
    """The stored calibration (``{"yosys", "node_nm", "families": {family: {"points",
    "fit"}}}``); empty families when the file is absent."""
    if not CALIBRATION_FILE.is_file():
        return {"families": {}}
    return json.loads(CALIBRATION_FILE.read_text())


#: the fitted coefficients, in :func:`design_row` order
COEFFICIENTS = ("pe_factor", "log_factor", "row_um2", "col_um2")


def design_row(pe: Any, area_factor: float) -> list[float]:
    """The model's regressors for array ``pe`` at a node of ``area_factor`` (area relative
    to 45 nm): [A_pe R C, A_pe R C log2(R) (µm²), R, C]."""
    a_pe_rc = pe.pe_cost().area_um2 * area_factor * pe.rows * pe.cols
    return [a_pe_rc, a_pe_rc * math.log2(pe.rows), float(pe.rows), float(pe.cols)]


def calibrated_area_um2(pe: Any, node_nm: int) -> float | None:
    """Calibrated logic area of array ``pe`` at ``node_nm`` (unit: µm²), or None when its
    family has no fit stored."""
    fit = calibration()["families"].get(pe.family, {}).get("fit")
    if fit is None:
        return None
    scale_to(pe.pe_cost(), node_nm)   # refuses a node without scaling anchors (ConfigError)
    factor = TECH_SCALE[node_nm][1]
    edge_scale = factor / TECH_SCALE[28][1]
    x = design_row(pe, factor)
    scale = (1.0, 1.0, edge_scale, edge_scale)
    return sum(fit[k] * v * s for k, v, s in zip(COEFFICIENTS, x, scale, strict=True))
