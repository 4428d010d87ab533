"""Bit-exact values of one 512x4096x4096 GEMM on every family's preset: operand preparation
and the fast engine's values, wall time and tracemalloc peak beyond the operands.

    python benchmarks/bench_values.py [--size 512x4096x4096] [--presets a,b,...]

Each preset runs in its own process (a fresh numba cache load, no memory carried over). Issue
17's target: values in under 2 s and under 200 MB beyond the operands for every family.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

PRESETS = ("systolic-int8-32x32", "ant-prefill", "olive-prefill", "bitmod-prefill",
           "mixpe-w4a8", "mixpe-w4a16", "fp16-prefill")

CHILD = r"""
import json, sys, time, tracemalloc
from qaccel.arch import load_accelerator
from qaccel.arch.pe.registry import level_module
from qaccel.sim.gemm import gemm_layer
from qaccel.sim.mapper import Objective, choose
m, k, n = (int(x) for x in sys.argv[2].split("x"))
accel = load_accelerator(sys.argv[1])
t0 = time.perf_counter()
(a, b), = accel.pe_array.layer_operands(gemm_layer(m, k, n))
t_ops = time.perf_counter() - t0
choice = choose(accel, m, k, n, Objective("cycles"))
module = level_module(choice.pe.family, "fast")
tracemalloc.start()
t0 = time.perf_counter()
_, out = module.simulate_gemm(choice.pe, choice.plan, a, b)
t_val = time.perf_counter() - t0
peak = tracemalloc.get_traced_memory()[1] / 2**20
print(json.dumps({"operands_s": t_ops, "values_s": t_val, "peak_mb": peak,
                  "dtype": str(out.dtype)}))
"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default="512x4096x4096", help="MxKxN (default 512x4096x4096)")
    p.add_argument("--presets", default=",".join(PRESETS), help="comma-separated presets")
    args = p.parse_args()
    print(f"{args.size}, load average {os.getloadavg()[0]:.1f}")
    print(f"{'preset':<22}{'operands s':>12}{'values s':>10}{'peak MB':>9}  output")
    worst = 0.0
    for preset in args.presets.split(","):
        res = subprocess.run([sys.executable, "-c", CHILD, preset, args.size], check=True,
                             capture_output=True, text=True)
        r = json.loads(res.stdout.strip().splitlines()[-1])
        worst = max(worst, r["values_s"])
        print(f"{preset:<22}{r['operands_s']:>12.2f}{r['values_s']:>10.2f}"
              f"{r['peak_mb']:>9.0f}  {r['dtype']}")
    print(f"slowest values: {worst:.2f} s (target < 2 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
