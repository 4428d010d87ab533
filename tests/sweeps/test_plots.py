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


@pytest.mark.parametrize("column,values,divisor,text", [
    ("energy_pj_total", [2.5e9, 5e8], 1e9, "energy (mJ)"),       # 2.5 mJ at most
    ("energy_pj_total", [3e5, 10.0], 1e3, "energy (nJ)"),        # 300 nJ
    ("energy_pj_pe", [7e12], 1e12, "PE energy (J)"),
    ("energy_pj_total", [0.5], 1.0, "energy (pJ)"),               # below 1 nJ: pJ
    ("latency_us", [1500.0, 20.0], 1e3, "latency (ms)"),         # 1.5 ms
    ("latency_us", [3.0e6], 1e6, "latency (s)"),
    ("latency_us", [999.0], 1.0, "latency (µs)"),
    ("pe_count", [4096], 1.0, "array size, rows × cols (PEs)"),  # no larger unit
])
def test_display_scale_picks_the_unit(column, values, divisor, text):
    from qaccel.sweeps.columns import display_scale

    assert display_scale(column, pd.Series(values)) == (divisor, text)


def test_plots_draw_energy_in_mj_and_time_in_ms(tmp_path, monkeypatch):
    """The axes and colour bar carry mJ / ms and the points are drawn in those units."""
    from qaccel.sweeps import plots

    figures = []
    real_save = plots._save
    monkeypatch.setattr(plots, "_save", lambda fig, plt, path: (figures.append(fig),
                                                               real_save(fig, plt, path))[1])
    df = pd.DataFrame({"workload": ["w", "w"], "latency_us": [2000.0, 4000.0],
                       "energy_pj_total": [3e9, 1.5e9], "pe_array.rows": [8, 16],
                       "pe_array.cols": [8, 8], "pe_array.family": ["a", "a"]})
    plot_pareto(df, "latency_us", "energy_pj_total", tmp_path / "p.png")
    ax = figures[0].axes[0]
    assert ax.get_xlabel() == "latency (ms), lower is better"
    assert ax.get_ylabel() == "energy (mJ), lower is better"
    drawn = sorted(tuple(p) for c in ax.collections for p in c.get_offsets().tolist())
    assert drawn[0] == (2.0, 3.0) and (4.0, 1.5) in drawn
    plot_heatmap(df, "pe_array.rows", "pe_array.cols", "energy_pj_total", tmp_path / "h.png")
    bar_label = figures[1].axes[-1].get_ylabel()
    assert bar_label == "energy (mJ), lower is better"
