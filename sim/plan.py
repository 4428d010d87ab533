"""How one GEMM is folded onto an R x C array under one mapping: the facts both engines
start from.

A **mapping** (:class:`Mapping`) is what the mapper (``sim/mapper.py``) chooses per layer:

- the **dataflow**, which maps two GEMM dims onto the array (rows, cols) and streams the third;
- the **loop order**: ``cols_outer`` (column blocks outer, row blocks inner; SCALE-Sim's and
  the ``fixed`` mode's order) or ``rows_outer``;
- the **stream tile** ``T``: the streamed dim is cut into ``ceil(S/T)`` chunks, the outermost
  loop; each chunk runs the whole fold grid. In ``os`` the streamed dim is K, so a stream tile
  is a K split: the output block's partial sums then stay in the output buffer between chunks.

The three operands A[M x K], B[K x N] and O[M x N] take three roles:

- **stationary**: indexed by (row dim, col dim); each block is used once per chunk
  (ws: B, os: O, is: A).
- **row operand**: indexed by (row dim, streamed dim); within a chunk, block ``rb`` is used
  once per column block (ws: A, os: A, is: B).
- **col operand**: indexed by (col dim, streamed dim); within a chunk, block ``cb`` is used
  once per row block (ws: O, os: B, is: O). When it is O, it holds partial sums that
  accumulate over the row blocks.

Each operand lives in its own buffer (A: input, B: weight, O: output); half of each buffer
holds resident data, the other half the next fold's prefetch (double buffering). Partial sums
revisited in a cycle (``rows_outer`` with O as the col operand, or a K split) must fit the
output buffer's half: :func:`mapping_problem` says when a mapping breaks that rule, and such a
mapping is not in the space. This module only *describes*; the reference engine simulates the
buffers fold by fold (LRU), the fast engine uses closed forms, and a test checks that they
agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

from qaccel.arch.spec import Accelerator, Dataflow

__all__ = ["FoldPlan", "ROLES", "roles_of", "plan_gemm", "ceil_div", "total_cycles",
           "LoopOrder", "Mapping", "mapping_problem", "fixed_mapping", "plan_on", "reuse_bits_of"]

#: builds a frozen dataclass without its __init__ (hot path; fields set through __dict__)
_new = object.__new__
OPERAND_DIMS = {"A": ("M", "K"), "B": ("K", "N"), "O": ("M", "N")}
BUFFER_OF = {"A": "input_buffer", "B": "weight_buffer", "O": "output_buffer"}


@lru_cache(maxsize=64)
def roles_of(mapping: tuple[str, str, str]) -> dict[str, str]:
    """Role -> operand for a mapping (row dim, col dim, streamed dim), any permutation of
    M, K, N: the stationary operand is indexed by (row, col), the row operand by
    (row, streamed), the col operand by (col, streamed)."""
    row, col, stream = mapping
    if sorted(mapping) != ["K", "M", "N"]:
        raise ValueError(f"mapping must be a permutation of M, K, N, not {mapping!r}")
    by_dims = {frozenset(d): op for op, d in OPERAND_DIMS.items()}
    return {"stationary": by_dims[frozenset((row, col))], "row": by_dims[frozenset((row, stream))],
            "col": by_dims[frozenset((col, stream))]}


#: the three systolic dataflows' roles (ws: B stationary, os: O, is: A)
ROLES = {m: roles_of(m) for m in (("K", "N", "M"), ("M", "N", "K"), ("K", "M", "N"))}


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


class LoopOrder(StrEnum):
    """The fold loop nest (outermost first): ``cols_outer`` chunk > column block > row block
    (SCALE-Sim's order when untiled); ``rows_outer`` chunk > row block > column block;
    ``cols_chunk`` column block > chunk > row block; ``rows_chunk`` row block > chunk > column
    block. Without stream tiling the ``*_chunk`` orders equal their ``*_outer`` ones."""

    COLS_OUTER = "cols_outer"
    ROWS_OUTER = "rows_outer"
    COLS_CHUNK = "cols_chunk"
    ROWS_CHUNK = "rows_chunk"

    @property
    def rows_first(self) -> bool:
        """Whether row blocks are the outer block loop."""
        return self in (LoopOrder.ROWS_OUTER, LoopOrder.ROWS_CHUNK)

    @property
    def chunk_inside(self) -> bool:
        """Whether the chunk loop sits inside the outer block loop."""
        return self in (LoopOrder.COLS_CHUNK, LoopOrder.ROWS_CHUNK)


#: loop order value -> (rows_first, chunk_inside), looked up without the properties' calls
_ORDER_FLAGS = {o.value: (o.rows_first, o.chunk_inside) for o in LoopOrder}


@dataclass(frozen=True)
class Mapping:
    """One layer's mapping: dataflow, loop order and stream tile (elements of the streamed
    dim per chunk; the whole streamed dim when not tiled)."""

    dataflow: Dataflow
    loop_order: LoopOrder
    stream_tile: int

    def describe(self) -> str:
        return f"{self.dataflow.value}/{self.loop_order.value}/T={self.stream_tile}"


@dataclass(frozen=True)
class FoldPlan:
    """One GEMM (M, K, N) on one array; sizes in elements unless the name says bits."""

    M: int  # noqa: N815 - GEMM notation
    K: int  # noqa: N815
    N: int  # noqa: N815
    rows: int
    cols: int
    row_dim: str
    col_dim: str
    stream_dim: str
    roles: dict[str, str]            # role -> operand name
    elem_bits: dict[str, int]        # operand -> bits per element
    reuse_bits: dict[str, int]       # operand -> buffer bits usable for reuse (half the buffer)
    loop_order: LoopOrder = LoopOrder.COLS_OUTER
    stream_tile: int = 0             # elements of the streamed dim per chunk (0: all of it)
    b_meta_bits: int = 0             # B metadata per group of b_group weights along K (bits)
    b_group: int = 0

    def __post_init__(self) -> None:
        """Derive, once, what the closed forms read many times (:func:`_derived`): ``dims``
        (dim -> extent), ``row_blocks`` / ``col_blocks`` (blocks along the mapped dims),
        ``folds`` (per chunk), ``streamed`` (S), ``tile`` (T: ``stream_tile``, or all of S),
        ``chunks`` (ceil(S/T)), ``row_sizes`` / ``col_sizes`` / ``stream_sizes``
        (:meth:`sizes` of each dim), ``rows_first`` / ``chunk_inside`` (the loop order's).
        Plain attributes, not fields: equality and ``repr`` stay the fields'. (``plan_on``
        builds plans without ``__init__``: the same fields and attributes.)"""
        _derive_into(self.__dict__, self.M, self.K, self.N, self.rows, self.cols,
                     self.row_dim, self.col_dim, self.stream_dim, LoopOrder(self.loop_order),
                     self.stream_tile)

    def line_bits(self, op: str, t: int) -> int:
        """Bits of one line of operand ``op`` spanning ``t`` elements of the streamed dim:
        ``t`` elements plus, for B along K, the metadata of the ``ceil(t/group)`` groups it
        touches (chunks start on group boundaries)."""
        bits = t * self.elem_bits[op]
        if op == "B" and self.b_meta_bits:
            bits += -(-t // self.b_group) * self.b_meta_bits
        return bits

    def chunk_extent(self, index: int) -> tuple[int, int]:
        """[start, stop) of chunk ``index`` along the streamed dim."""
        start = index * self.tile
        return start, min(start + self.tile, self.streamed)

    def sizes(self, dim: str) -> tuple[tuple[int, int], ...]:
        """(block size, how many blocks of that size) along a mapped or the streamed dim."""
        return self._sizes_of[dim]

    def block_extent(self, dim: str, index: int) -> tuple[int, int]:
        """[start, stop) of block ``index`` along ``dim`` (row or col dim)."""
        side = self.rows if dim == self.row_dim else self.cols
        start = index * side
        return start, min(start + side, self.dims[dim])



def _derive_into(d: dict[str, Any], M: int, K: int, N: int, rows: int,  # noqa: N803
                 cols: int, row_dim: str, col_dim: str, stream_dim: str,
                 loop_order: LoopOrder, stream_tile: int) -> None:
    """Store in ``d`` (a plan's ``__dict__``) the attributes :meth:`FoldPlan.__post_init__`
    derives from the fields."""
    d["dims"] = dims = {"M": M, "K": K, "N": N}
    d["streamed"] = streamed = dims[stream_dim]
    d["tile"] = tile = min(stream_tile or streamed, streamed)
    d["chunks"] = -(-streamed // tile)
    d["row_blocks"] = n_r = -(-dims[row_dim] // rows)
    d["col_blocks"] = n_c = -(-dims[col_dim] // cols)
    d["folds"] = n_r * n_c
    d["row_sizes"] = row_sizes = _block_sizes(dims[row_dim], rows)
    d["col_sizes"] = col_sizes = _block_sizes(dims[col_dim], cols)
    d["stream_sizes"] = stream_sizes = _block_sizes(streamed, tile)
    d["rows_first"], d["chunk_inside"] = _ORDER_FLAGS[loop_order._value_]
    d["_sizes_of"] = {row_dim: row_sizes, col_dim: col_sizes, stream_dim: stream_sizes}


def _block_sizes(extent: int, side: int) -> tuple[tuple[int, int], ...]:
    """(block size, how many blocks of that size) of ``extent`` cut in blocks of ``side``:
    ``ceil(extent/side) - 1`` full blocks and the last one (maybe shorter)."""
    n = -(-extent // side)
    last = extent - (n - 1) * side
    return ((side, n - 1), (last, 1)) if n > 1 else ((last, 1),)


def fixed_mapping(pe: object, M: int, K: int, N: int) -> Mapping:  # noqa: N803
    """The ``mapping: fixed`` mapping: the preset's dataflow, column blocks outer, the
    streamed dim not tiled (SCALE-Sim's schedule)."""
    stream = pe.mapping[2]
    out = _new(Mapping)          # Mapping(...) without the dataclass __init__ (hot path)
    out.__dict__.update(dataflow=pe.dataflow, loop_order=LoopOrder.COLS_OUTER,
                        stream_tile=M if stream == "M" else K if stream == "K" else N)
    return out


def plan_gemm(accel: Accelerator, M: int, K: int, N: int,  # noqa: N803
              mapping: Mapping | None = None) -> FoldPlan:
    """The fold plan of out[M x N] = A[M x K] . B[K x N] on ``accel``'s array under
    ``mapping`` (default: :func:`fixed_mapping`)."""
    return plan_on(accel.pe_array, reuse_bits_of(accel), M, K, N, mapping)


def reuse_bits_of(accel: Accelerator) -> dict[str, int]:
    """Operand -> the bits of its buffer usable for reuse (half the buffer; unit: bits)."""
    return {op: getattr(accel, buf).size_bytes * 8 // 2 for op, buf in BUFFER_OF.items()}


def plan_on(pe: Any, reuse_bits: dict[str, int], M: int, K: int, N: int,  # noqa: N803
            mapping: Mapping | None = None) -> FoldPlan:
    """:func:`plan_gemm` from the array ``pe`` (any of its dataflows: the mapping's is
    taken) and the buffers' :func:`reuse_bits_of` (shared, not copied: do not modify it)."""
    mapping = mapping or fixed_mapping(pe, M, K, N)
    if mapping.dataflow is not pe.dataflow:
        pe = pe.with_dataflow(mapping.dataflow)
    facts = _FACTS.get(id(pe))          # _array_facts(pe), found by identity (hot path)
    if facts is None:
        if len(_FACTS) >= 4096:
            _FACTS.clear()
        facts = _FACTS[id(pe)] = (pe, _array_facts(pe))
    dims, roles, bits, split_bits, meta, group = facts[1]
    stream_tile = mapping.stream_tile
    S = M if dims[2] == "M" else K if dims[2] == "K" else N  # noqa: N806
    k_split = roles["stationary"] == "O" and -(-S // min(stream_tile, S)) > 1
    if meta and (dims[2] != "K" or roles["stationary"] == "B"):
        raise ValueError(f"Cannot plan B metadata of the {pe.family} array because B is not "
                         f"streamed along K under {mapping.describe()}")
    order = mapping.loop_order
    if type(order) is not LoopOrder:
        order = LoopOrder(order)
    rows, cols = pe.rows, pe.cols
    # FoldPlan(...) without the dataclass __init__ (the hot path: issue 17 item 6)
    plan = _new(FoldPlan)
    d = plan.__dict__
    d["M"], d["K"], d["N"], d["rows"], d["cols"] = M, K, N, rows, cols
    d["row_dim"], d["col_dim"], d["stream_dim"] = dims
    d["roles"], d["elem_bits"] = roles, split_bits if k_split else bits
    d["reuse_bits"], d["loop_order"], d["stream_tile"] = reuse_bits, order, stream_tile
    d["b_meta_bits"], d["b_group"] = meta, group
    _derive_into(d, M, K, N, rows, cols, dims[0], dims[1], dims[2], order, stream_tile)
    return plan



#: id(array) -> (the array, its _array_facts): holding the array keeps its id unique
_FACTS: dict[int, tuple[Any, tuple]] = {}


def _array_facts(pe: Any) -> tuple[tuple[str, str, str], dict[str, str], dict[str, int],
                                   dict[str, int], int, int]:
    """What a plan reads of the array ``pe`` (under its own dataflow), once per array:
    (row, col, streamed dim), roles, bits per element of A, B, O (O: ``acc_bits``; with a K
    split ``psum_bits``), B metadata bits per group and the group (0 without metadata)."""
    dims = tuple(pe.mapping)
    meta = pe.meta_bits_per_group
    return (dims, roles_of(dims), {"A": pe.a_bits, "B": pe.b_stored_bits, "O": pe.acc_bits},
            {"A": pe.a_bits, "B": pe.b_stored_bits, "O": pe.psum_bits}, meta,
            pe.group_size if meta else 0)


def mapping_problem(plan: FoldPlan) -> str | None:
    """Why the plan's mapping is outside the mapping space, or None.

    Partial sums that are revisited cyclically must stay in the output buffer's reuse half:
    with ``rows_outer`` and O as the col operand, one chunk's O (D_c x T). A K split (O
    stationary, several chunks) needs one fold's partial sums to fit; the others spill to
    DRAM and come back in the next chunk when the set does not fit
    (``sim.fast.closed_form._cyclic_spill``)."""
    roles, cap, order = plan.roles, plan.reuse_bits["O"], plan.loop_order
    b_o = plan.elem_bits["O"]
    d_c = plan.dims[plan.col_dim]
    if roles["col"] == "O" and plan.rows_first and plan.row_blocks > 1:
        span = plan.streamed if plan.chunk_inside else plan.tile
        if d_c * span * b_o > cap:
            return f"{order.value} needs the partial sums it revisits in the output buffer"
    if roles["stationary"] == "O" and plan.chunks > 1:
        block = plan.sizes(plan.row_dim)[0][0] * plan.sizes(plan.col_dim)[0][0]
        if block * b_o > cap:
            return "a K split needs one fold's partial sums in the output buffer"
    return None


def total_cycles(compute_cycles: int, dram_bits: int, prologue_bits: int, epilogue_bits: int,
                 bits_per_cycle: int) -> int:
    """Total cycles of a layer: the overlap rule both engines use (double buffering).

    DRAM transfers overlap compute, except that the first fold's operands must arrive before
    it starts and the last fold's outputs leave after it ends::

        total = max(prologue + compute + epilogue, dram)

    with each DRAM term ``ceil(bits / bits_per_cycle)``. Stall cycles = total - compute.
    """
    pro = -(-prologue_bits // bits_per_cycle)          # ceil_div, written out (hot path)
    epi = -(-epilogue_bits // bits_per_cycle)
    return max(pro + compute_cycles + epi, -(-dram_bits // bits_per_cycle))
