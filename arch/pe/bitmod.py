"""``bitmod``: an R x C array of bit-serial BitMoD PEs: FP16 activations times BitMoD FP4/FP3
weights (Chen et al., "BitMoD: Bit-serial Mixture-of-Datatype LLM Acceleration", HPCA 2025;
weight formats in ``models/bitmod.py``).

Levels: golden, timing, events and costs here; ``sim/reference/bitmod.py`` (fold loop plus a
cycle-by-cycle model of one PE with ``line_trace``), ``sim/fast/bitmod.py`` (closed form +
BLAS), ``rtl/pe/bitmod.py`` (the array in Amaranth). The arithmetic stages live in
``arch/pe/_bitmod_numerics.py`` and the component inventory in ``arch/pe/_bitmod_cost.py``
(private helpers of this module, re-exported here).

**Mapping** (``dataflow: os``, the only one): array rows <- N (output channels), columns <- M
(tokens), K streamed ``lanes`` weights at a time, as in the authors' simulator
(``bitmod_sim/accelerator.py``: tiles = ceil(cin/pe_dp_size) * ceil(cout/h) * ceil(tokens/w)).
``sim.plan.roles_of(("N", "M", "K"))``: O is stationary (one R x C output block per fold, each
fold runs the whole K, so folds never carry partial sums), B (weights) is the row operand (an
N-block with all of K, reused across column blocks when it fits its buffer), A the column
operand (an M-block, kept across the row blocks). PE (r, c) computes out[m0 + c, n0 + r]; the
activations of column c enter at the top edge, the weights of row r at the left edge.

**Timing.** A weight is processed as ``cpw = ceil(bits/2)`` signed power-of-two terms, one per
cycle (3-4 bits -> 2, 6 -> 3, 8 -> 4), so a fold streams ``ceil(K/lanes) * cpw`` cycles and

    layer compute cycles = ceil(N/R) * ceil(M/C) * ceil(K/lanes) * cpw     (DESIGN.md)

Two per-group units bound a fold from below: each PE's bit-serial dequantizer spends
``DEQUANT_CYCLES`` = 11 cycles per group, and each row has ``u = ceil(C / group_cycles)``
output units (``group_cycles`` = ceil(128/lanes) * cpw = 64 for 4 lanes: one unit per row up
to 64 columns), shared round-robin by the row's PEs, each accepting one group result per
cycle, i.e. ``ceil(c_t/u)`` cycles per group for a tile of ``c_t`` columns. So

    fold = max(ceil(K/lanes) * cpw, G * 11, G * ceil(c_t/u)),   G = ceil(K/128)

Full groups never hit either bound; a short last group can. With 4 lanes, 2 cycles/weight and
at most 32 columns (both presets) a fold equals the formula for every K > 60 (all LLM
layers); tiles with K <= 60 take up to 11 or c_t cycles per group. ``fold_cycles`` is this
steady-state lane bound; the authors' simulator charges it per fold (no fill/drain).

**One timing basis** (DESIGN.md "PE families"): inside a layer every fold costs what one tile
costs on the RTL, fill and drain included, as for every family: ``fold_cycles_of`` =
``tile_cycles(K)`` below (the RTL runs a batch's tiles back to back, each exactly that long;
``tests/rtl/test_bitmod.py`` checks ``cycles`` against it on every tile). On a 32x32 array and
K = 4096 that is 2,187 cycles against the lane bound's 2,048.

**Single tile** (``timing(tile)``, what the RTL's ``cycles`` counts from ``start`` to the last
result; ``rtl/pe/_bitmod_core.py``). ``S = ceil(K/lanes)`` beats arrive one per ``cpw``
cycles from cycle 1; the column aligners need a group's ``Emax`` before its first lane cycle,
so the lanes start once group 0 (``n0 = min(S, 128/lanes)`` beats) is in, at cycle
``c1 = 3 + (n0 - 1) * cpw`` (one cycle to write the beat, one to read it back), and then
run ``L = S * cpw`` cycles without a gap. The last group's sum is dequantized in the next 11
cycles, unless the previous group's results still occupy the row output units: those visit
all C columns (the array does not know M) one per cycle, so a group's results may arrive
only C cycles after the previous group's (``t0`` = lane cycles before the last group). The
units then visit the C columns (C cycles) and each column shifts out its R results (R
cycles); the last result leaves in cycle ``c1 + 11 + z + C + R - 1``. So, with
``TILE_DRAIN_CYCLES`` = 13 (= 3 + 11 - 1)::

    timing = (n0 - 1) * cpw + z + C + R + 13,
    z = L (one group) or max(L, t0 + max(11, C)) (G >= 2)

**Arithmetic** (one output; rounding points numbered, everything else exact):

1. Column-edge aligner, per token and group of 128 along K: E = max(e, 1) and m = the 11-bit
   significand of each FP16 activation; ``Emax`` = max E over the group. Each activation
   becomes ``A = (m << F) >> (Emax - E)``, signed: a magnitude kept with ``F`` =
   ``guard_bits`` bits below the group's largest significand, truncated toward zero
   (**rounding point 1**, the only one before the scale).
2. Row-edge decoder: code + the group's type id -> the value in units of the scale times 2^wf
   (FP4: wf = 1, values -16..16; FP3: wf = 0, -6..6), split into ``cpw`` signed power-of-two
   terms, most significant first (a zero term when a value has fewer).
3. Lanes: term j of lane l is ``sign * (A << p)``; adder tree over the lanes; group
   accumulator of ``group_acc_bits`` = bitlen(128 * (2^(11+F) - 1) * vmax) + 1 bits (26 for FP4, F
   = 3): it cannot overflow, so the group sum S = sum_k A_k * v_k is exact.
4. Dequantizer (per PE, bit-serial, MSB first over the scale's 11-bit significand ``ms``):
   ``P = S * ms`` exactly, value ``P * 2^X`` with X = Emax + Es - 50 - F - wf.
5. Row output unit: ``fl32(P * 2^X)`` (**rounding point 2**, RNE; never subnormal or
   overflowing: 2^-69 <= |value| < 2^43) added into the output's FP32 accumulator (**rounding
   point 3**, IEEE binary32 add, RNE), groups in order g = 0, 1, ..., from +0.0.
6. When the fold drains, the FP32 sum is rounded to the FP16 output (**rounding point 4**, RNE,
   overflow to +-inf as IEEE).

**Energy/area**: ``arch/pe/_bitmod_cost.py`` (the inventory, what is priced, and the
comparison with the paper's 0.56 pJ/cycle and 1221.6 um^2 PE: this model lands at 50% / 30%
with priced parts only, 79% / 45% with an estimate for shifters and gates).

The B operand of activation x activation matmuls (attention's K and V) is quantized to the
PE's weight format per group along K like a weight, unless the accelerator names a
``kv_format`` (``qaccel.arch.kv``): then :meth:`BitmodArray.kv_array` runs the KV cache's
2..8-bit integers bit-serially at ``ceil(bits/2)`` cycles per element, as the authors'
simulator runs attention at an 8-bit KV cache (``kv_prec = 8``, 4 cycles per element). Bit
values are simulated for weight-format B only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from qaccel.arch.components import Cost
from qaccel.arch.fields import IntIn, OneOf, spec_field
from qaccel.arch.pe import _bitmod_cost as bitmod_cost
from qaccel.arch.pe._bitmod_numerics import (
    DEQUANT_CYCLES,
    BitmodWeights,
    align_activations,
    dequantize,
    round_fp32,
    term_tables,
    to_fp16,
    weight_ints,
)
from qaccel.arch.pe._output_stationary import OutputStationaryArray, OwnsOutputs
from qaccel.arch.pe.registry import register_pe
from qaccel.arch.pe.tile import Tile
from qaccel.arch.published import PublishedArea, PublishedEnergy
from qaccel.models import fp16 as fp16_format
from qaccel.models.bitmod import FAMILY as FORMAT_FAMILY
from qaccel.models.formats import get_format

__all__ = ["BitmodArray", "WeightFormat", "BitmodWeights", "cycles_per_weight", "DEQUANT_CYCLES",
           "MAPPING", "align_activations", "dequantize", "round_fp32", "term_tables", "to_fp16",
           "weight_ints", "compute_cycles_formula", "TILE_DRAIN_CYCLES"]

#: (dim on array rows, dim on array cols, streamed dim)
MAPPING = ("N", "M", "K")
#: fixed part of a single tile's cycles (module docstring "Single tile"): lane cycle 1 is
#: cycle 3 + (n0-1)*cpw (beat 0 arrives in cycle 1, is written, read back), the 11 dequantizer
#: steps, the last result in cycle c1 + 11 + z + C + R - 1 (unit: cycles)
TILE_DRAIN_CYCLES = 3 + DEQUANT_CYCLES - 1


class WeightFormat(StrEnum):
    """The weight formats the PE decodes (``models.formats`` names)."""

    FP4 = "bitmod_fp4"
    FP3 = "bitmod_fp3"


def cycles_per_weight(bits: int) -> int:
    """Bit-serial cycles per weight: two bits per cycle, ``ceil(bits / 2)`` (unit: cycles)."""
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 16:
        raise ValueError(f"bits must be an int in 1..16, not {bits!r}")
    return -(-bits // 2)


@register_pe("bitmod")
@dataclass(frozen=True, kw_only=True)
class BitmodArray(OwnsOutputs, OutputStationaryArray):
    """R x C bit-serial BitMoD PEs (``lanes``-wide dot products), output stationary."""

    os_mapping = MAPPING
    #: FP32 partial sums of a K split (unit: bits); outputs leave as FP16 (``acc_bits``)
    psum_bits = 32
    phase_presets = {"prefill": "bitmod-prefill", "decode": "bitmod-decode"}
    #: the BitMoD paper's PE (DESIGN.md "Energy/area model": 28 nm, 1 GHz) and the
    #: ``pe_area`` of its authors' simulator (bitmod_sim/test_bitmod.py, PR_SCALING not applied)
    published_area = (PublishedArea(1221.6, 28, "PE logic", "BitMoD paper (DESIGN.md)"),
                      PublishedArea(1793.7, 28, "PE with registers", "BitMoD paper (DESIGN.md)"),
                      PublishedArea(1507.7, 28, "pe_area", "BitMoD simulator test_bitmod.py"))
    published_energy = PublishedEnergy(0.56, 28, 1000, "BitMoD paper (DESIGN.md)")

    weight_format: WeightFormat = spec_field(OneOf(WeightFormat), "",
                                             "BitMoD weight format the decoders read")
    guard_bits: int = spec_field(IntIn(0, 20), "bits", "bits kept below an aligned "
                                 "activation's 11-bit significand (unit: bits)")
    metadata_bits: int = spec_field(IntIn(0, 64), "bits", "weight metadata stored per group "
                                    "of 128 (type id + scale; unit: bits)")
    # The base class's ``lanes`` property leaves a dataclass field no way to be required; the
    # default is the paper's 4-lane PE.
    lanes: int = spec_field(IntIn(1, 16), "multipliers",
                            "dot-product lanes per PE (unit: lanes)", default=4)

    #: activation and output element widths as stored (unit: bits): FP16; the FP32 output
    #: accumulators stay in the array
    a_bits = 16
    acc_bits = 16

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.weight_format, WeightFormat):
            try:
                object.__setattr__(self, "weight_format", WeightFormat(self.weight_format))
            except ValueError:
                allowed = ", ".join(repr(f.value) for f in WeightFormat)
                raise ValueError(f"weight_format must be one of {allowed}, not "
                                 f"{self.weight_format!r}") from None
        g = self.group_size
        if self.lanes & (self.lanes - 1) or g % self.lanes:
            raise ValueError(f"lanes must be a power of two dividing the group size {g} (a "
                             f"lane step may not straddle two groups), not {self.lanes}")

    def __repr__(self) -> str:
        return (f"BitmodArray({self.rows}x{self.cols} os, {self.lanes} lanes, "
                f"{self.weight_format.value} x fp16, guard_bits={self.guard_bits}, "
                f"metadata_bits={self.metadata_bits})")

    # ---- format facts (computed from the format's value table) ---------------------------
    @property
    def weight_fmt(self) -> Any:
        """The :class:`qaccel.models.bitmod.BitMoD` format object."""
        return get_format(self.weight_format.value)

    @property
    def bits(self) -> int:
        return int(self.weight_fmt.bits)

    @property
    def b_bits(self) -> int:
        """Bits per weight code as stored (metadata is added per group, see traffic)."""
        return self.bits

    @property
    def group_size(self) -> int:
        return int(self.weight_fmt.group_size)

    @property
    def cpw(self) -> int:
        """Cycles per weight (``cycles_per_weight(b_bits)``: the weight format's bits, or a
        KV cache's in :meth:`kv_array`)."""
        return cycles_per_weight(self.b_bits)

    @property
    def fmt(self) -> str:  # type: ignore[override]
        """The ``fmt`` result column: ``bitmod_fp4/fp16`` (weights/activations)."""
        return f"{self.weight_format.value}/fp16"

    @property
    def group_bound(self) -> int:
        """Largest |group sum| the accumulator can see: 128 * (2^(11+F) - 1) * vmax."""
        vmax = int(np.abs(weight_ints(self.bits)[0]).max())
        return self.group_size * ((1 << (11 + self.guard_bits)) - 1) * vmax

    @property
    def group_acc_bits(self) -> int:
        """Width of the two's-complement group accumulator (unit: bits); never overflows."""
        return self.group_bound.bit_length() + 1

    # ---- mapping and timing ---------------------------------------------------------------
    def stream_cycles(self, k: int) -> int:
        """Cycles the lanes spend on K = ``k``: ``ceil(k / lanes) * cpw``."""
        return -(-k // self.lanes) * self.cpw

    @property
    def group_cycles(self) -> int:
        """Cycles the lanes spend on one full group (unit: cycles)."""
        return self.stream_cycles(self.group_size)

    @property
    def out_units_per_row(self) -> int:
        """Output units per array row: enough that full groups never wait for one."""
        return -(-self.cols // self.group_cycles)

    def fold_cycles(self, k: int, cols_used: int) -> int:
        """Cycles of one fold of K = ``k`` on ``cols_used`` columns (module docstring)."""
        groups = -(-k // self.group_size)
        per_unit = -(-cols_used // self.out_units_per_row)
        return max(self.stream_cycles(k), groups * DEQUANT_CYCLES, groups * per_unit)

    def tile_cycles(self, k: int) -> int:
        """Start->done cycles of one tile of K = ``k`` run alone (module docstring "Single
        tile"); the RTL's ``cycles``. Independent of the tile's M and N (unit: cycles)."""
        steps = -(-k // self.lanes)
        n0 = min(steps, self.group_size // self.lanes)
        lane_cycles = steps * self.cpw
        groups = -(-k // self.group_size)
        z = lane_cycles
        if groups > 1:
            t0 = (groups - 1) * self.group_cycles
            z = max(lane_cycles, t0 + max(DEQUANT_CYCLES, self.cols))
        return (n0 - 1) * self.cpw + z + self.cols + self.rows + TILE_DRAIN_CYCLES

    @property
    def weight_format_name(self) -> str:
        """The ``models.formats`` name of this array's weights."""
        return str(self.weight_format.value)  # bitmod_fp4 | bitmod_fp3

    # ---- the four levels -----------------------------------------------------------------
    def golden(self, tile: Tile) -> np.ndarray:
        """Bit-exact FP16 outputs [M x N] of one tile (the module docstring's stages).

        ``tile.a``: float16 activations [M x K]; ``tile.b``: :class:`BitmodWeights` [K x N].
        Every group runs term by term (cycle j of every lane step), lanes and tree summed as
        the exact integers the accumulator holds.
        """
        return to_fp16(self.partial_sums(tile, np.zeros((tile.M, tile.N), np.float32)))

    def round_output(self, acc: np.ndarray) -> np.ndarray:
        """Rounding point 4: the FP32 sums to the FP16 outputs."""
        return to_fp16(acc)

    def partial_sums(self, tile: Tile, acc_in: np.ndarray) -> np.ndarray:
        """Stages 1-5 of one tile continuing the FP32 accumulators from ``acc_in`` (float32
        [M x N]): the groups of a K split add in the same order as without it."""
        self.check_tile(tile)
        a, w = tile.a, tile.b
        if a.dtype != np.float16 or not isinstance(w, BitmodWeights):
            raise TypeError(f"tile must hold a float16 A and BitmodWeights B, not {a.dtype} "
                            f"and {type(w).__name__}")
        if (w.bits, w.group_size) != (self.bits, self.group_size):
            raise ValueError(f"B must be {self.weight_format.value} weights (bits "
                             f"{self.bits}, group {self.group_size}), not bits {w.bits}, "
                             f"group {w.group_size}")
        g_size, f, groups = self.group_size, self.guard_bits, w.groups
        m, k, n = tile.M, tile.K, tile.N
        alpha, emax = align_activations(a, g_size, f)                  # stage 1
        signs, shifts = term_tables(self.bits, self.cpw)               # stage 2
        wf = weight_ints(self.bits)[1]
        # stage 3, every group at once: a weight's terms summed are its exact integer value,
        # so the group sum of the terms' products is alpha @ value (exact int64, any order)
        codes = w.codes.astype(np.intp)
        tid = np.repeat(w.type_ids.astype(np.intp), g_size, axis=0)[:k]
        value = np.zeros((groups * g_size, n), dtype=np.int64)
        value[:k] = (signs[tid, codes].astype(np.int64) << shifts[tid, codes]).sum(axis=2)
        a_pad = np.zeros((m, groups * g_size), dtype=np.int64)
        a_pad[:, :k] = alpha
        s = a_pad.reshape(m, groups, g_size).transpose(1, 0, 2) \
            @ value.reshape(groups, g_size, n)                         # [G x M x N]
        if np.any(np.abs(s) > self.group_bound):
            raise AssertionError("group accumulator bound violated")  # pragma: no cover
        # stage 4 on [M x (G N)]: X is linear in Emax, so dequantize with Emax = 0, then add
        p, x = dequantize(s.transpose(1, 0, 2).reshape(m, groups * n),
                          w.scales.reshape(groups * n), np.zeros(m, dtype=np.int64), f, wf)
        rounded = round_fp32(p, x + np.repeat(emax, n, axis=1)).reshape(m, groups, n)
        acc = np.array(acc_in, dtype=np.float32)
        for g in range(groups):                                        # stage 5, in order
            acc = (acc + rounded[:, g]).astype(np.float32)
        return acc                                      # stage 6 (to_fp16) in golden()

    def fold_cycles_of(self, m: int, k: int, n: int, overlapped: bool = False) -> int:
        """Cycles of one fold: ``tile_cycles(k)``, the RTL's start->done count (fill and
        drain included, as for every family; module docstring "Timing")."""
        return self.tile_cycles(k)

    def events(self, tile: Tile) -> dict[str, int]:
        """Operation counts of one tile (names as in :meth:`event_costs`).

        ``lane_terms``: lane operations on real weights (M*N*K*cpw); ``pe_steps``: adder-tree
        passes + group-accumulator adds of busy PEs (M*N*ceil(K/lanes)*cpw); ``dequant_steps``:
        bit-serial shift-adds (M*N*G*11); ``out_adds``: FP32 round + add (M*N*G);
        ``out_rounds``: FP32 -> FP16 (M*N); ``align``: activations aligned at the column
        edge (M*K per fold); ``decoder_terms``: weights decoded at the row edge (N*K per
        fold). The engines add ``pe_cycles`` / ``array_cycles`` (unpriced).
        """
        m, k, n = tile.M, tile.K, tile.N
        groups = -(-k // self.group_size)
        return {"lane_terms": m * n * k * self.cpw,
                "pe_steps": m * n * self.stream_cycles(k),
                "dequant_steps": m * n * groups * DEQUANT_CYCLES,
                "out_adds": m * n * groups, "out_rounds": m * n,
                "align": m * k, "decoder_terms": n * k}

    def event_costs(self) -> dict[str, Cost | None]:
        """45 nm cost of one event of each kind (``arch/pe/_bitmod_cost.py``)."""
        return bitmod_cost.event_costs(self)

    def pe_cost(self) -> Cost:
        """One PE at 45 nm: area with its share of the edge units, energy of one fully busy
        cycle (``arch/pe/_bitmod_cost.py``; compared with the paper's PE there)."""
        return bitmod_cost.pe_cost(self)

    # ---- operands --------------------------------------------------------------------------
    def layer_operands(self, layer: Any) -> list[tuple[np.ndarray, BitmodWeights]]:
        """(A float16 [M x K], B :class:`BitmodWeights` [K x N]) per GEMM of ``layer``.

        A: the real activation values rounded to FP16. B: a captured weight already in this
        PE's format is used as stored; any other B (other formats, seeded shape-only layers,
        the K/V operand of attention matmuls) is quantized to it from its real values.
        """
        from qaccel.models.operands import float_operands

        a_f, b_f = float_operands(layer)
        a16 = fp16_format.encode(a_f, name=f"layer {layer.name} A").codes.view(np.float16)
        w = layer.weight
        if (layer.op == "linear" and w is not None and layer.b_source == "weight"
                and w.meta.get("family") == FORMAT_FAMILY
                and w.meta.get("format") == self.weight_format.value):
            return [(a16[0], BitmodWeights.from_encoded(w))]
        return [(a16[g], BitmodWeights.from_float(b_f[g], self.weight_fmt,
                                                  f"layer {layer.name} B"))
                for g in range(a16.shape[0])]

    def kv_array(self, bits: int) -> Any:
        """The array computing on a ``bits``-wide KV cache: integers of 2..8 bits run
        bit-serially at ``ceil(bits/2)`` cycles per element (module docstring); wider ones
        (FP16) have no power-of-two term decomposition in this PE."""
        from qaccel.arch.kv import kv_view

        if not 2 <= bits <= 8:
            raise ValueError(f"Cannot compute on a {bits}-bit KV cache on the {self.family} "
                             f"array because its bit-serial PEs take 2..8-bit integer B")
        return kv_view(self, bits)

    @property
    def meta_bits_per_group(self) -> int:  # type: ignore[override]
        """Weight metadata per group of 128 (type id + scale; unit: bits): ``metadata_bits``."""
        return self.metadata_bits


def compute_cycles_formula(pe: BitmodArray, m: int, k: int, n: int) -> int:
    """DESIGN.md's layer formula ``ceil(K/lanes) * ceil(N/R) * ceil(M/C) * cpw``."""
    return (math.ceil(k / pe.lanes) * math.ceil(n / pe.rows) * math.ceil(m / pe.cols)
            * pe.cpw)
