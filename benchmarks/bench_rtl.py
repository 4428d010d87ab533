"""Simulated cycles per second of every family's array RTL: Verilator and Amaranth.

    python benchmarks/bench_rtl.py [--family bitmod ...] [--tiles 24] [--streamed 256]
    python benchmarks/bench_rtl.py --fast [bench_rtl_fast.py's options]

``--fast`` runs :mod:`bench_rtl_fast` instead: the C++ harness path side by side with this
cocotb path on the same tiles, in one process, with issue 18's targets (1 M cycles/s for
systolic_int8 16x16, 5x the cocotb path's overall rate) printed per row.

For each family with RTL (default: all of them) at 8x8 and 16x16, full tiles (the dims on the
array rows and columns at the array sides, the streamed dim = ``--streamed``) go through the
cocotb testbench, checked bit- and cycle-exact like the tests. The family's other fields come
from its paper preset (as ``qaccel rtl synth``). Reported per run:

* RUN cycles/s -- the free-running phase: clock periods from ``start`` to each batch's last
  ``done`` over the wall time of that phase (Python wakes once per tile, on ``done``). This
  is the figure the >= 1 M cycles/s target refers to.
* overall cycles/s -- every simulated clock edge, LOAD and DRAIN included, over the whole
  run; LOAD and DRAIN move one row per cycle under Python control.

Verilator builds (one per design, kept in ``build/rtl``) are not timed. Amaranth's simulator
runs in this process on fewer, shorter tiles.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from qaccel.arch.pe.registry import level_module
from qaccel.arch.pe.tile import Tile
from qaccel.arch.spec import PEArray
from qaccel.cli.rtl import rtl_families, rtl_params
from qaccel.rtl.export import create_top
from qaccel.rtl.verify import verify
from qaccel.rtl.verilator import build_verilator

BUILD_ROOT = Path(__file__).resolve().parents[1] / "build" / "rtl"
BUFFER_ROWS = 1024


def full_tiles(params: PEArray, count: int, streamed: int, seed: int = 0) -> list[Tile]:
    """``count`` tiles filling the array, ``streamed`` long, from the family's own random
    operands (``random_operands`` of its RTL module) or uniform integer codes."""
    rng = np.random.default_rng(seed)
    row_dim, col_dim, streamed_dim = params.mapping
    dims = {row_dim: params.rows, col_dim: params.cols, streamed_dim: streamed}
    m, k, n = dims["M"], dims["K"], dims["N"]
    family_operands = getattr(level_module(params.family, "rtl"), "random_operands", None)
    tiles = []
    for _ in range(count):
        if family_operands is not None:
            tiles.append(Tile(*family_operands(params, rng, m, k, n)))
        else:
            lo, hi = -(1 << (params.a_bits - 1)), 1 << (params.a_bits - 1)
            tiles.append(Tile(rng.integers(lo, hi, (m, k)).astype(np.int8),
                              rng.integers(lo, hi, (k, n)).astype(np.int8)))
    return tiles


def run(family: str, side: int, simulator: str, tiles: int, streamed: int) -> None:
    params = rtl_params(family, side, side, None)
    if simulator == "verilator":
        t0 = time.perf_counter()
        build_verilator(create_top(params, buffer_rows=BUFFER_ROWS), BUILD_ROOT)
        build_s = time.perf_counter() - t0
    else:
        build_s = 0.0
    work = full_tiles(params, tiles, streamed)
    t0 = time.perf_counter()
    report = verify(params, work, simulator=simulator, build_root=BUILD_ROOT,
                    buffer_rows=BUFFER_ROWS)
    wall = time.perf_counter() - t0
    status = "ok" if report.passed else "FAILED"
    print(f"{family:13s} {simulator:9s} {side:2d}x{side:<2d} {tiles:3d} tiles x {streamed:<4d} "
          f"RUN {report.run_cycles:>9,} cycles {report.run_cycles_per_s:>11,.0f} cycles/s | "
          f"overall {report.sim_cycles:>9,} cycles {report.sim_cycles_per_s:>9,.0f} cycles/s | "
          f"{wall:6.1f} s wall (build/reuse {build_s:.1f} s) {status}", flush=True)
    if not report.passed:
        print(report.summary())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", action="append",
                        help="family to run (repeatable; default: every family with RTL)")
    parser.add_argument("--tiles", type=int, default=24, help="Verilator tiles per size")
    parser.add_argument("--streamed", type=int, default=256,
                        help="streamed length of each tile (M for ws, K for os)")
    parser.add_argument("--amaranth-tiles", type=int, default=2)
    parser.add_argument("--sides", default="8,16", help="array sides (default: 8,16)")
    args = parser.parse_args()
    sides = [int(s) for s in args.sides.split(",")]
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    for family in args.family or rtl_families():
        for side in sides:
            run(family, side, "verilator", args.tiles, args.streamed)
        for side in sides:
            run(family, side, "amaranth", args.amaranth_tiles, min(args.streamed, 64))


if __name__ == "__main__":
    if "--fast" in sys.argv[1:]:
        sys.argv.remove("--fast")
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bench_rtl_fast import main as fast_main

        fast_main()
    else:
        main()
