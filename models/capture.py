"""Model capture: run an ``nn.Module`` once and record every GEMM it performs as a Trace.

A ``torch.overrides.TorchFunctionMode`` sees each functional call, so ``F.linear``,
``F.conv2d`` and matmuls written inline (``torch.matmul``, ``@``, ``bmm``, ``mm``, ``addmm``,
``baddbmm``) are all recorded, not only module calls. Forward pre-hooks keep a stack of module
paths to name the layers:

- the linear (conv2d) call an ``nn.Linear`` (``nn.Conv2d``) makes is named by its module path,
  ``encoder.layer.0.attention.self.query``;
- every other call is ``<module path>.<op><i>``, ``i`` counting that op in that module
  (``encoder.layer.0.attention.self.matmul0`` is QK^T, ``matmul1`` is AV);
- a name seen twice (a module called again) gets ``#1``, ``#2``... appended.

Attention's two matmuls on the KV cache are marked ``kv_cache: "B"`` and ``kv_role`` "K"
(QK^T) / "V" (AV) (:func:`mark_kv_roles`), so a ``kv_format`` applies to them.

Real tensors: weights are encoded INT8 per output channel, the op's input activations INT8 per
tensor (both sides of an activation x activation matmul). A matmul whose B is a 2-d
``nn.Parameter`` is treated as a weight (stored transposed, N x K). Meta tensors: only shapes
are kept, plus a per-layer seed derived from ``seed`` and the layer index, so the values can
be generated later (:func:`qaccel.models.lowering.generate`).

``F.scaled_dot_product_attention`` cannot be lowered with its softmax in between, so it
raises ConfigError: build transformers models with ``attn_implementation="eager"``. Other
GEMM-like ops that are not lowered (conv1d/3d, transposed convs, einsum) are counted in
``trace.meta["not_captured"]``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from qaccel.errors import ConfigError
from qaccel.models import int8
from qaccel.models.lowering import UNIFORM_INT8, conv_out_hw, same_padding
from qaccel.models.trace import Layer, Trace

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["capture", "capture_run"]


@functools.cache
def _ops() -> dict[str, Any]:
    """The torch functions capture reacts to (built on first use: torch loads lazily, so
    ``import qaccel.models`` stays light)."""
    import torch
    import torch.nn.functional as F  # noqa: N812

    T = torch.Tensor  # noqa: N806
    return {
        "linear": F.linear,
        "conv2d": F.conv2d,
        "attention": F.scaled_dot_product_attention,
        # func -> positions of operands A and B in args, and their keyword names
        "matmuls": {
            torch.matmul: (0, 1, "input", "other"),
            T.matmul: (0, 1, "input", "other"),
            T.__matmul__: (0, 1, "input", "other"),
            T.__rmatmul__: (1, 0, "other", "input"),
            torch.mm: (0, 1, "input", "mat2"),
            T.mm: (0, 1, "input", "mat2"),
            torch.bmm: (0, 1, "input", "mat2"),
            T.bmm: (0, 1, "input", "mat2"),
            torch.addmm: (1, 2, "mat1", "mat2"),
            T.addmm: (1, 2, "mat1", "mat2"),
            torch.baddbmm: (1, 2, "batch1", "batch2"),
            T.baddbmm: (1, 2, "batch1", "batch2"),
        },
        "not_lowered": {F.conv1d: "conv1d", F.conv3d: "conv3d",
                        F.conv_transpose1d: "conv_transpose1d",
                        F.conv_transpose2d: "conv_transpose2d",
                        F.conv_transpose3d: "conv_transpose3d", torch.einsum: "einsum"},
        "own": {"linear": torch.nn.Linear, "conv2d": torch.nn.Conv2d},
    }


def _arg(args: tuple, kwargs: dict, pos: int, key: str, default: Any = None) -> Any:
    return args[pos] if len(args) > pos else kwargs.get(key, default)


def _pair(v: Any) -> list[int]:
    return [int(v), int(v)] if isinstance(v, int) else [int(x) for x in v]


def _numpy(t: torch.Tensor) -> np.ndarray:
    import torch

    return t.detach().to("cpu", torch.float32).numpy()


class _Recorder:
    """Module-path stack, layer naming and encoding for one capture."""

    def __init__(self, module: nn.Module, seed: int, vector_ops: bool = False) -> None:
        from qaccel.models.vector_capture import VectorRules

        self.seed = seed
        self.vector = VectorRules(self.add_vector) if vector_ops else None
        self.kv_matmuls: dict[str, int] = {}   # module path -> KV matmuls seen
        self.scores_call = False                # the current call is a QK^T
        self.layers: list[Layer] = []
        self.names: set[str] = set()
        self.stack: list[dict[str, Any]] = []
        self.counters: dict[tuple[str, str], int] = {}
        self.not_captured: dict[str, int] = {}
        self.paths = {}
        for path, mod in module.named_modules():
            self.paths.setdefault(id(mod), path)

    # -- module stack (forward hooks) ---------------------------------------------------------
    def push(self, mod: nn.Module, *rest: Any) -> None:
        self.stack.append({"path": self.paths[id(mod)], "module": mod, "own_used": False})
        if self.vector is not None:
            self.vector.on_module(mod, rest[0] if rest else (), self.stack)

    def pop(self, *_: Any) -> None:
        self.stack.pop()

    def _name(self, op: str) -> tuple[str, dict[str, Any]]:
        frame = self.stack[-1] if self.stack else {"path": "", "module": None, "own_used": True}
        own = _ops()["own"].get(op)
        if (own is not None and isinstance(frame["module"], own) and not frame["own_used"]
                and frame["path"]):  # the root module has no path to name the layer by
            frame["own_used"] = True
            name = frame["path"]
        else:
            i = self.counters.get((frame["path"], op), 0)
            self.counters[(frame["path"], op)] = i + 1
            name = f"{frame['path']}.{op}{i}" if frame["path"] else f"{op}{i}"
        base, j = name, 0
        while name in self.names:
            j += 1
            name = f"{base}#{j}"
        self.names.add(name)
        mod = frame["module"]
        attention = any("Attention" in type(f["module"]).__name__ for f in self.stack)
        return name, {"module": frame["path"],
                      "module_type": type(mod).__name__ if mod is not None else None,
                      "in_attention": attention}

    # -- ops (TorchFunctionMode) --------------------------------------------------------------
    def after(self, func: Callable, args: tuple, kwargs: dict, out: Any) -> None:
        """A call returned ``out``: vector ops are classified on their results."""
        if self.vector is not None:
            self.vector.on_result(func, args, kwargs, out, self.stack, self.scores_call)
        self.scores_call = False

    def add_vector(self, vop: str, m: int, k: int, n: int, meta: dict[str, Any]) -> None:
        """Append a vector layer (``qaccel.models.vector_capture``)."""
        name, where = self._name(vop)
        where.pop("in_attention")
        self.layers.append(Layer(name, "vector", m, k, n, meta={**meta, **where}))

    def on_call(self, func: Callable, args: tuple, kwargs: dict) -> None:
        ops = _ops()
        if func is ops["linear"]:
            self._linear(args, kwargs)
        elif func is ops["conv2d"]:
            self._conv2d(args, kwargs)
        elif func in ops["matmuls"]:
            self._matmul(func, args, kwargs)
        elif func is ops["attention"]:
            where = (self.stack[-1]["path"] if self.stack else "") or "<root>"
            raise ConfigError.single(f"module {where}", "must compute attention with matmuls "
                                     "(build transformers models with "
                                     "attn_implementation=\"eager\"), not "
                                     "scaled_dot_product_attention")
        elif func in ops["not_lowered"]:
            key = ops["not_lowered"][func]
            self.not_captured[key] = self.not_captured.get(key, 0) + 1

    def _add(self, op: str, dims: tuple[int, int, int], groups: int,
             tensors: dict[str, tuple[torch.Tensor, list[int]]], meta: dict[str, Any]) -> None:
        """Append a layer; ``tensors`` maps role -> (tensor, stored shape)."""
        name, where = self._name(op)
        if where.pop("in_attention") and meta.get("b_source") == "activation":
            meta["kv_cache"] = "B"  # QK^T: B = K^T, AV: B = V (eager attention)
            seen = self.kv_matmuls.get(where["module"], 0)
            self.kv_matmuls[where["module"]] = seen + 1
            self.scores_call = seen == 0     # its output is the attention scores
        meta = {**meta, **where, "dtype": str(next(iter(tensors.values()))[0].dtype)[6:]}
        encs: dict[str, Any] = {"weight": None, "act": None, "act_b": None}
        if any(t.device.type == "meta" for t, _ in tensors.values()):
            state = np.random.SeedSequence([self.seed, len(self.layers)]).generate_state(1)
            meta.update(values="generated", seed=int(state[0]), generator=dict(UNIFORM_INT8))
        else:
            meta["values"] = "captured"
            labels = {"weight": "weight", "act": "input", "act_b": "input B"}
            for role, (t, shape) in tensors.items():
                x = _numpy(t).reshape(shape)
                label = f"layer {name} {labels[role]}"
                if role == "weight":
                    encs[role] = int8.encode(x, "per_channel", axis=0, name=label)
                else:
                    encs[role] = int8.encode(x, "per_tensor", name=label)
        m, k, n = dims
        self.layers.append(Layer(name, op, m, k, n, groups, encs["weight"], encs["act"],
                                 meta, encs["act_b"]))

    def _linear(self, args: tuple, kwargs: dict) -> None:
        x, w = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "weight")
        n, k = w.shape
        m = math.prod(x.shape[:-1])
        meta = {"batch": 1, "a_shape": [m, k], "b_shape": [n, k], "b_source": "weight"}
        self._add("linear", (m, k, n), 1, {"act": (x, [m, k]), "weight": (w, [n, k])},
                  meta)

    def _conv2d(self, args: tuple, kwargs: dict) -> None:
        x, w = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "weight")
        stride = _pair(_arg(args, kwargs, 3, "stride", 1))
        padding = _arg(args, kwargs, 4, "padding", 0)
        dilation = _pair(_arg(args, kwargs, 5, "dilation", 1))
        groups = int(_arg(args, kwargs, 6, "groups", 1))
        in_shape = [1, *x.shape] if x.dim() == 3 else list(x.shape)
        cout, cg, kh, kw = w.shape
        if padding == "valid":
            pads = [0, 0, 0, 0]
        elif padding == "same":
            pads = list(same_padding((kh, kw), dilation))
        else:
            ph, pw = _pair(padding)
            pads = [ph, ph, pw, pw]
        ho, wo = conv_out_hw(in_shape[2:], (kh, kw), stride, pads, dilation)
        meta = {"batch": 1, "a_shape": in_shape, "b_shape": [cout, cg, kh, kw],
                "b_source": "weight", "kernel": [kh, kw], "stride": stride, "padding": pads,
                "dilation": dilation, "out_hw": [ho, wo]}
        self._add("conv2d", (in_shape[0] * ho * wo, cg * kh * kw, cout), groups,
                  {"act": (x, in_shape), "weight": (w, [cout, cg, kh, kw])}, meta)

    def _matmul(self, func: Callable, args: tuple, kwargs: dict) -> None:
        import torch

        ia, ib, ka, kb = _ops()["matmuls"][func]
        a, b = _arg(args, kwargs, ia, ka), _arg(args, kwargs, ib, kb)
        a_shape = [1, *a.shape] if a.dim() == 1 else list(a.shape)
        b_shape = [*b.shape, 1] if b.dim() == 1 else list(b.shape)
        m, k = a_shape[-2:]
        n = b_shape[-1]
        batch_shape = list(torch.broadcast_shapes(torch.Size(a_shape[:-2]),
                                                  torch.Size(b_shape[:-2])))
        meta = {"batch": math.prod(batch_shape), "batch_shape": batch_shape,
                "a_shape": a_shape}
        if isinstance(b, torch.nn.Parameter) and b.dim() == 2:
            meta.update(b_shape=[n, k], b_source="weight")
            tensors = {"act": (a, a_shape), "weight": (b.t(), [n, k])}
        else:
            meta.update(b_shape=b_shape, b_source="activation")
            tensors = {"act": (a, a_shape), "act_b": (b, b_shape)}
        self._add("matmul", (m, k, n), 1, tensors, meta)


@functools.cache
def _mode_class() -> type:
    from torch.overrides import TorchFunctionMode

    class CaptureMode(TorchFunctionMode):
        """Reports every torch function call to a recorder, then runs it unchanged."""

        def __init__(self, recorder: _Recorder) -> None:
            super().__init__()
            self.recorder = recorder

        def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
            kwargs = kwargs or {}
            self.recorder.on_call(func, args, kwargs)
            out = func(*args, **kwargs)
            self.recorder.after(func, args, kwargs, out)
            return out

    return CaptureMode


def capture_run(module: nn.Module, example_inputs: tuple | dict | torch.Tensor, *,
                seed: int = 0, name: str | None = None,
                vector_ops: bool = False) -> tuple[Trace, Any]:
    """Like :func:`capture`, and also return the module's output (unchanged)."""
    import torch

    recorder = _Recorder(module, int(seed), vector_ops)
    handles = []
    seen: set[int] = set()
    for _, mod in module.named_modules():
        if id(mod) not in seen:
            seen.add(id(mod))
            handles.append(mod.register_forward_pre_hook(recorder.push))
            handles.append(mod.register_forward_hook(recorder.pop, always_call=True))
    try:
        with torch.no_grad(), _mode_class()(recorder):
            if isinstance(example_inputs, Mapping):
                output = module(**example_inputs)
            elif isinstance(example_inputs, torch.Tensor):
                output = module(example_inputs)
            else:
                output = module(*example_inputs)
    finally:
        for h in handles:
            h.remove()
    items = example_inputs.items() if isinstance(example_inputs, Mapping) else \
        enumerate((example_inputs,) if isinstance(example_inputs, torch.Tensor)
                  else example_inputs)
    inputs = {str(k): list(v.shape) for k, v in items if isinstance(v, torch.Tensor)}
    kinds = {ly.meta["values"] for ly in recorder.layers if ly.op != "vector"}
    meta = {"name": name or type(module).__name__, "seed": int(seed),
            "values": kinds.pop() if len(kinds) == 1 else ("mixed" if kinds else "none"),
            "inputs": inputs, "formats": {"weight": "int8 per_channel axis 0",
                                          "act": "int8 per_tensor"},
            "not_captured": recorder.not_captured, "torch": torch.__version__}
    mark_kv_roles(recorder.layers)
    return Trace(recorder.layers, meta), output


def mark_kv_roles(layers: list[Layer]) -> None:
    """Mark the KV-cache matmuls of each attention module: the first activation x activation
    matmul whose B is the cache (``kv_cache: "B"``) reads K (QK^T, ``kv_role: "K"``), the
    second reads V (AV, ``kv_role: "V"``). A module with another number of them (not eager
    attention as transformers writes it) is left unmarked: the simulator then treats its
    matmuls as plain GEMMs."""
    by_module: dict[str, list[Layer]] = {}
    for ly in layers:
        if ly.op == "matmul" and ly.meta.get("kv_cache") == "B":
            by_module.setdefault(ly.meta.get("module", ""), []).append(ly)
    for found in by_module.values():
        if len(found) == 2:
            found[0].meta["kv_role"], found[1].meta["kv_role"] = "K", "V"


def capture(module: nn.Module, example_inputs: tuple | dict | torch.Tensor, *,
            seed: int = 0, name: str | None = None, vector_ops: bool = False) -> Trace:
    """Run ``module`` once under ``torch.no_grad`` and return the Trace of its GEMMs.

    ``example_inputs``: positional args (tuple, or one tensor) or keyword args (dict).
    ``seed`` makes shape-only (meta-device) layers reproducible; ``name`` names the trace
    (default: the module's class name). Non-finite weights or inputs raise ConfigError naming
    the layer, e.g. ``layer encoder.layer.0.attention.self.query weight: must be finite, not
    3 NaN values``. ``vector_ops``: also record the non-GEMM operators (softmax, norms,
    activations, rotary, residual adds, attention scale and mask) as vector layers
    (:mod:`qaccel.models.vector_capture`).
    """
    return capture_run(module, example_inputs, seed=seed, name=name,
                       vector_ops=vector_ops)[0]
