"""Lowering convolutions to GEMMs (im2col) and generating seeded operand values.

im2col follows ``torch.nn.functional.conv2d`` exactly (cross-correlation, zero padding,
stride, dilation, groups): for group ``g`` the GEMM is ``out_g[M x Cout/G] = A_g[M x K] .
B_g[K x Cout/G]`` with rows ``m = (n, oh, ow)`` row-major and columns
``k = (cin within group, kh, kw)`` row-major, the order of ``weight.reshape(Cout, K)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["conv_out_hw", "same_padding", "im2col", "conv_weight_gemm", "generate",
           "UNIFORM_INT8"]

#: the default generator spec for shape-only (meta-device) layers: integers drawn uniformly
#: from low..high inclusive, the whole INT8 table
UNIFORM_INT8: dict[str, Any] = {"kind": "uniform_int", "low": -127, "high": 127}


def conv_out_hw(hw: Sequence[int], kernel: Sequence[int], stride: Sequence[int],
                padding: Sequence[int], dilation: Sequence[int]) -> tuple[int, int]:
    """Output height and width; ``padding`` is (top, bottom, left, right) in pixels."""
    pads = ((padding[0], padding[1]), (padding[2], padding[3]))
    out = []
    for i in range(2):
        span = dilation[i] * (kernel[i] - 1) + 1
        out.append((hw[i] + pads[i][0] + pads[i][1] - span) // stride[i] + 1)
    return out[0], out[1]


def same_padding(kernel: Sequence[int], dilation: Sequence[int]) -> tuple[int, int, int, int]:
    """torch's ``padding="same"`` (stride 1): total ``d(k-1)``, the odd pixel at the end."""
    pads = []
    for k, d in zip(kernel, dilation, strict=True):
        total = d * (k - 1)
        pads += [total // 2, total - total // 2]
    return pads[0], pads[1], pads[2], pads[3]


def im2col(x: np.ndarray, kernel: Sequence[int], stride: Sequence[int],
           padding: Sequence[int], dilation: Sequence[int], groups: int) -> np.ndarray:
    """``x`` [N, Cin, H, W] -> A [groups, N*Hout*Wout, Cin/groups*kh*kw] (same dtype)."""
    n, cin, _, _ = x.shape
    kh, kw = kernel
    top, bottom, left, right = padding
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    span_h, span_w = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    win = np.lib.stride_tricks.sliding_window_view(xp, (span_h, span_w), axis=(2, 3))
    # win: [N, Cin, Hp-span_h+1, Wp-span_w+1, span_h, span_w]
    win = win[:, :, ::stride[0], ::stride[1], ::dilation[0], ::dilation[1]]
    ho, wo = win.shape[2], win.shape[3]
    cg = cin // groups
    win = win.reshape(n, groups, cg, ho, wo, kh, kw)
    a = win.transpose(1, 0, 3, 4, 2, 5, 6)  # [G, N, Ho, Wo, Cg, kh, kw]
    return np.ascontiguousarray(a).reshape(groups, n * ho * wo, cg * kh * kw)


def conv_weight_gemm(w: np.ndarray, groups: int) -> np.ndarray:
    """Conv weight [Cout, Cin/G, kh, kw] -> B [G, Cin/G*kh*kw, Cout/G]."""
    cout = w.shape[0]
    return w.reshape(groups, cout // groups, -1).transpose(0, 2, 1)


def generate(shape: Sequence[int], seed: int, stream: int, spec: dict[str, Any]) -> np.ndarray:
    """Deterministic int8 values for a shape-only layer.

    ``numpy.random.default_rng([seed, stream])`` draws ``spec["low"]..spec["high"]``
    (inclusive) uniformly; stream 0 is operand A (the input), 1 is operand B.
    """
    if spec.get("kind") != "uniform_int":
        raise ValueError(f"Generator kind must be 'uniform_int', not {spec.get('kind')!r}")
    low, high = int(spec["low"]), int(spec["high"])
    if not -128 <= low <= high <= 127:
        raise ValueError(f"Generator range must lie in -128..127, not {low}..{high}")
    rng = np.random.default_rng([int(seed), int(stream)])
    return rng.integers(low, high, size=tuple(shape), dtype=np.int8, endpoint=True)
