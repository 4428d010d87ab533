"""Verilator ``--lint-only -Wall`` of the exported Verilog, with the checked-in waivers."""

from __future__ import annotations

import pytest

from qaccel.arch.pe.systolic_int8 import SystolicInt8
from qaccel.arch.spec import Dataflow
from qaccel.cli.rtl import rtl_families, rtl_params
from qaccel.rtl.export import create_top
from qaccel.rtl.lint import WAIVERS, lint, waivers_vlt
from tests.rtl.support import require_tool

pytestmark = pytest.mark.rtl

#: sizes linted: the smallest (1x1 degenerates several counters), square, and non-square
LINT_SIZES = [(1, 1), (2, 2), (3, 5), (8, 8)]
#: more sizes for overlapped preload: one column (the controller's C = 1 path), one row
OVERLAPPED_LINT_SIZES = [*LINT_SIZES, (3, 1), (1, 3)]


@pytest.mark.parametrize(("rows", "cols"), LINT_SIZES, ids=lambda v: str(v))
def test_lint_is_clean_with_the_waivers(rows: int, cols: int) -> None:
    require_tool("verilator")
    result = lint(create_top(SystolicInt8(rows=rows, cols=cols, dataflow=Dataflow.WS)))
    assert result.clean, "\n".join(result.warnings[:20])


@pytest.mark.parametrize("family", [f for f in rtl_families() if f != "systolic_int8"])
def test_every_family_lints_clean_non_square(family: str) -> None:
    """Each family with RTL at a non-square size with its preset's fields (the family test
    files lint further sizes and modes)."""
    require_tool("verilator")
    result = lint(create_top(rtl_params(family, 4, 3, None)))
    assert result.clean, "\n".join(result.warnings[:20])


@pytest.mark.parametrize(("rows", "cols"), OVERLAPPED_LINT_SIZES, ids=lambda v: str(v))
def test_overlapped_preload_lints_clean(rows: int, cols: int) -> None:
    """The shadow-register grid and its controller (1x1 and the 1-column sizes take the
    controller's C = 1 read path)."""
    require_tool("verilator")
    params = SystolicInt8(rows=rows, cols=cols, dataflow=Dataflow.WS, preload="overlapped")
    result = lint(create_top(params))
    assert result.clean, "\n".join(result.warnings[:20])


@pytest.mark.parametrize("family", ["fp16", "olive", "ant"])
def test_every_grid_family_lints_clean_with_overlapped_preload(family: str) -> None:
    require_tool("verilator")
    result = lint(create_top(rtl_params(family, 4, 3, None, {"preload": "overlapped"})))
    assert result.clean, "\n".join(result.warnings[:20])


def test_every_waiver_is_still_needed() -> None:
    """Without the waivers, each waived rule fires on some linted size (none is stale)."""
    require_tool("verilator")
    fired: set[str] = set()
    for rows, cols in LINT_SIZES[:3]:
        top = create_top(SystolicInt8(rows=rows, cols=cols, dataflow=Dataflow.WS))
        fired |= lint(top, waivers=False).rules()
    assert set(WAIVERS) <= fired, f"stale waivers: {set(WAIVERS) - fired}"
    assert fired <= set(WAIVERS)


def test_waiver_file_names_and_justifies_each_rule() -> None:
    text = waivers_vlt()
    assert text.startswith("`verilator_config\n")
    for rule, why in WAIVERS.items():
        assert f"lint_off -rule {rule}\n" in text
        assert f"// {rule}: {why}\n" in text
        assert len(why) > 40  # a reason, not a label
