"""The sweep output folder: spec, plan and a parquet dataset of result rows.

Layout::

    <out>/sweep.json                   the spec (SweepSpec.to_dict()) and the qaccel version
    <out>/plan.parquet                 planned points: point_id, workload, axis values
    <out>/results/part-<uuid>.parquet  result rows, one file per finished batch of points
    <out>/runner.lock                  "<pid> <host>" of the runner writing results
    <out>/*.png                        plots

Only the runner's own process writes, one part file per finished batch: the rows go to
``results/.part-<uuid>.tmp`` first, which is then renamed (``os.replace``, atomic on POSIX)
to ``part-<uuid>.parquet``. A killed runner therefore leaves whole parts and at most one stray
temporary (removed by the next run), and loses only batches not yet written. A rerun skips
every point id found in the parts, so no row is written twice.
"""

from __future__ import annotations

import contextlib
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

__all__ = ["SweepStore"]

SPEC_FILE = "sweep.json"
PLAN_FILE = "plan.parquet"
RESULTS_DIR = "results"
LOCK_FILE = "runner.lock"


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
        _atomic_text(self.folder / SPEC_FILE, json.dumps(meta, indent=1) + "\n")
        tmp = self.folder / f".{PLAN_FILE}.tmp"
        plan.to_parquet(tmp, index=False)
        os.replace(tmp, self.folder / PLAN_FILE)

    def write_part(self, rows: Sequence[Mapping[str, Any]]) -> Path:
        """Write one batch of rows as a new part file (atomically); return its path."""
        name = uuid.uuid4().hex
        tmp = self.results_dir / f".part-{name}.tmp"
        final = self.results_dir / f"part-{name}.parquet"
        pd.DataFrame(list(rows)).to_parquet(tmp, index=False)
        os.replace(tmp, final)
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
        for _ in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                if _stale(path):
                    path.unlink(missing_ok=True)
                    continue
                holder = path.read_text().strip() if path.exists() else "?"
                raise ConfigError.single(
                    "--out", f"cannot be written because another runner (pid and host: "
                    f"{holder}) holds {path}; wait for it, or delete the file if that runner "
                    "is gone") from None
            with os.fdopen(fd, "w") as f:
                f.write(me + "\n")
            break
        try:
            yield
        finally:
            with contextlib.suppress(FileNotFoundError):
                if path.read_text().strip() == me:
                    path.unlink()


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


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
