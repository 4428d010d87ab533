"""Torch integration: quantize the nn.Linear / nn.Conv2d layers of a module with a recipe, run
the quantized model (fake quantization from decoded codes) and capture its Trace with the
recipe's codes.

A :class:`Recipe` names a weight format, an activation format (both registry names of
:mod:`qaccel.models.formats`) and fnmatch patterns of module paths to leave in float32.
:func:`quantize_model` returns a copy of the module whose layers are :class:`QuantLinear` /
:class:`QuantConv2d` (subclasses of the originals, so capture still names them by path):

- the weight is encoded once; the layer's weight parameter holds its decoded values; the
  Encoded is kept as ``layer.weight_enc``. Conv weights are encoded in their GEMM view
  ``[Cout, Cin/groups * kh * kw]`` so that groups run along K; nn.Linear weights as stored,
  ``[N, K]``. Biases stay float32.
- every input is encoded on the fly (nn.Linear: as ``[M, K]``; conv: the raw input) and
  replaced by its decoded values before the float32 GEMM.

:func:`capture_quantized` runs :func:`qaccel.models.capture` on the quantized model and puts
the recipe's Encoded weight and input on each quantized layer (activation x activation
matmuls keep capture's INT8 encoding; the trace meta says so).
"""

from __future__ import annotations

import copy
import fnmatch
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from qaccel.errors import ConfigError
from qaccel.models.capture import capture
from qaccel.models.encoded import Encoded
from qaccel.models.formats import decode, get_format
from qaccel.models.trace import Trace

__all__ = ["Recipe", "RECIPES", "get_recipe", "ENCODE_OPTIONS", "encode_weight", "encode_act",
           "QuantLinear", "QuantConv2d", "quantize_model", "quantized_layers",
           "capture_quantized"]


@dataclass(frozen=True)
class Recipe:
    """Which formats a model's nn.Linear / nn.Conv2d layers use."""

    name: str
    weight: str                   #: format of the weights (registry name)
    act: str                      #: format of the layers' inputs (``fp16`` for "unquantized")
    skip: tuple[str, ...] = ()    #: fnmatch patterns of module paths left in float32
    version: ClassVar[int] = 1

    def __post_init__(self) -> None:
        get_format(self.weight, f"recipe {self.name} weight")
        get_format(self.act, f"recipe {self.name} act")
        if isinstance(self.skip, str) or not all(isinstance(p, str) for p in self.skip):
            raise ConfigError.single(f"recipe {self.name} skip", f"must be a tuple of "
                                     f"module-path patterns, not {self.skip!r}")
        object.__setattr__(self, "skip", tuple(self.skip))

    def skips(self, path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, p) for p in self.skip)

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "name": self.name, "weight": self.weight,
                "act": self.act, "skip": list(self.skip)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Recipe:
        if d.get("version") != cls.version:
            raise ConfigError.single("recipe version", f"must be {cls.version}, not "
                                     f"{d.get('version')!r}")
        return cls(d["name"], d["weight"], d["act"], tuple(d.get("skip", ())))


#: named recipes: weight-only formats run FP16 activations (as the BitMoD / W4A16 PEs do);
#: the W+A recipes quantize both
RECIPES: dict[str, Recipe] = {r.name: r for r in (
    Recipe("fp16", "fp16", "fp16"),
    Recipe("int8", "int8", "int8"),
    Recipe("int4_pc_sym", "int4_pc_sym", "fp16"),
    Recipe("int4_g128", "int4_g128", "fp16"),
    Recipe("int3_g128", "int3_g128", "fp16"),
    Recipe("ant4", "ant4", "fp16"),
    Recipe("bitmod_fp4", "bitmod_fp4", "fp16"),
    Recipe("bitmod_fp3", "bitmod_fp3", "fp16"),
    Recipe("olive4", "olive4", "fp16"),
    Recipe("olive4_pc", "olive4_pc", "fp16"),
    Recipe("olive4_w4a4", "olive4", "olive4"),
    Recipe("olive8", "olive8", "olive8"),
    Recipe("mixpe_w4a8", "mixpe_w4", "int8"),
    Recipe("mixpe_w4a16", "mixpe_w4", "fp16"),
)}

#: encode keyword options by (format, role); role is "weight" or the op whose input it is
ENCODE_OPTIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("int8", "weight"): {"granularity": "per_channel", "axis": 0},
    ("int8", "linear"): {"granularity": "per_token"},
    ("int8", "conv2d"): {"granularity": "per_tensor"},
}


def get_recipe(name: str, path: str = "--recipe") -> Recipe:
    try:
        return RECIPES[name]
    except (KeyError, TypeError):
        raise ConfigError.single(path, f"must be one of {', '.join(RECIPES)}, not "
                                 f"{name!r}") from None


def encode_weight(fmt: str, w: np.ndarray, name: str) -> Encoded:
    """Encode a weight in its GEMM view ([N, K]; conv weights flattened to [Cout, K])."""
    w2 = w.reshape(w.shape[0], -1)
    return get_format(fmt).encode(w2, name=name, **ENCODE_OPTIONS.get((fmt, "weight"), {}))


def encode_act(fmt: str, x: np.ndarray, op: str, name: str) -> Encoded:
    """Encode the input of an ``op`` ("linear": [M, K]; "conv2d": [N, Cin, H, W])."""
    return get_format(fmt).encode(x, name=name, **ENCODE_OPTIONS.get((fmt, op), {}))


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float32).numpy()


class _Quantized:
    """What QuantLinear and QuantConv2d share: the Encoded weight, the input format and the
    optional record of encoded inputs (for capture)."""

    op: ClassVar[str]
    weight_enc: Encoded
    act_format: str
    path: str
    recorded: list[Encoded] | None

    def _setup(self, weight: torch.Tensor, weight_fmt: str, act_fmt: str, path: str) -> None:
        self.path, self.act_format, self.recorded = path, act_fmt, None
        w = _numpy(weight)
        self.weight_enc = encode_weight(weight_fmt, w, f"layer {path} weight")
        decoded = torch.from_numpy(decode(self.weight_enc).reshape(w.shape))
        self.weight = nn.Parameter(decoded.to(weight.dtype), requires_grad=False)

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, weight={self.weight_enc.format}, "  # type: ignore[misc]
                f"act={self.act_format}")

    def _input_view(self, xn: np.ndarray) -> np.ndarray:
        """The view of an input that is encoded (the trace's stored act shape)."""
        return xn

    def _quantize_input(self, x: torch.Tensor) -> torch.Tensor:
        xn = self._input_view(_numpy(x))
        enc = encode_act(self.act_format, xn, self.op, f"layer {self.path} input")
        if self.recorded is not None:
            self.recorded.append(enc)
        return torch.from_numpy(decode(enc).reshape(x.shape)).to(x.dtype)


class QuantLinear(_Quantized, nn.Linear):
    """nn.Linear with encoded weights and fake-quantized inputs."""

    op = "linear"

    def __init__(self, linear: nn.Linear, weight_fmt: str, act_fmt: str, path: str) -> None:
        nn.Module.__init__(self)
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.bias = linear.bias
        self._setup(linear.weight, weight_fmt, act_fmt, path)

    def _input_view(self, xn: np.ndarray) -> np.ndarray:
        return xn.reshape(-1, xn.shape[-1])  # [M, K]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(self._quantize_input(x), self.weight, self.bias)


class QuantConv2d(_Quantized, nn.Conv2d):
    """nn.Conv2d with encoded weights (GEMM view) and fake-quantized inputs."""

    op = "conv2d"

    def __init__(self, conv: nn.Conv2d, weight_fmt: str, act_fmt: str, path: str) -> None:
        nn.Module.__init__(self)
        for attr in ("in_channels", "out_channels", "kernel_size", "stride", "padding",
                     "dilation", "transposed", "output_padding", "groups", "padding_mode",
                     "_reversed_padding_repeated_twice"):
            setattr(self, attr, getattr(conv, attr))
        self.bias = conv.bias
        self._setup(conv.weight, weight_fmt, act_fmt, path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(self._quantize_input(x), self.weight, self.bias)


_WRAPPERS: dict[type, type] = {nn.Linear: QuantLinear, nn.Conv2d: QuantConv2d}


def quantize_model(module: nn.Module, recipe: Recipe | str, *,
                   inplace: bool = False) -> nn.Module:
    """A copy of ``module`` (the module itself if ``inplace``) whose nn.Linear and nn.Conv2d
    layers, except those ``recipe.skip`` matches, are quantized. The copy shares the
    original's parameters and buffers; quantized layers get new weight parameters."""
    if isinstance(recipe, str):
        recipe = get_recipe(recipe, "recipe")
    if inplace:
        target = module
    else:  # copy the module tree but share its parameters and buffers (none is changed)
        memo: dict[int, Any] = {id(t): t for t in (*module.parameters(), *module.buffers())}
        target = copy.deepcopy(module, memo)
    replaced: dict[int, nn.Module] = {}
    for path, mod in list(target.named_modules()):
        for child_name, child in list(mod._modules.items()):  # a shared child at every name
            child_path = f"{path}.{child_name}" if path else child_name
            wrapper = _WRAPPERS.get(type(child))
            if wrapper is None or recipe.skips(child_path):
                continue
            if id(child) not in replaced:
                replaced[id(child)] = wrapper(child, recipe.weight, recipe.act, child_path)
            setattr(mod, child_name, replaced[id(child)])
    target.qaccel_recipe = recipe
    return target


def quantized_layers(module: nn.Module) -> dict[str, _Quantized]:
    """Module path -> quantized layer, in module order."""
    return {path: m for path, m in module.named_modules() if isinstance(m, _Quantized)}


def capture_quantized(module: nn.Module, example_inputs: Any, *, seed: int = 0,
                      name: str | None = None) -> Trace:
    """Capture a quantized model's Trace, its linear/conv layers carrying the recipe's
    Encoded weight and input (``layer.meta["weight_view"] == "gemm"`` for conv weights)."""
    layers = quantized_layers(module)
    for q in layers.values():
        q.recorded = []
    try:
        trace = capture(module, example_inputs, seed=seed, name=name)
    finally:
        recorded = {path: q.recorded for path, q in layers.items()}
        for q in layers.values():
            q.recorded = None
    used = dict.fromkeys(layers, 0)
    for layer in trace:
        path = layer.meta.get("module")
        own = path in layers and (layer.name == path or layer.name.startswith(path + "#"))
        if layer.op not in ("linear", "conv2d") or not own:
            continue
        q = layers[path]
        layer.weight = q.weight_enc
        layer.act = recorded[path][used[path]]
        used[path] += 1
        layer.meta.update(weight_format=q.weight_enc.format, act_format=layer.act.format)
        if layer.op == "conv2d":
            layer.meta["weight_view"] = "gemm"
    recipe = getattr(module, "qaccel_recipe", None)
    if recipe is not None:
        trace.meta["recipe"] = recipe.to_dict()
        trace.meta["formats"] = {"weight": recipe.weight, "act": recipe.act,
                                 "matmul": "int8 per_tensor (capture)"}
    return trace
