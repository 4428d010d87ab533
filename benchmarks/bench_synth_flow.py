"""Flat vs hierarchical ASIC synthesis of array cores: wall time and area, side by side.

    python benchmarks/bench_synth_flow.py --point bitmod:4x4 --point fp16:4x4 [--no-flat]

For each point (the array core the area calibration synthesizes, with the PE fields stored
in arch/area_calibration.json), yosys runs the flat script (``synth -flatten``, the flow
before 2026-12-07) and the hierarchical one (modules identical up to their names merged,
``synth`` once per distinct module, ``stat -top`` totals; :mod:`qaccel.rtl.synth`) one
after the other in this process, so both see the same machine load. Printed per point:
seconds (Verilog export excluded), gate equivalents, flip-flops, 28 nm µm², and the ratios
hierarchical / flat. ``--no-flat`` times the hierarchical flow alone (the flat one takes
about an hour on a 16x16 bitmod or fp16 core).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from amaranth.back import verilog

from qaccel.arch.calibration import calibration
from qaccel.arch.pe.registry import level_module
from qaccel.rtl.calibrate import _params
from qaccel.rtl.dedup import dedup_verilog
from qaccel.rtl.synth import GE_AREA_UM2_28NM, _cmos


def _run(family: str, rows: int, cols: int, flat: bool) -> None:
    fields = calibration()["families"].get(family, {}).get("pe_fields")
    core = level_module(family, "rtl").create_core(_params(family, rows, cols, fields))
    name = f"{family}_{rows}x{cols}_core"
    text = verilog.convert(core, name=name, emit_src=False)
    merged = dedup_verilog(text)
    print(f"{family} {rows}x{cols}: {merged.modules} modules, {merged.classes} distinct")
    figures = {}
    for hierarchical in ((False, True) if flat else (True,)):
        with tempfile.TemporaryDirectory(prefix="qaccel-bench-synth-") as tmp:
            src = Path(tmp) / f"{name}.v"
            src.write_text(text)
            start = time.perf_counter()
            row = _cmos(src, name, Path(tmp), hierarchical=hierarchical)
            seconds = time.perf_counter() - start
        flow = "hierarchical" if hierarchical else "flat"
        figures[flow] = (seconds, row["gate_equivalents"] * GE_AREA_UM2_28NM)
        print(f"  {flow:12s} {seconds:8.1f} s  {row['gate_equivalents']:>12,.1f} GE  "
              f"{row['flip_flops']:>7,} FF  {figures[flow][1]:>11,.0f} um^2", flush=True)
    if flat:
        (ts, ta), (hs, ha) = figures["flat"], figures["hierarchical"]
        print(f"  hierarchical / flat: time {hs / ts:.3f}, area {ha / ta:.4f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--point", action="append", required=True, metavar="FAMILY:RxC")
    ap.add_argument("--no-flat", action="store_true", help="hierarchical flow only")
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} (2 cores shared: absolute seconds are "
          "pessimistic, the ratios are the figure)")
    for point in args.point:
        family, shape = point.split(":")
        rows, cols = (int(v) for v in shape.lower().split("x"))
        _run(family, rows, cols, not args.no_flat)
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
