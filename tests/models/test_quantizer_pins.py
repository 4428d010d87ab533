"""The searched quantizers (ANT, OliVe, BitMoD, INTk) give exactly the codes, scales, extra
arrays and meta they gave at commit 018e362, before their searches were vectorized, on the
fixed tensors of tests/models/make_quantizer_pins.py (odd shapes, zeros, outliers, exact
midpoints, float16 / int8 / float64 inputs), for every registered format of these families."""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pytest

from tests.models.make_quantizer_pins import OUT, cases, digest, encoded_arrays, pin_formats


@cache
def pins() -> tuple[dict, dict[str, np.ndarray]]:
    with np.load(OUT) as z:
        arrays = {k: z[k] for k in z.files}
    return json.loads(str(arrays.pop("index"))), arrays


def _bytes(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).reshape(-1).view(np.uint8)


@cache
def tensors() -> dict[str, np.ndarray]:
    return cases()


def test_every_format_and_input_is_pinned():
    index, _ = pins()
    assert index["commit"] == "018e362"
    assert {k: digest(x) for k, x in tensors().items()} == index["inputs"]
    want = {f"{name}/{case}" for name in pin_formats() for case in tensors()}
    assert set(index["pins"]) == want


@pytest.mark.parametrize("name", sorted(pin_formats()))
def test_codes_equal_the_pins(name):
    index, stored = pins()
    fmt = pin_formats()[name]
    for case, x in tensors().items():
        key = f"{name}/{case}"
        pin = index["pins"][key]
        if "error" in pin:
            with pytest.raises(Exception) as info:  # noqa: B017 - type checked below
                fmt.encode(x, name="x")
            assert (type(info.value).__name__, str(info.value)) == \
                (pin["error"], pin["message"]), key
            continue
        enc = fmt.encode(x, name="x")
        assert enc.meta == pin["meta"], key
        got = encoded_arrays(enc)
        assert sorted(got) == sorted(pin["arrays"]), key
        for part, arr in got.items():
            if pin["arrays"][part] == "stored":
                want = stored[f"{key}/{part}"]
                assert arr.dtype == want.dtype and arr.shape == want.shape, (key, part)
                bad = np.count_nonzero(_bytes(arr) != _bytes(want))
                assert bad == 0, f"{key} {part}: {bad} bytes differ"
            else:
                assert digest(arr) == pin["arrays"][part], (key, part)
