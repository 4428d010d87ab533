"""Chunked prefill: a prompt of ``tokens`` tokens processed ``chunk`` tokens at a time, each
chunk attending to the KV cache the earlier chunks wrote (``build_workload(..., chunk=C)``).

Chunk ``i`` (0-based) runs ``c_i`` = C new tokens per sequence (the last one ``tokens -
(n - 1) * C``) with ``P_i = i * C`` cached keys: linear layers have M = batch x c_i; QK^T is
``batch x heads`` GEMMs of c_i x head_dim . head_dim x (P_i + c_i) and AV of
c_i x (P_i + c_i) . (P_i + c_i) x head_dim (the whole rectangle: the causal mask is applied
to the scores, not skipped); each chunk writes its c_i keys and values to the cache
(``kv_written``). Layers are named ``<name>@chunk<i>`` with ``meta["chunk"] = i``;
``trace.meta["layers_per_step"]`` is the layers of one chunk.

Captures: chunk 0 (no cache), chunk 1 (C cached keys) and the last chunk when it is shorter
(its own shapes); chunks 2.. are chunk 1 with the attention dims grown by ``(i - 1) * C``
keys, the rule decode uses for its steps (``models/workloads.py``).

Mixed steps (continuous batching, ``build_workload(..., chunk=C, mixed=B)``): each chunk also
carries one new token of each of B sequences in decode (:func:`mixed_steps`).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from qaccel.models.trace import Layer, Trace

if TYPE_CHECKING:
    from torch import nn

__all__ = ["chunked_prefill", "mixed_steps"]


def _capture_chunk(model: nn.Module, batch: int, new: int, cached: int, seed: int,
                   name: str, vector_ops: bool) -> Trace:
    """One forward of ``new`` tokens per sequence over ``cached`` cached keys."""
    import inspect

    import torch
    from transformers import DynamicCache

    from qaccel.models.workloads import _capture, _heads, _meta_zeros

    config = model.config
    _, kv_heads, head_dim = _heads(config)
    inputs: dict[str, Any] = {"input_ids": _meta_zeros((batch, new), True), "use_cache": True}
    if cached:
        cache = DynamicCache(config=config)
        for i in range(config.num_hidden_layers):
            k = torch.empty(batch, kv_heads, cached, head_dim, device="meta")
            cache.update(k, k, i)
        params = inspect.signature(model.forward).parameters
        inputs["cache" if "cache" in params else "past_key_values"] = cache
    return _capture(model, inputs, seed, name, vector_ops)


def _grown(ly: Layer, keys: int, roles: dict[int, str]) -> tuple[int, int, int, dict]:
    """(M, K, N, meta) of ``ly`` with ``keys`` more keys in its attention dims."""
    meta = copy.deepcopy(ly.meta)
    m, k, n = ly.M, ly.K, ly.N
    role = roles.get(id(ly))
    if role == "K":
        n += keys
        meta["b_shape"][-1] += keys
    elif role == "V":
        k += keys
        meta["a_shape"][-1] += keys
        meta["b_shape"][-2] += keys
    elif ly.op == "vector" and meta.get("on_scores"):
        n += keys
        k = n if k > 1 else 1
    return m, k, n, meta


def chunked_prefill(model: nn.Module, batch: int, tokens: int, chunk: int, seed: int,
                    name: str, vector_ops: bool) -> Trace:
    """The trace of a prefill of ``tokens`` tokens in chunks of ``chunk`` (module doc)."""
    from qaccel.models.workloads import _attention_pairs, _layer_seed

    n_chunks = -(-tokens // chunk)
    last = tokens - (n_chunks - 1) * chunk
    first = _capture_chunk(model, batch, min(chunk, tokens), 0, seed, name, vector_ops)
    middle = (_capture_chunk(model, batch, chunk, chunk, seed, name, vector_ops)
              if n_chunks > 2 or (n_chunks == 2 and last == chunk) else None)
    final = (_capture_chunk(model, batch, last, (n_chunks - 1) * chunk, seed, name,
                            vector_ops) if n_chunks > 1 and last != chunk else None)
    per_chunk = len(first.layers)
    layers: list[Layer] = []
    for i in range(n_chunks):
        if i == 0:
            source, grow = first, 0
        elif i == n_chunks - 1 and final is not None:
            source, grow = final, 0
        else:
            source, grow = middle, (i - 1) * chunk
        roles = {id(qk): "K" for qk, _ in _attention_pairs(source.layers)}
        roles.update({id(av): "V" for _, av in _attention_pairs(source.layers)})
        new = last if i == n_chunks - 1 else chunk
        for j, ly in enumerate(source.layers):
            m, k, n, meta = _grown(ly, grow, roles)
            if id(ly) in roles:
                meta["kv_written"] = new
                meta["kv_len"] = i * chunk + new
            meta["chunk"] = i
            if ly.op != "vector":
                meta["seed"] = _layer_seed(seed, i * per_chunk + j)
            layers.append(Layer(f"{ly.name}@chunk{i}", ly.op, m, k, n, ly.conv_groups,
                                meta=meta))
    return Trace(layers, dict(first.meta, layers_per_step=per_chunk))


def mixed_steps(chunks: Trace, model: nn.Module, decode: int, kv_len: int, seed: int,
                name: str, vector_ops: bool) -> Trace:
    """Continuous batching: every chunk of ``chunks`` (a :func:`chunked_prefill` trace) also
    carries one new token of each of ``decode`` sequences in decode, which at chunk ``i``
    attend to ``kv_len + i`` keys. Layers that apply the same weights to every token (linear
    layers) and the per-token vector ops (norms, activations, rotary, residual adds) run once
    on the chunk's tokens plus the decode tokens (M or rows added up); attention (QK^T, AV
    and the score ops) runs per sequence, so the decode sequences' attention layers follow
    the chunk's, named ``<name>:decode@chunk<i>``."""
    one = _capture_chunk(model, decode, 1, kv_len - 1, seed, name, vector_ops)
    per_chunk = int(chunks.meta["layers_per_step"])
    if len(one.layers) != per_chunk:
        raise RuntimeError(f"Cannot mix decode into the chunks because a decode step has "
                           f"{len(one.layers)} layers and a chunk {per_chunk}")
    roles = {id(qk): "K" for qk, _ in _pairs(one.layers)}
    roles.update({id(av): "V" for _, av in _pairs(one.layers)})
    layers: list[Layer] = []
    for start in range(0, len(chunks.layers), per_chunk):
        for c, d in zip(chunks.layers[start:start + per_chunk], one.layers, strict=True):
            i = int(c.meta["chunk"])
            attention = id(d) in roles or d.meta.get("on_scores")
            merge = not attention and (c.op, c.K, c.N) == (d.op, d.K, d.N) and (
                c.op == "vector" or (c.op == "linear" and c.b_source == "weight"))
            if merge:
                meta = copy.deepcopy(c.meta)
                if "a_shape" in meta:
                    meta["a_shape"][0] = c.M + d.M
                meta["mixed_decode"] = decode
                layers.append(Layer(c.name, c.op, c.M + d.M, c.K, c.N, c.conv_groups,
                                    meta=meta))
                continue
            layers.append(c)
            m, k, n, meta = _grown(d, i, roles)
            if id(d) in roles:
                meta.update(kv_written=1, kv_len=kv_len + i)
            meta.pop("seed", None)
            meta["chunk"] = i
            base = c.name.rsplit("@", 1)[0]
            layers.append(Layer(f"{base}:decode@chunk{i}", d.op, m, k, n, d.conv_groups,
                                meta=meta))
    return Trace(layers, dict(chunks.meta, layers_per_step=len(layers) * per_chunk
                              // len(chunks.layers)))


def _pairs(layers: list[Layer]) -> list[tuple[Layer, Layer]]:
    from qaccel.models.workloads import _attention_pairs

    return _attention_pairs(layers)
