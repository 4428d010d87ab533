"""Accuracy: the SQNR helper, the floor table over every registered format, the weight-MSE
rankings the papers argue on the real all-MiniLM-L6-v2 weights, and the end-to-end figure."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qaccel.models.accuracy import (
    ACCURACY_SENTENCES,
    SQNR_FLOOR_DB,
    cosine_rows,
    evaluate,
    minilm_run,
    reference,
    reference_weight,
    sqnr_db,
)
from qaccel.models.formats import FORMATS
from qaccel.models.minilm import minilm_inputs
from qaccel.models.quantize import encode_weight


def test_sqnr_db_by_hand():
    # signal 3^2 + 4^2 = 25, noise (4 - 3)^2 = 1: 10 log10(25) = 13.979 dB
    assert sqnr_db([3, 4], [3, 3]) == pytest.approx(10 * math.log10(25))
    assert sqnr_db([1.0, 2.0], [1.0, 2.0]) == math.inf
    assert sqnr_db([0.0, 0.0], [0.0, 1.0]) == -math.inf
    with pytest.raises(ValueError, match=r"^SQNR operands must have one shape, not \(2,\) and "
                       r"\(3,\)$"):
        sqnr_db([1, 2], [1, 2, 3])


def test_cosine_rows_by_hand():
    # rows: identical -> 1; orthogonal -> 0; opposite -> -1; a zero row -> 0
    a = np.array([[1, 2], [1, 0], [3, 4], [0, 0]])
    b = np.array([[2, 4], [0, 5], [-3, -4], [1, 1]])
    np.testing.assert_allclose(cosine_rows(a, b), [1, 0, -1, 0])


def test_every_format_has_a_floor():
    assert set(SQNR_FLOOR_DB) == set(FORMATS)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_weight_sqnr_floor(fmt):
    w = reference_weight()
    got = sqnr_db(w, FORMATS[fmt].decode(encode_weight(fmt, w, f"{fmt} reference weight")))
    assert got >= SQNR_FLOOR_DB[fmt], f"{fmt}: SQNR {got:.2f} dB < floor {SQNR_FLOOR_DB[fmt]} dB"


# -- the real model -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def minilm_weights(minilm):
    model, _ = minilm
    return {p: m.weight.detach().numpy() for p, m in model.named_modules()
            if isinstance(m, torch.nn.Linear)}


def weight_mse(fmt: str, weights: dict[str, np.ndarray]) -> float:
    err = n = 0.0
    for path, w in weights.items():
        d = FORMATS[fmt].decode(encode_weight(fmt, w, f"layer {path} weight"))
        err += float(np.sum((d.astype(np.float64) - w) ** 2))
        n += w.size
    return err / n


@pytest.mark.parametrize(("better", "worse"), [
    ("bitmod_fp4", "int4_g128"),     # BitMoD: same group of 128, FP4 + special values wins
    ("olive4", "int4_pc_sym"),       # OliVe: outlier-victim pairs beat plain INT4 per channel
    ("olive4_pc", "int4_pc_sym"),    # ... also with the authors' per-channel scales
    ("bitmod_fp3", "int3_g128"),     # BitMoD at 3 bits
])
def test_minilm_weight_mse_ranks_as_the_papers_argue(minilm_weights, better, worse):
    assert len(minilm_weights) == 37  # 6 layers x 6 linears + the pooler
    b, w = weight_mse(better, minilm_weights), weight_mse(worse, minilm_weights)
    assert b < w, f"{better} MSE {b:.4g} is not below {worse} MSE {w:.4g}"


def test_minilm_end_to_end(minilm):
    model, tokenizer = minilm
    run = minilm_run(minilm_inputs(tokenizer, ACCURACY_SENTENCES))
    ref = reference(model, run)
    assert ref["out"].shape == (len(ACCURACY_SENTENCES), 384)
    rows = {}
    for recipe in ("fp16", "int8", "int4_g128"):
        layers, rows[recipe] = evaluate(model, run, recipe, ref)
        assert len(layers) == 37 and list(layers.columns) == [
            "layer", "weight_shape", "weight_mse", "weight_sqnr_db", "out_sqnr_db"]
    # FP16 is all but lossless; fewer bits lose more, end to end as well as in the weights
    assert rows["fp16"]["cos_min"] > 0.9999
    assert rows["fp16"]["cos_mean"] > rows["int8"]["cos_mean"] > rows["int4_g128"]["cos_mean"]
    assert rows["int8"]["weight_mse"] < rows["int4_g128"]["weight_mse"]
    assert rows["int4_g128"]["bits_per_weight"] == 4 + 20 / 128
