"""The weight-only mode of a coded-weight systolic family: FP16 activations x decoded weights.

The BitMoD paper's ANT and OliVe baselines keep FP16 activations and quantize only the weights
(Chen et al., HPCA 2025, Sec. VI; the authors' simulator gives both ``i_prec = 16``:
github abdelfattah-lab/BitMoD-HPCA-25 ``bitmod_sim/test_ant.py`` / ``test_olive.py``, commit
e445a5f). A family that mixes :class:`Fp16ActivationMode` into its parameter class gets an
``activations`` field: ``codes`` (both operands in the family's codes, its own PE) or ``fp16``
(this module's PE).

Arithmetic of the ``fp16`` mode (rounding points, in order):

1. Activations are IEEE binary16 values (``models/fp16.py``: RNE from the source precision).
2. A weight code is decoded at the array edge to its exact value (the family's
   :meth:`Fp16ActivationMode.weight_values`); a 4-bit ANT or OliVe value has a significand of
   at most 4 bits, so ``fp16 * weight`` is exact in FP32 (at most 11 + 4 significand bits).
3. Each PE adds its exact product into an FP32 accumulator, round to nearest even after every
   add, strictly sequential over K from +0.0 -- the FP16 PE's accumulation (K folds carry
   their FP32 partial sums in order).
4. The final FP32 sum is rounded once to FP16 (RNE) when it leaves the array.

Timing is the family's systolic fold with one MAC per PE per cycle; events are ``mac_fp16a``
(FP16 x decoded-weight MACs) and ``decoder_values`` (weight codes decoded at the array edge,
``K * N`` per fold: activations need no decoder).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import numpy as np

from qaccel.arch.components import Cost, fp_add, int_add, int_mult
from qaccel.arch.pe.tile import Tile
from qaccel.models import fp16 as fp16_format
from qaccel.models.operands import float_operands

__all__ = ["Activations", "Fp16ActivationMode", "fp32_sequential_mac", "round_fp16"]

#: significand bits of an FP16 activation including the hidden bit (unit: bits)
FP16_SIG_BITS = 11
#: exponent adder of the FP16 x decoded-weight product (FP16 exponent width; unit: bits)
FP16_EXP_BITS = 5


class Activations(StrEnum):
    """What the activations are: the family's own codes, or FP16 values (weight-only)."""

    CODES = "codes"
    FP16 = "fp16"


def fp32_sequential_mac(a: np.ndarray, b: np.ndarray,
                        acc_in: np.ndarray | None = None) -> np.ndarray:
    """FP32 sums [M x N] of ``a`` [M x K] . ``b`` [K x N], one RNE rounding per add, k in order.

    ``a`` and ``b`` must hold values whose pairwise products are exact in FP32 (FP16 x FP16,
    FP16 x a 4-bit significand); ``acc_in`` (float32) is the partial sum of earlier K folds."""
    acc = np.zeros((a.shape[0], b.shape[1]), dtype=np.float32)
    if acc_in is not None:
        acc[...] = acc_in
    a32 = np.asarray(a, dtype=np.float32)
    b32 = np.asarray(b, dtype=np.float32)
    for k in range(a32.shape[1]):
        acc = acc + a32[:, k, None] * b32[None, k, :]
    return acc


def round_fp16(acc: np.ndarray) -> np.ndarray:
    """FP32 accumulators -> FP16 outputs (RNE, overflow to +-inf as IEEE)."""
    with np.errstate(over="ignore"):
        return np.asarray(acc, dtype=np.float32).astype(np.float16)


class Fp16ActivationMode:
    """Mixin (before the systolic base) for a family with an ``activations`` field.

    The family declares ``activations: Activations = spec_field(OneOf(Activations), ...)``,
    implements :meth:`weight_values` and :meth:`encode_weights`, and calls
    :meth:`fp16a_golden` / :meth:`fp16a_events` from its own levels when :attr:`weight_only`.
    """

    activations: Activations

    @property
    def weight_only(self) -> bool:
        """Whether the activations are FP16 values (the weight-only mode)."""
        return self.activations is Activations.FP16

    def rtl_absent_reason(self) -> str | None:
        if self.weight_only:
            return ("no RTL for activations 'fp16': the RTL PEs multiply two codes; the "
                    "weight-only mode is simulated (golden, both engines) only")
        return super().rtl_absent_reason()  # type: ignore[misc]

    # ---- the family supplies these two ----------------------------------------------------
    def weight_values(self, b: Any) -> np.ndarray:
        """Exact real values (float32 [K x N]) of a coded weight block."""
        raise NotImplementedError

    def encode_weights(self, b: np.ndarray, name: str) -> Any:
        """The family's coded weight operand of real weights ``b`` [K x N]."""
        raise NotImplementedError

    # ---- golden, events, costs, operands of the weight-only mode ---------------------------
    def fp16a_golden(self, tile: Tile) -> np.ndarray:
        """FP32 partial sums of one tile (rounding points 1-3 of the module docstring)."""
        if not isinstance(tile.a, np.ndarray) or tile.a.dtype != np.float16:
            raise TypeError("tile.a must be a float16 array in the activations 'fp16' mode, "
                            f"not {type(tile.a).__name__}")
        return fp32_sequential_mac(tile.a, self.weight_values(tile.b), tile.meta.get("acc_in"))

    def fp16a_events(self, tile: Tile) -> dict[str, int]:
        """``mac_fp16a``: M*K*N MACs; ``decoder_values``: K*N weight decodes per fold."""
        return {"mac_fp16a": tile.M * tile.K * tile.N, "decoder_values": tile.K * tile.N}

    def fp16a_pe_cost(self) -> Cost:
        """One weight-only PE at 45 nm: an 11 x ``b_bits`` significand multiplier, the FP16
        exponent adder and an FP32 accumulator adder (the alignment shifter has no anchor)."""
        return (int_mult(FP16_SIG_BITS, self.b_bits) + int_add(FP16_EXP_BITS)  # type: ignore[attr-defined]
                + fp_add(32))

    def fp16a_operands(self, layer: Any) -> list[tuple[np.ndarray, Any]]:
        """One (A float16 [M x K], B coded [K x N]) pair per GEMM of ``layer``: activations
        rounded to FP16, weights encoded from their real values by the family's encoder."""
        a, b = float_operands(layer)
        a16 = fp16_format.encode(a, name=f"layer {layer.name} A").codes.view(np.float16)
        return [(a16[g], self.encode_weights(b[g], f"layer {layer.name} B"))
                for g in range(a16.shape[0])]

    # ---- output assembly in the reference fold loop (FP32 partial sums) ---------------------
    def output_accumulator(self, m: int, n: int) -> np.ndarray:
        if self.weight_only:
            return np.zeros((m, n), dtype=np.float32)
        return super().output_accumulator(m, n)  # type: ignore[misc]

    def fold_merge(self, block: np.ndarray, tile: Tile) -> np.ndarray:
        if self.weight_only:
            return self.golden(Tile(tile.a, tile.b, meta={"acc_in": block}))  # type: ignore[attr-defined]
        return super().fold_merge(block, tile)  # type: ignore[misc]

    def finish_output(self, acc: np.ndarray) -> np.ndarray:
        if self.weight_only:
            return round_fp16(acc)
        return super().finish_output(acc)  # type: ignore[misc]
