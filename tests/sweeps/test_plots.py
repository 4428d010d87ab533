"""Plots: PNG files are written, with the labels and panels the data calls for."""

from __future__ import annotations

import pandas as pd
import pytest

from qaccel.sweeps import Goal, load_spec, load_sweep, run_sweep
from qaccel.sweeps.columns import label
from qaccel.sweeps.plots import _tells_color, goal_for, plot_heatmap, plot_pareto
from tests.sweeps.conftest import spec_dict

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

PLOTS = [{"kind": "pareto", "x": "pe_count", "y": "latency_us"},
         {"kind": "heatmap", "x": "pe_array.cols", "y": "pe_array.rows", "value": "utilization",
          "goal": "max", "file": "util.png"}]


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    out = tmp_path_factory.mktemp("plots")
    spec = spec_dict(plots=PLOTS, constraints=[{"column": "total_cycles", "max": 15000}])
    summary = run_sweep(spec, out, workers=1, progress=False)
    return out, summary


def is_png(path) -> bool:
    return path.stat().st_size > 10_000 and path.read_bytes()[:8] == PNG_MAGIC


def test_spec_plots_written(swept):
    out, summary = swept
    names = sorted(p.name for p in summary.plots)
    assert names == ["pareto-pe_count-latency_us.png", "util.png"]
    assert all(is_png(p) for p in summary.plots)


def test_plot_functions_write_png(swept, tmp_path):
    out, _ = swept
    _, df = load_sweep(out)
    assert not df["feasible"].all() and df["feasible"].any()  # crosses and points both drawn
    assert is_png(plot_pareto(df, "pe_count", "total_cycles", tmp_path / "p.png",
                              color="pe_array.dataflow", annotate=["pe_array.rows"]))
    assert is_png(plot_heatmap(df, "pe_array.rows", "pe_array.dataflow", "latency_us",
                               tmp_path / "h.png"))
    empty = df.assign(feasible=False)  # nothing feasible: blank cells, no front
    assert is_png(plot_heatmap(empty, "pe_array.rows", "pe_array.cols", "latency_us",
                               tmp_path / "e.png"))


@pytest.mark.parametrize("column,text", [
    ("latency_us", "latency (µs)"), ("pe_count", "array size, rows × cols (PEs)"),
    ("buffers.*.size_kib", "each buffer's size (KiB)"),
    ("buffers.input.word_bits", "input buffer word width (bits)"),
    ("energy_pj_total", "energy (pJ)"), ("area_um2", "PE-array logic area (µm²)"),
    ("foo_cycles", "foo_cycles (cycles)"), ("workload", "workload")])
def test_labels_carry_units(column, text):
    assert label(column) == text


def test_front_has_no_dominated_rows(swept):
    from qaccel.sweeps import fronts

    out, _ = swept
    spec, df = load_sweep(out)
    front = fronts(df, spec.objectives)
    assert set(front["workload"]) == {"g64", "two"}
    for _, group in front.groupby("workload"):
        rows = df[(df["workload"] == group["workload"].iloc[0]) & df["feasible"]]
        for _, f in group.iterrows():
            better = rows[(rows["total_cycles"] <= f["total_cycles"])
                          & (rows["pe_count"] <= f["pe_count"])
                          & ((rows["total_cycles"] < f["total_cycles"])
                             | (rows["pe_count"] < f["pe_count"]))]
            assert better.empty
    assert isinstance(front, pd.DataFrame)


def test_plot_directions_and_colour_labels():
    spec = load_spec(spec_dict())  # objectives: total_cycles, pe_count (both min)
    assert (goal_for(spec, "accuracy_proxy_sqnr_db"), goal_for(spec, "area_um2"),
            goal_for(spec, "pe_count")) == (Goal.MAX, Goal.MIN, Goal.MIN)
    df = pd.DataFrame({"base_arch": ["a", "a", "b"], "pe_array.family": ["x", "x", "y"],
                       "pe_array.rows": [1, 2, 1]})
    assert _tells_color(df, "base_arch", "pe_array.family")  # the colour labels it already
    assert not _tells_color(df, "pe_array.rows", "pe_array.family")
