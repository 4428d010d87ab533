"""What the output-stationary families (``bitmod``, ``mixpe``, ``bitfusion``) share: one
dataflow (``os``: two GEMM dims on the array, K streamed through every PE), the mapping from a
class constant, and the output assembly of PEs that own whole outputs.

:class:`OutputStationaryArray` is the base (not registered); :class:`OwnsOutputs` adds the
reference fold loop's output hooks for PEs whose accumulators hold state the output buffer
cannot carry exactly between folds (FP32 group sums, per-group dequantization): each fold then
covers all of K (no K split) and writes its output block once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from qaccel.arch.spec import Dataflow, PEArray

__all__ = ["OutputStationaryArray", "OwnsOutputs"]


@dataclass(frozen=True)
class OutputStationaryArray(PEArray):
    """An R x C output-stationary array (a base class, not registered)."""

    dataflows = (Dataflow.OS,)
    rtl_dataflows = (Dataflow.OS,)
    #: (GEMM dim on array rows, on array cols, streamed dim)
    os_mapping: ClassVar[tuple[str, str, str]] = ("M", "N", "K")

    @property
    def mapping(self) -> tuple[str, str, str]:
        """(dim on rows, dim on cols, streamed dim) of this family's ``os`` dataflow."""
        return self.os_mapping


class OwnsOutputs:
    """Output hooks of PEs that own whole outputs (mixed into an output-stationary family).

    ``out_dtype``: the dtype the output buffer holds (e.g. float16)."""

    k_split: ClassVar[bool] = False
    out_dtype: ClassVar[Any] = np.float32

    def output_accumulator(self, m: int, n: int) -> np.ndarray:
        return np.zeros((m, n), dtype=self.out_dtype)

    def fold_merge(self, block: np.ndarray, tile: Any) -> np.ndarray:
        """Each fold owns its whole output block (all of K): the block is its result."""
        return self.golden(tile)

    def finish_output(self, acc: np.ndarray) -> np.ndarray:
        return acc
