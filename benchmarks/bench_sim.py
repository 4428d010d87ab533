"""Simulator speed: fast vs reference engine, and the fast engine on a 512x4096x4096 layer.

Run:  python benchmarks/bench_sim.py
Prints wall times, the fast/reference ratio measured in this process, and peak memory
(tracemalloc: Python + NumPy allocations) of the fast engine timing-only and with bit-exact
values. Targets (DESIGN.md): single-layer timing in microseconds; 512x4096x4096 INT8 values in
< 5 s on 2 cores; < 200 MB beyond the operands.
"""

from __future__ import annotations

import time
import tracemalloc
from functools import partial

from qaccel import sim
from qaccel.arch import load_accelerator
from qaccel.sim.engine import simulate_layer
from qaccel.sim.gemm import gemm_layer


def timed(fn, repeat: int = 1):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def peak_mb(fn) -> tuple[float, float]:
    tracemalloc.start()
    t0 = time.perf_counter()
    fn()
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak / 2**20


def main() -> None:
    accel = load_accelerator("systolic-int8-32x32")
    print(f"accelerator: {accel.name}")
    print("\n== fast vs reference engine (same layers, same process) ==")
    print(f"{'case':<34}{'reference s':>12}{'fast s':>12}{'speed-up':>10}")
    cases = [("256x256x256 timing", [gemm_layer(256, 256, 256)], False),
             ("1024x1024x1024 timing", [gemm_layer(1024, 1024, 1024)], False),
             ("256x1024x512 values", [_Prepared(gemm_layer(256, 1024, 512))], True)]
    for flow in ("ws", "os", "is"):
        acc = accel.replace_array(dataflow=flow)
        for name, layers, values in cases:
            t_ref, r_ref = timed(partial(sim.run, layers, acc, "reference", values=values))
            t_fast, r_fast = timed(partial(sim.run, layers, acc, "fast", values=values), 5)
            assert r_ref.frame.equals(r_fast.frame), "engines disagree"
            print(f"{flow + ' ' + name:<34}{t_ref:>12.4f}{t_fast:>12.6f}{t_ref / t_fast:>9.0f}x")

    print("\n== fast engine, one 512x4096x4096 layer ==")
    big = gemm_layer(512, 4096, 4096)
    t, _ = timed(lambda: sim.run([big], accel, "fast", values=False), 20)
    print(f"timing only, sim.run: {t * 1e6:10.1f} us (incl. building the result DataFrame)")
    t, _ = timed(lambda: simulate_layer(big, accel, "fast"), 200)
    print(f"timing only, closed form per layer: {t * 1e6:.1f} us")
    operands_mb = (512 * 4096 + 4096 * 4096) / 2**20
    layer = _Prepared(big)
    sim.run([layer], accel, "fast", values=True)  # warm BLAS threads
    seconds, peak = peak_mb(lambda: sim.run([layer], accel, "fast", values=True))
    print(f"bit-exact values:     {seconds:10.2f} s, peak {peak:.0f} MB traced "
          f"({peak - operands_mb:.0f} MB beyond the {operands_mb:.0f} MB of int8 operands)")
    seconds, peak = peak_mb(lambda: sim.run([big], accel, "fast", values=False))
    print(f"timing-only memory:   peak {peak:.2f} MB traced")


class _Prepared:
    """A layer whose operands are generated once, outside the measurements."""

    def __init__(self, layer) -> None:
        self._layer, self._ops = layer, layer.operands()
        self.name, self.op, self.has_values = layer.name, layer.op, True

    def gemm_shape(self):
        return self._layer.gemm_shape()

    def operands(self):
        return self._ops


if __name__ == "__main__":
    main()
