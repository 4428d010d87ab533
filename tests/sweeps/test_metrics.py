"""Arch metrics: the weight format of every PE family and its accuracy proxy (weight SQNR on
a fixed slice of real MiniLM weights), usable as an objective."""

from __future__ import annotations

import pandas as pd
import pytest

from qaccel.arch import PE_FAMILIES, load_accelerator
from qaccel.models.formats import get_format
from qaccel.sweeps import load_spec, metrics, pareto_front, plan_sweep
from qaccel.sweeps.axes import set_leaves
from qaccel.sweeps.metrics import accuracy_proxy, proxy_weights, weight_format
from tests.conftest import accel_dict
from tests.sweeps.conftest import spec_dict


def _bitfusion(b_bits: int) -> dict:
    d = accel_dict(family="bitfusion", dataflow="os")
    d["pe_array"].update(a_bits=8, b_bits=b_bits, bricks_per_pe=16)
    return d


def _preset(name: str, **changes: object) -> dict:
    return set_leaves(load_accelerator(name).to_dict(), changes)


# (accelerator data, its weight format, the proxy's SQNR in dB): one pinned table
PROXY = [
    (_preset("systolic-int8-32x32"), "int8", 34.628),
    (_preset("fp16-decode"), "fp16", 73.673),
    (_preset("ant-decode"), "ant4", 18.729),
    (_preset("ant-decode", **{"pe_array.bits": 8}), "int8", 34.628),
    (_preset("olive-decode"), "olive4", 17.511),
    (_preset("olive-decode", **{"pe_array.bits": 8}), "olive8", 36.821),
    (_preset("bitmod-prefill"), "bitmod_fp4", 20.077),
    (_preset("bitmod-decode"), "bitmod_fp3", 13.994),
    (_preset("mixpe-w4a8"), "int4_g128", 19.515),
    (_bitfusion(8), "int8_pc_sym", 42.123),
    (_bitfusion(4), "int4_pc_sym", 16.955),
    (_bitfusion(2), "int2_pc_sym", 1.512),
]


@pytest.mark.parametrize("arch,fmt,db", PROXY, ids=[f"{a['name']}-{f}" for a, f, _ in PROXY])
def test_accuracy_proxy_per_format(arch, fmt, db):
    accel = load_accelerator(arch)
    assert weight_format(accel) == fmt
    get_format(fmt)  # a registered (or INTk) format name
    assert accuracy_proxy(accel) == {"weight_format": fmt,
                                     "accuracy_proxy_sqnr_db": pytest.approx(db, abs=0.01)}


@pytest.mark.parametrize("family", sorted(PE_FAMILIES))
def test_every_family_names_a_registered_weight_format(family):
    from qaccel.arch import preset_names

    presets = [p for p in preset_names() if load_accelerator(p).family == family]
    if not presets:  # bitfusion has no preset: build one from its defaults
        pe = PE_FAMILIES[family](rows=4, cols=4, dataflow="os")
    else:
        pe = load_accelerator(presets[0]).pe_array
    get_format(pe.weight_format_name)  # raises for a name that is not a format


def test_proxy_sample_is_fixed_real_weights_measured_once():
    w = proxy_weights()
    assert w.shape == (960, 384) and str(w.dtype) == "float32"
    assert 0.03 < float(w.std()) < 0.1  # trained weights, not a unit Gaussian
    assert proxy_weights() is w
    before = metrics.weight_sqnr_db.cache_info().hits
    assert metrics.weight_sqnr_db("int8") == metrics.weight_sqnr_db("int8")
    assert metrics.weight_sqnr_db.cache_info().hits >= before + 1


def test_accuracy_proxy_is_an_objective_with_goal_max():
    spec = load_spec(spec_dict(
        base_arch=["fp16-decode", "bitmod-decode"],
        axes={"pe_array.rows": [16, 32], "workload": ["g64"]},
        objectives=[{"column": "accuracy_proxy_sqnr_db", "goal": "max"},
                    {"column": "area_um2", "goal": "min"}]))
    assert spec.columns["accuracy_proxy_sqnr_db"] == "number"
    assert spec.columns["weight_format"] == "text"
    rows = pd.DataFrame([dict(p.columns) for p in plan_sweep(spec).points])
    front = pareto_front(rows, [(o.column, o.goal) for o in spec.objectives])
    # the smallest array of each format: FP16 is the most accurate, BitMoD FP3 the smallest
    assert sorted(zip(front["weight_format"], front["pe_array.rows"], strict=True)) == \
        [("bitmod_fp3", 16), ("fp16", 16)]
