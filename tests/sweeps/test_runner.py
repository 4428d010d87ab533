"""The runner: rows per point, resume without loss or duplicates, local = Dask."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml

from qaccel import ConfigError, __version__, sim
from qaccel.arch import load_accelerator
from qaccel.sweeps import load_spec, load_sweep, plan_sweep, run_sweep, sweep_status
from qaccel.sweeps.evaluate import evaluate_batch
from qaccel.sweeps.store import SweepStore
from tests.conftest import accel_dict
from tests.sweeps.conftest import spec_dict

# (rows, cols, dataflow) -> compute cycles of the 64x64x64 GEMM, by hand (DESIGN.md folds):
# ws: ceil(K/R) ceil(N/C) folds of 2R + C + M - 2; os: ceil(M/R) ceil(N/C) of R + C + K - 2
PINNED = [
    ((4, 4, "ws"), 16 * 16 * (8 + 4 + 64 - 2)),
    ((4, 4, "os"), 16 * 16 * (4 + 4 + 64 - 2)),
    ((8, 8, "ws"), 8 * 8 * (16 + 8 + 64 - 2)),
    ((8, 8, "os"), 8 * 8 * (8 + 8 + 64 - 2)),
    ((4, 8, "ws"), 16 * 8 * (8 + 8 + 64 - 2)),
]


def rows_by_id(out) -> pd.DataFrame:
    df = SweepStore(out).read_results()
    return df.sort_values("point_id").reset_index(drop=True)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    summary = run_sweep(spec_dict(), out, workers=2, batch_size=3, progress=False)
    return out, summary


@pytest.mark.parametrize("shape,compute", PINNED, ids=[f"{r}x{c}-{d}" for (r, c, d), _ in PINNED])
def test_rows_pinned(small_run, shape, compute):
    out, _ = small_run
    _, df = load_sweep(out)
    rows, cols, flow = shape
    row = df[(df["workload"] == "g64") & (df["pe_array.rows"] == rows)
             & (df["pe_array.cols"] == cols) & (df["pe_array.dataflow"] == flow)]
    assert len(row) == 1
    row = row.iloc[0]
    assert row["compute_cycles"] == compute
    accel = load_accelerator(accel_dict(rows=rows, cols=cols, dataflow=flow))
    totals = sim.run(plan_sweep(load_spec(spec_dict())).workloads["g64"].layers, accel,
                     values=False).totals()
    for key, value in totals.items():
        assert row[key] == pytest.approx(value), key
    assert row["latency_us"] == pytest.approx(totals["total_cycles"] / 1000.0)
    assert row["pe_count"] == rows * cols
    assert row["qaccel_version"] == __version__


def test_rerun_skips_finished_points(small_run):
    out, first = small_run
    assert (first.planned, first.already_done, first.ran) == (16, 0, 16)
    again = run_sweep(spec_dict(), out, workers=2, progress=False)
    assert (again.ran, again.already_done, again.parts_written) == (0, 16, 0)
    status = sweep_status(out)
    assert (status.planned, status.done, status.duplicates, status.other_rows) == (16, 16, 0, 0)


def test_content_hash_ignores_arch_name_but_not_version(small_run):
    spec = load_spec(spec_dict())
    renamed = spec_dict()
    renamed["base_arch"]["name"] = "another-name"
    ids = [p.point_id for p in plan_sweep(spec).points]
    assert ids == [p.point_id for p in plan_sweep(load_spec(renamed)).points]
    assert len(set(ids)) == len(ids) == 16
    from qaccel.sweeps.plan import point_id

    p = plan_sweep(spec).points[0]
    workload = plan_sweep(spec).workloads[p.workload]
    assert point_id(p.arch, workload) == p.point_id
    assert point_id(p.arch, workload, version="999") != p.point_id


@pytest.fixture(scope="module")
def dask_cluster():
    import distributed  # a declared dependency (dask[distributed]): missing is a failure

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    yield cluster, client
    client.close()
    cluster.close()


def test_dask_cluster_gives_the_local_rows(small_run, dask_cluster, tmp_path):
    cluster, client = dask_cluster
    local, _ = small_run
    summary = run_sweep(spec_dict(), tmp_path / "client", dask=client, batch_size=3,
                        progress=False)
    assert (summary.ran, summary.workers) == (16, 2)
    expected = rows_by_id(local)
    pd.testing.assert_frame_equal(rows_by_id(tmp_path / "client"), expected, check_exact=True)
    # the same through an address, as `qaccel sweep run --dask tcp://...` does
    run_sweep(spec_dict(), tmp_path / "address", dask=cluster.scheduler_address,
              progress=False)
    pd.testing.assert_frame_equal(rows_by_id(tmp_path / "address"), expected,
                                  check_exact=True)


KILL_SPEC = spec_dict(
    name="killme",
    axes={"pe_array.rows": [4, 8, 16, 32], "pe_array.cols": [4, 8, 16, 32],
          "pe_array.dataflow": ["ws", "os", "is"], "clock_mhz": [500, 1000, 1500, 2000]},
    # 40 distinct layer shapes (the engine simulates each distinct shape once per design):
    # tens of milliseconds per point, so a run lasts seconds
    workloads=[{"name": "deep", "layers": [{"name": f"l{i}", "gemm": f"{96 + i}x{80 + i}x72"}
                                           for i in range(40)]}],
)
RUNNER = ("import sys; from qaccel.sweeps import run_sweep; "
          "run_sweep(sys.argv[1], sys.argv[2], workers=1, batch_size=2, progress=False, "
          "plots=False)")


def test_killed_run_resumes_with_every_point_once(tmp_path):
    spec_path, out = tmp_path / "kill.yaml", tmp_path / "out"
    spec_path.write_text(yaml.safe_dump(KILL_SPEC))
    plan = plan_sweep(load_spec(spec_path))
    total = len(plan.points)
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, str(spec_path), str(out)],
                            start_new_session=True)
    store = SweepStore(out)
    try:
        deadline = time.monotonic() + 60
        while len(store.part_paths()) < 4 and proc.poll() is None:
            assert time.monotonic() < deadline, "no part files after 60 s"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the pool's worker, if still there
    assert proc.returncode == -signal.SIGKILL, "the run ended before it was killed"
    before = store.read_results()
    assert 0 < len(before) < total
    assert before["point_id"].is_unique
    # the rows written before the kill are whole: the same as recomputing those points
    by_id = {p.point_id: p for p in plan.points}
    again = pd.DataFrame(evaluate_batch([by_id[i] for i in before["point_id"]],
                                        plan.workloads))
    pd.testing.assert_frame_equal(before.reset_index(drop=True), again, check_exact=True)
    (store.results_dir / ".part-left-by-a-kill.tmp").write_bytes(b"PAR1 half")

    summary = run_sweep(spec_path, out, workers=2, progress=False, plots=False)
    assert (summary.already_done, summary.ran) == (len(before), total - len(before))
    after = store.read_results()
    assert sorted(after["point_id"]) == sorted(p.point_id for p in plan.points)
    assert not list(store.results_dir.glob("*.tmp"))
    assert not (out / "runner.lock").exists()


def test_live_lock_refuses_a_second_runner(tmp_path):
    out = tmp_path / "locked"
    out.mkdir()
    (out / "runner.lock").write_text(f"{os.getpid()} {socket.gethostname()}\n")
    with pytest.raises(ConfigError, match=r"^--out: cannot be written because another runner "
                       rf"\(pid and host: {os.getpid()} .*\) holds .*runner.lock; wait for it, "
                       r"or delete the file if that runner is gone$"):
        run_sweep(spec_dict(), out, workers=1, progress=False)
    # a lock whose process is gone is taken over
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (out / "runner.lock").write_text(f"{dead} {socket.gethostname()}\n")
    assert run_sweep(spec_dict(), out, workers=1, progress=False).ran == 16


def test_bad_spec_fails_before_anything_is_written(tmp_path):
    out = tmp_path / "never"
    with pytest.raises(ConfigError):
        run_sweep(spec_dict(axes={"pe_array.rows": [4, 256], "pe_array.cols": [256]}), out,
                  workers=1, progress=False)
    assert not out.exists()
