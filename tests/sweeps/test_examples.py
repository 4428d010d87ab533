"""The shipped example specs load, plan, run and plot; their workloads are the cited ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from qaccel.sweeps import load_spec, load_sweep, plan_sweep, run_sweep

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "sweeps" / "examples").glob("*.yaml"))
# example -> (workload layers, MACs of one pass). ResNet-50: torchvision lists 4.089 GFLOPs
# (multiply-adds) for resnet50; Llama-2-7B decode, by hand from the published config:
# 32 layers x (q, k, v, o 4096^2 + gate, up, down 4096 x 11008 + 32 heads x (128 x 512 for
# Q.K^T + 512 x 128 for A.V)) + lm_head 4096 x 32000.
WORKLOADS = {
    "resnet50-int8-systolic": (54, 4_089_184_256),
    "llama2-7b-decode-int8-systolic": (289, 32 * (4 * 4096**2 + 3 * 4096 * 11008)
                                       + 4096 * 32000 + 32 * 2 * 32 * 128 * 512),
    "llama2-7b-decode-families": (289, 32 * (4 * 4096**2 + 3 * 4096 * 11008)
                                  + 4096 * 32000 + 32 * 2 * 32 * 128 * 256),
}
# example -> PE families its rows must cover
FAMILIES = {"llama2-7b-decode-families": {"systolic_int8", "fp16", "ant", "olive", "bitmod",
                                          "mixpe"}}


def test_every_example_is_listed():
    assert sorted(p.stem for p in EXAMPLES) == sorted(WORKLOADS)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_and_plots(path, tmp_path):
    spec = load_spec(path)
    layers, macs = WORKLOADS[path.stem]
    assert (len(spec.workloads[0].layers), spec.workloads[0].macs) == (layers, macs)
    plan = plan_sweep(spec)
    summary = run_sweep(spec, tmp_path, workers=2, progress=False)
    assert summary.ran == len(plan.points) > 80   # llama2 families: 84 within 2 mm² (calibrated)
    assert len(summary.plots) == len(spec.plots) >= 3
    assert all(p.stat().st_size > 20_000 for p in summary.plots)
    _, df = load_sweep(tmp_path)
    assert df["feasible"].any()
    assert {"area_um2", "energy_pj_total", "latency_us", "accuracy_proxy_sqnr_db"} \
        <= set(df.columns)
    assert set(df["pe_array.family"]) == FAMILIES.get(path.stem, {"systolic_int8"})
