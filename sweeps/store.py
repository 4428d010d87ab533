"""The sweep output folder: spec, plan and a parquet dataset of result rows.

Layout::

    <out>/sweep.json                   the spec (SweepSpec.to_dict()) and the qaccel version
    <out>/plan.parquet                 planned points: point_id, workload, axis values
    <out>/results/part-<uuid>.parquet  result rows, one file per finished batch of points
    <out>/runner.lock                  "<pid> <host>" of the runner writing results
    <out>/.runner.guard                flock'd while a starting runner checks runner.lock
    <out>/*.png                        plots

Only the runner's own process writes, one part file per finished batch: the rows go to
``results/.part-<uuid>.tmp`` first, which is then renamed (``os.replace``, atomic on POSIX)
to ``part-<uuid>.parquet``. A killed runner therefore leaves whole parts and at most one stray
temporary (removed by the next run), and loses only batches not yet written. A rerun skips
every point id found in the parts, so no row is written twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from qaccel import __version__
from qaccel.errors import ConfigError
from qaccel.fileio import atomic_path, atomic_write_text

__all__ = ["SweepStore"]

SPEC_FILE = "sweep.json"
PLAN_FILE = "plan.parquet"
RESULTS_DIR = "results"
LOCK_FILE = "runner.lock"
#: flock'd while a runner checks and takes runner.lock
GUARD_FILE = ".runner.guard"


class SweepStore:
    """Reads and writes one sweep output folder (see the module docstring)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.results_dir = self.folder / RESULTS_DIR

    def __repr__(self) -> str:
        return f"SweepStore({str(self.folder)!r})"

    # ---- reading ---------------------------------------------------------------------------
    def exists(self) -> bool:
        return (self.folder / SPEC_FILE).is_file()

    def require(self) -> None:
        """ConfigError unless this folder holds a sweep."""
        if not self.exists():
            raise ConfigError.single("DIR", f"must be a sweep output folder (holding "
                                     f"{SPEC_FILE}), not {str(self.folder)!r}")

    def part_paths(self) -> list[Path]:
        if not self.results_dir.is_dir():
            return []
        return sorted(self.results_dir.glob("part-*.parquet"))

    def done_ids(self) -> list[str]:
        """Point ids of every stored row (duplicates kept, so they can be counted)."""
        ids: list[str] = []
        for path in self.part_paths():
            ids += pq.read_table(path, columns=["point_id"]).column(0).to_pylist()
        return ids

    def read_results(self) -> pd.DataFrame:
        """Every stored row, parts in name order (empty frame when there are none)."""
        frames = [pd.read_parquet(p) for p in self.part_paths()]
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame(columns=["point_id"])
        return pd.concat(frames, ignore_index=True)

    def read_spec_dict(self) -> dict[str, Any]:
        self.require()
        return json.loads((self.folder / SPEC_FILE).read_text())

    def read_plan(self) -> pd.DataFrame:
        path = self.folder / PLAN_FILE
        return pd.read_parquet(path) if path.is_file() else pd.DataFrame(columns=["point_id"])

    # ---- writing ---------------------------------------------------------------------------
    def write_meta(self, spec_dict: Mapping[str, Any], plan: pd.DataFrame) -> None:
        """Write ``sweep.json`` and ``plan.parquet`` (each atomically)."""
        self.results_dir.mkdir(parents=True, exist_ok=True)
        meta = {"schema": "qaccel.sweep", "qaccel_version": __version__, "spec": spec_dict}
        atomic_write_text(self.folder / SPEC_FILE, json.dumps(meta, indent=1) + "\n")
        with atomic_path(self.folder / PLAN_FILE) as tmp:
            plan.to_parquet(tmp, index=False)

    def write_part(self, rows: Sequence[Mapping[str, Any]]) -> Path:
        """Write one batch of rows as a new part file (atomically); return its path."""
        name = uuid.uuid4().hex
        tmp = self.results_dir / f".part-{name}.tmp"
        final = self.results_dir / f"part-{name}.parquet"
        try:
            pd.DataFrame(list(rows)).to_parquet(tmp, index=False)
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)  # after a failed write (the rename moved a good one)
        return final

    def clean_temporaries(self) -> int:
        """Remove temporaries a killed runner left; return how many."""
        stray = list(self.results_dir.glob(".part-*.tmp")) if self.results_dir.is_dir() else []
        for path in stray:
            path.unlink(missing_ok=True)
        return len(stray)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold ``runner.lock`` while writing; a lock left by a dead process on this host is
        taken over. Two live runners on one folder are refused."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / LOCK_FILE
        me = f"{os.getpid()} {socket.gethostname()}"
        with _exclusive(self.folder / GUARD_FILE):  # one process at a time looks and takes
            if path.exists() and not _stale(path):
                holder = path.read_text().strip() if path.exists() else "?"
                raise ConfigError.single(
                    "--out", f"cannot be written because another runner (pid and host: "
                    f"{holder}) holds {path}; wait for it, or delete the file if that runner "
                    "is gone")
            atomic_write_text(path, me + "\n")
        try:
            yield
        finally:
            with contextlib.suppress(FileNotFoundError):
                if path.read_text().strip() == me:
                    path.unlink()


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created, never removed), so that two runners
    starting at once do not both find a stale lock and both take it over. The kernel drops
    the flock when its holder dies."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the flock


def _stale(path: Path) -> bool:
    """A lock whose process is gone (this host only; another host's lock is kept)."""
    try:
        pid_text, host = path.read_text().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return True  # unreadable or half-written: its writer died
    if host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False

