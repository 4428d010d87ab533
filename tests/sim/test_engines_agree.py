"""The reference engine (fold loop, LRU buffers, golden tiles) and the fast engine (closed
form, BLAS) must agree exactly: every column, and bit-exact outputs."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qaccel import sim
from qaccel.sim.gemm import gemm_layer
from tests.conftest import assert_same_frame, make_accel

dims = st.integers(1, 40)
sides = st.integers(1, 9)
flows = st.sampled_from(["ws", "os", "is"])
kibs = st.sampled_from([0.25, 0.5, 1.0, 4.0, 64.0])
bandwidths = st.sampled_from([8, 32, 128, 1024])


@settings(max_examples=150, deadline=None)
@given(M=dims, K=dims, N=dims, rows=sides, cols=sides, flow=flows, kib=kibs,
       bw=bandwidths, count=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_engines_agree_with_values(M, K, N, rows, cols, flow, kib, bw, count, seed):
    accel = make_accel(rows=rows, cols=cols, dataflow=flow, kib=kib, bits_per_cycle=bw)
    layer = gemm_layer(M, K, N, count=count, seed=seed)
    ref = sim.run([layer], accel, engine="reference", values=True)
    fast = sim.run([layer], accel, engine="fast", values=True)
    assert_same_frame(ref.frame, fast.frame)
    assert ref.events == fast.events
    a, b = layer.operands()
    expected = np.einsum("gmk,gkn->gmn", a.astype(np.int64), b.astype(np.int64))
    np.testing.assert_array_equal(ref.outputs[layer.name], expected.astype(np.int32))
    np.testing.assert_array_equal(fast.outputs[layer.name], expected.astype(np.int32))


@settings(max_examples=30, deadline=None)
@given(M=st.integers(1, 2000), K=st.integers(1, 2000), N=st.integers(1, 2000),
       rows=st.sampled_from([8, 16, 32]), cols=st.sampled_from([8, 16, 32]), flow=flows,
       kib=st.sampled_from([2.0, 16.0, 256.0]))
def test_engines_agree_on_big_shapes_timing_only(M, K, N, rows, cols, flow, kib):
    accel = make_accel(rows=rows, cols=cols, dataflow=flow, kib=kib, bits_per_cycle=64)
    layer = gemm_layer(M, K, N)
    ref = sim.run([layer], accel, engine="reference", values=False)
    fast = sim.run([layer], accel, engine="fast", values=False)
    assert_same_frame(ref.frame, fast.frame)
