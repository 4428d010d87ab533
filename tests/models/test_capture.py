"""capture(): layer shapes worked out by hand, operands checked against torch, naming, errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from qaccel import ConfigError
from qaccel.models import capture, capture_run, int8
from qaccel.models.demo import conv_demo, mlp_demo


def dims(layer) -> tuple:
    return (layer.op, layer.M, layer.K, layer.N, layer.conv_groups, layer.batch)


def gemm(layer) -> np.ndarray:
    """The layer's GEMMs in int64: [count, M, N_each]."""
    a, b = layer.operands()
    assert a.dtype == np.int8 and b.dtype == np.int8
    return a.astype(np.int64) @ b.astype(np.int64)


def codes(enc) -> torch.Tensor:
    """Stored codes as exact float64 integer values, for torch reference computations."""
    return torch.from_numpy(int8.to_int8(enc).astype(np.float64))


def torch_int8(x: torch.Tensor, dim: int | None) -> np.ndarray:
    """Independent INT8 encoder in torch: scale max|x|/127 (float32), round half to even."""
    x = x.double()
    amax = x.abs().amax() if dim is None else x.abs().amax(dim=dim, keepdim=True)
    scale = (amax / 127).float().double()
    return torch.round(x / scale).clamp(-127, 127).to(torch.int8).numpy()


def test_mlp_shapes_codes_and_output():
    model, (x,) = mlp_demo(seed=3, batch=4)
    trace, out = capture_run(model, (x,))
    # Sequential(Linear(64,128), ReLU, Linear(128,128), ReLU, Linear(128,10)) on [4, 64]
    assert [ly.name for ly in trace] == ["0", "2", "4"]
    assert [dims(ly) for ly in trace] == [("linear", 4, 64, 128, 1, 1),
                                          ("linear", 4, 128, 128, 1, 1),
                                          ("linear", 4, 128, 10, 1, 1)]
    assert [ly.gemm_shape() for ly in trace] == [(1, 4, 64, 128), (1, 4, 128, 128),
                                                 (1, 4, 128, 10)]
    assert torch.equal(out, model(x))  # forward unchanged
    first = trace["0"]
    np.testing.assert_array_equal(int8.to_int8(first.weight), torch_int8(model[0].weight, 1))
    np.testing.assert_array_equal(int8.to_int8(first.act), torch_int8(x, None))
    hidden = torch.relu(model[0](x))  # the input the second Linear saw
    np.testing.assert_array_equal(int8.to_int8(trace["2"].act), torch_int8(hidden, None))
    assert first.weight.meta["granularity"] == "per_channel"
    assert first.act.meta["granularity"] == "per_tensor"
    assert trace.meta["values"] == "captured" and trace.meta["name"] == "Sequential"
    # operands: A = input codes [M, K], B = weight codes transposed [K, N]
    want = codes(first.act) @ codes(first.weight).T
    np.testing.assert_array_equal(gemm(first)[0], want.numpy())


def test_linear_on_3d_input_flattens_tokens():
    trace = capture(nn.Linear(6, 5), (torch.randn(2, 7, 6),))  # M = 2 * 7 tokens
    assert dims(trace[0]) == ("linear", 14, 6, 5, 1, 1)
    assert trace[0].name == "linear0"  # the root module has no path: named by op


@pytest.mark.parametrize("batch", [1, 2])
def test_conv_shapes_and_operands_match_torch(batch):
    model, (x,) = conv_demo(seed=1, batch=batch)
    trace = capture(model, (x,))
    # conv 0: Conv2d(3, 8, 3, stride 2, pad 1) on 16x16 -> 8x8: M = b*64, K = 3*3*3 = 27
    # conv 2: Conv2d(8, 16, 3, pad 1, groups 2) on 8x8 -> 8x8: K = 8/2*9 = 36, 2 GEMMs of N 8
    # conv 4: depthwise Conv2d(16, 16, 3, pad 2, dil 2, groups 16): 8x8, K = 9, 16 GEMMs of N 1
    # Linear(16, 10) on the pooled [b, 16]
    m = 64 * batch
    assert [dims(ly) for ly in trace] == [("conv2d", m, 27, 8, 1, 1), ("conv2d", m, 36, 16, 2, 1),
                                          ("conv2d", m, 9, 16, 16, 1),
                                          ("linear", batch, 16, 10, 1, 1)]
    assert [ly.gemm_shape() for ly in trace][:3] == [(1, m, 27, 8), (2, m, 36, 8),
                                                     (16, m, 9, 1)]
    for ly, conv in zip(trace.layers[:3], (model[0], model[2], model[4]), strict=True):
        ref = F.conv2d(codes(ly.act), codes(ly.weight), stride=conv.stride,
                       padding=conv.padding, dilation=conv.dilation, groups=conv.groups)
        out = gemm(ly)  # [G, b*Ho*Wo, Cout/G] -> NCHW
        g, _, cg = out.shape
        out = out.reshape(g, batch, 8, 8, cg).transpose(1, 0, 4, 2, 3).reshape(batch, -1, 8, 8)
        np.testing.assert_array_equal(out, ref.numpy())


@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
def test_conv_same_padding_unbatched_and_functional():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 6, (2, 4), padding="same", bias=False)
            self.w = nn.Parameter(torch.randn(3, 6, 3, 3))

        def forward(self, x):
            return F.conv2d(self.conv(x), self.w, stride=(2, 1))

    net = Net()
    x = torch.randn(4, 7, 9)  # unbatched CHW
    trace = capture(net, (x,))
    assert [ly.name for ly in trace] == ["conv", "conv2d0"]
    same, strided = trace
    # "same" keeps 7x9: M = 63, K = 4*2*4 = 32; padding rows 0/1, cols 1/2 (extra at the end)
    assert dims(same) == ("conv2d", 63, 32, 6, 1, 1) and same.meta["padding"] == [0, 1, 1, 2]
    # stride (2, 1), no padding, 3x3 on 7x9 -> 3x7: M = 21, K = 6*9 = 54
    assert dims(strided) == ("conv2d", 21, 54, 3, 1, 1)
    ref = F.conv2d(codes(same.act), codes(same.weight), padding="same")
    got = gemm(same)[0].reshape(1, 7, 9, 6).transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(got, ref.numpy())


class Attention(nn.Module):
    """Toy attention written with functional matmuls, a Parameter matmul and addmm/baddbmm."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Parameter(torch.randn(8, 5))
        self.bias = nn.Parameter(torch.randn(5))

    def forward(self, q, k, v):
        scores = q @ k.transpose(-1, -2)                    # [2,3,4,8] @ [2,3,8,6]
        out = torch.matmul(scores.softmax(-1), v)           # [2,3,4,6] @ [2,3,6,8]
        flat = out.reshape(-1, 8)
        mixed = torch.addmm(self.bias, flat, self.proj)     # [24,8] @ Parameter [8,5]
        bb = torch.baddbmm(torch.zeros(6, 4, 4), out.reshape(6, 4, 8), out.reshape(6, 8, 4))
        vec = torch.matmul(flat[0], self.proj)              # 1-d [8] @ [8,5]
        shared = torch.matmul(out, v[0, 0].T.contiguous())  # [2,3,4,8] @ plain [8,6]
        return mixed, bb, vec, shared


def test_functional_matmuls():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 4, 8), torch.randn(2, 3, 6, 8), torch.randn(2, 3, 6, 8)
    model = Attention()
    trace, out = capture_run(model, (q, k, v))
    assert all(torch.equal(a, b) for a, b in zip(out, model(q, k, v), strict=True))
    assert [ly.name for ly in trace] == [f"matmul{i}" for i in range(6)]  # root module: no path
    qk, av, mixed, bb, vec, shared = trace
    assert (qk.batch, qk.M, qk.K, qk.N, qk.b_source) == (6, 4, 8, 6, "activation")
    assert qk.meta["batch_shape"] == [2, 3] and qk.gemm_shape() == (6, 4, 8, 6)
    assert (av.batch, av.M, av.K, av.N) == (6, 4, 6, 8)
    assert (mixed.batch, mixed.M, mixed.K, mixed.N, mixed.b_source) == (1, 24, 8, 5, "weight")
    assert mixed.weight.codes.shape == (5, 8) and mixed.act_b is None  # stored N x K
    assert mixed.weight.meta["granularity"] == "per_channel"
    assert (bb.batch, bb.M, bb.K, bb.N) == (6, 4, 8, 4)
    assert (vec.batch, vec.M, vec.K, vec.N) == (1, 1, 8, 5)
    # broadcast: [2,3,4,8] @ [8,6]: 6 GEMMs sharing one stored B of 8 x 6
    assert (shared.batch, shared.M, shared.K, shared.N) == (6, 4, 8, 6)
    assert shared.act_b.codes.shape == (8, 6)
    for ly in trace:
        a = codes(ly.act).reshape(ly.meta["a_shape"])
        if ly.b_source == "weight":
            b = codes(ly.weight).T
        else:
            b = codes(ly.act_b).reshape(ly.meta["b_shape"])
        want = torch.matmul(a, b).reshape(ly.batch, ly.M, ly.N)
        np.testing.assert_array_equal(gemm(ly), want.numpy(), err_msg=ly.name)
    # inside a module whose class name says Attention, B of act x act matmuls is the KV cache
    assert qk.meta["kv_cache"] == "B" and av.meta["kv_cache"] == "B"
    assert "kv_cache" not in mixed.meta


def test_names_follow_module_paths_and_repeat_calls():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            y = self.fc(self.fc(x))       # the same Linear called twice
            return y @ y.T, torch.bmm(y[None], y.T[None])

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([Block(), Block()])

        def forward(self, x):
            for b in self.blocks:
                x = b(x)[0][:, :4]
            return x @ x

    trace = capture(Net(), (torch.randn(4, 4),))
    assert [ly.name for ly in trace] == [
        "blocks.0.fc", "blocks.0.fc#1", "blocks.0.matmul0", "blocks.0.matmul1",
        "blocks.1.fc", "blocks.1.fc#1", "blocks.1.matmul0", "blocks.1.matmul1", "matmul0"]
    assert trace["blocks.0.fc"].meta["module_type"] == "Linear"
    assert trace["blocks.0.matmul0"].meta["module"] == "blocks.0"


def test_non_finite_weight_or_input_names_the_layer():
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 2))
    with torch.no_grad():
        model[2].weight[0, 0] = float("nan")
        model[2].weight[1, 1] = float("nan")
    with pytest.raises(ConfigError, match=r"^layer 2 weight: must be finite, not 2 NaN values$"):
        capture(model, (torch.ones(1, 3),))
    x = torch.ones(1, 3)
    x[0, 1] = float("inf")
    with pytest.raises(ConfigError, match=r"^layer 0 input: must be finite, not 1 Inf value$"):
        capture(model, (x,))


def test_sdpa_is_refused_and_unlowered_ops_are_counted():
    class Sdpa(nn.Module):
        def forward(self, q):
            return F.scaled_dot_product_attention(q, q, q)

    message = ('module <root>: must compute attention with matmuls (build transformers models '
               'with attn_implementation="eager"), not scaled_dot_product_attention')
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        capture(Sdpa(), (torch.randn(1, 2, 3, 4),))

    class Mixed(nn.Module):
        def forward(self, x):
            return torch.einsum("ij,jk->ik", x, x) + F.conv1d(x[None], x[:, :, None])[0]

    trace = capture(Mixed(), (torch.randn(3, 3),))
    assert len(trace) == 0 and trace.meta["not_captured"] == {"einsum": 1, "conv1d": 1}


# -- transformers models -----------------------------------------------------------------------

def test_minilm_real_capture(minilm):
    from qaccel.models.minilm import DEMO_SENTENCES, minilm_inputs

    model, tokenizer = minilm
    inputs = minilm_inputs(tokenizer, DEMO_SENTENCES[:2])
    s = inputs["input_ids"].shape[1]  # padded tokens per sentence
    seen = {}

    def keep_input(mod, args, out):  # returns None: the output stays as it is
        seen.setdefault("x", args[0])

    hook = model.encoder.layer[0].attention.self.query.register_forward_hook(keep_input)
    try:
        trace, out = capture_run(model, inputs, name="minilm")
    finally:
        hook.remove()
    assert torch.equal(out.last_hidden_state, model(**inputs).last_hidden_state)
    # 6 encoder layers x (q, k, v, QK^T, AV, attn out, FFN in, FFN out) + pooler
    assert len(trace) == 6 * 8 + 1
    block = "encoder.layer.0."
    assert [ly.name for ly in trace][:8] == [
        block + n for n in ("attention.self.query", "attention.self.key",
                            "attention.self.value", "attention.self.matmul0",
                            "attention.self.matmul1", "attention.output.dense",
                            "intermediate.dense", "output.dense")]
    m = 2 * s  # tokens x batch; hidden 384, 12 heads of 32, FFN 1536
    assert dims(trace[block + "attention.self.query"]) == ("linear", m, 384, 384, 1, 1)
    assert dims(trace[block + "attention.self.matmul0"]) == ("matmul", s, 32, s, 1, 24)
    assert dims(trace[block + "attention.self.matmul1"]) == ("matmul", s, s, 32, 1, 24)
    assert dims(trace[block + "intermediate.dense"]) == ("linear", m, 384, 1536, 1, 1)
    assert dims(trace[block + "output.dense"]) == ("linear", m, 1536, 384, 1, 1)
    assert dims(trace["pooler.dense"]) == ("linear", 2, 384, 384, 1, 1)  # CLS tokens only
    assert trace[block + "attention.self.matmul0"].meta["kv_cache"] == "B"
    query = trace[block + "attention.self.query"]
    np.testing.assert_array_equal(int8.to_int8(query.act),
                                  torch_int8(seen["x"].reshape(m, 384), None))
    assert all(ly.has_values and ly.meta["values"] == "captured" for ly in trace)


def tiny_llama(layers=2):
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=layers,
                      num_attention_heads=4, num_key_value_heads=2, vocab_size=100,
                      attn_implementation="eager")
    with torch.device("meta"):
        return LlamaForCausalLM(cfg).eval()


def test_tiny_llama_on_meta_device():
    model = tiny_llama()
    ids = torch.zeros(2, 8, dtype=torch.long, device="meta")  # batch 2, 8 tokens
    trace = capture(model, {"input_ids": ids}, seed=5)
    assert len(trace) == 2 * 9 + 1  # per layer q, k, v, QK^T, AV, o, gate, up, down; lm_head
    a = "model.layers.0.self_attn."
    m = 16  # 2 x 8 tokens; hidden 64 = 4 heads x 16; 2 KV heads -> k/v out 32
    assert dims(trace[a + "q_proj"]) == ("linear", m, 64, 64, 1, 1)
    assert dims(trace[a + "k_proj"]) == ("linear", m, 64, 32, 1, 1)
    assert dims(trace[a + "v_proj"]) == ("linear", m, 64, 32, 1, 1)
    # K/V repeated to 4 heads: batch x heads = 8 GEMMs of 8 x 16 . 16 x 8, then 8x8 . 8x16
    assert dims(trace[a + "matmul0"]) == ("matmul", 8, 16, 8, 1, 8)
    assert dims(trace[a + "matmul1"]) == ("matmul", 8, 8, 16, 1, 8)
    assert dims(trace["model.layers.1.mlp.down_proj"]) == ("linear", m, 128, 64, 1, 1)
    assert dims(trace["lm_head"]) == ("linear", m, 64, 100, 1, 1)
    assert trace[a + "matmul0"].meta["kv_cache"] == "B"
    assert trace.meta["values"] == "generated"
    assert all(ly.weight is None and ly.act is None and ly.has_values for ly in trace)
    seeds = [ly.meta["seed"] for ly in trace]
    assert len(set(seeds)) == len(seeds)  # one stream per layer
    again = capture(tiny_llama(), {"input_ids": ids}, seed=5)
    assert [ly.meta["seed"] for ly in again] == seeds
    other = capture(tiny_llama(), {"input_ids": ids}, seed=6)
    assert all(x != y for x, y in zip(seeds, (ly.meta["seed"] for ly in other), strict=True))
    qa, qb = trace[a + "matmul0"].operands()
    assert qa.shape == (8, 8, 16) and qb.shape == (8, 16, 8) and qa.dtype == np.int8
    np.testing.assert_array_equal(qa, again[a + "matmul0"].operands()[0])
    assert -127 <= qa.min() and qa.max() <= 127


def test_llama_7b_shapes_on_meta_are_kilobytes(tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=2,
                      num_attention_heads=32, num_key_value_heads=32, vocab_size=32000,
                      attn_implementation="eager")
    with torch.device("meta"):
        model = LlamaForCausalLM(cfg).eval()
    trace = capture(model, {"input_ids": torch.zeros(1, 256, dtype=torch.long, device="meta")})
    assert dims(trace["model.layers.0.mlp.up_proj"]) == ("linear", 256, 4096, 11008, 1, 1)
    assert dims(trace["model.layers.0.self_attn.matmul0"]) == ("matmul", 256, 128, 256, 1, 32)
    assert dims(trace["lm_head"]) == ("linear", 256, 4096, 32000, 1, 1)
    folder = trace.save(tmp_path / "llama")
    size = sum(p.stat().st_size for p in folder.iterdir())
    assert size < 16_000, size  # 19 layers of shapes + seeds, no tensors
