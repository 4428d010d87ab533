"""Workload presets: shape-only traces of published models, built on the meta device.

:data:`WORKLOADS` (``qaccel.models.workload_presets``) lists the models and the sources of
their hyper-parameters; :func:`build_workload` captures one run of a preset with
:func:`qaccel.models.capture.capture` on a meta-device model, so no weights are allocated and
nothing is downloaded. Every layer carries a seed instead of values (DESIGN.md "Trace
contract"): a Llama-2-7B prefill trace is a few hundred kilobytes on disk.

Phases (language models):

- ``prefill``: one forward of ``tokens`` tokens per sequence, ``batch`` sequences. Linear
  layers have M = batch x tokens. Attention is eager: QK^T is ``batch x heads`` GEMMs of
  tokens x head_dim . head_dim x tokens and AV ``batch x heads`` GEMMs of tokens x tokens .
  tokens x head_dim (the full square: the causal mask is applied to the scores, not skipped).
  The lm_head runs on every token (M = batch x tokens), as ``model(input_ids)`` does.
- ``decode``: ``steps`` steps of one new token per sequence. At step s (0-based) the new
  token attends to ``kv_len + s`` keys: the ``kv_len + s - 1`` cached ones and its own, so
  QK^T is ``batch x heads`` GEMMs of 1 x head_dim . head_dim x (kv_len + s) and AV of
  1 x (kv_len + s) . (kv_len + s) x head_dim. Linear layers, lm_head included, have
  M = batch. Step 0 is captured from the model with a transformers ``DynamicCache`` holding
  ``kv_len - 1`` entries; later steps differ only in the KV length, so they are derived from
  step 0 by growing that one dimension of the two attention matmuls of every block.

Decode steps are one Trace: every layer of every step, in execution order, each name suffixed
``@step<s>`` (``model.layers.0.self_attn.q_proj@step3``) and its meta holding ``step``;
attention matmuls also hold ``kv_len`` (keys attended), ``kv_role`` ("K" for QK^T, "V" for
AV) and ``kv_written`` (1: the keys each sequence adds to the KV cache per step; a prefill's
add all of theirs, the simulator's default). ``trace.meta["layers_per_step"]``
gives the stride, :func:`split_steps` the per-step lists. Each layer has its own seed,
``SeedSequence([seed, index in the trace])``, the rule :func:`capture` uses.

Grouped-query attention (llama-3-8b: 8 KV heads, yi-6b: 4): k_proj and v_proj have
N = kv_heads x head_dim; transformers repeats K/V to all heads before the matmuls, so QK^T and
AV are still ``batch x heads`` GEMMs. Their meta holds ``heads`` and ``kv_heads``: the B
operands come from ``batch x kv_heads`` distinct cached tensors, each shared by
heads / kv_heads GEMMs.

Encoders (``encoder``, BERT-base): one forward of ``tokens`` tokens per sequence, ``batch``
sequences, like a prefill (M = batch x tokens; QK^T and AV per head, unmasked); the pooler and
classifier run on the first token (M = batch).

Vision models (``vit``, ``cnn``): one forward of ``batch`` images of ``image_size`` pixels
square (default: the config's, 224). Convolutions are lowered to GEMMs (M = batch x output
pixels, K = Cin x kh x kw); the classifier runs on one vector per image (M = batch).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from qaccel.errors import ConfigError, Problem
from qaccel.models.trace import Layer, Trace
from qaccel.models.workload_presets import KINDS, WORKLOADS, WorkloadInfo

if TYPE_CHECKING:
    from torch import nn

__all__ = ["KINDS", "PHASES", "WORKLOADS", "WorkloadInfo", "build_workload", "list_workloads",
           "split_steps"]

PHASES = ("prefill", "decode")
#: largest batch accepted (unit: sequences or images)
MAX_BATCH = 4096
#: image sizes accepted (unit: pixels per side)
IMAGE_SIZES = (32, 4096)


def list_workloads() -> pd.DataFrame:
    """One row per preset: id, kind, params_b (billions, counted on the model built from the
    config), layers (see :attr:`WorkloadInfo.layers`), hidden, heads, kv_heads, context
    (unit: tokens; 0 for vision models), source."""
    rows = []
    for w in WORKLOADS.values():
        c = w.config
        heads = int(c.get("num_attention_heads", 0))
        rows.append({"id": w.id, "kind": w.kind, "params_b": w.params / 1e9,
                     "layers": w.layers,
                     "hidden": int(c.get("hidden_size", c.get("hidden_sizes", [
                         x for x in c.get("channels", [0]) if x != "M"])[-1])),
                     "heads": heads, "kv_heads": int(c.get("num_key_value_heads", heads)),
                     "context": int(w.context_tokens or 0), "source": w.source})
    return pd.DataFrame(rows)


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _check(info: WorkloadInfo | None, phase: Any, tokens: Any, batch: Any, kv_len: Any,
           steps: Any, image_size: Any, seed: Any, blocks: Any) -> list[Problem]:
    """Every problem with the arguments of :func:`build_workload` (empty list: all good)."""
    bad: list[Problem] = []

    def need(field: str, value: Any, ok: bool, expectation: str) -> None:
        if not ok:
            bad.append(Problem(field, f"must be {expectation}, not {value!r}"))

    def int_in(field: str, value: Any, lo: int, hi: int, why: str = "") -> None:
        need(field, value, _is_int(value) and lo <= value <= hi,
             f"an int in {lo}..{hi}{why}")

    int_in("batch", batch, 1, MAX_BATCH)
    need("seed", seed, _is_int(seed) and seed >= 0, "a non-negative int")
    need("phase", phase, phase in PHASES, f"one of {', '.join(map(repr, PHASES))}")
    if info is None:
        return bad
    if phase not in PHASES:  # reported above; check what does not depend on it
        phase = None
    kind = f" ({info.id} is a{'n' if info.kind == 'encoder' else ''} {info.kind})"
    if blocks is not None:
        if info.kind == "cnn":
            need("blocks", blocks, False, f"None{kind}")
        else:
            int_in("blocks", blocks, 1, info.layers, f" ({info.id} has {info.layers})")
    if info.kind == "encoder":  # one forward of `tokens` tokens
        need("phase", phase, phase in ("prefill", None), f"'prefill'{kind}")
        need("kv_len", kv_len, kv_len is None, f"None{kind}")
        need("steps", steps, _is_int(steps) and steps == 1, f"1{kind}")
        need("image_size", image_size, image_size is None, f"None{kind}")
        int_in("tokens", tokens, 1, int(info.context_tokens), f" (the context of {info.id})")
        return bad
    if info.kind != "llm":
        need("phase", phase, phase in ("prefill", None), f"'prefill'{kind}")
        need("kv_len", kv_len, kv_len is None, f"None{kind}")
        need("steps", steps, _is_int(steps) and steps == 1, f"1{kind}")
        if image_size is not None:
            lo, hi = IMAGE_SIZES
            patch = int(info.config.get("patch_size", 1))
            ok = _is_int(image_size) and lo <= image_size <= hi and image_size % patch == 0
            multiple = f", a multiple of the patch size {patch}" if patch > 1 else ""
            need("image_size", image_size, ok, f"None or an int in {lo}..{hi}{multiple}")
        return bad
    context = int(info.context_tokens)
    need("image_size", image_size, image_size is None, f"None{kind}")
    why = f" (the context of {info.id})"
    if phase == "decode":
        int_in("steps", steps, 1, context, why)
        span = steps - 1 if _is_int(steps) and 1 <= steps <= context else 0
        later = f" (the context of {info.id}, {context}, less {span} for the later steps)" \
            if span else why
        if kv_len is None:
            int_in("tokens", tokens, 1, context - span, later)
        else:
            int_in("tokens", tokens, 1, context, why)
            int_in("kv_len", kv_len, 1, context - span, later)
    elif phase == "prefill":
        int_in("tokens", tokens, 1, context, why)
        need("kv_len", kv_len, kv_len is None, "None for phase 'prefill'")
        need("steps", steps, _is_int(steps) and steps == 1, "1 for phase 'prefill'")
    else:
        int_in("tokens", tokens, 1, context, why)
    return bad


def build_workload(id: str, *, phase: str = "prefill", tokens: int = 256, batch: int = 1,
                   kv_len: int | None = None, steps: int = 1, image_size: int | None = None,
                   seed: int = 0, blocks: int | None = None,
                   vector_ops: bool = False, chunk: int | None = None,
                   mixed: int | None = None) -> Trace:
    """Shape-only Trace of one run of preset ``id`` (see the module docstring for shapes).

    ``tokens``: prompt length of a prefill (unit: tokens per sequence), and the default of
    ``kv_len``. ``kv_len``: keys the first decode token attends to, its own included (unit:
    tokens). ``steps``: decode steps (the KV length grows by one per step). ``image_size``:
    vision input side (unit: pixels; default the config's). ``seed``: seeds the per-layer
    value generators. ``blocks``: keep only the first ``blocks`` transformer blocks (quick
    looks and tests; None = all). Bad arguments raise ConfigError listing every problem, e.g.
    ``phase: must be one of 'prefill', 'decode', not 'prefil'``. Vision models ignore
    ``tokens``. ``vector_ops``: also the non-GEMM operators as vector layers (softmax, norms,
    activations, rotary, residual adds, attention scale and mask;
    :mod:`qaccel.models.vector_capture`); in decode the ones on the attention scores grow
    with the KV length like QK^T. ``chunk``: prefill in chunks of that many tokens, each
    attending to the cache of the ones before (:mod:`qaccel.models.llm_phases`); ``mixed``:
    with ``chunk``, each chunk also carries one token of each of ``mixed`` sequences in
    decode, attending to ``kv_len`` (default ``tokens``) keys plus one per chunk.
    """
    info = WORKLOADS.get(id) if isinstance(id, str) else None
    problems = [] if info is not None else [Problem(
        "id", f"must be one of {', '.join(WORKLOADS)}, not {id!r}")]
    problems += _check(info, phase, tokens, batch, None if mixed is not None else kv_len,
                       steps, image_size, seed, blocks)
    if mixed is not None and kv_len is not None and info is not None and info.kind == "llm":
        n = -(-tokens // chunk) if _is_int(tokens) and _is_int(chunk) and chunk > 0 else 1
        top = int(info.context_tokens) - (n - 1)
        if not (_is_int(kv_len) and 1 <= kv_len <= top):
            problems.append(Problem("kv_len", f"must be an int in 1..{top} (the context of "
                                    f"{info.id} less one key per later chunk), not "
                                    f"{kv_len!r}"))
    if chunk is not None:
        llm_prefill = info is not None and info.kind == "llm" and phase == "prefill"
        top = int(tokens) if _is_int(tokens) and tokens >= 1 else 1
        if not (llm_prefill and _is_int(chunk) and 1 <= chunk <= top):
            what = f"an int in 1..{top} (the prompt's tokens)" if llm_prefill else \
                "None (chunks are for a language model's prefill)"
            problems.append(Problem("chunk", f"must be {what}, not {chunk!r}"))
    if mixed is not None and not (chunk is not None and _is_int(mixed)
                                  and 1 <= mixed <= MAX_BATCH):
        what = f"an int in 1..{MAX_BATCH}" if chunk is not None else "None without a chunk"
        problems.append(Problem("mixed", f"must be {what}, not {mixed!r}"))
    if not isinstance(vector_ops, bool):
        problems.append(Problem("vector_ops", f"must be True or False, not {vector_ops!r}"))
    if problems:
        raise ConfigError(problems)
    overrides: dict[str, Any] = {}
    if blocks is not None:
        overrides["num_hidden_layers"] = int(blocks)
    if image_size is not None and info.kind == "vit":  # sizes the position embeddings
        overrides["image_size"] = int(image_size)
    model = info.build_model(**overrides)
    request: dict[str, Any] = {"id": id, "kind": info.kind, "phase": phase,
                               "batch": int(batch), "seed": int(seed)}
    if info.kind != "cnn":
        request["blocks"] = int(blocks or info.layers)
    if vector_ops:
        request["vector_ops"] = True
    if info.kind in ("vit", "cnn"):
        size = int(image_size or info.config.get("image_size", 224))
        request["image_size"] = size
        pixels = _meta_zeros((int(batch), 3, size, size), False)
        trace = _capture(model, {"pixel_values": pixels}, seed, id, vector_ops)
    elif phase == "prefill" and chunk is not None:
        from qaccel.models.llm_phases import chunked_prefill

        request.update(tokens=int(tokens), chunk=int(chunk))
        trace = chunked_prefill(model, int(batch), int(tokens), int(chunk), int(seed), id,
                                vector_ops)
        if mixed is not None:
            from qaccel.models.llm_phases import mixed_steps

            request.update(mixed=int(mixed), kv_len=int(kv_len or tokens))
            trace = mixed_steps(trace, model, int(mixed), request["kv_len"], int(seed), id,
                                vector_ops)
    elif phase == "prefill":
        request["tokens"] = int(tokens)
        ids = _meta_zeros((int(batch), int(tokens)), True)
        trace = _capture(model, {"input_ids": ids}, seed, id, vector_ops)
    else:
        request.update(kv_len=int(kv_len or tokens), steps=int(steps))
        trace = _decode(model, int(batch), request["kv_len"], int(steps), int(seed), id,
                        vector_ops)
    trace.meta["workload"] = request
    trace.meta["config"] = copy.deepcopy(dict(info.config))
    trace.meta["source"] = info.source
    if info.kind != "cnn":
        _mark_attention(trace, model.config)
    return trace


def _meta_zeros(shape: tuple[int, ...], ids: bool) -> Any:
    import torch

    return torch.zeros(shape, dtype=torch.long if ids else torch.float32, device="meta")


def _capture(model: nn.Module, inputs: dict[str, Any], seed: int, name: str,
             vector_ops: bool = False) -> Trace:
    from qaccel.models.capture import capture

    return capture(model, inputs, seed=seed, name=name, vector_ops=vector_ops)


def _heads(config: Any) -> tuple[int, int, int]:
    """(heads, kv_heads, head_dim) of a transformers config."""
    heads = int(config.num_attention_heads)
    kv_heads = int(getattr(config, "num_key_value_heads", None) or heads)
    head_dim = int(getattr(config, "head_dim", None) or config.hidden_size // heads)
    return heads, kv_heads, head_dim


def _attention_pairs(layers: list[Layer]) -> list[tuple[Layer, Layer]]:
    """(QK^T, AV) of every attention module in ``layers`` (one forward): its first and second
    activation x activation matmul whose B is the KV cache (capture marks them
    ``kv_cache: "B"``)."""
    by_module: dict[str, list[Layer]] = {}
    for ly in _attention_matmuls(layers):
        by_module.setdefault(ly.meta["module"], []).append(ly)
    pairs = []
    for module, found in by_module.items():
        if len(found) != 2:
            raise RuntimeError(f"Cannot find QK^T and AV in {module} because it made "
                               f"{len(found)} attention matmuls, not 2")
        pairs.append((found[0], found[1]))
    return pairs


def _attention_matmuls(layers: list[Layer]) -> list[Layer]:
    return [ly for ly in layers if ly.op == "matmul" and ly.meta.get("kv_cache") == "B"]


def _mark_attention(trace: Trace, config: Any) -> None:
    """Add ``heads`` / ``kv_heads`` to the attention matmuls and the trace meta."""
    heads, kv_heads, head_dim = _heads(config)
    trace.meta.update(heads=heads, kv_heads=kv_heads, head_dim=head_dim)
    for ly in _attention_matmuls(trace.layers):
        ly.meta.update(heads=heads, kv_heads=kv_heads)


def _decode(model: nn.Module, batch: int, kv_len: int, steps: int, seed: int,
            name: str, vector_ops: bool = False) -> Trace:
    """Capture decode step 0 with ``kv_len - 1`` cached keys, then derive steps 1.."""
    import inspect

    import torch
    from transformers import DynamicCache

    config = model.config
    _, kv_heads, head_dim = _heads(config)
    inputs: dict[str, Any] = {"input_ids": _meta_zeros((batch, 1), True), "use_cache": True}
    if kv_len > 1:
        cache = DynamicCache(config=config)
        for i in range(config.num_hidden_layers):
            k = torch.empty(batch, kv_heads, kv_len - 1, head_dim, device="meta")
            cache.update(k, k, i)
        params = inspect.signature(model.forward).parameters
        inputs["cache" if "cache" in params else "past_key_values"] = cache
    first = _capture(model, inputs, seed, name, vector_ops)
    pairs = _attention_pairs(first.layers)
    for qk, av in pairs:  # the captured shapes must be the ones derived below
        if (qk.M, qk.N, av.M, av.K) != (1, kv_len, 1, kv_len):
            raise RuntimeError(f"Cannot derive decode steps because {qk.name} / {av.name} "
                               f"are {qk.M}x{qk.K}x{qk.N} / {av.M}x{av.K}x{av.N}, not "
                               f"1 x d x {kv_len} / 1 x {kv_len} x d")
    qk_ids = {id(qk) for qk, _ in pairs}
    av_ids = {id(av) for _, av in pairs}
    per_step = len(first.layers)
    layers = []
    for step in range(steps):
        for i, ly in enumerate(first.layers):
            meta = copy.deepcopy(ly.meta)
            m, k, n = ly.M, ly.K, ly.N
            if id(ly) in qk_ids:  # B = K^T [.., head_dim, keys]: keys are N
                n += step
                meta["b_shape"][-1] += step
            elif id(ly) in av_ids:  # A = scores [.., 1, keys], B = V [.., keys, head_dim]
                k += step
                meta["a_shape"][-1] += step
                meta["b_shape"][-2] += step
            elif ly.op == "vector" and meta.get("on_scores"):   # rows of keys
                n += step
                k = n if k > 1 else 1
            if id(ly) in qk_ids or id(ly) in av_ids:
                meta["kv_len"] = kv_len + step
                meta["kv_written"] = 1      # the new token's key / value joins the cache
            meta["step"] = step
            if ly.op != "vector":
                meta["seed"] = _layer_seed(seed, step * per_step + i)
            layers.append(Layer(f"{ly.name}@step{step}", ly.op, m, k, n, ly.conv_groups,
                                meta=meta))
    meta = dict(first.meta, layers_per_step=per_step)
    return Trace(layers, meta)


def _layer_seed(seed: int, index: int) -> int:
    """Seed of the layer at ``index`` in a trace (the rule of capture's ``_Recorder._add``)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def split_steps(trace: Trace) -> list[list[Layer]]:
    """The layers of each decode step of a :func:`build_workload` trace (one list for a
    prefill or vision trace)."""
    per_step = int(trace.meta.get("layers_per_step", len(trace) or 1))
    return [trace.layers[i:i + per_step] for i in range(0, len(trace), per_step)]
