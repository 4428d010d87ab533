"""The FP32 sequential-accumulation kernel of the FP16 PE (and the weight-only modes) against
its cd70cc9 version (one output row at a time, single-threaded), same process, same inputs.

    python benchmarks/bench_fp_kernel.py [--size 512x4096x4096]

Prints both wall times (best of 2, after a warm-up call that compiles), the ratio, and checks
that the outputs are bit-identical. Issue 17 asks for bit-exact 512x4096x4096 values in under
2 s on 2 cores.
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np

from qaccel.sim.fast.fp_mac import sequential_f32_matmul


@numba.njit(cache=True)
def _kernel_cd70cc9(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """sim/fast/fp16.py ``_kernel`` at commit cd70cc9, verbatim."""
    m_dim, k_dim = a.shape
    n_dim = b.shape[1]
    for m in range(m_dim):
        row = out[m]
        for k in range(k_dim):
            av = a[m, k]
            for n in range(n_dim):
                row[n] = row[n] + av * b[k, n]


def baseline(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros((a.shape[0], b.shape[1]), dtype=np.float32)
    _kernel_cd70cc9(np.ascontiguousarray(a, dtype=np.float32),
                    np.ascontiguousarray(b, dtype=np.float32), out)
    return out


def best(fn, a, b, repeat: int = 2) -> tuple[float, np.ndarray]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(a, b)
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default="512x4096x4096", help="MxKxN (default 512x4096x4096)")
    m, k, n = (int(x) for x in p.parse_args().size.split("x"))
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k)).astype(np.float16)
    b = rng.standard_normal((k, n)).astype(np.float16)
    for fn in (baseline, sequential_f32_matmul):   # compile (or load from cache)
        fn(a[:2], b[:, :8])
    t_base, o_base = best(baseline, a, b)
    t_now, o_now = best(sequential_f32_matmul, a, b)
    same = np.array_equal(o_base.view(np.uint32), o_now.view(np.uint32))
    print(f"{m}x{k}x{n} FP16 -> FP32 sequential: cd70cc9 {t_base:.2f} s, today {t_now:.2f} s "
          f"({t_base / t_now:.1f}x), bit-identical: {same}, threads {numba.get_num_threads()}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
