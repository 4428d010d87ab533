"""Small sweep specs built in memory (``load_spec`` accepts dicts)."""

from __future__ import annotations

import copy
from typing import Any

from tests.conftest import accel_dict

#: a 2 x 2 x 2 grid on two workloads: 16 points, each simulated in about a millisecond
SMALL_SPEC: dict[str, Any] = {
    "version": 1,
    "name": "small",
    "base_arch": accel_dict(rows=4, cols=4),
    "axes": {"pe_array.rows": [4, 8], "pe_array.cols": [4, 8],
             "pe_array.dataflow": ["ws", "os"]},
    "workloads": [
        {"name": "g64", "gemm": "64x64x64"},
        {"name": "two", "layers": [{"name": "a", "gemm": "32x16x8"},
                                   {"name": "b", "gemm": "8x16x32", "repeat": 2, "count": 3}]},
    ],
    "objectives": [{"column": "total_cycles", "goal": "min"},
                   {"column": "pe_count", "goal": "min"}],
}


def spec_dict(**changes: Any) -> dict[str, Any]:
    """A deep copy of SMALL_SPEC with top-level keys replaced (value None: key removed)."""
    out = copy.deepcopy(SMALL_SPEC)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out
