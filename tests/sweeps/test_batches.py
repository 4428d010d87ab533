"""How the runner cuts points into tasks and part files, and how a point's id is made."""

from __future__ import annotations

import hashlib
import json

import pytest

from qaccel import __version__
from qaccel.sweeps import load_spec, plan_sweep, run_sweep
from qaccel.sweeps import runner as runner_module
from qaccel.sweeps.evaluate import Point
from qaccel.sweeps.runner import batches_for, pe_group
from qaccel.sweeps.store import SweepStore
from tests.sweeps.conftest import spec_dict


def _point(name: str, rows: int, dram: int) -> Point:
    arch = {"pe_array": {"family": "systolic_int8", "rows": rows, "cols": 4},
            "dram": {"bits_per_cycle": dram}, "tech": {"node_nm": 28}}
    return Point(name, "w", arch, {})


def _names(batches: list[list[Point]]) -> list[list[str]]:
    return [[p.point_id for p in b] for b in batches]


def test_batches_keep_one_pe_array_together():
    # PE arrays: a (rows 4) x3, b (rows 8) x2, c (rows 16) x4, interleaved as a plan of
    # Latin-hypercube draws would give them; DRAM differs within a group
    plan = [_point("a1", 4, 64), _point("b1", 8, 64), _point("c1", 16, 64),
            _point("a2", 4, 128), _point("c2", 16, 128), _point("b2", 8, 256),
            _point("c3", 16, 256), _point("a3", 4, 512), _point("c4", 16, 512)]
    # size 3: group a fills one batch; b (2) starts the next, c (4) does not fit beside it,
    # so b stays alone and c is cut into 3 + 1
    assert _names(batches_for(plan, workers=1, batch_size=3)) == [
        ["a1", "a2", "a3"], ["b1", "b2"], ["c1", "c2", "c3"], ["c4"]]
    # size 5: a + b share a batch (5), c gets its own
    assert _names(batches_for(plan, workers=1, batch_size=5)) == [
        ["a1", "a2", "a3", "b1", "b2"], ["c1", "c2", "c3", "c4"]]
    # without a key: plan order, fixed sizes (the previous behaviour)
    assert _names(batches_for(plan, workers=1, batch_size=4, key=None)) == [
        ["a1", "b1", "c1", "a2"], ["c2", "b2", "c3", "a3"], ["c4"]]
    assert pe_group(plan[0]) == pe_group(plan[3]) != pe_group(plan[1])


def test_automatic_batch_size_and_empty():
    plan = [_point(f"p{i}", 4 + i, 64) for i in range(40)]   # 40 different PE arrays
    # 40 points / (2 workers x TASKS_PER_WORKER 8) -> ceil(2.5) = 3 per batch, 14 batches
    batches = batches_for(plan, workers=2)
    assert [len(b) for b in batches] == [3] * 13 + [1]
    assert batches_for([], workers=2) == []


def test_point_id_is_the_documented_hash():
    """Ids of stored sweeps must not change: SHA-256 of one json.dumps of the whole payload
    (the formula of the module docstring), first 24 hex digits."""
    spec = load_spec(spec_dict())
    plan = plan_sweep(spec)
    for p in plan.points:
        payload = {"arch": {k: v for k, v in p.arch.items() if k != "name"},
                   "workload": plan.workloads[p.workload].fingerprint(),
                   "engine": "fast", "qaccel_version": __version__}
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        assert p.point_id == hashlib.sha256(text.encode()).hexdigest()[:24]


def test_automatic_batches_share_part_files(tmp_path, monkeypatch):
    monkeypatch.setattr(runner_module, "FLUSH_S", 3600.0)
    summary = run_sweep(spec_dict(), tmp_path / "gathered", workers=1, progress=False,
                        plots=False)
    # 8 PE arrays x 2 workloads; automatic size ceil(16 / (1 worker x 8)) = 2: 8 tasks,
    # gathered into one part
    assert (summary.ran, summary.parts_written) == (16, 1)
    # an explicit batch size keeps one part per task: two PE arrays (4 points) per task of
    # at most 5, so 4 tasks and 4 parts
    explicit = run_sweep(spec_dict(), tmp_path / "explicit", workers=1, batch_size=5,
                         progress=False, plots=False)
    assert explicit.parts_written == 4
    assert len(SweepStore(tmp_path / "explicit").read_results()) == 16


def test_an_interrupted_run_keeps_the_rows_it_gathered(tmp_path, monkeypatch):
    """Rows of finished tasks not yet written when the run is interrupted are written on
    the way out, so a rerun only runs the rest."""
    monkeypatch.setattr(runner_module, "FLUSH_S", 3600.0)

    class Bar:
        updates = 0

        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, n):
            Bar.updates += 1
            if Bar.updates == 3:
                raise KeyboardInterrupt

    monkeypatch.setattr(runner_module, "_progress", lambda *a: Bar())
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec_dict(), out, workers=1, progress=False, plots=False)
    done = SweepStore(out).read_results()
    assert len(done) == 3 * 2 and len(SweepStore(out).part_paths()) == 1  # 3 tasks of 2
    monkeypatch.undo()
    again = run_sweep(spec_dict(), out, workers=1, progress=False, plots=False)
    assert (again.already_done, again.ran) == (len(done), 16 - len(done))


def test_local_workers_fork_frozen_and_the_caller_is_left_as_it_was():
    """Inside the pool's start the runner's objects are frozen for the GC (so the forked
    workers' collections skip them); afterwards the freeze count is what it was."""
    import gc

    from qaccel.sweeps.executors import LocalExecutor

    assert gc.get_freeze_count() == 0
    with LocalExecutor(1) as ex:
        assert gc.get_freeze_count() == 0
        # a worker forked while the parent's objects were frozen inherits them frozen
        assert list(ex.map_unordered(_freeze_count, [None])) == [True]
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with LocalExecutor(1):
            pass
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def _freeze_count(_batch) -> bool:
    import gc

    return gc.get_freeze_count() > 1000
