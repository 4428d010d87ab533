"""``run_totals`` (the sweeps' frame-free path) equals ``run(...).totals()`` exactly, and
``run`` gives every layer of a repeated shape the same row but its own name."""

from __future__ import annotations

import pytest

from qaccel import sim
from qaccel.arch import load_accelerator
from qaccel.models.workloads import build_workload
from qaccel.sim.engine import run_totals
from qaccel.sim.gemm import gemm_layer


@pytest.mark.parametrize("preset", ["systolic-int8-32x32", "bitmod-decode", "olive-prefill"])
def test_run_totals_equals_frame_totals(preset):
    layers = build_workload("llama-2-7b", phase="decode", tokens=16, kv_len=16, steps=2,
                            blocks=2).layers
    layers += [gemm_layer(7, 300, 50), gemm_layer(7, 300, 50)]
    accel = load_accelerator(preset)
    assert run_totals(layers, accel) == sim.run(layers, accel, values=False).totals()


def test_repeated_shapes_share_results_not_names():
    accel = load_accelerator("systolic-int8-8x8")
    a, b = gemm_layer(33, 70, 20), gemm_layer(33, 70, 20)
    frame = sim.run([a, b, gemm_layer(5, 5, 5)], accel, values=False).frame
    alone = sim.run([b], accel, values=False).frame.iloc[0]
    same = [c for c in frame.columns if c != "layer"]
    assert frame.iloc[0][same].equals(alone[same])
    assert frame.iloc[1][same].equals(alone[same])
    assert list(frame.layer) == [a.name, b.name, "gemm_5x5x5"]
    assert frame.iloc[2]["M"] == 5
