"""Accuracy metrics: SQNR, weight error per layer, output error per layer, and the end-to-end
figure on a real trained model (all-MiniLM-L6-v2 sentence embeddings against FP32).

- :func:`sqnr_db` is the one SQNR helper (unit: dB).
- :data:`SQNR_FLOOR_DB` is the one table of accuracy floors: the lowest weight SQNR each
  registered format may reach on :func:`reference_weight` (tests assert it).
- :func:`evaluate` quantizes a model with a recipe, runs it (for MiniLM: the sentence
  embeddings of :data:`ACCURACY_SENTENCES`, :func:`minilm_run`) and reports per-layer weight
  MSE / SQNR and output SQNR plus the end-to-end outputs' cosine similarity to float32;
  :func:`accuracy_table` does that for several recipes, one row each.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["sqnr_db", "cosine_rows", "SQNR_FLOOR_DB", "reference_weight",
           "ACCURACY_SENTENCES", "weight_errors", "reference", "minilm_run",
           "evaluate", "accuracy_table"]


def sqnr_db(ref: Any, test: Any) -> float:
    """Signal-to-quantization-noise ratio ``10 log10(sum ref^2 / sum (ref - test)^2)`` in dB
    (float64 sums); +inf when ``test`` equals ``ref``, -inf when ``ref`` is all zero and
    ``test`` is not."""
    r = np.asarray(ref, dtype=np.float64)
    t = np.asarray(test, dtype=np.float64)
    if r.shape != t.shape:
        raise ValueError(f"SQNR operands must have one shape, not {r.shape} and {t.shape}")
    noise = float(np.sum((r - t) ** 2))
    signal = float(np.sum(r ** 2))
    if noise == 0:
        return math.inf
    if signal == 0:
        return -math.inf
    return 10 * math.log10(signal / noise)


def cosine_rows(a: Any, b: Any) -> np.ndarray:
    """Cosine similarity of matching rows of two [rows, dim] arrays (float64)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    num = np.sum(a * b, axis=1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return num / np.where(den == 0, 1.0, den)


def reference_weight(seed: int = 0) -> np.ndarray:
    """The fixed tensor :data:`SQNR_FLOOR_DB` refers to: 64 x 512 float32, Student-t with 5
    degrees of freedom (heavier tails than a Gaussian, as trained weights have), one row
    scaled by 4 (an output channel of larger range)."""
    rng = np.random.default_rng(seed)
    w = rng.standard_t(5, size=(64, 512)) * 0.02
    w[7] *= 4
    return w.astype(np.float32)


#: Lowest acceptable weight SQNR (dB) of each registered format on :func:`reference_weight`.
#: Estimates, uniform noise of a grid step ``d``: SQNR = 10 log10(12 rms^2 / d^2). A Student-t(5)
#: row of 512 has max ~ 5 rms, a group of 128 spans ~ 7.5 rms (min to max); each floor sits
#: 2-3 dB under the estimate in its comment.
SQNR_FLOOR_DB: dict[str, float] = {
    "int8": 36.0,          # d = max / 127 per row: 10 log10(12 * 127^2 / 25) = 38.9
    "fp16": 68.0,          # relative error uniform in +-2^-11: 10 log10(3 * 2^22) = 71
    "int4_g128": 15.0,     # d = 7.5 rms / 15: 17.4
    "int3_g128": 9.0,      # d = 7.5 rms / 7: 11.0
    "int2_g128": 3.0,      # d = 7.5 rms / 3: 3.7 (plus the zero point's rounding)
    "int8_g128": 39.0,     # d = 7.5 rms / 255: 41.6
    "int4_pc": 12.0,       # d = 9 rms / 15 over a row: 15.2
    "int4_pc_sym": 11.0,   # d = 5 rms / 7: 13.7
    "int8_pc_sym": 36.0,   # as int8
    "ant4": 11.0,          # int4 per channel is one of its choices, the clip search only helps
    "ant4_pt": 8.0,        # one clip ~ max of row 7 = 20 rms of the others: flint's smallest
    #                        step, clip / 16 ~ 1.25 rms, leaves those rows at ~ 9 dB
    "bitmod_fp4": 16.0,    # E2M1 over max|w| of 128: steps 1/12 .. 1/3 of max ~ 18-19
    "bitmod_fp3": 10.0,    # E2M0, steps twice as coarse: ~ 6 dB less, 12-13
    "olive4": 12.0,        # int4/flint4 over one clip per tensor (3-sigma based): ~ 14
    "olive4_pc": 12.0,     # per channel: at least int4 per channel, 13.7
    "olive8": 18.0,        # one clip per tensor, at most 2.49 x 3 sigma: ~ 8% of row 7 are
    #                        outliers, and each one zeroes its partner: victims alone ~ 18-20
    "mixpe_w4": 15.0,      # = int4_g128
}


#: the fixed sentences of the end-to-end accuracy figure (varied length, topic and style)
ACCURACY_SENTENCES: tuple[str, ...] = (
    "A systolic array streams activations past stationary weights.",
    "Quantization maps real values to a few integer codes.",
    "The cat sat on the mat.",
    "Outliers in large language models make low-bit formats hard to use.",
    "Energy per operation depends on the bit width of the multiplier.",
    "How many cycles does one tile take?",
    "She opened the window and let the cold morning air into the kitchen.",
    "The committee postponed its decision until the budget figures were checked.",
    "Heavy rain is expected across the northern coast tonight.",
    "He forgot his umbrella, so he waited under the bridge for the storm to pass.",
    "Which train goes to the airport on Sundays?",
    "The recipe calls for two cups of flour, one egg and a pinch of salt.",
    "A violin sounds warmer than a synthesizer playing the same melody.",
    "Photosynthesis turns sunlight, water and carbon dioxide into sugar and oxygen.",
    "The striker scored twice in the second half and the crowd went wild.",
    "Please restart the server after installing the security update.",
    "Ancient Rome built aqueducts to carry water into the city.",
    "My grandmother still writes letters by hand every week.",
    "The stock market fell sharply after the interest rate announcement.",
    "Dolphins communicate with clicks and whistles.",
    "I would like a table for two near the window, please.",
    "The telescope revealed thousands of galaxies in a tiny patch of sky.",
    "Children learn languages faster than most adults do.",
    "The bridge was closed for repairs after the earthquake.",
)


def weight_errors(model: nn.Module, qmodel: nn.Module) -> pd.DataFrame:
    """Per quantized layer: path, weight shape, elements, weight MSE, weight SQNR (dB), the
    squared error sum and signal sum (for totals)."""
    from qaccel.models.quantize import quantized_layers

    orig = dict(model.named_modules())
    rows = []
    for path, q in quantized_layers(qmodel).items():
        w = orig[path].weight.detach().numpy().astype(np.float64)
        d = q.weight.detach().numpy().astype(np.float64)
        err = float(np.sum((w - d) ** 2))
        rows.append({"layer": path, "weight_shape": "x".join(map(str, w.shape)),
                     "elements": int(w.size), "weight_mse": err / w.size,
                     "weight_sqnr_db": sqnr_db(w, d), "sq_err": err,
                     "sq_sig": float(np.sum(w ** 2))})
    return pd.DataFrame(rows, columns=["layer", "weight_shape", "elements", "weight_mse",
                                       "weight_sqnr_db", "sq_err", "sq_sig"])


def _layer_outputs(model: nn.Module, paths: Iterable[str], run: Any) -> dict[str, np.ndarray]:
    """First output of each module in ``paths`` while ``run()`` executes."""
    outs: dict[str, np.ndarray] = {}
    mods = dict(model.named_modules())
    handles = []
    for p in paths:
        def hook(_m: Any, _i: Any, out: Any, p: str = p) -> None:
            outs.setdefault(p, out.detach().float().numpy().copy())
        handles.append(mods[p].register_forward_hook(hook))
    try:
        run()
    finally:
        for h in handles:
            h.remove()
    return outs


def reference(model: nn.Module, run: Callable[[nn.Module], torch.Tensor]) -> dict[str, Any]:
    """The float32 run :func:`evaluate` compares with: every nn.Linear / nn.Conv2d output (by
    module path) and the end-to-end output ``run(model)``."""
    from torch import nn

    paths = [p for p, m in model.named_modules() if isinstance(m, nn.Linear | nn.Conv2d)]
    got: dict[str, Any] = {}
    outs = _layer_outputs(model, paths, lambda: got.update(e=run(model)))
    return {"outs": outs, "out": _rows(got["e"])}


def _rows(t: torch.Tensor) -> np.ndarray:
    """An end-to-end output as float64 [rows, features] (rows = the leading axis)."""
    a = t.detach().numpy().astype(np.float64)
    return a.reshape(a.shape[0], -1) if a.ndim else a.reshape(1, 1)


def minilm_run(inputs: dict[str, torch.Tensor]) -> Callable[[nn.Module], torch.Tensor]:
    """The MiniLM end-to-end output: sentence embeddings of the tokenized ``inputs``."""
    from qaccel.models.minilm import embed

    return lambda model: embed(model, inputs)


def evaluate(model: nn.Module, run: Callable[[nn.Module], torch.Tensor], recipe: Any,
             ref: dict[str, Any] | None = None, metadata_bits: int | None = None,
             ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Quantize ``model`` with ``recipe`` and compare with float32: ``run(model)`` gives the
    end-to-end output ([rows, ...], e.g. :func:`minilm_run`'s sentence embeddings); ``ref``
    is :func:`reference` (computed if None); ``metadata_bits`` per group for the
    bits-per-weight figure (None: what the encoding stores).

    Returns (per-layer frame: layer, weight_shape, weight_mse, weight_sqnr_db, out_sqnr_db;
    summary: recipe, weight, act, bits_per_weight, weight_mse, weight_sqnr_db over all
    quantized layers, out_sqnr_db of the end-to-end output, cos_mean and cos_min of its rows
    against float32, seconds).
    """
    from qaccel.models.formats import get_format
    from qaccel.models.quantize import get_recipe, quantize_model, quantized_layers

    recipe = get_recipe(recipe, "recipe") if isinstance(recipe, str) else recipe
    ref = reference(model, run) if ref is None else ref
    t0 = time.perf_counter()
    qmodel = quantize_model(model, recipe)
    layers = weight_errors(model, qmodel)
    got: dict[str, Any] = {}
    q_outs = _layer_outputs(qmodel, list(quantized_layers(qmodel)),
                            lambda: got.update(e=run(qmodel)))
    layers["out_sqnr_db"] = [sqnr_db(ref["outs"][p], q_outs[p]) for p in layers["layer"]]
    out = _rows(got["e"])
    cos = cosine_rows(ref["out"], out)
    fmt = get_format(recipe.weight)
    bits = fmt.bits_per_weight(metadata_bits) if hasattr(fmt, "bits_per_weight") \
        else float(fmt.BITS)
    total_err, total_sig = layers["sq_err"].sum(), layers["sq_sig"].sum()
    summary = {"recipe": recipe.name, "weight": recipe.weight, "act": recipe.act,
               "bits_per_weight": bits,
               "weight_mse": float(total_err / max(1, layers["elements"].sum())),
               "weight_sqnr_db": 10 * math.log10(total_sig / total_err) if total_err
               else math.inf,
               "out_sqnr_db": sqnr_db(ref["out"], out),
               "cos_mean": float(cos.mean()), "cos_min": float(cos.min()),
               "seconds": time.perf_counter() - t0}
    return layers.drop(columns=["sq_err", "sq_sig", "elements"]), summary


def accuracy_table(model: nn.Module, run: Callable[[nn.Module], torch.Tensor],
                   recipes: Sequence[Any], metadata_bits: int | None = None) -> pd.DataFrame:
    """One summary row of :func:`evaluate` per recipe (one float32 reference run for all)."""
    ref = reference(model, run)
    return pd.DataFrame([evaluate(model, run, r, ref, metadata_bits)[1] for r in recipes])
