"""Atomic file writes and output-folder checks shared by the CLI, traces and sweeps.

A file written through :func:`atomic_path` appears whole or not at all: the writer fills a
temporary file beside the target (same folder, so the same file system) and renames it over
the target only when it finished; a crash or an exception leaves the old file (or none) and
no temporary behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from qaccel.errors import ConfigError

__all__ = ["atomic_path", "atomic_write_text", "check_new_dir"]


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on a normal exit rename it to ``path``
    (``os.replace``), on an exception delete it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def check_new_dir(path: Path, flag: str, force: bool) -> None:
    """An output folder a command is about to fill: refuse a file, and refuse a non-empty
    folder unless ``force`` (the ``--force`` flag)."""
    if path.exists() and not path.is_dir():
        raise ConfigError.single(flag, f"must be a folder, not the file {str(path)!r}")
    if path.is_dir() and any(path.iterdir()) and not force:
        raise ConfigError.single(flag, f"must be a new or empty folder, not {str(path)!r}, "
                                 f"which holds files (add --force to replace them)")
