"""The KV cache in the simulator: which layers read it, what they write, where it lives, and
whether weights plus KV fit DRAM.

A **KV layer** is an attention matmul whose B operand is the cached K (``QK^T``, B = K^T
[head_dim x keys], meta ``kv_role: "K"``) or V (``AV``, B = V [keys x head_dim],
``kv_role: "V"``); traces mark them ``kv_cache: "B"``. When the accelerator names a
``kv_format`` (``qaccel.arch.kv``), a KV layer runs on ``pe.kv_array(bits)`` and:

- **reads** its whole B operand (every key it attends to: in decode step s the ``L + s``
  keys, its own included) at the KV width: the GEMM traffic model's B reads;
- **writes** the keys it adds to the cache, ``kv_written`` per sequence (meta; decode 1,
  prefill every key): ``seqs x kv_written x head_dim x bits``, where ``seqs`` = batch x KV
  heads;
- under grouped-query attention (``heads / kv_heads = g > 1``) the ``g`` query heads that
  share a KV head run as one GEMM of ``g x M`` rows (the ``batch x heads`` GEMMs become
  ``batch x kv_heads`` GEMMs of ``g x M`` rows: the same MACs, each cached head read once).

**Where KV lives.** If the whole cache (its largest size over the run's steps) fits the
accelerator's ``buffers.kv``, K and V stay on chip: KV reads and writes are SRAM traffic, none
of it DRAM (the first fold no longer waits for B from DRAM). Otherwise the cache lives in DRAM
and KV reads and writes are DRAM traffic. Without ``kv_format`` nothing changes (B in the PE's
own format, the GEMM traffic model alone).

**Capacity.** With ``dram.capacity_gib`` set, the weights (every distinct weight layer once, at
the PE's B width plus its group metadata) plus the KV cache must fit, or :func:`check_capacity`
raises ConfigError naming both sizes, the capacity and the largest batch that would fit.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from typing import Any

from qaccel.arch.kv import kv_bits
from qaccel.errors import ConfigError
from qaccel.sim.counts import GemmCounts
from qaccel.sim.plan import FoldPlan

__all__ = ["is_kv_layer", "KvGeometry", "geometry", "kv_shape", "cache_bits",
           "weight_bits", "check_capacity", "kv_on_chip", "with_kv_traffic", "kv_accelerator"]

GIB = 1 << 30


def is_kv_layer(layer: Any) -> bool:
    """Whether ``layer``'s B operand is the KV cache (meta ``kv_cache == "B"``)."""
    meta = getattr(layer, "meta", None) or {}
    return meta.get("kv_cache") == "B" and meta.get("kv_role") in ("K", "V")


@dataclasses.dataclass(frozen=True)
class KvGeometry:
    """One KV layer's cache geometry (counts, unit: elements unless named)."""

    #: distinct cached sequences x KV heads the layer reads
    seqs: int
    #: query heads per KV head (1 without grouped-query attention)
    group: int
    #: keys each sequence attends to (read), and keys it adds to the cache (written)
    keys: int
    written: int
    head_dim: int


def geometry(layer: Any) -> KvGeometry:
    """The cache geometry of KV layer ``layer`` (see the module docstring)."""
    count, _, k, n = layer.gemm_shape()
    meta = layer.meta
    keys, head_dim = (n, k) if meta["kv_role"] == "K" else (k, n)
    heads = int(meta.get("heads", 1))
    kv_heads = int(meta.get("kv_heads", heads))
    group = heads // kv_heads if kv_heads and heads % kv_heads == 0 else 1
    if count % group:
        group = 1
    written = int(meta.get("kv_written", keys))
    return KvGeometry(count // group, group, keys, min(written, keys), head_dim)


def kv_shape(layer: Any) -> tuple[int, int, int, int]:
    """(count, M, K, N) the KV layer runs as: the grouped query heads stacked along M."""
    count, m, k, n = layer.gemm_shape()
    geo = geometry(layer)
    return geo.seqs, m * geo.group, k, n


def cache_bits(layers: list[Any], bits: int) -> int:
    """The KV cache's largest size over the run (unit: bits): per step (meta ``step`` or
    ``chunk``, default 0), every KV layer's ``seqs x keys x head_dim`` elements."""
    per_step: dict[int, int] = {}
    for ly in layers:
        if is_kv_layer(ly):
            geo = geometry(ly)
            step = int(ly.meta.get("step", ly.meta.get("chunk", 0)))
            per_step[step] = per_step.get(step, 0) + geo.seqs * geo.keys * geo.head_dim * bits
    return max(per_step.values(), default=0)


def weight_bits(layers: list[Any], pe: Any) -> int:
    """The weights of every distinct weight layer once (decode steps and prefill chunks
    repeat them as ``name@step<s>`` / ``name@chunk<i>``) at the PE's B width plus group
    metadata (unit: bits)."""
    seen: set[str] = set()
    total = 0
    meta_bits, group = pe.meta_bits_per_group, pe.group_size
    for ly in layers:
        if ly.op == "vector" or getattr(ly, "b_source", "weight") != "weight":
            continue
        name = ly.name.split("@")[0]
        if name in seen:
            continue
        seen.add(name)
        k, n = ly.K, ly.N
        total += k * n * pe.b_bits
        if meta_bits:
            total += n * -(-k // group) * meta_bits
    return total


def _batch(meta: dict[str, Any]) -> int:
    return int((meta.get("workload") or {}).get("batch", 1))


def check_capacity(layers: list[Any], accel: Any, trace_meta: dict[str, Any]) -> None:
    """ConfigError at ``dram.capacity_gib`` when weights + KV cache exceed it."""
    cap = accel.dram.capacity_gib
    if cap is None:
        return
    bits = kv_bits(accel.kv_format) if accel.kv_format else accel.pe_array.b_bits
    kv = cache_bits(layers, bits) / 8
    w = weight_bits(layers, accel.pe_array) / 8
    if w + kv <= cap * GIB:
        return
    batch = _batch(trace_meta)
    per_seq = kv / batch if batch else kv
    fits = int((cap * GIB - w) // per_seq) if per_seq and cap * GIB > w else 0
    fmt = accel.kv_format or f"{bits}-bit B"
    raise ConfigError.single(
        "dram.capacity_gib", f"must hold the weights ({w / GIB:.2f} GiB) plus the KV cache "
        f"({kv / GIB:.2f} GiB at batch {batch}, {fmt}) = {(w + kv) / GIB:.2f} GiB, not "
        f"{cap:g} GiB (the largest batch that fits is {fits})")


def kv_on_chip(layers: list[Any], accel: Any) -> bool:
    """Whether the whole KV cache fits the accelerator's ``buffers.kv``."""
    if accel.kv_format is None or accel.kv_buffer is None:
        return False
    return cache_bits(layers, kv_bits(accel.kv_format)) <= accel.kv_buffer.size_bytes * 8


def _operand_prologue_bits(plan: FoldPlan, op: str) -> int:
    """The part of the first fold's DRAM prologue that is operand ``op`` (the terms of
    ``closed_form.gemm_traffic``'s prologue)."""
    roles = plan.roles
    (r0, _), (c0, _), (t0, _) = (plan.sizes(d)[0] for d in (plan.row_dim, plan.col_dim,
                                                             plan.stream_dim))
    if roles["stationary"] == op:
        return r0 * c0 * plan.elem_bits[op]
    if roles["row"] == op:
        return r0 * plan.line_bits(op, t0)
    if roles["col"] == op:
        return c0 * plan.line_bits(op, t0)
    return 0


def with_kv_traffic(counts: GemmCounts, plan: FoldPlan, layer: Any, bits: int,
                    on_chip: bool) -> tuple[GemmCounts, int, int]:
    """A KV layer's scaled counts with its cache writes added and, when the cache is on
    chip, its B reads moved from DRAM to the KV buffer; plus (KV read bits, KV write bits):
    what the layer reads from and writes to wherever the cache lives."""
    geo = geometry(layer)
    write = geo.seqs * geo.written * geo.head_dim * bits
    if on_chip:                                   # array-side reads of the KV buffer
        read = counts.sram_rd.B - counts.dram_wr.B
    else:
        read = counts.dram_rd.B
    if on_chip:
        fills = counts.dram_rd.B
        counts = dataclasses.replace(
            counts, prologue_bits=counts.prologue_bits - _operand_prologue_bits(plan, "B"),
            dram_rd=dataclasses.replace(counts.dram_rd, B=0),
            sram_wr=counts.sram_wr.plus("B", write - fills))
    else:                                         # written back through the buffer
        counts = dataclasses.replace(counts, dram_wr=counts.dram_wr.plus("B", write),
                                     sram_rd=counts.sram_rd.plus("B", write))
    return counts, read, write


@lru_cache(maxsize=256)
def kv_accelerator(accel: Any) -> Any:
    """``accel`` with its array as it computes on the KV cache (``pe.kv_array(bits)``)."""
    return dataclasses.replace(accel, pe_array=accel.pe_array.kv_array(kv_bits(accel.kv_format)))
