"""Where batches of points run: local processes (the default) or an existing Dask cluster.

Every executor has the same three members, so the runner does not know which it drives:
``workers`` (how many tasks run at once), ``map_unordered(fn, batches, *args)``, which
yields ``fn(batch, *args)`` for every batch as each finishes, and ``share(*args)``, which
places large arguments on the workers once (Dask: scattered to every worker, so each task
gets that worker's copy and the caches it fills persist between calls) and returns what to
pass as ``args`` instead. Results come back to the runner's process, which alone writes the
dataset, so Dask workers need no shared filesystem.

:class:`InlineExecutor` runs the batches one after another in the calling process (no
pickling; what ``qaccel codesign`` uses without ``--dask``).
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from qaccel.errors import ConfigError

__all__ = ["InlineExecutor", "LocalExecutor", "DaskExecutor", "make_executor"]


class InlineExecutor:
    """Runs every batch in this process, in order (one worker). Use as a context manager."""

    workers = 1

    def __repr__(self) -> str:
        return "InlineExecutor()"

    def __enter__(self) -> InlineExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def share(self, *args: Any) -> tuple[Any, ...]:
        return args

    def map_unordered(self, fn: Callable[..., Any], batches: Sequence[Any],
                      *args: Any) -> Iterator[Any]:
        for batch in batches:
            yield fn(batch, *args)


class LocalExecutor:
    """A :class:`concurrent.futures.ProcessPoolExecutor` of ``workers`` processes
    (default: ``os.cpu_count()``). Use as a context manager."""

    def __init__(self, workers: int | None = None) -> None:
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                    or workers < 1):
            raise ConfigError.single("--workers", f"must be an int >= 1, not {workers!r}")
        self.workers = workers or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None

    def __repr__(self) -> str:
        return f"LocalExecutor(workers={self.workers})"

    def __enter__(self) -> LocalExecutor:
        # The workers fork from this process. Its objects (the plan, the imported modules)
        # go to the GC's permanent generation while they fork, so the workers' collections
        # never walk them (or copy their pages on write): about 15 % of a worker's CPU time
        # on an LLM sweep (docs/performance.md). Unfrozen here once every worker exists
        # (left alone when the caller froze objects itself).
        ours = gc.get_freeze_count() == 0
        if ours:
            gc.freeze()
        try:
            self._pool = ProcessPoolExecutor(self.workers, initializer=_exit_with_parent,
                                             initargs=(os.getpid(),))
            self._pool.submit(int).result()   # fork start method: starts every worker
        finally:
            if ours:
                gc.unfreeze()
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self._pool is not None
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None

    def share(self, *args: Any) -> tuple[Any, ...]:
        """The arguments themselves: each task pickles its own copy."""
        return args

    def map_unordered(self, fn: Callable[..., Any], batches: Sequence[Any],
                      *args: Any) -> Iterator[Any]:
        assert self._pool is not None, "use LocalExecutor as a context manager"
        pending: set[Future] = {self._pool.submit(fn, b, *args) for b in batches}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        finally:
            for future in pending:
                future.cancel()


#: how often a local worker checks that the runner is still alive (unit: s)
PARENT_POLL_S = 0.2


def _exit_with_parent(parent: int) -> None:
    """Worker initializer: a daemon thread ends this worker when the runner that started it
    is gone (killed with SIGKILL, its pool never shut down), so no orphan keeps computing."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="qaccel-parent-watch", daemon=True).start()


class DaskExecutor:
    """Runs batches on an existing Dask cluster: a ``distributed.Client`` (left open) or a
    scheduler address such as ``tcp://HOST:8786`` (connected here, closed on exit)."""

    def __init__(self, client: Any) -> None:
        self._given = client
        self._client: Any = None
        self._own = isinstance(client, str)

    def __repr__(self) -> str:
        return f"DaskExecutor({self._given!r})"

    def __enter__(self) -> DaskExecutor:
        if self._own:
            from distributed import Client

            try:
                self._client = Client(self._given, timeout=30)
            except OSError as exc:
                raise ConfigError.single("--dask", f"must be the address of a running Dask "
                                         f"scheduler, not {self._given!r} ({exc})") from None
        else:
            self._client = self._given
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._own and self._client is not None:
            self._client.close()
        self._client = None

    @property
    def workers(self) -> int:
        """Worker threads in the cluster (at least 1)."""
        info = self._client.scheduler_info(n_workers=-1)["workers"]
        return max(1, sum(int(w.get("nthreads", 1)) for w in info.values()))

    def share(self, *args: Any) -> tuple[Any, ...]:
        """Each argument scattered to every worker once (futures; ``hash=False``: no
        tokenizing of large objects). Pass them to :meth:`map_unordered` as ``args``."""
        if not args:
            return ()
        return tuple(self._client.scatter(list(args), broadcast=True, hash=False))

    def map_unordered(self, fn: Callable[..., Any], batches: Sequence[Any],
                      *args: Any) -> Iterator[Any]:
        from distributed import Future, as_completed

        if args and not all(isinstance(a, Future) for a in args):
            args = self.share(*args)
        shared = list(args)
        futures = [self._client.submit(fn, b, *shared, pure=False) for b in batches]
        try:
            for future in as_completed(futures):
                yield future.result()
                future.release()
        finally:
            self._client.cancel(futures)


def make_executor(workers: int | None = None, dask: Any = None) -> LocalExecutor | DaskExecutor:
    """Dask when ``dask`` (a Client or an address) is given, else local processes."""
    if dask is not None:
        if workers is not None:
            raise ConfigError.single("--workers", f"must be left out with --dask (the cluster "
                                     f"decides), not {workers!r}")
        return DaskExecutor(dask)
    return LocalExecutor(workers)
