"""``bitfusion``: an R x C array of BitFusion-style fusible INT PEs (Sharma et al., "Bit Fusion:
Bit-Level Dynamically Composable Architecture for Accelerating Deep Neural Networks",
ISCA 2018; simulator github hsharma35/bitfusion).

Each PE (a *Fusion Unit*) holds ``bricks_per_pe`` BitBricks, 2-bit x 2-bit multipliers with
signed/unsigned operand modes. A ``b_bits`` x ``a_bits`` product (2, 4 or 8 bits each) is
split into 2-bit pieces and costs ``(a_bits/2) * (b_bits/2)`` bricks::

    x = sum_i x_i * 4^i   (top piece signed, -2..1; lower pieces unsigned, 0..3)
    a * b = sum_{i,j} (a_i * b_j) << 2 (i + j)          (one brick per (i, j))

so a PE computes ``lanes = bricks / cost`` products per cycle (16 bricks: 8x8 -> 1, 8x4 -> 2,
4x4 -> 4, 4x2 -> 8, 2x2 -> 16), summed by its shift-add tree into a 32-bit accumulator that
wraps mod 2^32; with fewer bricks than one product needs, one product takes
``cost / bricks`` cycles (``cycles_per_step``).

Operands: INTk symmetric per channel (:mod:`qaccel.models.intk`, ``int{k}_pc_sym``), i.e.
signed integers in -(2^(k-1)-1)..2^(k-1)-1, held in int8 arrays.

Mapping (our choice, documented): **output stationary only** -- M on the rows, N on the
columns, K streamed, each PE consuming ``lanes`` consecutive K elements per step. That is
where the authors' simulator puts the fused throughput too: its compute cycles are
``batch * ceil(oc / M) * ceil(ic / (N * perf))`` with ``perf = (8/iprec) * (8/wprec)``
(``Accelerator.get_compute_cycles``), i.e. the fused products divide the reduction dim.
Fold timing (SCALE-Sim v3 os rule with the stream shortened to K steps)::

    fold = R + C + ceil(K / lanes) * cycles_per_step - 2
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qaccel.arch.components import Cost, int_add, int_mult
from qaccel.arch.fields import IntIn, spec_field
from qaccel.arch.pe._output_stationary import OutputStationaryArray
from qaccel.arch.pe.registry import register_pe
from qaccel.arch.pe.tile import Tile
from qaccel.arch.spec import Drain
from qaccel.models.intk import IntK, signed_codes

__all__ = ["BitFusionArray", "brick_pieces", "WIDTHS"]

#: operand widths a Fusion Unit supports (unit: bits)
WIDTHS = (2, 4, 8)
ACC_BITS = 32
#: BitBricks in one Fusion Unit in the paper (16: one 8x8 product per cycle)
PAPER_BRICKS = 16
#: width of the shift-add tree adder charged per brick product (unit: bits); the tree's
#: adders grow from 4 to 16 bits, we charge the widest
TREE_ADD_BITS = 16


def brick_pieces(x: np.ndarray, bits: int) -> list[tuple[np.ndarray, int]]:
    """2-bit pieces of signed ``bits``-bit integers ``x``: [(piece, shift)], low piece first;
    the top piece is signed (-2..1), the others unsigned (0..3); ``sum(piece << shift) == x``."""
    x = x.astype(np.int64)
    n = bits // 2
    pieces = [((x >> (2 * i)) & 3, 2 * i) for i in range(n - 1)]
    pieces.append((x >> (2 * (n - 1)), 2 * (n - 1)))   # arithmetic shift keeps the sign
    return pieces


@register_pe("bitfusion")
@dataclass(frozen=True)
class BitFusionArray(OutputStationaryArray):
    """R x C output-stationary array of Fusion Units (BitBricks), 2/4/8-bit INT operands."""

    absent_levels = {"rtl": "no RTL yet: the BitFusion baseline is simulated only"}
    rtl_dataflows = ()
    drain_modes = (Drain.SERIAL, Drain.OVERLAPPED)
    a_bits: int = spec_field(IntIn(2, 8), "bits", "activation width: 2, 4 or 8 (unit: bits)",
                             default=8)
    b_bits: int = spec_field(IntIn(2, 8), "bits", "weight width: 2, 4 or 8 (unit: bits)",
                             default=8)
    bricks_per_pe: int = spec_field(IntIn(1, 256), "bricks",
                                    "2x2-bit BitBricks per PE, a power of two (unit: count)",
                                    default=PAPER_BRICKS)

    acc_bits = ACC_BITS

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("a_bits", "b_bits"):
            if getattr(self, name) not in WIDTHS:
                raise ValueError(f"{name} must be one of 2, 4, 8, not {getattr(self, name)!r}")
        if self.bricks_per_pe & (self.bricks_per_pe - 1):
            raise ValueError(f"bricks_per_pe must be a power of two, not {self.bricks_per_pe}")

    @property
    def fmt(self) -> str:  # type: ignore[override]
        return f"w{self.b_bits}a{self.a_bits}_pc_sym"

    @property
    def bricks_per_product(self) -> int:
        """BitBricks one ``b_bits`` x ``a_bits`` product needs: (a/2) * (b/2)."""
        return (self.a_bits // 2) * (self.b_bits // 2)

    @property
    def lanes(self) -> int:
        """Products per PE per step (consecutive K elements)."""
        return max(1, self.bricks_per_pe // self.bricks_per_product)

    @property
    def cycles_per_step(self) -> int:
        """Cycles of one step: 1 unless one product needs more bricks than a PE has."""
        return max(1, self.bricks_per_product // self.bricks_per_pe)

    # ---- mapping (os: M on rows, N on cols, K streamed) -----------------------------------
    def fold_cycles(self, streamed: int, overlapped: bool = False) -> int:
        """Cycles of one fold streaming K = ``streamed``: R + C + ceil(K/lanes)*cps - 2;
        ``overlapped`` (``drain: overlapped``): max(ceil(K/lanes)*cps, R), the steps only, at
        least the R cycles a column of shadow accumulators drains in (``arch.spec.Drain``)."""
        steps = -(-streamed // self.lanes) * self.cycles_per_step
        if overlapped:
            return max(steps, self.rows)
        return self.rows + self.cols + steps - 2

    @property
    def weight_format_name(self) -> str:
        """The ``models.formats`` name of this array's weights."""
        return f"int{self.b_bits}_pc_sym"

    # ---- the four levels -----------------------------------------------------------------
    def golden(self, tile: Tile) -> np.ndarray:
        """Bit-exact INT32 result of one tile (integer path, no rounding): every product is
        the sum of its BitBrick products ``(a_i * b_j) << 2(i+j)``; the shift-add trees and
        the 32-bit accumulators add mod 2^32, associative, so the exact int64 sum reduced to
        int32 is the hardware result in any order."""
        self.check_tile(tile)
        for name, op, bits in (("a", tile.a, self.a_bits), ("b", tile.b, self.b_bits)):
            lim = (1 << (bits - 1)) - 1
            if op.dtype != np.int8 or (op.size and (op.min() < -lim or op.max() > lim)):
                raise ValueError(f"tile.{name} must be int8 values in -{lim}..{lim} "
                                 f"({bits}-bit symmetric)")
        acc = np.zeros((tile.M, tile.N), dtype=np.int64)
        for pa, sa in brick_pieces(tile.a, self.a_bits):
            for pb, sb in brick_pieces(tile.b, self.b_bits):
                acc += (pa @ pb) << (sa + sb)     # one brick per (piece_a, piece_b) pair
        return acc.astype(np.int32)  # two's-complement wrap mod 2^32

    def events(self, tile: Tile) -> dict[str, int]:
        """Operation counts of one tile.

        ``brick_ops``: BitBrick products, M*K*N * bricks_per_product; ``pe_steps``:
        accumulator updates, M*N*ceil(K/lanes)."""
        return {"brick_ops": tile.M * tile.K * tile.N * self.bricks_per_product,
                "pe_steps": tile.M * tile.N * -(-tile.K // self.lanes)}

    def event_costs(self) -> dict[str, Cost | None]:
        """45 nm cost of one event of each kind (None: counted, not priced).

        ``brick_ops``: a 2x2 multiplier plus one ``TREE_ADD_BITS`` adder of the shift-add
        tree; ``pe_steps``: the 32-bit accumulator adder."""
        return {"brick_ops": self._brick_cost(), "pe_steps": int_add(ACC_BITS)}

    def _brick_cost(self) -> Cost:
        return int_mult(2, 2) + int_add(TREE_ADD_BITS)

    def pe_cost(self) -> Cost:
        """One Fusion Unit at 45 nm: bricks x (2x2 multiplier + tree adder) + accumulator."""
        return self._brick_cost() * self.bricks_per_pe + int_add(ACC_BITS)

    # ---- operands ------------------------------------------------------------------------
    def layer_operands(self, layer: Any) -> list[tuple[np.ndarray, np.ndarray]]:
        """One (A, B) pair of int8 value arrays per GEMM of ``layer``.

        Captured symmetric per-channel INTk tensors of the array's widths (linear layers) are
        used as coded. Anything else (seeded shape-only layers, INT8 captures) is encoded per
        GEMM: A [M x K] with ``IntK(a_bits, None, symmetric=True)`` (one scale per token),
        B^T [N x K] with ``IntK(b_bits, None, symmetric=True)`` (one per output channel).
        """
        w, act = layer.weight, layer.act
        if (layer.op == "linear" and w is not None and act is not None
                and self._is_pc_sym(act, self.a_bits) and self._is_pc_sym(w, self.b_bits)):
            return [(signed_codes(act).astype(np.int8).reshape(layer.M, layer.K),
                     np.ascontiguousarray(signed_codes(w).astype(np.int8).T))]
        a, b = layer.operands()
        fa, fb = IntK(self.a_bits, None, symmetric=True), IntK(self.b_bits, None, symmetric=True)
        out = []
        for g in range(a.shape[0]):
            ea = fa.encode(a[g].astype(np.float32), name=f"{layer.name} A")
            eb = fb.encode(np.ascontiguousarray(b[g].T).astype(np.float32),
                           name=f"{layer.name} B")
            out.append((signed_codes(ea).astype(np.int8),
                        np.ascontiguousarray(signed_codes(eb).astype(np.int8).T)))
        return out

    @staticmethod
    def _is_pc_sym(enc: Any, bits: int) -> bool:
        m = enc.meta
        return (m.get("family") == "intk" and m.get("symmetric") is True
                and m.get("group_size") is None and int(m.get("bits", 0)) == bits)
