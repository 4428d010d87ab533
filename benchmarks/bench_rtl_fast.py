"""Fast RTL verification (C++ harness) side by side with the cocotb bench, same tiles.

    python benchmarks/bench_rtl_fast.py [--family bitmod ...] [--sides 16] [--tiles 64]
                                        [--streamed 256] [--repeat 3] [--cocotb-cpu]
                                        [--jobs N]

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

The fast path runs ``--repeat`` times with one harness process (``jobs=1``) and, alternately,
as many times sharded over ``--jobs`` processes (default: the usable cores, capped by the
batches; :func:`~qaccel.rtl.fastsim.default_jobs`); each variant's median is reported on its
own line (``jobs=N``). The sharded wall rate uses N cores, the cocotb baseline one: its CPU
rate is the per-core figure; ``harness CPU`` / ``Python CPU`` split its CPU time between the
harness processes and this one (preparing, ``golden()``, checking). ``ratio`` = fast overall
/ cocotb overall (both wall, same process, so the same load). Builds (one per design and
path, kept in ``build/rtl`` and ``build/rtl/fast``) are not timed. Both reports must agree
field for field (the script says FAILED otherwise).

Targets (issue 18 item 6), printed per row: systolic_int8 16x16 at least 1 M cycles/s
overall, judged on the fast run's overall (wall) rate on an idle machine (load average below
2; the CPU rate is printed too: on a loaded shared box the wall rate measures the scheduler),
and at least 5x the cocotb path's overall rate for every family, judged on ``ratio``. On a
loaded shared box both wall rates mostly measure the scheduler, so ``--cocotb-cpu`` also
runs the cocotb path on the first ``CPU_PROBE_TILES`` tiles and divides the extra edges of
the full run by its extra CPU time (simulator process; start-up and build check cancel):
``ratio CPU`` = fast CPU rate / that marginal cocotb CPU
rate, a load-independent form of the same target.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_rtl import full_tiles  # noqa: E402 - the same full tiles as bench_rtl.py

from qaccel.cli.rtl import rtl_families, rtl_params  # noqa: E402
from qaccel.rtl.export import create_top  # noqa: E402
from qaccel.rtl.fastsim import FastRun, build_fast, default_jobs, verify_fast  # noqa: E402
from qaccel.rtl.tb.bench import Report  # noqa: E402
from qaccel.rtl.verify import verify  # noqa: E402
from qaccel.rtl.verilator import build_verilator  # noqa: E402

BUILD_ROOT = Path(__file__).resolve().parents[1] / "build" / "rtl"
BUFFER_ROWS = 1024
SAME_FIELDS = ("tiles_checked", "values_compared", "cycles_compared", "run_cycles",
               "batch_tiles", "sim_cycles", "mismatches", "errors")
#: issue 18 item 6: overall CPU rate of the fast path for this design (cycles/s) ...
TARGET_RATE = {("systolic_int8", 16): 1_000_000}
#: ... and fast overall / cocotb overall for every family
TARGET_RATIO = 5.0
#: tiles of the short cocotb run of ``--cocotb-cpu`` (its edges and CPU time are subtracted)
CPU_PROBE_TILES = 8


def _children_cpu() -> float:
    """CPU time of this process's finished children (user + system; unit: s)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(family: str, side: int, tiles: int, streamed: int, repeat: int,
        cocotb_cpu: bool = False, jobs: int | None = None) -> None:
    params = rtl_params(family, side, side, None)
    t0 = time.perf_counter()
    build_verilator(create_top(params, buffer_rows=BUFFER_ROWS), BUILD_ROOT)
    fast_top = create_top(params, buffer_rows=BUFFER_ROWS)
    build_fast(fast_top, BUILD_ROOT, params=params)
    build_s = time.perf_counter() - t0
    work = full_tiles(params, tiles, streamed)
    t0, c0 = time.perf_counter(), _children_cpu()
    cocotb = verify(params, work, build_root=BUILD_ROOT, buffer_rows=BUFFER_ROWS)
    cocotb_wall, cocotb_cpu_full = time.perf_counter() - t0, _children_cpu() - c0
    cocotb_cpu_rate = 0.0
    if cocotb_cpu:
        c0 = _children_cpu()
        probe = verify(params, work[:CPU_PROBE_TILES], build_root=BUILD_ROOT,
                       buffer_rows=BUFFER_ROWS)
        probe_cpu = _children_cpu() - c0
        extra_cpu = cocotb_cpu_full - probe_cpu
        print(f"  cocotb CPU: {cocotb_cpu_full:.2f} s for {cocotb.sim_cycles:,} cycles, "
              f"{probe_cpu:.2f} s for {probe.sim_cycles:,}", flush=True)
        if extra_cpu > 0:
            cocotb_cpu_rate = (cocotb.sim_cycles - probe.sim_cycles) / extra_cpu
    shards = default_jobs(len(work), fast_top.design) if jobs is None else jobs
    variants = [1] if shards == 1 else [1, shards]
    runs: dict[int, list[FastRun]] = {j: [] for j in variants}
    for r in range(repeat):  # one harness process and N of them, alternately
        for j in (variants if r % 2 == 0 else variants[::-1]):
            runs[j].append(verify_fast(params, work, build_root=BUILD_ROOT,
                                       buffer_rows=BUFFER_ROWS, jobs=j))
    for j in variants:
        fast = sorted(runs[j], key=lambda r: r.report.sim_seconds)[len(runs[j]) // 2]
        _row(family, side, tiles, streamed, cocotb, cocotb_wall, cocotb_cpu_rate, fast,
             build_s)


def _row(family: str, side: int, tiles: int, streamed: int, cocotb: Report,
         cocotb_wall: float, cocotb_cpu_rate: float, fast: FastRun, build_s: float) -> None:
    """One fast variant (the median run) against the cocotb run: rates, targets, and any
    field where the two reports disagree."""
    f = fast.report
    fast_rate = f.sim_cycles_per_s
    same = all(getattr(f, n) == getattr(cocotb, n) for n in SAME_FIELDS)
    ok = cocotb.passed and f.passed and same
    ratio = fast_rate / cocotb.sim_cycles_per_s if cocotb.sim_cycles_per_s else 0.0
    python_cpu = fast.cpu_seconds - fast.harness_cpu_seconds
    print(f"{family:13s} {side:2d}x{side:<2d} {tiles:3d} tiles x {streamed:<4d} "
          f"{f.sim_cycles:>9,} cycles | cocotb overall {cocotb.sim_cycles_per_s:>9,.0f} /s "
          f"(wall {cocotb_wall:5.1f} s) | fast jobs={fast.jobs} overall {fast_rate:>11,.0f} /s "
          f"(CPU {fast.cpu_cycles_per_s:>11,.0f} /s, loop {fast.loop_cycles_per_s:>11,.0f} /s; "
          f"prepare {fast.prepare_seconds:.3f} s, "
          f"harness {fast.harness_seconds:.3f} s, check {fast.check_seconds:.3f} s; "
          f"harness CPU {fast.harness_cpu_seconds:.3f} s, Python CPU {python_cpu:.3f} s) | "
          f"ratio {ratio:6.1f}x | builds/reuse {build_s:.0f} s {'ok' if ok else 'FAILED'}",
          flush=True)
    goals = [f"ratio {ratio:.1f}x vs {TARGET_RATIO:g}x: "
             f"{'met' if ratio >= TARGET_RATIO else 'NOT met'}"]
    if (family, side) in TARGET_RATE:
        want = TARGET_RATE[family, side]
        goals.append(f"overall (wall, {fast.jobs} harness process(es)) {fast_rate:,.0f} vs "
                     f"{want:,} /s: {'met' if fast_rate >= want else 'NOT met'} (CPU rate "
                     f"{fast.cpu_cycles_per_s:,.0f} /s: "
                     f"{'met' if fast.cpu_cycles_per_s >= want else 'NOT met'})")
    if cocotb_cpu_rate:
        ratio_cpu = fast.cpu_cycles_per_s / cocotb_cpu_rate
        goals.append(f"ratio CPU {ratio_cpu:.1f}x (cocotb marginal CPU rate "
                     f"{cocotb_cpu_rate:,.0f} /s): "
                     f"{'met' if ratio_cpu >= TARGET_RATIO else 'NOT met'}")
    print(f"  targets: {'; '.join(goals)}; load average {os.getloadavg()[0]:.1f}", flush=True)
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
    parser.add_argument("--cocotb-cpu", action="store_true",
                        help=f"also time a cocotb run of the first {CPU_PROBE_TILES} tiles: "
                        "the cocotb path's marginal CPU rate and the CPU-time ratio")
    parser.add_argument("--jobs", type=int, default=None,
                        help="harness processes of the sharded fast runs (default: the usable "
                        "cores, capped by the batches); each is run beside jobs=1")
    args = parser.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}")
    for family in args.family or rtl_families():
        for side in (int(s) for s in args.sides.split(",")):
            run(family, side, args.tiles, args.streamed, args.repeat, args.cocotb_cpu,
                args.jobs)


if __name__ == "__main__":
    main()
