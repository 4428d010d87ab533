"""Shared fixtures: small accelerators built in memory (the loader accepts dicts)."""

from __future__ import annotations

from typing import Any

import pytest

from qaccel.arch import Accelerator, load_accelerator


def accel_dict(rows: int = 4, cols: int = 4, dataflow: str = "ws", kib: float = 64.0,
               bits_per_cycle: int = 32, family: str = "systolic_int8", mapping: str = "fixed",
               **pe_fields: Any) -> dict[str, Any]:
    """An accelerator spec dict; ``pe_fields`` are the family's own ``pe_array`` fields.
    ``mapping``: ``fixed`` by default (tests of one dataflow's schedule), ``auto`` for the
    mapper."""
    buf = {"size_kib": kib, "word_bits": 64, "banks": 1}
    return {"version": 1, "name": f"test-{rows}x{cols}-{dataflow}", "clock_mhz": 1000,
            "pe_array": {"family": family, "rows": rows, "cols": cols, "dataflow": dataflow,
                         **pe_fields},
            "buffers": {"weight": dict(buf), "input": dict(buf), "output": dict(buf)},
            "dram": {"bits_per_cycle": bits_per_cycle, "pj_per_bit": 8.0},
            "tech": {"node_nm": 28}, "mapping": mapping}


def make_accel(**kw: Any) -> Accelerator:
    return load_accelerator(accel_dict(**kw))


@pytest.fixture
def accel_factory():
    return make_accel


def assert_same_frame(left: Any, right: Any) -> None:
    """Exact equality of two result frames (``DataFrame.equals``: same columns, dtypes and
    values, floats bit for bit up to NaN == NaN); the failure names the differing columns."""
    if left.equals(right):
        return
    cols = [c for c in left.columns if c not in right.columns or not left[c].equals(right[c])]
    cols += [c for c in right.columns if c not in left.columns]
    detail = {c: (left[c].tolist()[:3] if c in left else None,
                  right[c].tolist()[:3] if c in right else None) for c in cols}
    raise AssertionError(f"frames differ in columns {cols}: {detail}")
