"""Bit-exact layer outputs on the command line: a checksum and statistics per layer
(``qaccel sim --values``), and the arrays themselves as safetensors (``--out-values DIR``).

The checksum is the first 16 hex digits of the SHA-256 of the output's bytes in C order,
little-endian, as stored in the safetensors file: two runs (or two engines) agree on a layer
exactly when their checksums do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from qaccel.errors import ConfigError
from qaccel.fileio import atomic_path

__all__ = ["OUTPUTS_FILE", "checksum", "value_stats", "write_values", "check_values_dir"]

#: the file ``--out-values DIR`` writes (one tensor per layer, named after it)
OUTPUTS_FILE = "outputs.safetensors"


def _little_endian(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))


def checksum(array: np.ndarray) -> str:
    """First 16 hex digits of the SHA-256 of ``array``'s little-endian C-order bytes."""
    return hashlib.sha256(_little_endian(array).tobytes()).hexdigest()[:16]


def value_stats(outputs: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """One row per layer: shape, dtype, checksum and min / max / mean / std of its output
    (computed in float64; NaN for an empty array)."""
    rows = []
    for name, out in outputs.items():
        wide = np.asarray(out, dtype=np.float64)
        empty = wide.size == 0
        rows.append({"layer": name, "shape": "x".join(map(str, out.shape)),
                     "dtype": str(out.dtype), "sha256_16": checksum(out),
                     "min": np.nan if empty else float(wide.min()),
                     "max": np.nan if empty else float(wide.max()),
                     "mean": np.nan if empty else float(wide.mean()),
                     "std": np.nan if empty else float(wide.std())})
    return pd.DataFrame(rows, columns=["layer", "shape", "dtype", "sha256_16", "min", "max",
                                       "mean", "std"])


def check_values_dir(folder: Path) -> None:
    """``--out-values``: a folder (created if missing), not a file."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError.single("--out-values", f"must be a folder, not the file "
                                 f"{str(folder)!r}")


def write_values(outputs: Mapping[str, np.ndarray], folder: Path) -> Path:
    """Write every layer's output to ``folder/outputs.safetensors`` (atomically); return
    the file's path."""
    import safetensors.numpy

    check_values_dir(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / OUTPUTS_FILE
    with atomic_path(path) as tmp:
        safetensors.numpy.save_file({k: _little_endian(v) for k, v in outputs.items()}, tmp)
    return path
