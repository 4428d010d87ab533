"""What the output-stationary families (``bitmod``, ``mixpe``, ``bitfusion``) share: one
dataflow (``os``: two GEMM dims on the array, K streamed through every PE), the mapping from a
class constant, and the output assembly of PEs that own whole outputs.

:class:`OutputStationaryArray` is the base (not registered); :class:`OwnsOutputs` adds the
reference fold loop's output hooks for PEs whose accumulators hold state the output buffer
are FP32 group sums: a K split then reloads the FP32 partial sums at group boundaries.
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
    """Output hooks of PEs whose accumulators are FP32 group sums (mixed into an
    output-stationary family that defines ``partial_sums(tile, acc_in)``, ``round_output`` and
    ``group_size``).

    A K split (a stream tile along K, ``sim/plan.py``) is allowed at group boundaries only: the
    next chunk's fold reloads the FP32 partial sums (``psum_bits`` wide in the output buffer)
    and adds its groups in the same order, so the result is the unsplit one bit for bit.
    """

    @property
    def k_split_multiple(self) -> int:
        """A K split's stream tile must be a multiple of this (unit: elements): a group."""
        return self.group_size

    def output_accumulator(self, m: int, n: int) -> np.ndarray:
        """FP32 partial sums, +0.0 before the first K chunk."""
        return np.zeros((m, n), dtype=np.float32)

    def fold_merge(self, block: np.ndarray, tile: Any) -> np.ndarray:
        """The fold's groups continue the block's FP32 sums."""
        return self.partial_sums(tile, block)

    def finish_output(self, acc: np.ndarray) -> np.ndarray:
        return self.round_output(acc)
