"""Fast RTL verification (C++ harness) side by side with the cocotb bench, same tiles.

    python benchmarks/bench_rtl_fast.py [--family bitmod ...] [--sides 16] [--tiles 64]
                                        [--streamed 256] [--repeat 3]

For each family with RTL (default: all) and array side, full tiles (the dims on the array
rows and columns at the array sides, the streamed dim = ``--streamed``; the family's own
random operands) are verified twice in this process, bit- and cycle-exact against
``golden()`` / ``batch_timing()``:

* cocotb -- :func:`qaccel.rtl.verify.verify` on Verilator (LOAD and DRAIN beats driven from
  Python). "overall" is the bench's own figure: every simulated clock edge over the wall
  time of its run inside the simulator (the issue's 80 k cycles/s); ``wall`` adds the
  cocotb start-up (simulator launch, embedded Python importing qaccel).
* fast -- :func:`qaccel.rtl.fastsim.verify_fast` (tile streams played by the C++ harness).
  "overall" is every simulated clock edge over the whole run but the build: preparing the
  input file, the harness process (start-up and files included) and checking every tile
  with ``golden()``; ``CPU``: the same edges over the run's CPU time (both processes), the
  rate on an idle core; ``loop`` is the harness's simulation loop alone (wall).

The fast path runs ``--repeat`` times (it takes well under a second), the median is
reported. ``ratio`` = fast overall / cocotb overall. Builds (one per design and path, kept in
``build/rtl`` and ``build/rtl/fast``) are not timed. Both reports must agree field for field
(the script says FAILED otherwise).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_rtl import full_tiles  # noqa: E402 - the same full tiles as bench_rtl.py

from qaccel.cli.rtl import rtl_families, rtl_params  # noqa: E402
from qaccel.rtl.export import create_top  # noqa: E402
from qaccel.rtl.fastsim import build_fast, verify_fast  # noqa: E402
from qaccel.rtl.verify import verify  # noqa: E402
from qaccel.rtl.verilator import build_verilator  # noqa: E402

BUILD_ROOT = Path(__file__).resolve().parents[1] / "build" / "rtl"
BUFFER_ROWS = 1024
SAME_FIELDS = ("tiles_checked", "values_compared", "cycles_compared", "run_cycles",
               "batch_tiles", "sim_cycles", "mismatches", "errors")


def run(family: str, side: int, tiles: int, streamed: int, repeat: int) -> None:
    params = rtl_params(family, side, side, None)
    t0 = time.perf_counter()
    build_verilator(create_top(params, buffer_rows=BUFFER_ROWS), BUILD_ROOT)
    build_fast(create_top(params, buffer_rows=BUFFER_ROWS), BUILD_ROOT)
    build_s = time.perf_counter() - t0
    work = full_tiles(params, tiles, streamed)
    t0 = time.perf_counter()
    cocotb = verify(params, work, build_root=BUILD_ROOT, buffer_rows=BUFFER_ROWS)
    cocotb_wall = time.perf_counter() - t0
    runs = [verify_fast(params, work, build_root=BUILD_ROOT, buffer_rows=BUFFER_ROWS)
            for _ in range(repeat)]
    fast = sorted(runs, key=lambda r: r.report.sim_seconds)[len(runs) // 2]  # the median
    f = fast.report
    fast_rate = f.sim_cycles_per_s
    same = all(getattr(f, n) == getattr(cocotb, n) for n in SAME_FIELDS)
    ok = cocotb.passed and f.passed and same
    ratio = fast_rate / cocotb.sim_cycles_per_s if cocotb.sim_cycles_per_s else 0.0
    print(f"{family:13s} {side:2d}x{side:<2d} {tiles:3d} tiles x {streamed:<4d} "
          f"{f.sim_cycles:>9,} cycles | cocotb overall {cocotb.sim_cycles_per_s:>9,.0f} /s "
          f"(wall {cocotb_wall:5.1f} s) | fast overall {fast_rate:>11,.0f} /s "
          f"(CPU {fast.cpu_cycles_per_s:>11,.0f} /s, loop {fast.loop_cycles_per_s:>11,.0f} /s; "
          f"prepare {fast.prepare_seconds:.3f} s, "
          f"harness {fast.harness_seconds:.3f} s, check {fast.check_seconds:.3f} s) | "
          f"ratio {ratio:6.1f}x | builds/reuse {build_s:.0f} s {'ok' if ok else 'FAILED'}",
          flush=True)
    print(f"  load average {os.getloadavg()[0]:.1f}", flush=True)
    if not ok:
        print(cocotb.summary())
        print(f.summary())
        for n in SAME_FIELDS:
            if getattr(f, n) != getattr(cocotb, n):
                print(f"  {n}: fast {getattr(f, n)!r} != cocotb {getattr(cocotb, n)!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", action="append",
                        help="family to run (repeatable; default: every family with RTL)")
    parser.add_argument("--tiles", type=int, default=64, help="tiles per family and side")
    parser.add_argument("--streamed", type=int, default=256,
                        help="streamed length of each tile (M for ws, K for os)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="fast runs per family and side; the median is reported")
    parser.add_argument("--sides", default="16", help="array sides (default: 16)")
    args = parser.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}")
    for family in args.family or rtl_families():
        for side in (int(s) for s in args.sides.split(",")):
            run(family, side, args.tiles, args.streamed, args.repeat)


if __name__ == "__main__":
    main()
