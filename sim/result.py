"""The simulation result: one row per layer (DESIGN.md "Simulation result contract")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qaccel.arch.cost import ENERGY_COLUMNS

__all__ = ["SimResult", "COLUMNS", "SUM_COLUMNS", "TOTAL_INPUTS", "column_totals"]

#: columns of :attr:`SimResult.frame`, in order. ``kv_rd_bytes`` / ``kv_wr_bytes``: the KV
#: cache a layer reads and writes under a ``kv_format`` (``qaccel.sim.kv``; 0 otherwise), in
#: DRAM or the KV buffer, wherever it lives (also counted in the DRAM or SRAM columns).
#: ``hidden_cycles``: a vector layer's cycles run under the next GEMM (``vector_unit.schedule:
#: overlapped``; taken off its ``total_cycles``, so total = compute + stall - hidden). Cycle
#: columns are counts of cycles (SCALE-Sim prints the 0-based index of a layer's last cycle:
#: our ``compute_cycles`` - 1).
COLUMNS = (
    "layer", "op", "M", "K", "N", "gemms", "family", "fmt", "dataflow",
    "loop_order", "stream_tile", "preload", "rows", "cols", "lanes",
    "folds", "macs", "compute_cycles", "stall_cycles", "total_cycles", "utilization",
    "sram_rd_bytes", "sram_wr_bytes", "dram_rd_bytes", "dram_wr_bytes", "dram_bytes",
    "kv_rd_bytes", "kv_wr_bytes", "hidden_cycles",
    *ENERGY_COLUMNS,
)
#: columns that add up over layers in :meth:`SimResult.totals`
SUM_COLUMNS = ("gemms", "folds", "macs", "compute_cycles", "stall_cycles", "total_cycles",
               "sram_rd_bytes", "sram_wr_bytes", "dram_rd_bytes", "dram_wr_bytes", "dram_bytes",
               "kv_rd_bytes", "kv_wr_bytes", "hidden_cycles", *ENERGY_COLUMNS)


#: the columns :func:`column_totals` reads
TOTAL_INPUTS = (*SUM_COLUMNS, "rows", "cols", "lanes")


def column_totals(columns: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Sums over layers of :data:`SUM_COLUMNS` (Python ints and floats; floats summed by
    NumPy, pairwise) and utilization = all MACs / all multiplier-cycles (sum over layers of
    total_cycles x rows x cols x lanes). ``columns``: column name -> per-layer values."""
    out: dict[str, Any] = {c: np.asarray(columns[c]).sum().item() for c in SUM_COLUMNS}
    cap = np.asarray(columns["total_cycles"], dtype=np.int64) * np.asarray(columns["rows"]) \
        * np.asarray(columns["cols"]) * np.asarray(columns["lanes"])
    capacity = int(cap.sum())
    out["utilization"] = out["macs"] / capacity if capacity else 0.0
    return out


@dataclass
class SimResult:
    """Per-layer results of one simulation.

    ``frame``: one row per layer, :data:`COLUMNS`. ``outputs``: layer name -> INT32 output
    ``[gemms, M, N]`` when values were simulated. ``events``: layer name -> operation counts
    (for the energy model).
    """

    frame: pd.DataFrame
    accel_name: str
    engine: str
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    events: dict[str, dict[str, int]] = field(default_factory=dict)

    def totals(self) -> dict[str, Any]:
        """Sums over layers; utilization = all MACs / all multiplier-cycles
        (sum over layers of total_cycles x rows x cols x lanes)."""
        return column_totals({c: self.frame[c].to_numpy() for c in TOTAL_INPUTS})

    def with_totals(self) -> pd.DataFrame:
        """``frame`` plus a last row named ``TOTAL``."""
        tot = self.totals()
        row = {c: tot.get(c, "") for c in self.frame.columns}
        row["layer"] = "TOTAL"
        frame = self.frame.astype({c: object for c in self.frame.columns if c not in tot})
        return pd.concat([frame, pd.DataFrame([row])], ignore_index=True)

    def to_parquet(self, path: str | Path) -> None:
        self.frame.to_parquet(path, index=False)
