"""Run a GEMM's value computation in column blocks, one worker thread per CPU.

The BitMoD and MixPE fast levels multiply one weight group after another on BLAS and scale
each group's products in a numba kernel. With BLAS's own threads that is 32 short parallel
regions per 512x4096x4096 GEMM (two per group), whose threads spin while they wait for each
other; on this project's shared 2-core machine, under a load average of 14, that made the
values 4.5x slower than one thread (7.2 s vs 1.6 s). Here each worker owns a block of output
columns for the whole GEMM instead (single-threaded BLAS, the kernels release the GIL), so
the workers meet once. Every output element is still computed by one worker, group after
group in order, so the results do not depend on the split.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

__all__ = ["in_column_blocks", "PARALLEL_MIN_MACS"]

#: below this many multiply-adds one block runs in the calling thread (BLAS's own threads)
PARALLEL_MIN_MACS = 1 << 27
#: columns per block at least (unit: output columns)
MIN_COLS = 256

_controller = None
#: set in worker threads: a nested call runs inline
_inside = threading.local()


def _workers() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def in_column_blocks(fn: Callable[[slice], None], n: int, macs: int) -> None:
    """Call ``fn(cols)`` for slices ``cols`` that partition ``range(n)``: one slice in this
    thread when ``macs`` (the GEMM's multiply-adds) is below :data:`PARALLEL_MIN_MACS` or one
    CPU is available or this is a worker already; else one contiguous block per CPU, each in
    its own thread, with BLAS limited to one thread meanwhile (``threadpoolctl``)."""
    workers = min(_workers(), n // MIN_COLS)
    if macs < PARALLEL_MIN_MACS or workers < 2 or getattr(_inside, "worker", False):
        fn(slice(0, n))
        return
    from concurrent.futures import ThreadPoolExecutor  # first use only: CLI start-up

    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController
        _controller = ThreadpoolController()
    bounds = [n * i // workers for i in range(workers + 1)]

    def work(cols: slice) -> None:
        _inside.worker = True
        fn(cols)

    with _controller.limit(limits=1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
        for f in [pool.submit(work, slice(bounds[i], bounds[i + 1])) for i in range(workers)]:
            f.result()
