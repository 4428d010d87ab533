"""What every family's tests share: the two engines must agree, and with values both must
equal the test's own independent reference product."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from qaccel import sim


def assert_engines_agree(layer: Any, accel: Any,
                         reference_product: Callable[[Any, Any], np.ndarray] | None = None
                         ) -> None:
    """Reference and fast engines give equal frames and events on ``layer``; with
    ``reference_product`` (the test's independent decode-then-compute of one GEMM) both also
    simulate values and must equal it bit for bit on every GEMM of the layer."""
    values = reference_product is not None
    ref = sim.run([layer], accel, engine="reference", values=values)
    fast = sim.run([layer], accel, engine="fast", values=values)
    pd.testing.assert_frame_equal(ref.frame, fast.frame)
    assert ref.events == fast.events
    if values:
        expected = np.stack([reference_product(a, b)
                             for a, b in accel.pe_array.layer_operands(layer)])
        np.testing.assert_array_equal(ref.outputs[layer.name], expected)
        np.testing.assert_array_equal(fast.outputs[layer.name], expected)
