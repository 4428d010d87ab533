"""MixPE group quantization: the weight format (INT4 g128 asymmetric, FP16 scale, zero point)
and the group-wise dataflow out = sum_g s_g (sum q a - z_g sum a) against the decoded GEMM."""

from __future__ import annotations

import numpy as np
import pytest

from qaccel.models import int8
from qaccel.models.formats import FORMATS
from qaccel.models.intk import IntK
from qaccel.models.mixpe import ACT_FORMATS, WEIGHT_FORMAT, group_gemm


def test_registry_alias():
    assert FORMATS["mixpe_w4"] == FORMATS["int4_g128"] == WEIGHT_FORMAT == IntK(4, 128)
    assert ACT_FORMATS == {"w4a8": "int8", "w4a16": "fp16"}
    assert WEIGHT_FORMAT.encode(np.ones((2, 128), np.float32)).format == "int4_g128"


def test_group_gemm_by_hand():
    # one output channel, two groups of 2 (IntK(4, 2)):
    # group [0.5, -1]: lo -1, hi .5 -> s = 1.5 / 15 = .1 (fp16 .0999755859375), z = 10
    # group [3, 1.5]: lo 0 (widened), hi 3 -> s = .2 (fp16 .199951171875), z = 0
    w = IntK(4, 2).encode(np.array([[0.5, -1.0, 3.0, 1.5]], np.float32))
    s0, s1 = w.scales.ravel()
    np.testing.assert_array_equal(w.extra["zero_points"].ravel(), [10, 0])
    q = w.codes.reshape(-1).astype(int)
    assert list(q) == [15, 0, 15, 8]  # .5/.09998 = 5.0012 -> 5 + 10; 1.5/.19995 = 7.5 -> 8
    a = np.array([[2, 1, -1, 3]], np.float64)
    # group 0: sum q a = 30, sum a = 3 -> s0 (30 - 10 * 3) = 0
    # group 1: sum q a = -15 + 24 = 9, sum a = 2 -> s1 (9 - 0) = 9 s1
    np.testing.assert_allclose(group_gemm(a, w), [[9 * s1]], rtol=1e-15)
    assert s0 == np.float32(np.float16(0.1))


@pytest.mark.parametrize("act", ["int8", "fp16"])
def test_group_gemm_equals_decoded_gemm(act):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((24, 300)).astype(np.float32)        # K = 300: padded last group
    x = rng.standard_normal((5, 300)).astype(np.float32)
    enc = WEIGHT_FORMAT.encode(w)
    if act == "int8":
        a_enc = int8.encode(x, "per_token")
        a = int8.to_int8(a_enc).astype(np.float64)                 # integer activations
        out = group_gemm(a, enc) * a_enc.scales.astype(np.float64)
        ref = (a * a_enc.scales) @ WEIGHT_FORMAT.decode(enc).astype(np.float64).T
    else:
        a = x.astype(np.float16).astype(np.float64)
        out = group_gemm(a, enc)
        ref = a @ WEIGHT_FORMAT.decode(enc).astype(np.float64).T
    np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-9)


def test_group_gemm_rejects_other_formats():
    sym = IntK(4, 128, symmetric=True).encode(np.ones((2, 128), np.float32))
    with pytest.raises(ValueError, match=r"^Encoded must be an asymmetric per-group INTk "
                       r"weight, not 'int4_g128_sym'$"):
        group_gemm(np.ones((1, 128)), sym)
    with pytest.raises(ValueError, match=r"^Activation must be M x 128, not shape \(1, 3\)$"):
        group_gemm(np.ones((1, 3)), WEIGHT_FORMAT.encode(np.ones((2, 128), np.float32)))
