"""Layer / Trace: GEMM shapes, operands of hand-made layers, save/load, load errors."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from qaccel import ConfigError
from qaccel.models import Layer, Trace, capture, int8
from qaccel.models.demo import conv_demo, mlp_demo
from qaccel.models.lowering import UNIFORM_INT8


def enc(values, granularity="per_tensor"):
    return int8.encode(np.asarray(values, np.float32), granularity)


def test_linear_operands_by_hand():
    # act: scale 1 (max 127), codes = values; weight N x K = 2 x 3, per-row scale 1
    act = enc([[1, 2, 3], [4, 5, 127]])
    weight = enc([[127, 0, -127], [2, 1, 127]], "per_channel")
    layer = Layer("fc", "linear", 2, 3, 2, 1, weight, act, {"batch": 1})
    a, b = layer.operands()
    np.testing.assert_array_equal(a, [[[1, 2, 3], [4, 5, 127]]])
    np.testing.assert_array_equal(b, [[[127, 2], [0, 1], [-127, 127]]])  # weight transposed
    # out = A . B: row 0: [127 - 3*127, 2 + 2 + 3*127] = [-254, 385]
    #              row 1: [4*127 - 127*127, 8 + 5 + 127*127] = [-15621, 16142]
    np.testing.assert_array_equal(a[0].astype(int) @ b[0], [[-254, 385], [-15621, 16142]])
    assert layer.gemm_shape() == (1, 2, 3, 2) and layer.macs == 12 and layer.has_values
    assert repr(layer) == "Layer('fc', linear, 2x3x2, values)"


def test_gemm_shape_per_op():
    conv = Layer("c", "conv2d", 64, 36, 16, 2, meta={"batch": 1})
    mm = Layer("m", "matmul", 8, 16, 8, meta={"batch": 12})
    assert conv.gemm_shape() == (2, 64, 36, 8) and mm.gemm_shape() == (12, 8, 16, 8)
    assert not conv.has_values and repr(mm) == "Layer('m', matmul, 12 x 8x16x8, shapes only)"
    with pytest.raises(ValueError, match="^Cannot form operands of layer c because it holds "
                       "neither captured values nor a seed$"):
        conv.operands()


def test_seeded_matmul_operands_broadcast():
    meta = {"batch": 6, "batch_shape": [2, 3], "a_shape": [2, 3, 4, 5], "b_shape": [5, 7],
            "b_source": "activation", "seed": 11, "generator": dict(UNIFORM_INT8)}
    layer = Layer("m", "matmul", 4, 5, 7, meta=meta)
    a, b = layer.operands()
    assert a.shape == (6, 4, 5) and b.shape == (6, 5, 7) and layer.has_values
    assert all(np.array_equal(b[0], b[i]) for i in range(6))  # one B shared by 6 GEMMs
    assert not np.array_equal(a[0], a[1])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"op": "conv3d"}, "layer x op: must be one of linear, conv2d, matmul, vector, not 'conv3d'"),
    ({"K": 0}, "layer x K: must be a positive int, not 0"),
    ({"M": 2.0}, "layer x M: must be a positive int, not 2.0"),
    ({"op": "conv2d", "N": 6, "conv_groups": 4}, "layer x conv_groups: must divide N=6, not 4"),
    ({"conv_groups": 2}, "layer x conv_groups: must be 1 for a linear layer, not 2"),
])
def test_layer_rejects_bad_fields(kwargs, message):
    fields = {"name": "x", "op": "linear", "M": 1, "K": 1, "N": 4} | kwargs
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        Layer(**fields)


def test_trace_names_frame_and_lookup():
    layers = [Layer("a", "linear", 4, 8, 2), Layer("b", "conv2d", 16, 9, 4, 2, meta={"seed": 1})]
    trace = Trace(layers, {"name": "t"})
    frame = trace.to_frame()
    assert list(frame.columns) == ["name", "op", "M", "K", "N", "conv_groups", "batch",
                                   "has_values"]
    assert frame.values.tolist() == [["a", "linear", 4, 8, 2, 1, 1, False],
                                     ["b", "conv2d", 16, 9, 4, 2, 1, True]]
    assert trace["b"] is layers[1] and trace[0] is layers[0] and len(trace) == 2
    with pytest.raises(ConfigError, match="^layers: names must be unique, not 'a' twice$"):
        Trace([layers[0], Layer("a", "linear", 1, 1, 1)])


def assert_same(t1: Trace, t2: Trace) -> None:
    assert t2.meta == t1.meta and len(t2) == len(t1)
    for x, y in zip(t1, t2, strict=True):
        assert (x.name, x.op, x.M, x.K, x.N, x.conv_groups) == \
            (y.name, y.op, y.M, y.K, y.N, y.conv_groups)
        assert x.meta == y.meta
        for role in ("weight", "act", "act_b"):
            ex, ey = getattr(x, role), getattr(y, role)
            assert (ex is None) == (ey is None), (x.name, role)
            if ex is not None:
                assert ey.codes.dtype == ex.codes.dtype and ey.scales.dtype == np.float32
                np.testing.assert_array_equal(ey.codes, ex.codes)
                np.testing.assert_array_equal(ey.scales, ex.scales)
                assert ey.meta == ex.meta
        if x.has_values:
            for ox, oy in zip(x.operands(), y.operands(), strict=True):
                np.testing.assert_array_equal(ox, oy)


@pytest.mark.parametrize("builder", [mlp_demo, conv_demo], ids=["mlp", "conv"])
def test_save_load_round_trip(tmp_path, builder):
    model, inputs = builder(seed=2)
    trace = capture(model, inputs)
    folder = trace.save(tmp_path / "trace")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["schema"] == "qaccel.trace" and manifest["version"] == 1
    assert_same(trace, Trace.load(folder))


def test_round_trip_of_act_x_act_and_meta_layers(tmp_path):
    class Net(torch.nn.Module):
        def forward(self, q, k):
            return torch.matmul(q, k.transpose(-1, -2))

    real = capture(Net(), (torch.randn(2, 3, 4), torch.randn(2, 5, 4)))
    assert_same(real, Trace.load(real.save(tmp_path / "real")))
    shapes = capture(Net(), (torch.randn(2, 3, 4, device="meta"),
                             torch.randn(2, 5, 4, device="meta")), seed=3)
    assert_same(shapes, Trace.load(shapes.save(tmp_path / "meta")))


@pytest.fixture
def saved(tmp_path):
    model, inputs = mlp_demo()
    return capture(model, inputs).save(tmp_path / "t")


def test_load_errors(tmp_path, saved):
    missing = tmp_path / "nope"
    with pytest.raises(ConfigError, match=f"^--trace: must be a trace folder, not "
                       f"{re.escape(repr(str(missing)))} \\(missing\\)$"):
        Trace.load(missing)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match=r"^--trace: must be a trace folder holding "
                       r"manifest\.json, not '.*empty' \(no manifest\.json\)$"):
        Trace.load(empty)
    manifest = saved / "manifest.json"
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps(data | {"version": 2}))
    with pytest.raises(ConfigError, match=r"^in .*manifest\.json: --trace: manifest\.json must "
                       r"have schema 'qaccel\.trace' version 1, not schema 'qaccel\.trace' "
                       r"version 2$"):
        Trace.load(saved)
    manifest.write_text("{")
    with pytest.raises(ConfigError, match=r"--trace \(line 1\): manifest\.json must be JSON"):
        Trace.load(saved)
    manifest.write_text(json.dumps(data))
    (saved / "tensors.safetensors").unlink()
    with pytest.raises(ConfigError, match=r"^--trace: must hold tensors\.safetensors next to "
                       r"manifest\.json, not '.*' \(no tensors\.safetensors\)$"):
        Trace.load(saved, "--trace")


def test_load_errors_inside_the_manifest(saved):
    import safetensors.numpy

    manifest = saved / "manifest.json"
    data = json.loads(manifest.read_text())
    broken = json.loads(manifest.read_text())
    del broken["layers"][1]["M"]
    manifest.write_text(json.dumps(broken))
    with pytest.raises(ConfigError, match=r"^--trace manifest\.json layers\[1\]: must have M, "
                       r"not only name, op, K, N, conv_groups, meta, weight, act, act_b$"):
        Trace.load(saved)
    manifest.write_text(json.dumps(data))
    tensors = safetensors.numpy.load_file(saved / "tensors.safetensors")
    del tensors["2.weight.scales"]
    safetensors.numpy.save_file(tensors, saved / "tensors.safetensors")
    with pytest.raises(ConfigError, match=r"^--trace tensors\.safetensors: must hold "
                       r"2\.weight\.scales \(layer '4' weight\), not leave it out$"):
        Trace.load(saved)
