"""A synthetic GEMM layer (``qaccel sim --gemm MxKxN``), with seeded INT8 operands."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qaccel.errors import ConfigError

__all__ = ["GemmLayer", "gemm_layer", "parse_gemm"]


@dataclass(frozen=True)
class GemmLayer:
    """out[M x N] = A[M x K] . B[K x N], ``count`` times, operands uniform in -127..127."""

    name: str
    M: int  # noqa: N815
    K: int  # noqa: N815
    N: int  # noqa: N815
    count: int = 1
    seed: int = 0
    op: str = "matmul"
    has_values: bool = True

    def gemm_shape(self) -> tuple[int, int, int, int]:
        return self.count, self.M, self.K, self.N

    def operands(self) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(self.seed)
        a = rng.integers(-127, 128, size=(self.count, self.M, self.K), dtype=np.int8)
        b = rng.integers(-127, 128, size=(self.count, self.K, self.N), dtype=np.int8)
        return a, b


def gemm_layer(M: int, K: int, N: int, count: int = 1, seed: int = 0,  # noqa: N803
               name: str | None = None) -> GemmLayer:
    return GemmLayer(name or f"gemm_{M}x{K}x{N}", M, K, N, count, seed)


def parse_gemm(text: str) -> GemmLayer:
    """``"512x512x512"`` -> GemmLayer(M=512, K=512, N=512); a clear error otherwise."""
    parts = text.lower().split("x")
    ok = len(parts) == 3 and all(p.isdigit() and 0 < int(p) <= 10**7 for p in parts)
    if not ok:
        raise ConfigError.single("--gemm", f"must be MxKxN with positive integers up to "
                                 f"10000000 (e.g. 512x512x512), not {text!r}")
    M, K, N = (int(p) for p in parts)  # noqa: N806
    return gemm_layer(M, K, N)
