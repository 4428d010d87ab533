"""im2col against torch.nn.functional.conv2d, and the seeded value generator."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from qaccel.models.lowering import (
    UNIFORM_INT8,
    conv_out_hw,
    conv_weight_gemm,
    generate,
    im2col,
    same_padding,
)


def conv_via_gemm(x: np.ndarray, w: np.ndarray, stride, padding, dilation, groups):
    """Conv as im2col GEMMs in int64, reassembled to NCHW."""
    a = im2col(x, w.shape[2:], stride, padding, dilation, groups).astype(np.int64)
    b = conv_weight_gemm(w, groups).astype(np.int64)
    out = a @ b  # [G, N*Ho*Wo, Cout/G]
    ho, wo = conv_out_hw(x.shape[2:], w.shape[2:], stride, padding, dilation)
    g, _, cg = out.shape
    out = out.reshape(g, x.shape[0], ho, wo, cg).transpose(1, 0, 4, 2, 3)
    return out.reshape(x.shape[0], g * cg, ho, wo)


def torch_conv(x, w, stride, padding, dilation, groups):
    """Reference: torch conv on the integer values as float64 (exact: |sums| << 2^53)."""
    top, bottom, left, right = padding
    xp = F.pad(torch.from_numpy(x).double(), (left, right, top, bottom))
    return F.conv2d(xp, torch.from_numpy(w).double(), stride=stride, dilation=dilation,
                    groups=groups).numpy()


# (input NCHW, weight Cout x Cin/G x kh x kw, stride, padding t/b/l/r, dilation, groups)
CONV_CASES = [
    ((1, 3, 16, 16), (8, 3, 3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1),
    ((2, 8, 7, 9), (16, 4, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 2),
    ((1, 6, 10, 10), (6, 1, 3, 3), (1, 2), (2, 2, 2, 2), (2, 2), 6),
    ((3, 4, 5, 8), (2, 4, 2, 4), (1, 1), (0, 1, 1, 2), (1, 1), 1),
    ((1, 2, 6, 6), (4, 2, 1, 1), (3, 3), (0, 0, 0, 0), (1, 1), 1),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"x{c[0]}-w{c[1]}-s{c[2]}-g{c[5]}")
def test_im2col_matches_torch_conv(case):
    x_shape, w_shape, stride, padding, dilation, groups = case
    rng = np.random.default_rng(1)
    x = rng.integers(-127, 128, x_shape, dtype=np.int8)
    w = rng.integers(-127, 128, w_shape, dtype=np.int8)
    got = conv_via_gemm(x, w, stride, padding, dilation, groups)
    np.testing.assert_array_equal(got, torch_conv(x, w, stride, padding, dilation, groups))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 2), cg=st.integers(1, 3), groups=st.integers(1, 3),
       coutg=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 9),
       kh=st.integers(1, 3), kw=st.integers(1, 3), sh=st.integers(1, 3), sw=st.integers(1, 3),
       dh=st.integers(1, 2), dw=st.integers(1, 2),
       pad=st.lists(st.integers(0, 2), min_size=4, max_size=4),
       seed=st.integers(0, 2**32 - 1))
def test_im2col_property(n, cg, groups, coutg, h, w, kh, kw, sh, sw, dh, dw, pad, seed):
    # a kernel larger than the padded image has no output (torch raises too)
    assume(h + pad[0] + pad[1] >= dh * (kh - 1) + 1 and w + pad[2] + pad[3] >= dw * (kw - 1) + 1)
    rng = np.random.default_rng(seed)
    x = rng.integers(-127, 128, (n, cg * groups, h, w), dtype=np.int8)
    wt = rng.integers(-127, 128, (coutg * groups, cg, kh, kw), dtype=np.int8)
    got = conv_via_gemm(x, wt, (sh, sw), pad, (dh, dw), groups)
    np.testing.assert_array_equal(got, torch_conv(x, wt, (sh, sw), pad, (dh, dw), groups))


@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
def test_same_padding_matches_torch():
    # torch "same": total d*(k-1) per axis, the extra pixel at the bottom/right
    assert same_padding((3, 4), (1, 1)) == (1, 1, 1, 2)
    assert same_padding((2, 5), (3, 1)) == (1, 2, 2, 2)
    x = torch.randn(1, 2, 7, 6, dtype=torch.float64)
    w = torch.randn(3, 2, 2, 5, dtype=torch.float64)
    t, b, left, r = same_padding((2, 5), (3, 1))
    want = F.conv2d(x, w, padding="same", dilation=(3, 1))
    got = F.conv2d(F.pad(x, (left, r, t, b)), w, dilation=(3, 1))
    torch.testing.assert_close(got, want)


def test_generate_is_deterministic_and_in_range():
    a = generate((50, 40), seed=7, stream=0, spec=UNIFORM_INT8)
    assert a.dtype == np.int8 and a.shape == (50, 40)
    np.testing.assert_array_equal(a, generate((50, 40), 7, 0, UNIFORM_INT8))
    assert a.min() >= -127 and a.max() <= 127 and a.min() < -100 and a.max() > 100
    assert not np.array_equal(a, generate((50, 40), 7, 1, UNIFORM_INT8))  # other operand
    assert not np.array_equal(a, generate((50, 40), 8, 0, UNIFORM_INT8))  # other seed
    with pytest.raises(ValueError, match="^Generator kind must be 'uniform_int', not 'normal'$"):
        generate((2,), 0, 0, {"kind": "normal"})
