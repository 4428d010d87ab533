"""Sweep throughput: design points per minute, timing + energy, for a single-layer workload and
for a full LLM decode step (289 GEMM layers of Llama-2-7B, from the example spec).

Run:  python benchmarks/bench_sweep.py [--workers 2] [--points 4000]
For each workload it times, in this process and on this machine:

- ``serial``: a plain in-process loop over the planned points (``evaluate_point``), no store;
- ``run_sweep``: the runner with local worker processes (planning, hashing, parquet parts and
  the lock included; the progress bar off), into a fresh folder;

and prints points/minute and the runner / serial ratio. Target (issue 8): >= 1000 timing +
energy points/minute on 2 cores for the single-layer workload.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from qaccel.sweeps import load_spec, plan_sweep, run_sweep
from qaccel.sweeps.evaluate import evaluate_point

EXAMPLES = Path(__file__).resolve().parents[1] / "sweeps" / "examples"
LLAMA_SPEC = EXAMPLES / "llama2-7b-decode-int8-systolic.yaml"


def single_layer_spec(points: int) -> dict[str, Any]:
    """A grid of about ``points`` INT8 systolic designs on one 512x512x512 GEMM."""
    clocks = max(1, points // (8 * 8 * 3 * 4))
    return {
        "version": 1, "name": "bench-single-layer", "base_arch": "systolic-int8-32x32",
        "axes": {"pe_array.rows": [8, 12, 16, 24, 32, 48, 64, 96],
                 "pe_array.cols": [8, 12, 16, 24, 32, 48, 64, 96],
                 "pe_array.dataflow": ["ws", "os", "is"],
                 "buffers.*.size_kib": [64, 128, 256, 512],
                 "clock_mhz": [500 + 50 * i for i in range(clocks)]},
        "workloads": [{"name": "gemm512", "gemm": "512x512x512"}],
        "objectives": [{"column": "latency_us"}, {"column": "energy_pj_total"}],
    }


def llm_spec(points: int) -> dict[str, Any]:
    """The Llama-2-7B decode example, drawn with ``points`` Latin-hypercube samples."""
    data = load_spec(LLAMA_SPEC).to_dict()
    data["sampling"] = {"method": "lhs", "points": points, "seed": 1}
    data["constraints"], data["plots"] = [], []
    return data


def measure(name: str, spec_data: dict[str, Any], workers: int) -> None:
    spec = load_spec(spec_data)
    plan = plan_sweep(spec)
    workloads = plan.workloads
    layers = sum(len(w.layers) for w in spec.workloads)
    t0 = time.perf_counter()
    rows = [evaluate_point(p, workloads[p.workload], spec.engine) for p in plan.points]
    serial = time.perf_counter() - t0
    assert "energy_pj_total" in rows[0], "energy columns missing: not a timing+energy point"
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        summary = run_sweep(spec, Path(tmp) / "out", workers=workers, progress=False,
                            plots=False)
        wall = time.perf_counter() - t0
    n = len(plan.points)
    assert summary.ran == n
    serial_rate, run_rate = n / serial * 60, n / wall * 60
    print(f"{name:<34}{layers:>7}{n:>8}{serial_rate:>14,.0f}{run_rate:>14,.0f}"
          f"{run_rate / serial_rate:>9.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="local worker processes")
    parser.add_argument("--points", type=int, default=4000,
                        help="design points of the single-layer sweep (about)")
    parser.add_argument("--llm-points", type=int, default=400,
                        help="Latin-hypercube draws of the LLM sweep")
    args = parser.parse_args()
    print(f"run_sweep with {args.workers} local worker processes; points/min, timing + energy")
    print(f"{'workload':<34}{'layers':>7}{'points':>8}{'serial/min':>14}{'runner/min':>14}"
          f"{'ratio':>10}")
    measure("single GEMM 512x512x512", single_layer_spec(args.points), args.workers)
    measure("Llama-2-7B decode step (ctx 512)", llm_spec(args.llm_points), args.workers)


if __name__ == "__main__":
    main()
