"""MixPE group quantization: INT4 weights in groups of 128 along K with an FP16 scale and an
integer zero point per group, times INT8 (W4A8) or FP16 (W4A16) activations (DESIGN.md "PE
families"; Zhang et al., MixPE, github yuzhang712/mixpe_simulator).

The weight format is :class:`qaccel.models.intk.IntK` ``(4, 128)``, registered as
``int4_g128`` and under the alias ``mixpe_w4`` (its Encoded still says ``int4_g128``). The
activation formats are ``int8`` per token (W4A8) and ``fp16`` (W4A16).

:func:`group_gemm` is the MixPE dataflow in NumPy: integer partial sums per group, the group's
scale and zero point applied once per group,

    out[m, n] = sum_g s[n, g] * (sum_{k in g} q[n, k] * a[m, k] - z[n, g] * sum_{k in g} a[m, k])

which equals ``a @ decode(w).T`` up to float rounding (a test checks it).
"""

from __future__ import annotations

import numpy as np

from qaccel.models.encoded import Encoded
from qaccel.models.intk import IntK

__all__ = ["WEIGHT_FORMAT", "ACT_FORMATS", "group_gemm"]

#: the MixPE weight format: 4-bit asymmetric, groups of 128, FP16 scale, 4-bit zero point
WEIGHT_FORMAT = IntK(4, 128)
#: activation format per MixPE mode
ACT_FORMATS = {"w4a8": "int8", "w4a16": "fp16"}


def group_gemm(a: np.ndarray, w: Encoded) -> np.ndarray:
    """``a`` [M, K] (real values, or INT8 codes as integers) times an asymmetric per-group
    INTk weight [N, K] -> [M, N] float64, through per-group integer partial sums.

    The partial sums ``sum q * a`` and ``sum a`` are exact when ``a`` holds integers (|sum| <
    2^53 for K * 15 * 128 < 2^53), so with INT8 activations only the final scaling rounds.
    """
    meta = w.meta
    if meta.get("family") != "intk" or meta["symmetric"] or meta["group_size"] is None:
        raise ValueError(f"Encoded must be an asymmetric per-group INTk weight, not "
                         f"{meta.get('format')!r}")
    n, k = meta["shape"]
    g = int(meta["group_size"])
    groups = w.codes.shape[-2]
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != k:
        raise ValueError(f"Activation must be M x {k}, not shape {a.shape}")
    pad = groups * g - k
    ag = np.concatenate([a, np.zeros((a.shape[0], pad))], axis=1) if pad else a
    ag = ag.reshape(a.shape[0], groups, g)                          # [M, G, g]
    q = w.codes.astype(np.float64)                                  # [N, G, g]
    dots = np.einsum("mgk,ngk->mng", ag, q)                         # integer partial sums
    asum = ag.sum(axis=2)                                           # [M, G]
    z = w.extra["zero_points"][..., 0].astype(np.float64)           # [N, G]
    s = w.scales[..., 0].astype(np.float64)                         # [N, G]
    return np.einsum("ng,mng->mn", s, dots - z[None] * asum[:, None, :])
