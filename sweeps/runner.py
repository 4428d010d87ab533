"""``run_sweep``: plan a sweep, skip finished points, run the rest in batches, store rows.

Everything that can be wrong with a spec is found before the first point runs
(:func:`~qaccel.sweeps.spec.load_spec`, then :func:`~qaccel.sweeps.plan.plan_sweep`). Points
already in the output folder (same content hash) are skipped, so a rerun after a kill picks
up where the dataset ends; each finished batch is one atomic part file
(:mod:`qaccel.sweeps.store`).

>>> from qaccel.sweeps import run_sweep                       # doctest: +SKIP
>>> run_sweep("sweeps/examples/resnet50-int8-systolic.yaml", "out/resnet50")   # local processes
>>> run_sweep(spec, "out/x", dask="tcp://scheduler-host:8786")      # or a distributed.Client
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qaccel.errors import ConfigError
from qaccel.sweeps.evaluate import Point, evaluate_batch
from qaccel.sweeps.executors import make_executor
from qaccel.sweeps.plan import Plan, plan_sweep
from qaccel.sweeps.spec import SweepSpec, load_spec
from qaccel.sweeps.store import SweepStore

__all__ = ["run_sweep", "RunSummary", "batches_for", "MAX_BATCH", "TASKS_PER_WORKER"]

#: most points per task and per part file (a kill loses at most the batches in flight)
MAX_BATCH = 512
#: aim for this many tasks per worker, so the progress bar moves and load balances
TASKS_PER_WORKER = 8


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


def batches_for(points: Sequence[Point], workers: int,
                batch_size: int | None = None) -> list[list[Point]]:
    """Split ``points`` into tasks: ``batch_size`` each, or about TASKS_PER_WORKER tasks per
    worker of at most MAX_BATCH points."""
    if not points:
        return []
    size = batch_size or max(1, min(MAX_BATCH,
                                    math.ceil(len(points) / (workers * TASKS_PER_WORKER))))
    return [list(points[i:i + size]) for i in range(0, len(points), size)]


def run_sweep(spec: SweepSpec | str | Path | Mapping[str, Any], out: str | Path, *,
              workers: int | None = None, dask: Any = None, batch_size: int | None = None,
              progress: bool = True, plots: bool = True, force: bool = False) -> RunSummary:
    """Run every point of ``spec`` not yet in ``out``; write the spec's plots at the end.

    ``workers``: local processes (default: all cores). ``dask``: a ``distributed.Client`` or a
    scheduler address (``tcp://HOST:PORT``) to run on instead. ``batch_size``: points per task
    and part file (default: see :func:`batches_for`). ``progress``: a tqdm bar with ETA on
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
        parts = 0
        with executor:
            n_workers = executor.workers
            batches = batches_for(pending, n_workers, batch_size)
            with _progress(plan, len(plan.points) - len(pending), progress) as bar:
                for rows in executor.map_unordered(evaluate_batch, batches, plan.workloads,
                                                   spec.engine):
                    store.write_part(rows)
                    parts += 1
                    bar.update(len(rows))
    seconds = time.perf_counter() - start
    written: tuple[Path, ...] = ()
    if plots and spec.plots:
        from qaccel.sweeps.plots import write_spec_plots

        written = tuple(write_spec_plots(store))
    return RunSummary(Path(out), len(plan.points), len(plan.points) - len(pending),
                      len(pending), plan.invalid, plan.excluded, parts, seconds,
                      n_workers, written)


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
