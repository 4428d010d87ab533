"""Non-GEMM operators as vector layers: what capture records besides the GEMMs.

:func:`qaccel.models.capture.capture` with ``vector_ops=True`` hands every torch call and its
output to a :class:`VectorRules` object, which keeps these (one vector layer each, named
``<module path>.<vop><i>`` like the matmuls):

- ``softmax``: ``F.softmax`` / ``torch.softmax`` / ``Tensor.softmax`` (rows along ``dim``);
- ``layernorm``: ``F.layer_norm`` (rows of the normalized shape);
- ``rmsnorm``: a module whose class name ends in ``RMSNorm`` (transformers writes RMS norm
  as pow / mean / rsqrt / mul: the module is one layer and the ops inside it are not
  recorded); rows of the last dim;
- ``gelu`` / ``silu``: ``F.gelu`` / ``F.silu``, or a module whose class name holds ``GELU``
  (transformers' tanh approximations, one layer, ops inside not recorded);
- inside an attention module (the innermost module's class name holds ``Attention``), on the
  scores (the output of
  its first activation x activation matmul, and what is computed from them): a product with
  a number is ``scale``, a sum with a tensor is ``mask``; the scores' softmax is ``softmax``;
- ``rotary``: inside an attention module, each negation (``rotate_half``'s ``-x2``, one per
  rotated query or key tensor) stands for one rotary embedding of the whole tensor (rows of
  head_dim: its ``q * cos + rotate_half(q) * sin``; those products and sums are not recorded
  separately);
- ``mul``: outside attention, a product of two tensors of more than one element (the SwiGLU
  product ``act(gate) * up``);
- ``add``: outside attention, a sum of two tensors of more than one element (residual adds,
  learned position embeddings).

Everything inside a module whose class name holds ``Rotary`` or ends in ``Embedding`` (cos/sin
tables, lookups, position ids) is skipped; an embeddings block (``BertEmbeddings``) is not: its
adds and layer norm are recorded. A layer's ``M`` x ``N`` is its output's rows x row length
(N = last dim, or the reduced dim), ``K`` the reduction length (N for softmax and the norms,
1 otherwise); ``inputs`` counts the operands as large as the output (a broadcast mask or a
norm's weight is not counted: it is read once and small).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

__all__ = ["VectorRules"]

#: vector ops whose rows are reduced (softmax, the norms): K = row length
REDUCING = ("softmax", "layernorm", "rmsnorm")


@functools.cache
def _funcs() -> dict[Any, str]:
    import torch
    import torch.nn.functional as F  # noqa: N812

    T = torch.Tensor  # noqa: N806
    table = {F.softmax: "softmax", torch.softmax: "softmax", T.softmax: "softmax",
             F.layer_norm: "layernorm", F.gelu: "gelu", F.silu: "silu"}
    for f in (torch.mul, T.mul, T.__mul__, T.__rmul__):
        table[f] = "*"
    for f in (torch.add, T.add, T.__add__, T.__radd__):
        table[f] = "+"
    for f in (torch.neg, T.neg, T.__neg__):
        table[f] = "neg"
    return table


def _module_vop(mod: Any) -> str | None:
    """The vector op a whole module is (its inside not recorded), or None."""
    name = type(mod).__name__
    if name.endswith("RMSNorm"):
        return "rmsnorm"
    if "GELU" in name:
        return "gelu"
    return None


def _skipped(mod: Any) -> bool:
    name = type(mod).__name__
    return "Rotary" in name or name.endswith("Embedding")


def _is_tensor(x: Any) -> bool:
    import torch

    return isinstance(x, torch.Tensor)


class VectorRules:
    """Classifies calls into vector layers; ``add`` is the recorder's layer sink
    ``add(vop, M, K, N, meta)``."""

    def __init__(self, add: Callable[..., None]) -> None:
        self.add = add
        self.scores: set[int] = set()   # ids of attention score tensors (and derived ones)
        self.keep: list[Any] = []       # keep score tensors alive so their ids stay unique

    # -- module stack ---------------------------------------------------------------------
    def on_module(self, mod: Any, args: tuple, stack: list[dict[str, Any]]) -> None:
        """A module is entered (its forward pre-hook)."""
        if self._quiet(stack[:-1]):
            return
        vop = _module_vop(mod)
        if vop is not None and args and _is_tensor(args[0]):
            x = args[0]
            n = int(x.shape[-1]) if x.dim() else 1
            self._emit(vop, x, n, (x,))

    def _quiet(self, stack: list[dict[str, Any]]) -> bool:
        return any(_module_vop(f["module"]) is not None or _skipped(f["module"])
                   for f in stack)

    # -- function calls (after they ran) -----------------------------------------------------
    def on_result(self, func: Any, args: tuple, kwargs: dict, out: Any,
                  stack: list[dict[str, Any]], attention_matmul: bool) -> None:
        """A torch call returned ``out``; ``attention_matmul``: it was the first KV matmul
        of an attention module (its output is the scores)."""
        if attention_matmul and _is_tensor(out):
            self._mark(out)
            return
        kind = _funcs().get(func)
        if kind is None or self._quiet(stack) or not _is_tensor(out):
            return
        # the innermost module computes attention (a residual add in BERT's BertSelfOutput
        # sits inside BertAttention but is no attention op)
        in_attention = bool(stack) and "Attention" in type(stack[-1]["module"]).__name__
        tensors = [a for a in args if _is_tensor(a)]
        on_scores = any(id(t) in self.scores for t in tensors)
        if kind == "softmax":
            dim = kwargs.get("dim", args[1] if len(args) > 1 else -1)
            n = int(out.shape[dim]) if out.dim() else 1
            self._emit("softmax", out, n, tensors, on_scores)
        elif kind == "layernorm":
            shape = kwargs.get("normalized_shape", args[1] if len(args) > 1 else None)
            self._emit("layernorm", out, math.prod(shape), tensors)
        elif kind in ("gelu", "silu"):
            self._emit(kind, out, int(out.shape[-1]), tensors)
        elif in_attention:
            self._attention(kind, out, tensors, on_scores)
        elif kind in ("*", "+") and len(tensors) == 2 and all(t.numel() > 1 for t in tensors):
            self._emit("mul" if kind == "*" else "add", out, int(out.shape[-1]), tensors)
        if on_scores and _is_tensor(out):
            self._mark(out)

    def _attention(self, kind: str, out: Any, tensors: list[Any], on_scores: bool) -> None:
        if kind == "neg" and tensors:
            x = tensors[0]                       # rotate_half's x2: half of the head dim
            rows = math.prod(x.shape[:-1])
            self._emit_shape("rotary", rows, 2 * int(x.shape[-1]), 1, str(x.dtype))
        elif on_scores and kind == "*" and len(tensors) == 1:
            self._emit("scale", out, int(out.shape[-1]), tensors, True)
        elif on_scores and kind == "+" and len(tensors) == 2:
            self._emit("mask", out, int(out.shape[-1]), tensors, True)

    def _mark(self, t: Any) -> None:
        self.scores.add(id(t))
        self.keep.append(t)

    def _emit(self, vop: str, out: Any, n: int, inputs: Any, on_scores: bool = False) -> None:
        rows = max(1, out.numel() // max(n, 1))
        full = sum(1 for t in inputs if t.numel() == out.numel())   # broadcast ones: tiny
        self._emit_shape(vop, rows, n, full or 1, str(out.dtype), on_scores)

    def _emit_shape(self, vop: str, rows: int, n: int, inputs: int, dtype: str,
                    on_scores: bool = False) -> None:
        k = n if vop in REDUCING else 1
        meta = {"vop": vop, "inputs": min(max(inputs, 1), 2), "in_dtype": dtype[6:],
                "out_dtype": dtype[6:]}
        if on_scores:
            meta["on_scores"] = True
        self.add(vop, int(rows), int(k), int(n), meta)
