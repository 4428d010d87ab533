"""Simulated cycles per second of the systolic INT8 array RTL: Verilator and Amaranth.

    python benchmarks/bench_rtl.py [--tiles 24] [--streamed 256]

Each run replays full tiles (K = R, N = C, M = ``--streamed``) through the cocotb testbench,
checked bit- and cycle-exact like the tests. Reported per run:

* RUN cycles/s -- the free-running phase: clock periods from ``start`` to each batch's last
  ``done`` over the wall time of that phase (Python wakes once per tile, on ``done``). This
  is the figure the >= 1 M cycles/s target refers to.
* overall cycles/s -- every simulated clock edge, LOAD and DRAIN included, over the whole
  run; LOAD and DRAIN move one row per cycle under Python control.

Verilator builds (one per size, kept in ``build/rtl``) are not timed. Amaranth's simulator
runs in this process on fewer tiles.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

from qaccel.arch.pe.systolic_int8 import SystolicInt8
from qaccel.arch.pe.tile import Tile
from qaccel.arch.spec import Dataflow
from qaccel.rtl.export import create_top
from qaccel.rtl.verify import verify
from qaccel.rtl.verilator import build_verilator

BUILD_ROOT = Path(__file__).resolve().parents[1] / "build" / "rtl"
BUFFER_ROWS = 1024


def full_tiles(params: SystolicInt8, count: int, streamed: int, seed: int = 0) -> list[Tile]:
    rng = np.random.default_rng(seed)
    r, c = params.rows, params.cols
    return [Tile(rng.integers(-128, 128, (streamed, r), dtype=np.int8),
                 rng.integers(-128, 128, (r, c), dtype=np.int8)) for _ in range(count)]


def run(side: int, simulator: str, tiles: int, streamed: int) -> None:
    params = SystolicInt8(rows=side, cols=side, dataflow=Dataflow.WS)
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
    print(f"{simulator:9s} {side:2d}x{side:<2d} {tiles:3d} tiles x M={streamed:<4d} "
          f"RUN {report.run_cycles:>8,} cycles {report.run_cycles_per_s:>11,.0f} cycles/s | "
          f"overall {report.sim_cycles:>8,} cycles {report.sim_cycles_per_s:>9,.0f} cycles/s | "
          f"{wall:5.1f} s wall (build/reuse {build_s:.1f} s) {status}")
    if not report.passed:
        print(report.summary())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=24, help="Verilator tiles per size")
    parser.add_argument("--streamed", type=int, default=256, help="M of each tile")
    parser.add_argument("--amaranth-tiles", type=int, default=2)
    args = parser.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    for side in (8, 16):
        run(side, "verilator", args.tiles, args.streamed)
    for side in (8, 16):
        run(side, "amaranth", args.amaranth_tiles, min(args.streamed, 64))


if __name__ == "__main__":
    main()
