"""On-disk cache of workload traces, so a second ``qaccel sim --workload ...`` skips the
meta-device capture (and the torch / transformers import it needs).

Where: ``$QACCEL_CACHE`` if set, else ``~/.cache/qaccel``. Layout::

    <cache>/workloads/<code key>/<id>-<phase>-<request hash>/manifest.json
                                                            /tensors.safetensors

Small derived numbers (a preset's parameter count, which needs the model built) live in
``<cache>/counts/<code key>/<kind>.json`` (:func:`cached_count`).

The **code key** (:func:`code_key`) hashes :data:`CACHE_FORMAT`, the trace format version,
the qaccel, torch and transformers versions and the source of every module that shapes a
workload trace (:data:`TRACE_SOURCES`): any change to one of them lands in a new folder, so a
stale trace is never read. The **request hash** covers every argument of
:func:`qaccel.models.workloads.build_workload`.

Entries are written atomically: the trace is saved into a temporary folder beside its final
place and renamed into it, so a reader sees a whole entry or none; of two processes that
build the same entry at once, the second's rename fails and it drops its copy. A cache entry
that cannot be read (a truncated file) is rebuilt. Clear the cache with
``rm -rf ~/.cache/qaccel``; the CLI's ``--no-cache`` skips it for one call.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qaccel import __version__

if TYPE_CHECKING:
    from qaccel.models.trace import Trace

__all__ = ["CACHE_FORMAT", "TRACE_SOURCES", "cache_dir", "code_key", "entry_dir",
           "cached_workload", "cached_count"]

#: bump when the cache layout or what an entry holds changes
CACHE_FORMAT = 1
#: modules (files of qaccel.models) whose code decides a workload trace's content
TRACE_SOURCES = ("workloads.py", "workload_presets.py", "capture.py", "lowering.py",
                 "trace.py", "encoded.py", "int8.py", "vector_capture.py", "llm_phases.py")
#: packages whose versions decide how a model is built and captured
TRACE_PACKAGES = ("torch", "transformers")


def cache_dir() -> Path:
    """The cache root: ``$QACCEL_CACHE``, else ``~/.cache/qaccel``."""
    env = os.environ.get("QACCEL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "qaccel"


@cache
def code_key() -> str:
    """A hex digest of everything that decides a cached trace besides its request (see the
    module docstring); 16 hex digits."""
    from importlib.metadata import PackageNotFoundError, version

    from qaccel.models import trace

    digest = hashlib.sha256(f"format {CACHE_FORMAT}; trace {trace.VERSION}; qaccel "
                            f"{__version__}".encode())
    for package in TRACE_PACKAGES:
        try:
            digest.update(f"; {package} {version(package)}".encode())
        except PackageNotFoundError:
            digest.update(f"; {package} missing".encode())
    folder = Path(trace.__file__).parent
    for name in TRACE_SOURCES:
        digest.update(name.encode() + b"\0" + (folder / name).read_bytes())
    return digest.hexdigest()[:16]


def entry_dir(request: dict[str, Any], root: Path | None = None) -> Path:
    """The folder of the cache entry for ``build_workload(**request)``."""
    text = json.dumps(request, sort_keys=True, default=repr)
    digest = hashlib.sha256(text.encode()).hexdigest()[:20]
    label = f"{request.get('id')}-{request.get('phase')}"
    safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in label)
    return (root or cache_dir()) / "workloads" / code_key() / f"{safe}-{digest}"


def cached_workload(use_cache: bool = True, **request: Any) -> Trace:
    """``build_workload(**request)``, read from the cache when an entry exists and written to
    it after a build (``use_cache=False``: build, neither read nor write). Bad arguments raise
    the ConfigError of :func:`qaccel.models.workloads.build_workload`."""
    from qaccel.errors import ConfigError
    from qaccel.models.trace import Trace
    from qaccel.models.workloads import build_workload

    if not use_cache:
        return build_workload(**request)
    folder = entry_dir(request)
    if folder.is_dir():
        try:
            return Trace.load(folder)
        except ConfigError:
            pass  # unreadable entry (truncated by a crash, another version): rebuild it
    trace = build_workload(**request)
    _store(trace, folder)
    return trace


def _store(trace: Trace, folder: Path) -> None:
    """Save ``trace`` as the entry ``folder``: into a temporary sibling, then one rename. A
    cache that cannot be written (read-only home) is skipped: the trace is still returned."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    except OSError:
        return
    try:
        trace.save(tmp)
        if folder.is_dir():  # an unreadable entry: replace it
            shutil.rmtree(folder, ignore_errors=True)
        os.rename(tmp, folder)
    except OSError:
        pass  # another process renamed its copy first, or the disk is full
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def cached_count(kind: str, key: str, compute: Callable[[], int]) -> int:
    """``compute()``, kept under ``key`` in the JSON file of ``kind`` in the cache (rewritten
    atomically with every new key; a file that cannot be read counts as empty)."""
    from qaccel.fileio import atomic_write_text

    path = cache_dir() / "counts" / code_key() / f"{kind}.json"
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    if isinstance(known.get(key), int):
        return known[key]
    value = int(compute())
    known[key] = value
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(known, indent=1, sort_keys=True) + "\n")
    except OSError:
        pass  # a read-only cache: the value is still returned
    return value
