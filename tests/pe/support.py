"""What every family's tests share: the two engines must agree, and with values both must
equal the test's own independent reference product."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from qaccel import sim
from tests.conftest import assert_same_frame


def assert_engines_agree(layer: Any, accel: Any,
                         reference_product: Callable[[Any, Any], np.ndarray] | None = None,
                         out_dtype: Any = None) -> None:
    """Reference and fast engines give equal frames and events on ``layer``.

    With ``out_dtype`` both also simulate values, which must have that dtype and equal bit
    for bit (compared as raw bits, so -0.0, NaN and inf count too); with
    ``reference_product`` (the test's independent decode-then-compute of one GEMM) both must
    also equal it on every GEMM of the layer."""
    values = reference_product is not None or out_dtype is not None
    ref = sim.run([layer], accel, engine="reference", values=values)
    fast = sim.run([layer], accel, engine="fast", values=values)
    assert_same_frame(ref.frame, fast.frame)
    assert ref.events == fast.events
    if out_dtype is not None:
        out_ref, out_fast = ref.outputs[layer.name], fast.outputs[layer.name]
        assert out_ref.dtype == out_fast.dtype == out_dtype
        raw = np.dtype(f"u{out_ref.dtype.itemsize}")
        np.testing.assert_array_equal(out_ref.view(raw), out_fast.view(raw))
    if reference_product is not None:
        expected = np.stack([reference_product(a, b)
                             for a, b in accel.pe_array.layer_operands(layer)])
        np.testing.assert_array_equal(ref.outputs[layer.name], expected)
        np.testing.assert_array_equal(fast.outputs[layer.name], expected)
