"""Values of the coded-weight systolic families' fast levels (``ant``, ``olive``): exact INT32
products of their codes' integer values, or in the weight-only mode (``activations: fp16``)
FP16 activations times the decoded weights with FP32 sequential accumulation. One piece of
code for both families, so their levels cannot drift apart."""

from __future__ import annotations

from typing import Any

import numpy as np

from qaccel.arch.pe._fp16_activations import round_fp16
from qaccel.sim.fast.exact import coded_product
from qaccel.sim.fast.fp_mac import sequential_f32_matmul

__all__ = ["coded_gemm_values"]


def coded_gemm_values(pe: Any, a: Any, b: Any) -> np.ndarray:
    """Output [M x N] of one GEMM on ``pe``: FP16 (weight-only mode) or INT32 wrapping."""
    if pe.weight_only:   # FP16 activations x decoded weights, FP32 sequential accumulation
        return round_fp16(sequential_f32_matmul(a, pe.weight_values(b)))
    return coded_product(a, b).astype(np.int32)
