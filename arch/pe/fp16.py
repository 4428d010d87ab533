"""``fp16``: an R x C systolic array of FP16 x FP16 MAC PEs with FP32 accumulators (baseline).

Levels (same file stem in each layer package): golden and timing here,
``sim/reference/fp16.py`` (fold loop), ``sim/fast/fp16.py`` (closed form + numba kernel),
``rtl/pe/fp16.py`` (ws and is array tops; the PE adds its exact product with one FP32 RNE).

Mapping and fold timing are those of ``systolic_int8`` (SCALE-Sim v3 rules, DESIGN.md
"PE families"): ws maps K -> rows, N -> cols, streams M, fold = 2R + C + M - 2; os maps
M -> rows, N -> cols, streams K, fold = R + C + K - 2; is maps K -> rows, M -> cols, streams
N, fold = 2R + C + N - 2. Only the arithmetic differs, so the same table is reused.

Arithmetic (the rounding points, in order):

1. Operands are IEEE binary16 values (``models/fp16.py``: RNE from the source precision).
2. Product ``a * b`` is formed exactly and kept in FP32: an FP16 x FP16 product has an at most
   22-bit significand and a magnitude in [2^-48, 65504^2] (the subnormal products included),
   all representable in FP32 (24-bit significand, normal down to 2^-126) -- no rounding.
3. Accumulation in FP32, round to nearest even after every add, strictly sequential over K
   (k = 0, 1, ..., K-1), starting from +0.0. In ws/is the K dim is split over row folds; a
   fold's FP32 partial sums go to the output buffer and re-enter the top of the column in the
   next fold (row blocks run in increasing K, ``sim/plan.py``), so the order stays k = 0..K-1.
   In os each PE accumulates its K stream in order. (FP32 accumulation of FP16 products is
   what FP16 matrix units do, e.g. NVIDIA's HMMA with FP32 accumulate and the TPU's bf16 MXU.)
   Because products are exact, a fused multiply-add gives the same bits as multiply-then-add.
4. Output: the final FP32 sum is rounded once to FP16 (RNE; overflow to +-inf as IEEE) when
   it leaves the array (:meth:`Fp16.round_output`). The output buffer holds FP32 partial sums
   (``acc_bits`` = 32), so traffic counts 32 bits per output element, final write included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qaccel.arch.components import Cost, fp_add, fp_mult
from qaccel.arch.pe._fp16_activations import fp32_sequential_mac, round_fp16
from qaccel.arch.pe._systolic import SystolicArray
from qaccel.arch.pe.registry import register_pe
from qaccel.arch.pe.tile import Tile
from qaccel.arch.published import PublishedArea, PublishedEnergy
from qaccel.models import fp16 as fp16_format
from qaccel.models.operands import float_operands

__all__ = ["Fp16"]


@register_pe("fp16")
@dataclass(frozen=True)
class Fp16(SystolicArray):
    """R x C FP16 MAC array (FP32 accumulators), weight/output/input stationary."""

    fmt = "fp16"
    phase_presets = {"prefill": "fp16-prefill", "decode": "fp16-decode"}
    area_reference = True
    #: the FP16 baseline PE of the BitMoD authors' simulator: ``pe_area`` / ``pe_energy``
    #: (github abdelfattah-lab/BitMoD-HPCA-25, bitmod_sim/test_baseline.py, 28 nm, 1 GHz;
    #: its PR_SCALING = 1.5 for place-and-route is not applied)
    published_area = (PublishedArea(1968.7, 28, "FP16 PE, pe_area",
                                    "BitMoD simulator test_baseline.py"),)
    published_energy = PublishedEnergy(0.77, 28, 1000, "BitMoD simulator test_baseline.py")
    #: operand widths (unit: bits): activation, weight, accumulator/partial sum
    a_bits = 16
    b_bits = 16
    acc_bits = 32

    @property
    def weight_format_name(self) -> str:
        """The ``models.formats`` name of this array's weights."""
        return "fp16"

    # ---- output assembly in the reference fold loop ---------------------------------------
    def output_accumulator(self, m: int, n: int) -> np.ndarray:
        """FP32 partial sums, +0.0 before the first K fold."""
        return np.zeros((m, n), dtype=np.float32)

    def fold_merge(self, block: np.ndarray, tile: Tile) -> np.ndarray:
        """The next K fold continues the sequential FP32 accumulation from ``block``."""
        return self.golden(Tile(tile.a, tile.b, meta={"acc_in": block}))

    def finish_output(self, acc: np.ndarray) -> np.ndarray:
        return self.round_output(acc)

    # ---- the four levels -----------------------------------------------------------------
    def golden(self, tile: Tile) -> np.ndarray:
        """FP32 partial sums [M x N] of one tile (rounding points 2-3 of the module docstring).

        ``tile.a``/``tile.b`` are float16 arrays; ``tile.meta["acc_in"]`` (float32 [M x N],
        default +0.0) is the partial sum the previous K fold left in the output buffer.
        """
        self.check_tile(tile)
        for name, op in (("a", tile.a), ("b", tile.b)):
            if op.dtype != np.float16:
                raise TypeError(f"tile.{name} must be a float16 array, not {op.dtype}")
        return fp32_sequential_mac(tile.a, tile.b, tile.meta.get("acc_in"))

    @staticmethod
    def round_output(acc: np.ndarray) -> np.ndarray:
        """Rounding point 4: FP32 accumulators -> FP16 outputs (RNE, overflow -> inf)."""
        return round_fp16(acc)

    def events(self, tile: Tile) -> dict[str, int]:
        """Operation counts of one tile: ``mac_fp16`` useful MACs (the engines add
        ``pe_cycles`` and ``array_cycles``, unpriced)."""
        return {"mac_fp16": tile.M * tile.K * tile.N}

    def event_costs(self) -> dict[str, Cost | None]:
        """45 nm cost of one event of each kind :meth:`events` counts (None: not priced)."""
        return {"mac_fp16": self.pe_cost()}

    def pe_cost(self) -> Cost:
        """One PE's arithmetic at 45 nm: FP16 multiplier + FP32 accumulator adder (Horowitz)."""
        return fp_mult(16) + fp_add(32)

    def layer_operands(self, layer: Any) -> list[tuple[np.ndarray, np.ndarray]]:
        """One (A float16 [M x K], B float16 [K x N]) pair per GEMM of ``layer``."""
        a, b = float_operands(layer)
        a16 = fp16_format.encode(a, name=f"layer {layer.name} A").codes.view(np.float16)
        b16 = fp16_format.encode(b, name=f"layer {layer.name} B").codes.view(np.float16)
        return [(a16[g], b16[g]) for g in range(a16.shape[0])]
