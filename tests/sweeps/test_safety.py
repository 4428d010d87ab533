"""Sweep runs that meet other processes or other specs: a killed runner leaves no workers, a
second runner on the same folder loses and duplicates nothing, a folder of another spec needs
--force, a broken trace is exit 2 (real processes throughout)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from qaccel.cli import main
from qaccel.sweeps import load_spec, plan_sweep
from qaccel.sweeps.store import SweepStore
from tests.sweeps.conftest import spec_dict
from tests.sweeps.test_runner import KILL_SPEC

RUNNER = ("import sys; from qaccel.sweeps import run_sweep; "
          "run_sweep(sys.argv[1], sys.argv[2], workers=int(sys.argv[3]), batch_size=2, "
          "progress=False, plots=False)")


def _group(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


def _start(spec_path: Path, out: Path, workers: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", RUNNER, str(spec_path), str(out),
                             str(workers)], start_new_session=True)


def _wait_for_parts(store: SweepStore, proc: subprocess.Popen, parts: int) -> None:
    deadline = time.monotonic() + 90
    while len(store.part_paths()) < parts and proc.poll() is None:
        assert time.monotonic() < deadline, f"fewer than {parts} part files after 90 s"
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended too early"


def test_killed_runner_leaves_no_workers(tmp_path):
    spec_path, out = tmp_path / "kill.yaml", tmp_path / "out"
    spec_path.write_text(yaml.safe_dump(KILL_SPEC))
    proc = _start(spec_path, out, workers=2)
    try:
        _wait_for_parts(SweepStore(out), proc, 2)
        assert len(_group(proc.pid)) == 3  # the runner and its two workers
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while _group(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _group(proc.pid) == [], "worker processes outlived the killed runner"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def test_second_runner_on_one_folder_loses_and_duplicates_nothing(tmp_path, capsys):
    spec_path, out = tmp_path / "both.yaml", tmp_path / "out"
    spec_path.write_text(yaml.safe_dump(KILL_SPEC))
    total = len(plan_sweep(load_spec(spec_path)).points)
    first = _start(spec_path, out, workers=1)
    try:
        _wait_for_parts(SweepStore(out), first, 2)
        second = subprocess.run([sys.executable, "-m", "qaccel", "sweep", "run", str(spec_path),
                                 "--out", str(out), "--workers", "1", "--no-progress",
                                 "--no-plots"], capture_output=True, text=True, timeout=300)
        assert first.wait(timeout=300) == 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(first.pid, signal.SIGKILL)
    assert second.returncode == 2, second.stderr
    assert "another runner" in second.stderr and "Traceback" not in second.stderr
    ids = SweepStore(out).done_ids()
    assert len(ids) == total and len(set(ids)) == total
    # and once the first is done, the same command resumes with nothing left to run
    assert main(["sweep", "run", str(spec_path), "--out", str(out), "--workers", "1",
                 "--no-progress", "--no-plots"]) == 0
    assert f"{total} already done, 0 run" in capsys.readouterr().out
    assert len(SweepStore(out).done_ids()) == total


def test_folder_of_another_spec_needs_force(tmp_path, capsys):
    first, other, out = tmp_path / "a.yaml", tmp_path / "b.yaml", tmp_path / "out"
    first.write_text(yaml.safe_dump(spec_dict()))
    other.write_text(yaml.safe_dump(spec_dict(name="other", axes={
        "pe_array.rows": [4, 8], "pe_array.cols": [4], "pe_array.dataflow": ["ws", "os"]})))
    argv = ["sweep", "run", "--out", str(out), "--workers", "1", "--no-progress"]
    assert main([*argv[:2], str(first), *argv[2:]]) == 0
    stored = (out / "sweep.json").read_text()
    capsys.readouterr()
    assert main([*argv[:2], str(other), *argv[2:]]) == 2
    err = capsys.readouterr().err
    assert err == (f"qaccel sweep: error: --out: must be a new folder or one holding this "
                   f"spec's sweep, not {str(out)!r}, whose sweep 'small' differs in axes, "
                   f"name; choose another folder, or add --force to replace its spec\n")
    assert (out / "sweep.json").read_text() == stored
    assert main([*argv[:2], str(other), *argv[2:], "--force"]) == 0
    # 2 x 1 x 2 designs x 2 workloads, all already stored by the first spec's run
    assert "8 points planned, 8 already done, 0 run" in capsys.readouterr().out
    assert '"name": "other"' in (out / "sweep.json").read_text()


def test_truncated_trace_in_a_spec_exits_2(tmp_path, capsys):
    from qaccel.models import demo
    from qaccel.models.capture import capture

    module, inputs = demo.mlp_demo(seed=0)
    capture(module, inputs, seed=0, name="mlp").save(tmp_path / "mlp")
    tensors = tmp_path / "mlp" / "tensors.safetensors"
    tensors.write_bytes(tensors.read_bytes()[:100])
    spec = spec_dict(workloads=[{"name": "mlp", "trace": "mlp"}])
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    code = main(["sweep", "run", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "out"),
                 "--workers", "1", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "workloads[0].trace" in err and "must be a whole safetensors file" in err
    assert not (tmp_path / "out").exists()
