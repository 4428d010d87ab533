"""sim/engine.py: the result frame, built from typed columns, is the frame pandas infers from
the rows (same dtypes and values), with repeated shapes and counts."""

from __future__ import annotations

import pandas as pd
import pytest

from qaccel import sim
from qaccel.sim.gemm import gemm_layer
from tests.conftest import assert_same_frame, make_accel


@pytest.mark.parametrize("mapping", ["fixed", "auto"])
def test_frame_is_what_pandas_infers_from_the_rows(mapping):
    layers = [gemm_layer(37, 100, 45), gemm_layer(64, 64, 64, count=3), gemm_layer(37, 100, 45),
              gemm_layer(1, 1, 1)]
    frame = sim.run(layers, make_accel(rows=8, cols=8, mapping=mapping), "fast").frame
    again = pd.DataFrame({c: frame[c].tolist() for c in frame.columns})
    assert_same_frame(frame, again)
    assert frame["macs"].tolist() == [37 * 100 * 45, 3 * 64**3, 37 * 100 * 45, 1]
    assert str(frame["macs"].dtype) == "int64" and str(frame["utilization"].dtype) == "float64"
