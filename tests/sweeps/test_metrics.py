"""Arch metrics: the weight format of every PE family and its accuracy proxy (weight SQNR on
a fixed slice of real MiniLM weights), usable as an objective."""

from __future__ import annotations

import numpy as np
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


# (accelerator data, its weight format): the format each family's PE computes on
FORMATS = [
    (_preset("systolic-int8-32x32"), "int8"),
    (_preset("fp16-decode"), "fp16"),
    (_preset("ant-decode"), "ant4"),
    (_preset("ant-decode", **{"pe_array.bits": 8}), "int8"),
    (_preset("olive-decode"), "olive4"),
    (_preset("olive-decode", **{"pe_array.bits": 8}), "olive8"),
    (_preset("bitmod-prefill"), "bitmod_fp4"),
    (_preset("bitmod-decode"), "bitmod_fp3"),
    (_preset("mixpe-w4a8"), "int4_g128"),
    (_bitfusion(8), "int8_pc_sym"),
    (_bitfusion(4), "int4_pc_sym"),
    (_bitfusion(2), "int2_pc_sym"),
]


def _sqnr(w: np.ndarray, approx: np.ndarray) -> float:
    w64 = w.astype(np.float64)
    return float(10 * np.log10(np.sum(w64**2) / np.sum((w64 - approx) ** 2)))


def _int_symmetric(w: np.ndarray, qmax: int, per_row: bool) -> np.ndarray:
    """Symmetric integers written out here: scale max|w| / qmax per row (INTk, rounded to
    float16) or per tensor (INT8's default, float32), codes round-half-even and clipped."""
    amax = np.abs(w.astype(np.float64)).max(axis=1 if per_row else None, keepdims=True)
    scale = (amax / qmax).astype(np.float16 if per_row else np.float32).astype(np.float64)
    return np.clip(np.rint(w / scale), -qmax, qmax) * scale


def _int_groups(w: np.ndarray, bits: int, group: int) -> np.ndarray:
    """Asymmetric groups of ``group`` along a row with a float16 scale and zero point:
    s = (max(hi, 0) - min(lo, 0)) / (2^bits - 1), z = round(-lo / s), q = round(w / s) + z."""
    qmax = (1 << bits) - 1
    g = w.astype(np.float64).reshape(w.shape[0], -1, group)
    lo, hi = np.minimum(g.min(-1, keepdims=True), 0), np.maximum(g.max(-1, keepdims=True), 0)
    s = ((hi - lo) / qmax).astype(np.float16).astype(np.float64)
    z = np.clip(np.rint(-lo / s), 0, qmax)
    return ((np.clip(np.rint(g / s) + z, 0, qmax) - z) * s).reshape(w.shape)


#: format -> the proxy's SQNR from an implementation written in this file (dB)
def _hand_sqnr(fmt: str) -> float:
    w = proxy_weights()
    approx = {"int8": lambda: _int_symmetric(w, 127, per_row=False),
              "int8_pc_sym": lambda: _int_symmetric(w, 127, per_row=True),
              "int4_pc_sym": lambda: _int_symmetric(w, 7, per_row=True),
              "int2_pc_sym": lambda: _int_symmetric(w, 1, per_row=True),
              "int4_g128": lambda: _int_groups(w, 4, 128),
              "fp16": lambda: w.astype(np.float16).astype(np.float64)}[fmt]()
    return _sqnr(w, approx)


HAND = ("int8", "int8_pc_sym", "int4_pc_sym", "int2_pc_sym", "int4_g128", "fp16")


@pytest.mark.parametrize("arch,fmt", FORMATS, ids=[f"{a['name']}-{f}" for a, f in FORMATS])
def test_weight_format_per_family(arch, fmt):
    accel = load_accelerator(arch)
    assert weight_format(accel) == fmt
    get_format(fmt)  # a registered (or INTk) format name
    assert set(accuracy_proxy(accel)) == {"weight_format", "accuracy_proxy_sqnr_db"}


@pytest.mark.parametrize("fmt", HAND)
def test_accuracy_proxy_equals_a_hand_quantizer(fmt):
    arch = next(a for a, f in FORMATS if f == fmt)
    got = accuracy_proxy(load_accelerator(arch))["accuracy_proxy_sqnr_db"]
    assert got == pytest.approx(_hand_sqnr(fmt), abs=0.002)  # the proxy rounds to 0.001 dB


def test_accuracy_proxy_orders_the_other_formats():
    """ANT, OliVe and BitMoD have no second implementation here: their proxies sit where
    their bit widths put them, between the hand-computed INT2 and INT8 per channel, and more
    bits never lose."""
    db = {f: metrics.weight_sqnr_db(f) for _, f in FORMATS}
    lo, hi = _hand_sqnr("int2_pc_sym"), _hand_sqnr("int8_pc_sym")
    for fmt in ("ant4", "olive4", "bitmod_fp4", "bitmod_fp3"):
        assert lo < db[fmt] < hi, (fmt, db[fmt], lo, hi)
    assert db["bitmod_fp3"] < db["bitmod_fp4"]
    assert db["olive4"] < db["olive8"]
    assert db["int4_pc_sym"] < db["olive8"] < db["fp16"]


@pytest.mark.parametrize("family", sorted(PE_FAMILIES))
def test_every_family_names_a_registered_weight_format(family):
    from qaccel.arch import preset_names

    presets = [p for p in preset_names() if load_accelerator(p).family == family]
    if not presets:  # bitfusion has no preset: build one from its defaults
        pe = PE_FAMILIES[family](rows=4, cols=4, dataflow="os")
    else:
        pe = load_accelerator(presets[0]).pe_array
    name = pe.weight_format_name
    fmt = get_format(name)  # raises for a name that is not a format
    enc = fmt.encode(np.linspace(-1, 1, 256, dtype=np.float32).reshape(2, 128))
    assert enc.meta["format"] in (name, name.split("_")[0])  # int8 / fp16: module names
    from qaccel.models.formats import decode

    back = decode(enc)
    assert back.shape == (2, 128)
    assert float(np.abs(back - np.linspace(-1, 1, 256).reshape(2, 128)).max()) < 0.5


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
    # FP16 is the most accurate, and with the area calibrated to our synthesized RTL also the
    # smallest (16x12 FP16 0.28 mm² vs 16x16 BitMoD FP3 0.59 mm²: BitMoD's edge input buffers,
    # docs/area.md), so the front is FP16's smallest array alone
    assert sorted(zip(front["weight_format"], front["pe_array.rows"], strict=True)) == \
        [("fp16", 16)]
