"""The checks of one batch's results that the shell and kernel testbenches share.

A batch's result words are compared with :func:`qaccel.rtl.fpga.host.batch_traffic`'s
expected words under the mask (what the generated drivers compare), split into each tile's
result rows, decoded with the family's ``tile_result`` and compared value by value with
``golden()``; CYCLES is compared with the batch's ``batch_timing()`` sum. Problems are
appended to ``report["mismatches"]`` and the counts to the report.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from qaccel.arch.spec import PEArray
from qaccel.rtl.controller import Design
from qaccel.rtl.fpga.host import BatchTraffic, split_results
from qaccel.rtl.tb.scoreboard import _comparable

__all__ = ["new_report", "check_batch"]


def new_report(tiles: int) -> dict[str, Any]:
    """An empty report for a run of ``tiles`` tiles."""
    return {"tiles": tiles, "tiles_checked": 0, "values_compared": 0, "batches": 0,
            "cycles_compared": 0, "cycles_total": 0, "mismatches": []}


def check_batch(report: dict[str, Any], b: int, batch: BatchTraffic, got: np.ndarray,
                cycles: int, *, params: PEArray, family_rtl: ModuleType,
                design: Design) -> None:
    """Compare batch ``b``'s result words ``got`` (uint32) and its CYCLES with golden()."""
    bad = report["mismatches"]
    report["batches"] += 1
    report["cycles_compared"] += len(batch.tiles)
    report["cycles_total"] += cycles
    if cycles != batch.cycles:
        bad.append(f"batch {b}: CYCLES {cycles} != sum of timing() {batch.cycles} over "
                   f"{len(batch.tiles)} tiles")
    if got.shape != batch.expected.shape or np.any((got ^ batch.expected) & batch.mask):
        bad.append(f"batch {b}: result words differ from golden() "
                   f"({got.size} words, {batch.expected.size} expected)")
    try:
        rows = split_results(got, design)
    except ValueError as exc:
        bad.append(f"batch {b}: {exc}")
        return
    for st, tile_rows in zip(batch.tiles, rows, strict=False):
        out = _comparable(family_rtl.tile_result(params, st.tile, tile_rows))
        want = _comparable(params.golden(st.tile))
        report["tiles_checked"] += 1
        report["values_compared"] += want.size
        if out.shape != want.shape or np.any(out != want):
            bad.append(f"tile {st.index}: values differ from golden() "
                       f"(M={st.tile.M} K={st.tile.K} N={st.tile.N})")
