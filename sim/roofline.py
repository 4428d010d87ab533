"""Roofline: for each layer the compute bound, the memory bound and which one binds.

- **compute bound** (``compute_bound_cycles``): the cycles the array (or, for a vector layer,
  the vector unit) needs with DRAM infinitely fast: the layer's ``compute_cycles`` (the folds
  as the family's PEs run them, fill and drain and idle PEs included);
- **MAC bound** (``mac_bound_cycles``): ``ceil(MACs / (rows * cols * lanes))``, every
  multiplier busy every cycle (0 for vector layers); ``compute_bound_cycles`` is never below
  it for a family that does one MAC per multiplier per cycle;
- **memory bound** (``memory_bound_cycles``): ``ceil(dram_bytes * 8 / dram.bits_per_cycle)``,
  the DRAM busy every cycle;
- **bound**: ``compute`` when the compute bound is the larger, else ``memory``;
  ``total_cycles`` is at least both (``sim.plan.total_cycles``: they overlap except for the
  first fold's inputs and the last fold's outputs);
- **intensity** (``macs_per_dram_byte``): MACs per DRAM byte, the roofline's x axis; the
  chart's y axis is achieved MACs per cycle, under the roof ``min(rows * cols * lanes,
  intensity * DRAM bytes per cycle)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from qaccel.sim.plan import ceil_div

__all__ = ["roofline", "plot_roofline", "ROOFLINE_COLUMNS"]

ROOFLINE_COLUMNS = ("layer", "op", "macs", "dram_bytes", "macs_per_dram_byte",
                    "mac_bound_cycles", "compute_bound_cycles", "memory_bound_cycles",
                    "bound", "total_cycles")


def roofline(frame: pd.DataFrame, accel: Any) -> pd.DataFrame:
    """The roofline columns of a result frame (one row per layer, :data:`ROOFLINE_COLUMNS`)."""
    bpc = accel.dram.bits_per_cycle
    peak = frame["rows"] * frame["cols"] * frame["lanes"]
    out = pd.DataFrame({"layer": frame["layer"], "op": frame["op"], "macs": frame["macs"],
                        "dram_bytes": frame["dram_bytes"]})
    out["macs_per_dram_byte"] = [m / d if d else float("inf")
                                 for m, d in zip(frame["macs"], frame["dram_bytes"],
                                                 strict=True)]
    out["mac_bound_cycles"] = [ceil_div(int(m), int(p)) for m, p in zip(frame["macs"], peak,
                                                                         strict=True)]
    out["compute_bound_cycles"] = frame["compute_cycles"]
    out["memory_bound_cycles"] = [ceil_div(int(b) * 8, bpc) for b in frame["dram_bytes"]]
    out["bound"] = ["compute" if c >= m else "memory"
                    for c, m in zip(out["compute_bound_cycles"], out["memory_bound_cycles"],
                                    strict=True)]
    out["total_cycles"] = frame["total_cycles"]
    return out.reset_index(drop=True)


def plot_roofline(frame: pd.DataFrame, accel: Any, path: str | Path,
                  title: str | None = None) -> Path:
    """Write a roofline PNG: every GEMM layer at (MACs per DRAM byte, achieved MACs per
    cycle), coloured by the bound that binds, under the roof."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    roof = roofline(frame, accel)
    gemm = roof[(roof["macs"] > 0) & (roof["dram_bytes"] > 0)]
    pe = accel.pe_array
    peak = pe.rows * pe.cols * pe.lanes
    bw = accel.dram.bits_per_cycle / 8
    fig, ax = plt.subplots(figsize=(7.5, 5.0), dpi=110)
    lo = max(1e-3, float(gemm["macs_per_dram_byte"].min()) / 4) if len(gemm) else 1e-2
    hi = max(peak / bw * 8, float(gemm["macs_per_dram_byte"].max()) * 4) if len(gemm) else 1e4
    x = np.logspace(np.log10(lo), np.log10(hi), 200)
    ax.loglog(x, np.minimum(peak, x * bw), color="black", lw=1.5,
              label=f"roof: min({peak:,} MACs/cycle, {bw:g} B/cycle x intensity)")
    for bound, color in (("compute", "#4c72b0"), ("memory", "#dd8452")):
        sel = gemm[gemm["bound"] == bound]
        ax.scatter(sel["macs_per_dram_byte"], sel["macs"] / sel["total_cycles"], s=14,
                   color=color, label=f"{bound}-bound layers ({len(sel)})", zorder=3)
    ax.set_xlabel("arithmetic intensity (MACs per DRAM byte)")
    ax.set_ylabel("achieved MACs per cycle")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title or f"{accel.name}: roofline of {len(gemm)} GEMM layers")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
