"""A synthetic GEMM layer (``qaccel sim --gemm MxKxN``): shapes plus a seed for its values.

It is an ordinary shape-only :class:`qaccel.models.Layer`: INT8 operands are generated on
demand, uniformly in -127..127, from the seed.
"""

from __future__ import annotations

from qaccel.errors import ConfigError
from qaccel.models.lowering import UNIFORM_INT8
from qaccel.models.trace import Layer

__all__ = ["gemm_layer", "parse_gemm"]


def gemm_layer(M: int, K: int, N: int, count: int = 1, seed: int = 0,  # noqa: N803
               name: str | None = None) -> Layer:
    """``count`` GEMMs out[M x N] = A[M x K] . B[K x N] with seeded INT8 operand values."""
    meta = {"seed": int(seed), "generator": dict(UNIFORM_INT8), "values": "generated"}
    if count == 1:
        meta.update(a_shape=[M, K], b_shape=[N, K], b_source="weight")
        return Layer(name or f"gemm_{M}x{K}x{N}", "linear", M, K, N, meta=meta)
    meta.update(a_shape=[count, M, K], b_shape=[count, K, N], b_source="activation",
                batch=count, batch_shape=[count])
    return Layer(name or f"gemm_{count}x{M}x{K}x{N}", "matmul", M, K, N, meta=meta)


def parse_gemm(text: str) -> Layer:
    """``"512x512x512"`` -> a layer with M=512, K=512, N=512; a clear error otherwise."""
    parts = text.lower().split("x")
    ok = len(parts) == 3 and all(p.isdigit() and 0 < int(p) <= 10**7 for p in parts)
    if not ok:
        raise ConfigError.single("--gemm", f"must be MxKxN with positive integers up to "
                                 f"10000000 (e.g. 512x512x512), not {text!r}")
    M, K, N = (int(p) for p in parts)  # noqa: N806
    return gemm_layer(M, K, N)
