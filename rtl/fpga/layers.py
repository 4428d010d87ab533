"""Real-layer tiles for the FPGA checks: the fold tiles of a captured torch MLP.

One seeded two-layer MLP (64 -> 48 -> 40 features, 40 tokens) is captured with
:func:`qaccel.models.capture`; each family's own ``layer_operands`` quantizes/encodes the
operands as its array sees them, and :func:`qaccel.rtl.tb.stimulus.gemm_tiles` cuts them
into fold tiles. A bounded number of tiles is taken at an even stride over both layers, so
every check sees tiles of each layer (partial tiles at the edges included).
"""

from __future__ import annotations

from qaccel.arch.pe.tile import Tile
from qaccel.arch.spec import PEArray
from qaccel.rtl.tb.stimulus import gemm_tiles

__all__ = ["layer_tiles", "MLP_FEATURES", "MLP_TOKENS", "streamed_cut"]

#: features of the MLP's layers (in, hidden, out) and its input rows
MLP_FEATURES = (64, 48, 40)
MLP_TOKENS = 40


def streamed_cut(params: PEArray) -> int:
    """Where the streamed dim is cut: 16 rows (ws/is: M or N), 64 for os (K; beats of
    ``lanes`` codes fit the shells' 64-row buffers)."""
    return 64 if params.dataflow.value == "os" else 16


def layer_tiles(params: PEArray, count: int | None = None, *, seed: int = 0) -> list[Tile]:
    """``count`` fold tiles (all when None) of the MLP's layers for ``params``."""
    import torch

    from qaccel.models import capture

    torch.manual_seed(seed)
    d_in, d_hidden, d_out = MLP_FEATURES
    mlp = torch.nn.Sequential(torch.nn.Linear(d_in, d_hidden), torch.nn.ReLU(),
                              torch.nn.Linear(d_hidden, d_out))
    trace = capture(mlp, (torch.randn(MLP_TOKENS, d_in),))
    tiles: list[Tile] = []
    for layer in trace.layers:
        for a, b in params.layer_operands(layer):
            tiles += gemm_tiles(params, a, b, max_streamed=streamed_cut(params))
    if count is None or count >= len(tiles):
        return tiles
    step = len(tiles) / count
    return [tiles[int(i * step)] for i in range(count)]
