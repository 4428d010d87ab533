"""LLM runs: memory of the whole ``qaccel sim`` process and simulation time (issue 16).

Run:  python benchmarks/bench_llm.py
1. Peak RSS of ``qaccel sim`` in a fresh process (``resource`` RUSAGE_CHILDREN, unit: MB)
   for a 32k-token prefill of Llama-3.1-8B (Llama-3-8B's shapes with a 128K context; the
   issue's Llama-3-8B has an 8192-token context, so 32k is refused for it), timing only, the trace
   built afresh (``--no-cache``: the meta-device capture, not a cached trace), against
   the baseline of a process that only imports torch and transformers, run side by side.
2. In this process: building the shape-only trace and ``sim.run`` on it (wall seconds) for
   that prefill and for Llama-3.1-8B decode, batch 16, 20 steps at a 32k context (32,768 keys
   at the first step), int8 KV cache.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time

from qaccel import sim
from qaccel.arch import load_accelerator
from qaccel.models.workloads import build_workload

CONTEXT = 32768
MODEL = "llama-3.1-8b"
STEPS = 20


def child_peak_mb(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one child process (run alone: RUSAGE_CHILDREN is the
    largest child so far, so the smaller command runs first)."""
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    base_wall, base_mb = child_peak_mb([sys.executable, "-c", "import torch, transformers"])
    cmd = [sys.executable, "-m", "qaccel", "sim", "--arch", "bitmod-prefill", "--workload",
           MODEL, "--tokens", str(CONTEXT), "--kv-format", "int8", "--no-cache"]
    sim_wall, sim_mb = child_peak_mb(cmd)
    print(f"import torch + transformers: {base_mb:,.0f} MB peak RSS, {base_wall:.1f} s")
    print(f"qaccel sim {MODEL} prefill {CONTEXT} (vector ops, int8 KV): {sim_mb:,.0f} MB "
          f"peak RSS ({sim_mb - base_mb:,.0f} MB above the imports), {sim_wall:.1f} s wall")

    prefill_accel = load_accelerator("bitmod-prefill").with_kv_format("int8")
    t_build, trace = timed(lambda: build_workload(MODEL, tokens=CONTEXT,
                                                  vector_ops=True))
    t_sim, result = timed(lambda: sim.run(trace, prefill_accel))
    print(f"prefill {CONTEXT}: {len(trace)} layers, build {t_build:.2f} s, sim.run "
          f"{t_sim:.2f} s, {result.totals()['total_cycles']:,} cycles")

    decode_accel = load_accelerator("bitmod-decode").with_kv_format("int8")
    kv_len = CONTEXT
    t_build, trace = timed(lambda: build_workload(MODEL, phase="decode", batch=16,
                                                  kv_len=kv_len, steps=STEPS,
                                                  vector_ops=True))
    t_sim, result = timed(lambda: sim.run(trace, decode_accel))
    print(f"decode batch 16, kv_len {kv_len}, {STEPS} steps: {len(trace)} layers, build "
          f"{t_build:.2f} s, sim.run {t_sim:.2f} s, "
          f"{result.totals()['total_cycles']:,} cycles")


if __name__ == "__main__":
    main()
