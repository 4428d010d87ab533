"""Operand preparation: a trace layer's values in the form a PE family computes on.

A family's ``layer_operands(layer)`` hook (``arch/pe/<family>.py``) calls these helpers, so the
decoding of captured tensors and the generation of seeded values live here, in models/, and
not in the arch family files.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qaccel.models.formats import decode

__all__ = ["float_operands", "int8_operands"]


def _float_values(layer: Any) -> tuple[np.ndarray, np.ndarray]:
    """A and B as real numbers in their stored shapes: captured tensors decoded through their
    format; shape-only layers get seeded int8 values / 32 plus a seeded fraction (values in
    about +-4 with full FP16 mantissas)."""
    b_enc = layer.act_b if layer.b_source == "activation" else layer.weight
    if layer.act is not None and b_enc is not None:
        return decode(layer.act), decode(b_enc)
    a, b = layer._codes()  # seeded int8 values of the stored shapes
    rng = np.random.default_rng([int(layer.meta["seed"]), 7])
    return tuple(x.astype(np.float32) / 32 + rng.standard_normal(x.shape, np.float32) / 64
                 for x in (a, b))


def float_operands(layer: Any) -> tuple[np.ndarray, np.ndarray]:
    """Real operand values of ``layer``: A float32 [count, M, K], B float32 [count, K, N]."""
    a, b = layer.gemm_operands(*_float_values(layer))
    return a.astype(np.float32), b.astype(np.float32)


def int8_operands(layer: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """One (A int8 [M x K], B int8 [K x N]) pair per GEMM of ``layer`` (``Layer.operands``)."""
    a, b = layer.operands()
    return [(a[g], b[g]) for g in range(a.shape[0])]
