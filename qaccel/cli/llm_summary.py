"""What ``qaccel sim`` prints for an LLM trace besides the per-layer table: totals per decode
step and the shares of attention, KV-cache traffic and non-GEMM (vector) operators.

- **attention**: QK^T and AV (the layers whose B is the KV cache) and the vector ops on their
  scores (scale, mask, softmax): their share of all cycles;
- **KV cache traffic**: ``kv_rd_bytes + kv_wr_bytes`` of the layers that keep the cache in
  DRAM, as a share of all DRAM bytes (0 without a ``kv_format``: K and V then count as
  ordinary B operands; see docs/llm.md);
- **non-GEMM ops**: the vector layers' share of cycles and of energy.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from qaccel.tables import format_table

__all__ = ["step_totals", "shares", "print_llm_summary"]

STEP = re.compile(r"@(?:step|chunk)(\d+)$")
SCORE_OPS = ("vector:scale", "vector:mask", "vector:softmax")


def _steps(frame: pd.DataFrame) -> pd.Series:
    return frame["layer"].map(lambda name: int(m.group(1)) if (m := STEP.search(name)) else 0)


def step_totals(frame: pd.DataFrame, clock_mhz: float) -> pd.DataFrame:
    """One row per decode step (or prefill chunk): cycles, time (unit: us), DRAM and KV
    bytes, energy (unit: uJ)."""
    grouped = frame.assign(step=_steps(frame)).groupby("step", sort=True)
    out = grouped[["total_cycles", "dram_bytes", "kv_rd_bytes", "kv_wr_bytes",
                   "energy_pj_total"]].sum().reset_index()
    out.insert(2, "time_us", out["total_cycles"] / clock_mhz)
    out["energy_uj"] = out.pop("energy_pj_total") / 1e6
    return out


def shares(frame: pd.DataFrame, kv_layers: set[str], kv_in_dram: bool) -> dict[str, float]:
    """Attention share of cycles, KV share of DRAM bytes, vector share of cycles and energy
    (fractions; ``kv_layers``: names of the layers whose B is the KV cache; ``kv_in_dram``:
    the cache lives in DRAM, not in ``buffers.kv``)."""
    cycles = frame["total_cycles"].sum() or 1
    attn = frame["layer"].isin(kv_layers) | frame["dataflow"].isin(SCORE_OPS)
    vector = frame["op"] == "vector"
    dram = frame["dram_bytes"].sum() or 1
    kv_dram = (frame["kv_rd_bytes"].sum() + frame["kv_wr_bytes"].sum()) if kv_in_dram else 0
    energy = frame["energy_pj_total"].sum() or 1
    return {"attention_cycles": frame.loc[attn, "total_cycles"].sum() / cycles,
            "kv_dram_bytes": min(kv_dram / dram, 1.0),
            "vector_cycles": frame.loc[vector, "total_cycles"].sum() / cycles,
            "vector_energy": frame.loc[vector, "energy_pj_total"].sum() / energy}


def print_llm_summary(result: Any, layers: list[Any], accel: Any) -> None:
    """Per-step totals (when there are several steps), the run's totals and the shares, on
    stdout."""
    from qaccel.sim.kv import is_kv_layer, kv_on_chip

    frame = result.frame
    clock_mhz = accel.clock_mhz
    table = step_totals(frame, clock_mhz)
    if len(table) > 1:
        unit = "chunk" if frame["layer"].str.endswith("@chunk0").any() else "step"
        if unit == "chunk":
            table = table.rename(columns={"step": "chunk"})
        print(f"per {'prefill chunk' if unit == 'chunk' else 'decode step'} "
              f"({len(table)} {unit}s):")
        print(format_table(table, float_format="{:,.1f}"))
        tot = result.totals()
        print(f"all {len(table)} {unit}s: {tot['total_cycles']:,} cycles = "
              f"{tot['total_cycles'] / clock_mhz:,.1f} us, DRAM "
              f"{tot['dram_bytes'] / 2**20:,.2f} MiB, energy "
              f"{tot['energy_pj_total'] / 1e9:,.3f} mJ")
    s = shares(frame, {ly.name for ly in layers if is_kv_layer(ly)
                       or getattr(ly, "meta", {}).get("kv_cache") == "B"},
               not kv_on_chip(layers, accel))
    print(f"attention (QK^T, AV, scale, mask, softmax): {s['attention_cycles']:.1%} of "
          f"cycles; KV cache traffic: {s['kv_dram_bytes']:.1%} of DRAM bytes; non-GEMM "
          f"(vector) ops: {s['vector_cycles']:.1%} of cycles, {s['vector_energy']:.1%} of "
          f"energy")
