"""Sweep specs: strict, two-stage validation; every bad spec fails before any point runs."""

from __future__ import annotations

import re

import pytest

from qaccel import ConfigError
from qaccel.arch import PE_FAMILIES, preset_names
from qaccel.models import Layer, Trace
from qaccel.sweeps import Goal, Method, load_spec, plan_sweep
from tests.sweeps.conftest import spec_dict

FIELDS = ("clock_mhz, pe_array.family, pe_array.rows, pe_array.cols, pe_array.dataflow, "
          "pe_array.preload, pe_array.drain, "
          "buffers.weight.size_kib, buffers.weight.word_bits, buffers.weight.banks, "
          "buffers.input.size_kib, buffers.input.word_bits, buffers.input.banks, "
          "buffers.output.size_kib, buffers.output.word_bits, buffers.output.banks, "
          "dram.bits_per_cycle, dram.pj_per_bit, tech.node_nm, mapping, or workload")

# (changes to the small spec, the whole message after "in <dict>: ")
BAD = [
    (dict(axes={"pe_array.rowz": [4]}),
     "axes.pe_array.rowz: is not a known key (did you mean 'rows'?)"),
    (dict(axes={"buffer.weight.size_kib": [4]}),
     "axes.buffer.weight.size_kib: is not a field of base_arch (did you mean "
     f"'buffers.weight.size_kib'?); fields: {FIELDS}"),
    (dict(axes={"pe_array.rows": []}),
     "axes.pe_array.rows: must hold at least one value, not an empty list"),
    (dict(axes={"pe_array.rows": {"start": 64, "stop": 8, "step": 8}}),
     "axes.pe_array.rows: must not be an empty range, not start 64 > stop 8"),
    (dict(axes={"pe_array.rows": {"start": 8, "stop": 64, "step": 0}}),
     "axes.pe_array.rows.step: must be a number > 0, not 0"),
    (dict(axes={"pe_array.rows": [4, 4]}),
     "axes.pe_array.rows: must hold distinct values, not 4 twice"),
    (dict(axes={"pe_array.rows": [4, 0]}),
     "axes.pe_array.rows: must be an int in 1..4096, not 0"),
    (dict(axes={"pe_array.dataflow": ["ws", "xs"]}),
     "axes.pe_array.dataflow: must be one of 'ws', 'os', 'is', not 'xs'"),
    (dict(axes={"pe_array.family": ["systolic_int8", "tpu9000"]}),
     f"axes.pe_array.family: must be one of {', '.join(sorted(PE_FAMILIES))}, "
     "not 'tpu9000'"),
    (dict(axes={"buffers.*.size_kib": [64], "buffers.weight.size_kib": [32]}),
     "axes.buffers.weight.size_kib: must not set buffers.weight.size_kib again, not a second "
     "axis for it (axis 'buffers.*.size_kib' sets it)"),
    (dict(axes={"buffers.weight": [1]}),
     "axes.buffers.weight: must name one field, not the group 'buffers.weight'; fields: "
     "buffers.weight.size_kib, buffers.weight.word_bits, buffers.weight.banks"),
    (dict(axes={"name": ["x"]}),
     "axes.name: must name a hardware field, not 'name' (it labels the spec)"),
    (dict(axes={"workload": ["nope"], "pe_array.rows": [4]}),
     "axes.workload: must name workloads (g64, two), not 'nope'"),
    (dict(constraints=[{"column": "total_cycles", "max": 10},
                       {"column": "total_cycles", "min": 100}]),
     "constraints: on total_cycles must leave a non-empty range, not min 100 "
     "(constraints[1]) > max 10 (constraints[0])"),
    (dict(constraints=[{"column": "total_cycles", "min": 100, "max": 10}]),
     "constraints[0]: must have min <= max, not min 100 > max 10"),
    (dict(objectives=[{"column": "energy_pj_all"}]),
     re.compile(r"objectives\[0\].column: must name a numeric result column \(clock_mhz, "
                r".*, pe_count, .*, area_um2, .*, total_cycles, .*, energy_pj_total, .*"
                r"latency_us, edp_pj_us\), not 'energy_pj_all'")),
    (dict(objectives=[{"column": "pe_array.dataflow"}]),
     "objectives[0].column: must name a numeric column, not the text column "
     "'pe_array.dataflow'"),
    (dict(objectives=[{"column": "total_cycles", "goal": "least"}]),
     "objectives[0].goal: must be one of 'min', 'max', not 'least'"),
    (dict(workloads=[{"name": "g", "gemm": "64x64"}]),
     "workloads[0].gemm: must be MxKxN with positive integers up to 10000000 (e.g. "
     "512x512x512), not '64x64'"),
    (dict(workloads=[{"name": "g", "gemm": "8x8x8", "trace": "t"}]),
     "workloads[0]: must have exactly one of gemm, layers, trace, preset, not gemm and trace"),
    (dict(sampling={"method": "lhs"}),
     "sampling.points: must be an int in 1..1000000 for lhs sampling, not None"),
    (dict(sampling={"method": "grid", "points": 5}),
     "sampling.points: must be left out for grid sampling (every combination runs), not 5; "
     "use method random or lhs to draw a number of points"),
    (dict(axis={"pe_array.rows": [4]}),
     "axis: is not a known key (did you mean 'axes'?); allowed: version, name, description, "
     "base_arch, engine, axes, sampling, workloads, constraints, objectives, on_invalid, plots, "
     "iso_area_mm2"),
    (dict(base_arch="systolic-int8-9x9"),
     f"base_arch: must be a preset name ({', '.join(preset_names())}) or a YAML file, "
     "not 'systolic-int8-9x9'"),
    (dict(plots=[{"kind": "heatmap", "x": "pe_array.rows", "y": "clock_mhz",
                  "value": "total_cycles"}]),
     "plots[0].y: must name an arch axis (pe_array.rows, pe_array.cols, "
     "pe_array.dataflow), not 'clock_mhz'"),
]
IDS = ["unknown-axis-field", "unknown-axis-group", "empty-list", "empty-range", "zero-step",
       "duplicate-values", "out-of-range-value", "bad-dataflow", "unknown-family",
       "duplicate-axis", "group-not-field", "label-not-field", "unknown-workload",
       "contradictory-constraints", "min-above-max", "missing-metric", "text-objective",
       "bad-goal", "bad-gemm", "two-sources", "lhs-without-points",
       "grid-with-points", "unknown-top-key", "unknown-preset", "heatmap-not-axis"]


@pytest.mark.parametrize("changes,message", BAD, ids=IDS)
def test_bad_spec_one_clear_error(changes, message):
    with pytest.raises(ConfigError) as info:
        load_spec(spec_dict(**changes))
    check_message(str(info.value), message)


def check_message(got: str, want: str | re.Pattern) -> None:
    """The whole message: equal to a string, or matching a compiled pattern."""
    if isinstance(want, re.Pattern):
        assert re.fullmatch("in <dict>: " + want.pattern, got), got
    else:
        assert got == f"in <dict>: {want}"


PLAN_BAD = [
    (dict(axes={"pe_array.rows": [4, 256], "pe_array.cols": [256],
                "buffers.*.size_kib": [64, 256]}),
     "axes: must give a valid accelerator in every combination, not 1 of 4 invalid, e.g. "
     "pe_array.rows=256, pe_array.cols=256, buffers.*.size_kib=64: buffers.weight.size_kib: "
     "must hold two 256x256 weight tiles (128 KiB, double-buffered), not 64; set "
     "on_invalid: skip to leave them out"),
    (dict(constraints=[{"column": "pe_count", "max": 1}]),
     "constraints: must leave at least one point to run, not exclude all 8 valid combinations"),
]


@pytest.mark.parametrize("changes,message", PLAN_BAD, ids=["invalid-combination",
                                                            "constraints-exclude-all"])
def test_bad_combinations_fail_at_planning(changes, message):
    spec = load_spec(spec_dict(**changes))  # each value alone is fine
    with pytest.raises(ConfigError) as info:
        plan_sweep(spec)
    check_message(str(info.value), message)


def test_invalid_combinations_skipped_on_request():
    spec = load_spec(spec_dict(axes={"pe_array.rows": [4, 256], "pe_array.cols": [256],
                                     "buffers.*.size_kib": [64, 256]}, on_invalid="skip"))
    plan = plan_sweep(spec)
    assert (plan.combinations, plan.invalid) == (4, 1)
    assert len(plan.points) == 3 * 2  # three valid accelerators x two workloads


YAML = """\
version: 1
name: lines
base_arch: systolic-int8-8x8
axes:
  pe_array.rows: [8, 0]
  pe_array.cols: {start: 16, stop: 8, step: 8}
workloads:
  - {name: g, gemm: 8x8x8}
objectives:
  - {column: total_cycles, goal: fastest}
bogus: 1
"""


def test_yaml_errors_collected_with_lines(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(YAML)
    with pytest.raises(ConfigError) as info:
        load_spec(path)
    lines = str(info.value).splitlines()
    # all four in one run: the axis value the accelerator loader refuses (stage two) too
    assert lines[0] == f"in {path}: 4 problems:"
    assert lines[1:] == [
        "  - bogus (line 11): is not a known key; allowed: version, name, description, "
        "base_arch, engine, axes, sampling, workloads, constraints, objectives, on_invalid, "
        "plots, iso_area_mm2",
        "  - axes.pe_array.cols (line 6): must not be an empty range, not start 16 > stop 8",
        "  - objectives[0].goal (line 10): must be one of 'min', 'max', not 'fastest'",
        "  - axes.pe_array.rows (line 5): must be an int in 1..4096, not 0",
    ]
    # stage two (building each axis value) runs once stage one is clean
    path.write_text(YAML.replace("{start: 16, stop: 8, step: 8}", "[8]")
                    .replace("fastest", "min").replace("bogus: 1\n", ""))
    with pytest.raises(ConfigError, match=r"^in .*: axes.pe_array.rows \(line 5\): must be an "
                       r"int in 1\.\.4096, not 0$"):
        load_spec(path)


def test_good_spec_and_round_trip():
    spec = load_spec(spec_dict(sampling={"method": "lhs", "points": 5, "seed": 3},
                               constraints=[{"column": "latency_us", "max": 1e6}]))
    assert [a.name for a in spec.axes] == ["pe_array.rows", "pe_array.cols",
                                           "pe_array.dataflow"]
    assert spec.sampling.method is Method.LHS and spec.objectives[0].goal is Goal.MIN
    assert [len(w.layers) for w in spec.workloads] == [1, 3]
    assert spec.workloads[1].layers[2].name == "b.2"
    assert spec.workloads[1].layers[2].gemm_shape() == (3, 8, 16, 32)
    again = load_spec(spec.to_dict())
    assert again == spec
    assert plan_sweep(again).frame().equals(plan_sweep(spec).frame())


def test_ranges_and_wildcard_axis():
    spec = load_spec(spec_dict(axes={
        "pe_array.rows": {"start": 4, "stop": 32, "factor": 2},
        "clock_mhz": {"start": 500, "stop": 1000, "step": 250},
        "dram.pj_per_bit": {"start": 0.5, "stop": 1.0, "step": 0.25},
        "buffers.*.size_kib": {"values": [64, 128]}}))
    values = {a.name: a.values for a in spec.axes}
    assert values == {"pe_array.rows": (4, 8, 16, 32), "clock_mhz": (500, 750, 1000),
                      "dram.pj_per_bit": (0.5, 0.75, 1.0), "buffers.*.size_kib": (64, 128)}
    assert spec.axes[3].paths == ("buffers.weight.size_kib", "buffers.input.size_kib",
                                  "buffers.output.size_kib")


def test_trace_workload_keeps_shapes(tmp_path):
    layers = [Layer("fc1", "linear", 16, 32, 64), Layer("conv", "conv2d", 49, 72, 16,
                                                         conv_groups=2)]
    Trace(layers).save(tmp_path / "tr")
    (tmp_path / "spec").mkdir()
    spec = load_spec(spec_dict(workloads=[{"name": "tr", "trace": "../tr"}]),
                     base_dir=tmp_path / "spec")
    shapes = [(ly.name, ly.op, ly.gemm_shape()) for ly in spec.workloads[0].layers]
    assert shapes == [("fc1", "linear", (1, 16, 32, 64)), ("conv", "conv2d", (2, 49, 72, 8))]


# several bases (one per PE family): the base_arch axis
BASES = ["fp16-decode", "bitmod-decode"]

BASES_BAD = [
    (dict(base_arch=["fp16-decode"]),
     "base_arch: must list at least two accelerators (or give one without a list), not "
     "['fp16-decode']"),
    (dict(base_arch=["fp16-decode", "fp16-decode"]),
     "base_arch[1]: must differ in name from the other bases, not 'fp16-decode' twice"),
    (dict(base_arch=BASES, axes={"base_arch": ["fp16-decode"], "pe_array.rows": [8]}),
     "axes.base_arch: must not be an axis; list the accelerators under the top-level "
     "base_arch instead"),
    (dict(base_arch=BASES, axes={"pe_array.dataflow": ["ws", "xx"]}),
     "axes.pe_array.dataflow: must be one of 'ws', 'os', 'is', not 'xx'"),
]


@pytest.mark.parametrize("changes,message", BASES_BAD,
                         ids=["one-in-list", "same-name", "base-axis", "rejected-by-all"])
def test_bad_bases(changes, message):
    with pytest.raises(ConfigError) as info:
        load_spec(spec_dict(**changes))
    check_message(str(info.value), message)


def test_bases_cross_the_axes_and_keep_their_own_fields():
    # ws suits fp16 only (bitmod is output stationary): a combination problem, skipped
    spec = load_spec(spec_dict(base_arch=BASES, on_invalid="skip",
                               axes={"pe_array.rows": [16, 32], "pe_array.dataflow": ["ws"]}))
    assert [(a.name, a.values) for a in spec.axes][0] == ("base_arch", tuple(BASES))
    assert spec.base_arch == spec.bases["fp16-decode"]
    assert {"base_arch", "pe_array.lanes", "pe_array.weight_format"} <= set(spec.columns)
    assert load_spec(spec.to_dict()) == spec
    plan = plan_sweep(spec)
    assert (plan.combinations, plan.invalid) == (4, 2)
    assert list(plan.frame().columns)[:3] == ["point_id", "workload", "base_arch"]
    spec = load_spec(spec_dict(base_arch=BASES, axes={"pe_array.rows": [16, 32]}))
    points = plan_sweep(spec).points
    assert {(p.columns["base_arch"], p.columns["pe_array.family"], p.columns["pe_array.rows"],
             p.columns.get("pe_array.lanes")) for p in points} == \
        {("fp16-decode", "fp16", 16, None), ("fp16-decode", "fp16", 32, None),
         ("bitmod-decode", "bitmod", 16, 4), ("bitmod-decode", "bitmod", 32, 4)}


TYPOS = """\
version: 1
name: typos
base_arch: systolic-int8-8x8
sampling: {method: gird}
axes:
  pe_array.rowz: [8, 16]
  tech.node_nm: [7, 28]
workloads:
  - {name: g, gemm: 8x8x8}
objectives:
  - {column: total_cycle}
"""


def test_every_typo_in_one_run(tmp_path):
    """A stage-one typo (sampling) no longer hides the stage-two ones (an axis path, a column,
    an axis value the accelerator loader refuses)."""
    path = tmp_path / "typos.yaml"
    path.write_text(TYPOS)
    with pytest.raises(ConfigError) as info:
        load_spec(path)
    lines = str(info.value).splitlines()
    assert lines[0] == f"in {path}: 4 problems:"
    assert lines[1] == "  - sampling.method (line 4): must be one of 'grid', 'random', 'lhs', " \
                       "not 'gird'"
    assert lines[2] == "  - axes.pe_array.rowz (line 6): is not a known key (did you mean " \
                       "'rows'?)"
    assert lines[3] == "  - axes.tech.node_nm (line 7): must be one of 28, 45 for the " \
                       "energy/area model (no scaling anchor for other nodes), not 7"
    assert lines[4].startswith("  - objectives[0].column (line 11): must name a numeric "
                               "result column (")
    assert lines[4].endswith("), not 'total_cycle'")


def test_vector_layers_and_kv_format_are_refused_not_run_as_gemms():
    """Sweep workloads are GEMM shapes: a preset with vector_ops (softmax, norms... as vector
    layers) and an accelerator with a kv_format (KV layers at the KV width) would be simulated
    wrongly, so both are ConfigErrors naming the field."""
    data = spec_dict(workloads=[{"name": "w", "preset": "llama-2-7b", "phase": "decode",
                                 "blocks": 1, "vector_ops": True}])
    with pytest.raises(ConfigError, match=r"workloads\[0\]\.vector_ops: cannot be swept"):
        load_spec(data)
    data = spec_dict()
    data["base_arch"] = "bitmod-hpca25-bitmod-decode"
    data["axes"] = {"pe_array.rows": [16, 32]}
    with pytest.raises(ConfigError, match="kv_format: cannot be swept yet, not int8"):
        plan_sweep(load_spec(data))
