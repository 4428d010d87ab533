"""Verilator ``--lint-only -Wall`` with each family's per-signal waiver file, and
``iverilog -Wall``."""

from __future__ import annotations

import subprocess

import pytest

from qaccel.arch.pe.systolic_int8 import SystolicInt8
from qaccel.arch.spec import Dataflow
from qaccel.cli.rtl import rtl_families, rtl_params
from qaccel.rtl.export import create_top, verilog_text
from qaccel.rtl.lint import (
    CATEGORIES,
    classify,
    lint,
    lint_designs,
    waiver_lines,
    waiver_path,
    wildcard_match,
)
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


@pytest.mark.slow
@pytest.mark.parametrize("family", rtl_families())
def test_every_waiver_still_matches_a_warning(family: str) -> None:
    """Lint the family's :func:`lint_designs` without waivers: every warning is an accepted
    Amaranth form, every warning is covered by a line of the file, and every line of the
    file matches at least one warning (a waiver that stopped matching fails here)."""
    require_tool("verilator")
    waivers = waiver_lines(waiver_path(family).read_text())
    used = [False] * len(waivers)
    uncovered, foreign = set(), set()
    for params in lint_designs(family):
        for rule, message in lint(create_top(params), waivers=False).messages:
            if classify(rule, message) is None:
                foreign.add(f"{rule}: {message}")
            hits = [i for i, (_, r, match) in enumerate(waivers)
                    if r == rule and wildcard_match(match, message)]
            if not hits:
                uncovered.add(f"{rule}: {message}")
            for i in hits:
                used[i] = True
    assert not foreign, sorted(foreign)
    assert not uncovered, sorted(uncovered)
    stale = [waivers[i] for i, u in enumerate(used) if not u]
    assert not stale, f"waivers matching no warning: {stale}"


@pytest.mark.parametrize("family", rtl_families())
def test_waiver_file_has_a_reason_and_no_file_wide_switch(family: str) -> None:
    text = waiver_path(family).read_text()
    assert text.startswith("`verilator_config\n")
    lines = waiver_lines(text)  # raises on a line outside a category or of another shape
    assert len(lines) == text.count("lint_off")
    assert all(match.strip("*") for _, _, match in lines)  # no match-everything
    for category in {c for c, _, _ in lines}:
        assert f"// [{category}] {CATEGORIES[category]}\n" in text


def test_classify_refuses_forms_that_are_not_amaranth_idioms() -> None:
    """A truncating assignment, a port width mismatch or an unconnected pin are real bugs:
    no waiver category takes them."""
    assert classify("WIDTHTRUNC", "Operator ASSIGNW expects 8 bits on the Assign RHS, but "
                    "Assign RHS's VARREF 'sum' generates 9 bits.") is None
    assert classify("WIDTHEXPAND", "Operator ASSIGNW expects 9 bits on the Assign RHS, but "
                    "Assign RHS's VARREF 'a' generates 8 bits.") is None
    assert classify("PINCONNECTEMPTY", "Cell pin connected by name with empty reference: "
                    "'x'") is None
    assert classify("WIDTHTRUNC", "Logical operator LOGNOT expects 1 bit on the LHS, but "
                    "LHS's VARREF 'state' generates 2 bits.") == (
        "lognot", "Logical operator LOGNOT expects 1 bit on the LHS, but LHS's VARREF "
                  "'state' generates * bits.")
    assert classify("UNUSEDSIGNAL", "Signal is not used: 'skew_12_3'") == (
        "debug-name", "Signal is not used: 'skew_*_*'")
    assert classify("UNUSEDSIGNAL", "Bits of signal are not used: '$17'[32]") == (
        "intermediate", "Bits of signal are not used: '$*'[*]")


def test_wildcard_match_is_verilators() -> None:
    assert wildcard_match("Bits of signal are not used: '$*'[*]",
                          "Bits of signal are not used: '$17'[10:8]")
    assert not wildcard_match("Signal is not used: 'a_in'", "Signal is not used: 'a_in2'")
    assert wildcard_match("a?c", "abc") and not wildcard_match("a?c", "ac")


def test_a_new_warning_fails_the_lint(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A waiver file for one signal name does not cover another: the systolic top linted
    with a copy of its waivers minus the ``state`` LOGNOT line is not clean."""
    require_tool("verilator")
    import qaccel.rtl.lint as lint_module

    text = waiver_path("systolic_int8").read_text()
    cut = "\n".join(line for line in text.splitlines() if "VARREF 'state'" not in line)
    assert cut != text
    path = tmp_path / "cut.vlt"
    path.write_text(cut + "\n")
    monkeypatch.setattr(lint_module, "waiver_path", lambda family: path)
    result = lint(create_top(SystolicInt8(rows=2, cols=2, dataflow=Dataflow.WS)))
    assert not result.clean
    assert {r for r, _ in result.messages} == {"WIDTHTRUNC"}


@pytest.mark.parametrize("family", rtl_families())
def test_iverilog_wall_is_clean(family: str, tmp_path) -> None:
    """``iverilog -Wall`` (Icarus's default ``-g2012`` as cocotb runs it) prints nothing."""
    require_tool("iverilog")
    top = create_top(rtl_params(family, 2, 2, None))
    source = tmp_path / "top.v"
    source.write_text(verilog_text(top))
    proc = subprocess.run(["iverilog", "-Wall", "-g2012", "-o", str(tmp_path / "a.out"),
                           "-s", top.design.name, str(source)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0 and not (proc.stdout + proc.stderr).strip(), proc.stderr[:2000]
