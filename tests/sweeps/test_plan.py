"""Planning: sampling through the spec, pre-run constraints, metric columns."""

from __future__ import annotations

import pytest

from qaccel.arch import load_accelerator
from qaccel.arch.cost import area_um2
from qaccel.sweeps import load_spec, plan_sweep
from qaccel.sweeps.metrics import energy_delay, latency
from tests.conftest import accel_dict
from tests.sweeps.conftest import spec_dict


@pytest.mark.parametrize("sampling,arch_points", [
    ({"method": "grid"}, 8), ({"method": "random", "points": 5, "seed": 1}, 5),
    ({"method": "random", "points": 50}, 8), ({"method": "lhs", "points": 4, "seed": 0}, 4)])
def test_sampling_counts(sampling, arch_points):
    plan = plan_sweep(load_spec(spec_dict(sampling=sampling)))
    assert len(plan.points) == 2 * arch_points  # every design on both workloads
    assert plan.combinations == arch_points


def test_workload_axis_picks_workloads():
    axes = dict(spec_dict()["axes"], workload=["two"])
    plan = plan_sweep(load_spec(spec_dict(axes=axes)))
    assert {p.workload for p in plan.points} == {"two"} and len(plan.points) == 8
    assert list(plan.frame().columns) == ["point_id", "workload", "pe_array.rows",
                                          "pe_array.cols", "pe_array.dataflow"]


def test_arch_constraints_prune_before_running():
    # the calibrated area of 8x4 exceeds 4x8's (synthesized ws arrays: rows cost more)
    limit = max(area_um2(load_accelerator(accel_dict(rows=r, cols=c))) for r, c in ((4, 8), (8, 4)))
    plan = plan_sweep(load_spec(spec_dict(constraints=[{"column": "area_um2",
                                                        "max": limit}])))
    assert plan.excluded == 2  # the 8x8 designs, both dataflows
    assert {(p.columns["pe_array.rows"], p.columns["pe_array.cols"]) for p in plan.points} \
        == {(4, 4), (4, 8), (8, 4)}
    point = plan.points[0]
    assert point.columns["area_um2"] == area_um2(load_accelerator(point.arch))


def test_result_metrics_only_from_what_exists():
    accel = load_accelerator(accel_dict(rows=4, cols=4))  # 1000 MHz
    assert latency(accel, {"total_cycles": 2500}) == {"latency_us": 2.5}
    assert energy_delay(accel, {"total_cycles": 2500}) == {}  # no energy: no EDP column
    assert energy_delay(accel, {"total_cycles": 2500, "energy_pj_total": 4.0}) == \
        {"edp_pj_us": 10.0}
