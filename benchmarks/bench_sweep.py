"""Sweep throughput: design points per minute, timing + energy, for a single-layer workload and
for a full LLM decode step (289 GEMM layers of Llama-2-7B, from the example spec).

Run:  python benchmarks/bench_sweep.py [--workers 2] [--points 4000]
For each workload it times, in this process and on this machine:

- ``serial``: a plain in-process loop over the planned points (``evaluate_point``), no store;
- ``previous runner``: the runner as it was before batches kept one PE array's points
  together: batches in plan order, one parquet part per batch, workers forked without
  ``gc.freeze`` (``batches_for(..., key=None)``, ``FLUSH_S = 0`` and a no-op ``gc`` in
  :mod:`qaccel.sweeps.executors`, patched in for this run only; the faster point-id hashing
  of planning stays);
- ``run_sweep``: the runner with local worker processes (planning, hashing, parquet parts and
  the lock included; the progress bar off), into a fresh folder;

Each of the three starts with qaccel's lru caches emptied (:func:`clear_caches`: forked
workers would otherwise inherit the caches the serial loop filled). It prints points/minute
and the ratios to the serial loop. Targets: >= 1000 timing +
energy points/minute on 2 cores for the single-layer workload (issue 8); the runner at
least as fast as the serial loop on 2 workers for the LLM sweep (issue 17). The machine is
shared: print ``uptime`` beside the figures, and compare ratios, not absolute rates.
"""

from __future__ import annotations

import argparse
import functools
import resource
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from qaccel.sweeps import executors, load_spec, plan_sweep, run_sweep
from qaccel.sweeps import runner as runner_module
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


def clear_caches() -> int:
    """Empty the simulator's memos (``sim.engine.clear_caches``) and every
    ``functools.lru_cache`` of qaccel's modules, so that no measurement starts from the caches
    an earlier one filled (forked workers inherit them); returns how many lru caches were
    cleared."""
    from qaccel.sim.engine import clear_caches as clear_simulator_memos

    clear_simulator_memos()   # the mapper's and the closed forms' memos (not lru caches)
    cleared = 0
    for name, module in list(sys.modules.items()):
        if not name.startswith("qaccel.") or module is None:
            continue
        for value in list(vars(module).values()):
            if isinstance(value, functools._lru_cache_wrapper):
                value.cache_clear()
                cleared += 1
    return cleared


def _timed(fn: Any, *args: Any) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and of its children that ended meanwhile:
    the pool's workers are reaped when the runner shuts its pool down)."""
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0, t0 = time.process_time(), time.perf_counter()
    fn(*args)
    wall = time.perf_counter() - t0
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (time.process_time() - cpu0 + kids.ru_utime - kids0.ru_utime
           + kids.ru_stime - kids0.ru_stime)
    return wall, cpu


def _run(spec: Any, workers: int) -> None:
    """One run_sweep into a fresh folder (every point run)."""
    with tempfile.TemporaryDirectory() as tmp:
        summary = run_sweep(spec, Path(tmp) / "out", workers=workers, progress=False,
                            plots=False)
    assert summary.ran == summary.planned


def _previous(spec: Any, workers: int) -> None:
    """:func:`_run` as the runner was before issue 17's sweep work: batches in plan order,
    one part file per batch, workers forked without freezing the parent's objects."""
    grouped, flush_s, gc = runner_module.batches_for, runner_module.FLUSH_S, executors.gc
    runner_module.batches_for = lambda pts, w, size: grouped(pts, w, size, key=None)
    runner_module.FLUSH_S = 0.0
    executors.gc = SimpleNamespace(freeze=lambda: None, unfreeze=lambda: None,
                                   get_freeze_count=lambda: 1)
    try:
        _run(spec, workers)
    finally:
        runner_module.batches_for, runner_module.FLUSH_S, executors.gc = grouped, flush_s, gc


def _serial(points: Any, workloads: Any, engine: str) -> None:
    rows = [evaluate_point(p, workloads[p.workload], engine) for p in points]
    assert "energy_pj_total" in rows[0], "energy columns missing: not a timing+energy point"


def measure(name: str, spec_data: dict[str, Any], workers: int, repeat: int) -> None:
    """Serial loop, ungrouped runner, runner, interleaved ``repeat`` times, each from empty
    caches; prints each one's best points/min, its ratio to the serial loop and its CPU
    time per point (all processes)."""
    spec = load_spec(spec_data)
    plan = plan_sweep(spec)
    n = len(plan.points)
    runs = {"serial loop": (_serial, plan.points, plan.workloads, spec.engine),
            "previous runner": (_previous, spec, workers),
            "runner": (_run, spec, workers)}
    best: dict[str, tuple[float, float]] = {}
    for _ in range(repeat):
        for mode, (fn, *args) in runs.items():
            assert clear_caches() > 5
            wall, cpu = _timed(fn, *args)
            if mode not in best or wall < best[mode][0]:
                best[mode] = (wall, cpu)
    serial_rate = n / best["serial loop"][0] * 60
    for mode, (wall, cpu) in best.items():
        rate = n / wall * 60
        print(f"{name:<34}{n:>7}  {mode:<19}{rate:>11,.0f}{rate / serial_rate:>8.2f}x"
              f"{cpu / n * 1e3:>11.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="local worker processes")
    parser.add_argument("--points", type=int, default=4000,
                        help="design points of the single-layer sweep (about)")
    parser.add_argument("--llm-points", type=int, default=400,
                        help="Latin-hypercube draws of the LLM sweep")
    parser.add_argument("--repeat", type=int, default=2,
                        help="interleaved rounds; the fastest of each mode is printed")
    parser.add_argument("--only", choices=("single", "llm"), help="one workload only")
    args = parser.parse_args()
    print(f"run_sweep with {args.workers} local worker processes; timing + energy points")
    print(f"{'workload':<34}{'points':>7}  {'mode':<19}{'points/min':>11}{'vs serial':>9}"
          f"{'CPU ms/pt':>11}")
    if args.only != "llm":
        measure("single GEMM 512x512x512", single_layer_spec(args.points), args.workers,
                args.repeat)
    if args.only != "single":
        measure("Llama-2-7B decode step (ctx 512)", llm_spec(args.llm_points), args.workers,
                args.repeat)


if __name__ == "__main__":
    main()
