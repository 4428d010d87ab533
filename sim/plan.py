"""How one GEMM is folded onto an R x C array: the facts both engines start from.

A dataflow maps two GEMM dims onto the array (rows, cols) and streams the third. The three
operands A[M x K], B[K x N] and O[M x N] then take three roles:

- **stationary**: indexed by (row dim, col dim); each block is used by exactly one fold
  (ws: B, os: O, is: A).
- **row operand**: indexed by (row dim, streamed dim); block ``rb`` is used once in every
  column block (ws: A, os: A, is: B).
- **col operand**: indexed by (col dim, streamed dim); block ``cb`` is used by every fold of
  column block ``cb``, one after another (ws: O, os: B, is: O). When it is O, it holds partial
  sums that accumulate over the row blocks.

Folds run column blocks outer, row blocks inner. Each operand lives in its own buffer
(A: input, B: weight, O: output); half of each buffer holds resident data, the other half the
next fold's prefetch (double buffering). This module only *describes*; the reference engine
simulates the buffers fold by fold (LRU), the fast engine uses closed forms, and a test checks
that they agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from qaccel.arch.spec import Accelerator

__all__ = ["FoldPlan", "ROLES", "roles_of", "plan_gemm", "ceil_div", "total_cycles", "add_totals",
           "TRAFFIC_KEYS"]

OPERAND_DIMS = {"A": ("M", "K"), "B": ("K", "N"), "O": ("M", "N")}
BUFFER_OF = {"A": "input_buffer", "B": "weight_buffer", "O": "output_buffer"}


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

    @property
    def dims(self) -> dict[str, int]:
        return {"M": self.M, "K": self.K, "N": self.N}

    @property
    def row_blocks(self) -> int:
        return ceil_div(self.dims[self.row_dim], self.rows)

    @property
    def col_blocks(self) -> int:
        return ceil_div(self.dims[self.col_dim], self.cols)

    @property
    def folds(self) -> int:
        return self.row_blocks * self.col_blocks

    @property
    def streamed(self) -> int:
        return self.dims[self.stream_dim]

    def block_extent(self, dim: str, index: int) -> tuple[int, int]:
        """[start, stop) of block ``index`` along ``dim`` (row or col dim)."""
        side = self.rows if dim == self.row_dim else self.cols
        start = index * side
        return start, min(start + side, self.dims[dim])

    def first_last(self, dim: str) -> tuple[int, int]:
        """Sizes of the first and the last block along a mapped dim (elements)."""
        side = self.rows if dim == self.row_dim else self.cols
        size = self.dims[dim]
        return min(side, size), size - (ceil_div(size, side) - 1) * side


def plan_gemm(accel: Accelerator, M: int, K: int, N: int) -> FoldPlan:  # noqa: N803
    """The fold plan of out[M x N] = A[M x K] . B[K x N] on ``accel``'s array."""
    pe = accel.pe_array
    mapping = pe.mapping
    return FoldPlan(
        M=M, K=K, N=N, rows=pe.rows, cols=pe.cols,
        row_dim=mapping[0], col_dim=mapping[1], stream_dim=mapping[2], roles=roles_of(mapping),
        elem_bits={"A": pe.a_bits, "B": pe.b_bits, "O": pe.acc_bits},
        reuse_bits={op: getattr(accel, buf).size_bytes * 8 // 2 for op, buf in BUFFER_OF.items()},
    )


def total_cycles(compute_cycles: int, dram_bits: int, prologue_bits: int, epilogue_bits: int,
                 bits_per_cycle: int) -> int:
    """Total cycles of a layer: the overlap rule both engines use (double buffering).

    DRAM transfers overlap compute, except that the first fold's operands must arrive before
    it starts and the last fold's outputs leave after it ends::

        total = max(prologue + compute + epilogue, dram)

    with each DRAM term ``ceil(bits / bits_per_cycle)``. Stall cycles = total - compute.
    """
    pro = ceil_div(prologue_bits, bits_per_cycle)
    epi = ceil_div(epilogue_bits, bits_per_cycle)
    return max(pro + compute_cycles + epi, ceil_div(dram_bits, bits_per_cycle))


#: per-operand traffic counters (unit: bits); each also has an ``_A``/``_B``/``_O`` form
TRAFFIC_KEYS = ("dram_rd_bits", "dram_wr_bits", "sram_rd_bits", "sram_wr_bits")


def add_totals(counts: dict[str, int]) -> dict[str, int]:
    """Add the operand-summed totals of :data:`TRAFFIC_KEYS` to ``counts`` (in place)."""
    for key in TRAFFIC_KEYS:
        counts[key] = sum(counts[f"{key}_{op}"] for op in "ABO")
    return counts
