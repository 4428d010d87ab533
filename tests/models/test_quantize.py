"""Torch integration: recipes, quantized Linear/Conv2d layers (fake quantization from decoded
codes), capture of the quantized trace with the recipe's codes, Encoded.extra and its trace
save/load, and the ``qaccel quantize`` command."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from qaccel import ConfigError
from qaccel.cli import main
from qaccel.models import Encoded, Trace
from qaccel.models.demo import conv_demo, mlp_demo
from qaccel.models.formats import decode, get_format
from qaccel.models.quantize import (
    RECIPES,
    QuantConv2d,
    QuantLinear,
    Recipe,
    capture_quantized,
    encode_act,
    encode_weight,
    quantize_model,
    quantized_layers,
)


@pytest.mark.parametrize("recipe", list(RECIPES.values()), ids=list(RECIPES))
def test_recipes_round_trip(recipe):
    assert Recipe.from_dict(recipe.to_dict()) == recipe
    get_format(recipe.weight)
    get_format(recipe.act)


@pytest.mark.parametrize(("make", "message"), [
    (lambda: Recipe("r", "int5", "fp16"), "recipe r weight: must be one of 'int8', 'fp16', "),
    (lambda: Recipe("r", "int8", "bf16"), "recipe r act: must be one of 'int8', 'fp16', "),
    (lambda: Recipe("r", "int8", "int8", "pooler.*"), "recipe r skip: must be a tuple of "
     "module-path patterns, not 'pooler.*'"),
    (lambda: Recipe.from_dict({"version": 2}), "recipe version: must be 1, not 2"),
])
def test_recipe_errors(make, message):
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}"):
        make()


def fake_linear(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor, wf: str,
                af: str) -> torch.Tensor:
    """What a quantized nn.Linear must compute, from the formats directly."""
    wd = decode(encode_weight(wf, w.detach().numpy(), "w"))
    x2 = x.detach().numpy().reshape(-1, x.shape[-1])
    xd = decode(encode_act(af, x2, "linear", "x")).reshape(x.shape)
    return F.linear(torch.from_numpy(xd), torch.from_numpy(wd), b)


def test_mlp_forward_is_fake_quant_of_the_codes():
    model, (x,) = mlp_demo(seed=3)
    recipe = RECIPES["mixpe_w4a8"]
    q = quantize_model(model, recipe)
    assert isinstance(model[0], nn.Linear) and not isinstance(model[0], QuantLinear)
    assert list(quantized_layers(q)) == ["0", "2", "4"]
    assert repr(q[0]) == ("QuantLinear(in_features=64, out_features=128, bias=True, "
                          "weight=int4_g128, act=int8)")
    assert q[0].weight is not model[0].weight and q[0].bias is model[0].bias
    with torch.no_grad():
        h = x
        for i in (0, 2, 4):
            h = fake_linear(model[i].weight, model[i].bias, h, "mixpe_w4", "int8")
            if i < 4:
                h = torch.relu(h)
        torch.testing.assert_close(q(x), h, rtol=0, atol=0)
    np.testing.assert_array_equal(q[2].weight.detach().numpy(),
                                  decode(q[2].weight_enc))


def test_skip_patterns_and_inplace():
    model, (x,) = mlp_demo()
    q = quantize_model(model, Recipe("r", "int4_g128", "fp16", skip=("2",)))
    assert isinstance(q[0], QuantLinear) and type(q[2]) is nn.Linear
    same = quantize_model(model, "int8", inplace=True)
    assert same is model and isinstance(model[4], QuantLinear)


def test_conv_layers():
    model, (x,) = conv_demo(seed=1)
    q = quantize_model(model, "bitmod_fp4")
    convs = [m for m in q.modules() if isinstance(m, QuantConv2d)]
    assert len(convs) == 3
    conv = q[2]                                   # 8 -> 16 channels, groups=2, 3x3
    assert conv.weight_enc.meta["shape"] == [16, 36]  # GEMM view Cout x Cin/groups*kh*kw
    with torch.no_grad():
        xin = torch.randn(1, 8, 8, 8)
        xd = decode(encode_act("fp16", xin.numpy(), "conv2d", "x"))
        want = F.conv2d(torch.from_numpy(xd), conv.weight, conv.bias, padding=1, groups=2)
        torch.testing.assert_close(conv(xin), want, rtol=0, atol=0)
        out = q(x)
        ref = model(x)
    assert out.shape == ref.shape and not torch.equal(out, ref)


def test_capture_quantized_trace_round_trip(tmp_path):
    model, inputs = conv_demo(seed=2)
    q = quantize_model(model, "int4_g128")
    trace = capture_quantized(q, inputs, name="conv-int4")
    assert trace.meta["recipe"]["name"] == "int4_g128"
    assert trace.meta["formats"]["matmul"] == "int8 per_tensor (capture)"
    quantized = [ly for ly in trace if ly.op in ("linear", "conv2d")]
    assert len(quantized) == 4
    for layer in quantized:
        assert layer.weight.format == "int4_g128" and layer.act.format == "fp16"
        assert "zero_points" in layer.weight.extra
        assert layer.meta["weight_format"] == "int4_g128"
    conv = trace["2"]
    assert conv.meta["weight_view"] == "gemm" and conv.weight is q[2].weight_enc
    # the captured activation is what the layer saw: its input, encoded FP16
    assert conv.act.shape == (1, 8, 8, 8)
    trace.save(tmp_path / "t")
    back = Trace.load(tmp_path / "t")
    for a, b in zip(trace, back, strict=True):
        for role in ("weight", "act"):
            ea, eb = getattr(a, role), getattr(b, role)
            np.testing.assert_array_equal(ea.codes, eb.codes)
            assert ea.meta == eb.meta and set(ea.extra) == set(eb.extra)
            for key in ea.extra:
                np.testing.assert_array_equal(ea.extra[key], eb.extra[key])
            np.testing.assert_array_equal(decode(ea), decode(eb))


def test_repeated_module_calls_get_their_own_inputs():
    lin = nn.Linear(4, 4)
    model = nn.Sequential(lin, nn.ReLU(), lin)          # one module, called twice
    q = quantize_model(model, "int8")
    assert q[0] is q[2]
    trace = capture_quantized(q, (torch.randn(2, 4),))
    names = [ly.name for ly in trace]
    assert names == ["0", "0#1"]  # capture names a module by its first path
    first, second = trace.layers
    assert first.weight is second.weight and first.act is not second.act


def test_encoded_extra_validation_and_repr():
    meta = {"format": "x", "bits": 4}
    codes, scales = np.zeros((2, 3), np.uint8), np.ones((2, 1), np.float32)
    enc = Encoded(codes, scales, meta, {"ids": np.zeros((2, 1), np.uint8)})
    assert repr(enc) == "Encoded(x, 4 bits, codes uint8[2, 3], scales [2, 1], ids uint8[2, 1])"
    with pytest.raises(ValueError, match=r"^Encoded extra keys must be identifiers, not 'a\.b'$"):
        Encoded(codes, scales, meta, {"a.b": np.zeros(1)})
    with pytest.raises(ValueError, match=r"^Encoded extra\['z'\] of shape \(2,\) must broadcast "
                       r"against codes of shape \(2, 3\)$"):
        Encoded(codes, scales, meta, {"z": np.zeros(2)})
    with pytest.raises(ValueError, match=r"^Encoded extra\['b'\] must be an integer or float "
                       r"array, not dtype bool$"):
        Encoded(codes, scales, meta, {"b": np.zeros(3, bool)})


# -- the command --------------------------------------------------------------------------

def test_cli_one_recipe(tmp_path, capsys):
    out = tmp_path / "layers.csv"
    code = main(["quantize", "--model", "mlp-demo", "--recipe", "bitmod_fp4", "--out", str(out),
                 "--trace-dir", str(tmp_path / "trace")])
    text = capsys.readouterr().out
    assert code == 0
    assert "recipe bitmod_fp4: weights bitmod_fp4 (4.141 bits/weight), activations fp16" in text
    assert "(the authors' charge): 4.0625; with a 2-bit type id + 8-bit scale: 4.0781" in text
    assert "end to end (outputs vs float32): cosine similarity mean" in text
    assert out.read_text().splitlines()[0] == \
        "layer,weight_shape,weight_mse,weight_sqnr_db,out_sqnr_db"
    trace = Trace.load(tmp_path / "trace")
    assert trace["0"].weight.format == "bitmod_fp4" and "type_ids" in trace["0"].weight.extra


def test_cli_all_markdown(capsys):
    assert main(["quantize", "--model", "conv-demo", "--all", "--markdown"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("command: `qaccel quantize --model conv-demo --all --markdown`\n")
    assert "| recipe | weight | act | bits_per_weight | weight_mse |" in text
    assert "| fp16 | fp16 | fp16 | 16 | " in text
    assert text.count("\n| ") == len(RECIPES) + 1
    assert f"{len(RECIPES)} recipes in " in text


def test_cli_list_and_errors(capsys):
    assert main(["quantize", "--list"]) == 0
    assert "olive4_w4a4" in capsys.readouterr().out
    assert main(["quantize", "--recipe", "int8"]) == 2
    assert "--model: must name a model (minilm, mlp-demo, conv-demo or FILE.py:FUNCTION), " \
        "not be left out" in capsys.readouterr().err
    assert main(["quantize", "--model", "mlp-demo", "--recipe", "int5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qaccel quantize: error: --recipe: must be one of fp16, int8, ")
    assert main(["quantize", "--model", "mlp-demo", "--all", "--trace-dir", "x"]) == 2
    assert "--trace-dir: must be used with --recipe, not --all" in capsys.readouterr().err
