"""What the mapper costs per layer: every distinct GEMM shape of Llama-2-7B (prefill of 256
tokens and one decode step at a 256-token context) on every shipped preset, with the mapper's
memo cleared, beside one closed-form evaluation of the fixed mapping (the baseline, same run).

Run:  python benchmarks/bench_mapper.py
Target (issue 12): at most 1 ms per layer shape (the memo then makes repeated shapes free).
"""

from __future__ import annotations

import time

from qaccel.arch import load_accelerator, preset_names
from qaccel.models.workloads import build_workload
from qaccel.sim.mapper import candidate_mappings, choose, clear_caches


def shapes() -> list[tuple[int, int, int]]:
    out = set()
    for kw in ({"phase": "prefill", "tokens": 256}, {"phase": "decode", "kv_len": 256}):
        for layer in build_workload("llama-2-7b", **kw).layers:
            _, m, k, n = layer.gemm_shape()
            out.add((m, k, n))
    return sorted(out)


def timed(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        clear_caches()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    dims = shapes()
    print(f"{len(dims)} distinct GEMM shapes of Llama-2-7B prefill-256 + decode")
    print(f"{'preset':<24}{'candidates/shape':>17}{'mapper ms/shape':>16}{'fixed ms/shape':>15}"
          f"{'ratio':>7}")
    worst = 0.0
    for name in preset_names():
        accel = load_accelerator(name)
        cands = sum(len(candidate_mappings(accel.pe_array, *d)) for d in dims) / len(dims)
        t_map = timed(lambda a=accel: [choose(a, *d) for d in dims]) / len(dims)
        t_fix = timed(lambda a=accel: [choose(a, *d, fixed=True) for d in dims]) / len(dims)
        worst = max(worst, t_map)
        print(f"{name:<24}{cands:>17.1f}{t_map * 1e3:>16.3f}{t_fix * 1e3:>15.3f}"
              f"{t_map / t_fix:>7.1f}")
    print(f"worst preset: {worst * 1e3:.3f} ms per layer shape (target <= 1 ms)")


if __name__ == "__main__":
    main()
