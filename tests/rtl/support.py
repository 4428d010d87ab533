"""RTL test helpers: where Verilator builds go, the skip-or-fail rule for tools, and the one
way every family's case table runs a level and checks its report."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from qaccel.arch.pe.tile import Tile
from qaccel.arch.spec import PEArray
from qaccel.rtl.tb.bench import Report
from qaccel.rtl.tb.model import batch_cycles
from qaccel.rtl.verify import verify

#: one Verilator build per design under here (gitignored; reused between runs)
BUILD_ROOT = Path(__file__).resolve().parents[2] / "build" / "rtl"


def require_tool(tool: str) -> None:
    """Skip when ``tool`` is missing, except in CI (``CI=true``), where that is a failure."""
    if shutil.which(tool) is not None:
        return
    message = f"`{tool}` is not on PATH (scripts/setup.sh installs it)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; CI must run the RTL tests")
    pytest.skip(message)


def run_level(level: str, params: PEArray, tiles: Sequence[Tile], *,
              amaranth_tiles: int | None = None, **kw: object) -> Report:
    """Replay ``tiles`` on ``level``: ``"verilator"`` or ``"icarus"`` (every tile, one build per
    design and simulator under :data:`BUILD_ROOT`) or ``"amaranth"`` (the first
    ``amaranth_tiles``, all when None)."""
    if level in ("verilator", "icarus"):
        require_tool({"verilator": "verilator", "icarus": "iverilog"}[level])
        return verify(params, tiles, simulator=level, build_root=BUILD_ROOT, **kw)
    return verify(params, list(tiles)[:amaranth_tiles], simulator="amaranth", **kw)


def expected_cycles(params: PEArray, tiles: Sequence[Tile], batch_tiles: Sequence[int]) -> int:
    """RUN cycles of ``tiles`` played in batches of ``batch_tiles`` tiles: the sum over the
    batches of ``params.batch_timing(batch)`` (the arch model, not the RTL; through
    :func:`qaccel.rtl.tb.model.batch_cycles`)."""
    assert sum(batch_tiles) == len(tiles), (list(batch_tiles), len(tiles))
    total, pos = 0, 0
    for count in batch_tiles:
        total += sum(batch_cycles(params, tiles[pos:pos + count]))
        pos += count
    return total


def assert_report_matches(report: Report, params: PEArray, checked: Sequence[Tile]) -> None:
    """Every tile checked bit-exact against ``golden()`` and its cycles against its batch's
    ``batch_timing()``, and the batches' RUN phases lasting exactly the sum of those."""
    assert report.passed, report.summary()
    assert report.tiles_checked == report.cycles_compared == len(checked)
    assert report.values_compared == sum(t.M * t.N for t in checked)
    assert report.run_cycles == expected_cycles(params, checked, report.batch_tiles)
