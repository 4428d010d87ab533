"""``run_sweep``: plan a sweep, skip finished points, run the rest in batches, store rows.

Everything that can be wrong with a spec is found before the first point runs
(:func:`~qaccel.sweeps.spec.load_spec`, then :func:`~qaccel.sweeps.plan.plan_sweep`). Points
already in the output folder (same content hash) are skipped, so a rerun after a kill picks
up where the dataset ends; finished rows go to atomic part files
(:mod:`qaccel.sweeps.store`): one per batch with an explicit ``batch_size``, else the rows of
finished batches gathered for up to :data:`FLUSH_S` seconds (or :data:`MAX_BATCH` rows), so
cheap points do not cost a parquet file each; a kill loses the batches in flight and at most
that many seconds of finished rows.

Batches keep points of one PE array together (:func:`batches_for`): the simulator caches
what depends on the PE array alone (fold cycles, per-tile events, event prices), so a design
that differs only in DRAM, clock or buffers from one a worker already ran costs a fraction of
a cold one. Splitting such a group over workers would make every worker pay the cold cost.

>>> from qaccel.sweeps import run_sweep                       # doctest: +SKIP
>>> run_sweep("sweeps/examples/resnet50-int8-systolic.yaml", "out/resnet50")   # local processes
>>> run_sweep(spec, "out/x", dask="tcp://scheduler-host:8786")      # or a distributed.Client
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qaccel.errors import ConfigError
from qaccel.sweeps.evaluate import Point, evaluate_batch
from qaccel.sweeps.executors import make_executor
from qaccel.sweeps.plan import Plan, plan_sweep
from qaccel.sweeps.spec import SweepSpec, load_spec
from qaccel.sweeps.store import SweepStore

__all__ = ["run_sweep", "RunSummary", "batches_for", "pe_group", "MAX_BATCH",
           "TASKS_PER_WORKER", "FLUSH_S"]

#: most points per task; automatic part files are written once this many rows wait
MAX_BATCH = 512
#: aim for this many tasks per worker, so the progress bar moves and load balances
TASKS_PER_WORKER = 8
#: automatic batches: finished rows are gathered into one part file for up to this long
#: (unit: s)
FLUSH_S = 2.0


@dataclass(frozen=True)
class RunSummary:
    """What one call of :func:`run_sweep` did. Times in seconds."""

    out: Path
    planned: int
    already_done: int
    ran: int
    invalid: int
    excluded: int
    parts_written: int
    seconds: float
    workers: int
    plots: tuple[Path, ...] = ()

    def __str__(self) -> str:
        rate = self.ran / self.seconds * 60 if self.seconds > 0 else 0.0
        left = []
        if self.invalid:
            left.append(f"{self.invalid} invalid combinations skipped")
        if self.excluded:
            left.append(f"{self.excluded} combinations excluded by constraints")
        return (f"{self.planned} points planned, {self.already_done} already done, "
                f"{self.ran} run in {self.seconds:.1f} s ({rate:,.0f} points/min on "
                f"{self.workers} workers), {self.parts_written} part files"
                + (f"; {', '.join(left)}" if left else "") + f" -> {self.out}")


def pe_group(point: Point) -> str:
    """The key points share when their PE arrays are equal (canonical JSON of the arch's
    ``pe_array`` and technology): what the simulator's per-PE caches are keyed on."""
    arch = point.arch
    return json.dumps([arch.get("pe_array"), arch.get("tech")], sort_keys=True, default=str)


def batches_for(points: Sequence[Point], workers: int, batch_size: int | None = None,
                key: Callable[[Point], Any] | None = pe_group) -> list[list[Point]]:
    """Split ``points`` into tasks of at most ``batch_size`` points (default: about
    TASKS_PER_WORKER tasks per worker, at most MAX_BATCH points). With ``key``, points of one
    key are kept together (plan order inside a key; keys in order of first appearance) and a
    key's points are split only when they are more than one batch."""
    if not points:
        return []
    size = batch_size or max(1, min(MAX_BATCH,
                                    math.ceil(len(points) / (workers * TASKS_PER_WORKER))))
    if key is None:
        return [list(points[i:i + size]) for i in range(0, len(points), size)]
    groups: dict[Any, list[Point]] = {}
    for p in points:
        groups.setdefault(key(p), []).append(p)
    batches: list[list[Point]] = []
    current: list[Point] = []
    for group in groups.values():
        if current and len(current) + len(group) > size:
            batches.append(current)
            current = []
        while len(group) > size:
            batches.append(group[:size])
            group = group[size:]
        current.extend(group)
        if len(current) >= size:
            batches.append(current)
            current = []
    if current:
        batches.append(current)
    return batches


def run_sweep(spec: SweepSpec | str | Path | Mapping[str, Any], out: str | Path, *,
              workers: int | None = None, dask: Any = None, batch_size: int | None = None,
              progress: bool = True, plots: bool = True, force: bool = False) -> RunSummary:
    """Run every point of ``spec`` not yet in ``out``; write the spec's plots at the end.

    ``workers``: local processes (default: all cores). ``dask``: a ``distributed.Client`` or a
    scheduler address (``tcp://HOST:PORT``) to run on instead. ``batch_size``: at most this
    many points per task, one part file per task (default: see :func:`batches_for`; parts
    then gather finished rows for up to FLUSH_S seconds). ``progress``: a tqdm bar with ETA on
    stderr. ``force``: run into a folder that holds a sweep of another spec (its spec and plan
    are replaced; stored rows of points both specs share are reused, the others stay as
    ``other_rows``); without it such a folder is refused.
    """
    if not isinstance(spec, SweepSpec):
        spec = load_spec(spec)
    executor = make_executor(workers, dask)
    if batch_size is not None and (isinstance(batch_size, bool)
                                   or not isinstance(batch_size, int) or batch_size < 1):
        raise ConfigError.single("--batch", f"must be an int >= 1, not {batch_size!r}")
    plan = plan_sweep(spec)  # every spec problem is raised here, before any point runs
    store = SweepStore(out)
    start = time.perf_counter()
    with store.lock():
        if not force:
            _check_same_spec(store, spec)
        store.clean_temporaries()
        store.write_meta(spec.to_dict(), plan.frame())
        done = set(store.done_ids())
        pending = [p for p in plan.points if p.point_id not in done]
        with executor:
            n_workers = executor.workers
            batches = batches_for(pending, n_workers, batch_size)
            parts = _Parts(store, 0.0 if batch_size else FLUSH_S)
            with _progress(plan, len(plan.points) - len(pending), progress) as bar:
                try:
                    for rows in executor.map_unordered(evaluate_batch, batches,
                                                       plan.workloads, spec.engine):
                        parts.add(rows)
                        bar.update(len(rows))
                finally:
                    parts.flush()      # an error or an interrupt keeps what finished
    seconds = time.perf_counter() - start
    written: tuple[Path, ...] = ()
    if plots and spec.plots:
        from qaccel.sweeps.plots import write_spec_plots

        written = tuple(write_spec_plots(store))
    return RunSummary(Path(out), len(plan.points), len(plan.points) - len(pending),
                      len(pending), plan.invalid, plan.excluded, parts.written, seconds,
                      n_workers, written)


class _Parts:
    """Finished rows on their way to part files: written when ``flush_s`` seconds passed
    since the last write or MAX_BATCH rows wait (``flush_s`` 0: every batch at once)."""

    def __init__(self, store: SweepStore, flush_s: float) -> None:
        self.store, self.flush_s = store, flush_s
        self.rows: list[dict[str, Any]] = []
        self.written = 0
        self.last = time.monotonic()

    def add(self, rows: list[dict[str, Any]]) -> None:
        self.rows.extend(rows)
        if (len(self.rows) >= MAX_BATCH
                or time.monotonic() - self.last >= self.flush_s):
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.store.write_part(self.rows)
            self.written += 1
            self.rows = []
        self.last = time.monotonic()


def _check_same_spec(store: SweepStore, spec: SweepSpec) -> None:
    """ConfigError if ``store`` holds a sweep whose spec differs from ``spec``."""
    if not store.exists():
        return
    try:
        stored = store.read_spec_dict().get("spec")
    except ValueError:  # unreadable sweep.json
        stored = None
    new = json.loads(json.dumps(spec.to_dict()))
    if stored == new:
        return
    keys = sorted(set(new) | set(stored)) if isinstance(stored, dict) else []
    differ = [k for k in keys if stored.get(k) != new.get(k)]
    what = f"differs in {', '.join(differ)}" if differ else "cannot be read"
    name = stored.get("name") if isinstance(stored, dict) else None
    raise ConfigError.single("--out", f"must be a new folder or one holding this spec's "
                             f"sweep, not {str(store.folder)!r}, whose sweep {name!r} {what}; "
                             f"choose another folder, or add --force to replace its spec")


def _progress(plan: Plan, initial: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=len(plan.points), initial=initial, desc=f"sweep {plan.spec.name}",
                unit="pt", disable=not enabled, dynamic_ncols=True, smoothing=0.1)
