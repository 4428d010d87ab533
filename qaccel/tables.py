"""Printing and saving tables: every CLI command that prints a table takes ``--out FILE``.

The file format follows the suffix: ``.csv``, ``.parquet`` or ``.json`` (records).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from qaccel.errors import ConfigError
from qaccel.fileio import atomic_path

__all__ = ["OUT_SUFFIXES", "add_out_argument", "check_out_path", "write_table", "format_table"]

OUT_SUFFIXES = (".csv", ".parquet", ".json")


def add_out_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", metavar="FILE", type=Path,
                        help="also write the table to FILE (.csv, .parquet or .json)")


def check_out_path(path: Path | None) -> None:
    """Reject an unusable ``--out`` before any long work starts."""
    if path is None:
        return
    if path.suffix.lower() not in OUT_SUFFIXES:
        raise ConfigError.single("--out", f"must end in one of {', '.join(OUT_SUFFIXES)}, "
                                 f"not {str(path)!r}")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ConfigError.single("--out", f"must be in an existing folder, not {str(path)!r}")


def write_table(df: pd.DataFrame, path: Path) -> None:
    """Write ``df`` to ``path`` in the format its suffix names, atomically: a temporary file
    beside it, renamed over ``path`` once whole (:func:`qaccel.fileio.atomic_path`)."""
    check_out_path(path)
    suffix = path.suffix.lower()
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            df.to_csv(tmp, index=False)
        elif suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        else:
            df.to_json(tmp, orient="records", indent=1)


def format_table(df: pd.DataFrame, float_format: str = "{:,.3g}") -> str:
    """A fixed-width text rendering of ``df`` for the terminal (ints with thousands commas)."""
    shown = df.copy()
    for col in shown.columns:
        if pd.api.types.is_integer_dtype(shown[col]):
            shown[col] = shown[col].map("{:,}".format)
        elif pd.api.types.is_float_dtype(shown[col]):
            shown[col] = shown[col].map(lambda v: "" if pd.isna(v) else float_format.format(v))
    return shown.to_string(index=False)
