"""``mixpe``: an R x C output-stationary array of MixPE shift-and-add PEs, INT4 group-128 weights
times INT8 (W4A8) or FP16 (W4A16) activations, dequantized once per group (Zhang et al.,
"MixPE: Quantization and Hardware Co-design for Efficient LLM Inference", arXiv 2411.16158).

Levels: golden and timing here, ``sim/reference/mixpe.py``, ``sim/fast/mixpe.py``,
``rtl/pe/mixpe.py`` (W4A8 and W4A16).

Operands: A [M x K] is int8 (W4A8; the per-token activation scale is left to the consumer,
as ``systolic_int8`` leaves its scales) or float16 (W4A16); B is a :class:`GroupWeights`
[K x N]: 4-bit codes ``q`` (0..15), and per group of ``G_SIZE`` = 128 rows of K an FP16 scale
``s`` and a 4-bit zero point ``z`` (``models/mixpe.py``, ``IntK(4, 128)``).

Dataflow: output stationary only (``dataflow: os``): M -> rows, N -> cols, K streamed, so a
PE sees its groups one after another and hands each group's integer partial sum to the
dequantizer. Per group g of one output (rounding points numbered):

- W4A8: ``P = sum q_k a_k`` by shift-and-add and ``S = sum a_k`` (one adder per array row,
  shared by the row's PEs) are exact integers (|P|, |S| * 15 <= 128 * 15 * 127 < 2^18).
- W4A16: the activations of one row's group enter the integer datapath pre-aligned: with
  ``E`` the largest FP16 exponent of the group (subnormals count as -14), each
  ``a = m * 2^(e - 10)`` becomes ``A = trunc(a * 2^(10 + F - E))`` (round toward zero,
  **rounding point 1**), ``F`` = ``ALIGN_FRAC_BITS`` = 5 guard bits, so |A| < 2^16 (a 16-bit
  magnitude). Then ``P = sum q_k A_k``, ``S = sum A_k`` exactly (< 2^27).
- dequant: ``D = P - z * S`` exact integer; ``t = fl32(s * D * 2^u)`` with ``u = 0`` (W4A8)
  or ``u = E - 10 - F`` (W4A16) -- the product is formed exactly and rounded once to FP32
  (**rounding point 2**, RNE); ``acc = fl32(acc + t)`` (**rounding point 3**, RNE), groups in
  order g = 0, 1, ..., starting from +0.0. The output is the FP32 ``acc``.

Timing (per fold, one R x C block of outputs, K streamed): the MAC part is SCALE-Sim's os
fold, R + C + K - 2. The dequantizer is one unit per array column, fully pipelined: it
accepts one group result per cycle (throughput 1/cycle) with ``DEQUANT_LATENCY_CYCLES`` = 2
(stage 1: D = P - z*S, stage 2: FP32 multiply and accumulate). Group g of a column is ready
after the stream has passed its last k, i.e. at t_g = min((g+1)*128, K) cycles into the
stream (the array skew is in the R + C - 2 term); the column's unit spends R cycles on it,
starting when both the group is ready and the previous group is done:
f_g = max(t_g, f_{g-1}) + R. So dequantization overlaps the next group's MACs, and the fold
ends ``f_{G-1} - K + DEQUANT_LATENCY_CYCLES`` cycles after the MAC part would have:
fold = R + C - 2 + f_{G-1} + 2 (= R + C + K - 2 + R + 2 when R <= 128 and the last group
holds >= R elements). The authors' simulator (github yuzhang712/mixpe_simulator,
``bitfusion/src/benchmarks/int48_bench.py`` and ``mixfloat_bench.py``) instead appends to
every W4 layer of K -> N a separate GEMM of K/8 x N/128 at the activation precision on the
same array, i.e. its dequantization is serialized, not overlapped.

W4A16 adds the aligner's look-ahead: a group's first aligned activation needs the group's
largest exponent E, i.e. its last activation, so the array edge writes the stream into a
two-group buffer and replays it, without gaps, from the cycle after group 0 has arrived:
every beat reaches the integer datapath ``align_cycles(K) = min(K, 128)`` cycles late, and
so does every group end (all t_g, hence all f_g, shift by that constant): fold (W4A16) =
R + C - 2 + f_{G-1} + 2 + min(K, 128), f_g as above.

With ``drain: overlapped`` (shadow accumulators, ``arch.spec.Drain``) a fold after the first
of a run starts its stream as soon as the previous fold's stream has passed: the fill and
drain skew, the dequantizer's tail and the aligner's look-ahead of the previous fold overlap
it, and it costs ``max(K, ceil(K/128) * R)``: its stream, or, when the dequantizers are the
bottleneck (R > 128), the R cycles each of its groups occupies a column's dequantizer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qaccel.arch.components import Cost, fp_add, fp_mult, int_add, int_mult
from qaccel.arch.fields import IntIn, spec_field
from qaccel.arch.pe._output_stationary import OutputStationaryArray, OwnsOutputs
from qaccel.arch.pe.registry import register_pe
from qaccel.arch.pe.tile import Tile
from qaccel.arch.spec import Drain
from qaccel.models import fp16 as fp16_format
from qaccel.models import int8 as int8_format
from qaccel.models.mixpe import WEIGHT_FORMAT

__all__ = ["MixPE", "GroupWeights", "G_SIZE", "ALIGN_FRAC_BITS", "DEQUANT_LATENCY_CYCLES",
           "align_fp16"]

#: weights per quantization group along K (the MixPE weight format's group size)
G_SIZE = int(WEIGHT_FORMAT.group_size)
#: W4A16: guard bits kept below an aligned activation's 11-bit significand (unit: bits)
ALIGN_FRAC_BITS = 5
#: dequantizer pipeline depth (unit: cycles)
DEQUANT_LATENCY_CYCLES = 2


@dataclass(frozen=True)
class GroupWeights:
    """INT4 group weights as the array sees them: ``q`` uint8 [K x N] (0..15), ``s`` float32
    [G x N] (FP16 values), ``z`` uint8 [G x N]. Slicing ``w[k0:k1, n0:n1]`` keeps the groups
    (``k0`` must be a multiple of ``G_SIZE``)."""

    q: np.ndarray
    s: np.ndarray
    z: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.q.shape

    @property
    def ndim(self) -> int:
        return 2

    def __getitem__(self, key: tuple[slice, slice]) -> GroupWeights:
        ks, ns = key
        k0, k1, _ = ks.indices(self.q.shape[0])
        if k0 % G_SIZE:
            raise ValueError(f"K slice start must be a multiple of {G_SIZE}, not {k0}")
        g0, g1 = k0 // G_SIZE, -(-k1 // G_SIZE)
        return GroupWeights(self.q[k0:k1, ns], self.s[g0:g1, ns], self.z[g0:g1, ns])

    @classmethod
    def from_encoded(cls, enc: Any) -> GroupWeights:
        """The array's view of an ``int4_g128`` Encoded weight [N x K] (as nn.Linear stores
        it): codes, scales and zero points transposed to K-major."""
        n, k = enc.meta["shape"]
        q = enc.codes.reshape(n, -1)[:, :k].T
        return cls(np.ascontiguousarray(q), np.ascontiguousarray(enc.scales[..., 0].T),
                   np.ascontiguousarray(enc.extra["zero_points"][..., 0].T))

    @classmethod
    def from_float(cls, b: np.ndarray, name: str = "B") -> GroupWeights:
        """Encode real B [K x N] with the MixPE weight format (groups along K)."""
        return cls.from_encoded(WEIGHT_FORMAT.encode(np.ascontiguousarray(b.T), name=name))


def align_fp16(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """W4A16 rounding point 1: float16 A [M x K] -> (aligned int64 A [M x K], group exponent
    E int64 [M x G]); ``A = trunc(a * 2^(10 + F - E))`` with E the group's largest exponent."""
    m, k = a.shape
    groups = -(-k // G_SIZE)
    bits = a.view(np.uint16).astype(np.int64)
    e = np.maximum((bits >> 10) & 0x1F, 1) - 15            # subnormals and zero: -14
    e_pad = np.full((m, groups * G_SIZE), -14, dtype=np.int64)
    e_pad[:, :k] = e
    big_e = e_pad.reshape(m, groups, G_SIZE).max(axis=2)   # [M, G]
    shift = np.repeat(10 + ALIGN_FRAC_BITS - big_e, G_SIZE, axis=1)[:, :k]
    # a * 2^shift is exact in float64 (11-bit significand); trunc rounds toward zero
    aligned = np.trunc(np.ldexp(a.astype(np.float64), shift)).astype(np.int64)
    return aligned, big_e


@register_pe("mixpe")
@dataclass(frozen=True)
class MixPE(OwnsOutputs, OutputStationaryArray):
    """R x C output-stationary MixPE array: INT4 g128 weights x INT8 or FP16 activations."""

    drain_modes = (Drain.SERIAL, Drain.OVERLAPPED)
    a_bits: int = spec_field(IntIn(8, 16), "bits",
                             "activation width: 8 (W4A8, INT8) or 16 (W4A16, FP16) (unit: bits)")
    #: weight and accumulator/output widths (unit: bits); one scale/zero point per group
    group_size = G_SIZE
    b_bits = 4
    acc_bits = 32
    #: ``--arch mixpe --phase P``: the W4A16 preset for both phases (FP16 activations, the
    #: weight-only setting the BitMoD comparison runs every family in)
    phase_presets = {"prefill": "mixpe-w4a16", "decode": "mixpe-w4a16"}

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.a_bits not in (8, 16):
            raise ValueError(f"a_bits must be 8 (W4A8) or 16 (W4A16), not {self.a_bits!r}")

    @property
    def fmt(self) -> str:  # type: ignore[override]
        """The result column ``fmt``: ``w4a8`` or ``w4a16``."""
        return f"w4a{self.a_bits}"

    # ---- mapping (os: M on rows, N on cols, K streamed) -----------------------------------
    def dequant_end(self, streamed: int) -> int:
        """f_{G-1}: stream cycle at which a column's dequantizer finishes the last group."""
        done = 0
        for g in range(-(-streamed // G_SIZE)):
            done = max(min((g + 1) * G_SIZE, streamed), done) + self.rows
        return done

    def align_cycles(self, streamed: int) -> int:
        """W4A16 aligner look-ahead (unit: cycles): group 0's length ``min(K, 128)``, the
        delay of every beat into the integer datapath; 0 for W4A8 (module docstring)."""
        return min(streamed, G_SIZE) if self.a_bits == 16 else 0

    def fold_cycles(self, streamed: int, overlapped: bool = False) -> int:
        """Cycles of one fold streaming K = ``streamed`` (module docstring "Timing");
        ``overlapped``: a fold after the first with ``drain: overlapped``."""
        if overlapped:
            return max(streamed, -(-streamed // G_SIZE) * self.rows)
        return (self.rows + self.cols - 2 + self.dequant_end(streamed) + DEQUANT_LATENCY_CYCLES
                + self.align_cycles(streamed))

    @property
    def weight_format_name(self) -> str:
        """The ``models.formats`` name of this array's weights."""
        return "int4_g128"  # models.mixpe.WEIGHT_FORMAT (alias mixpe_w4)

    # ---- the four levels -----------------------------------------------------------------
    def golden(self, tile: Tile) -> np.ndarray:
        """FP32 outputs [M x N] of one tile, group by group (module docstring)."""
        return self.partial_sums(tile, np.zeros((tile.M, tile.N), np.float32))

    def round_output(self, acc: np.ndarray) -> np.ndarray:
        """Outputs leave as FP32: nothing to round."""
        return acc

    def partial_sums(self, tile: Tile, acc_in: np.ndarray) -> np.ndarray:
        """The tile's groups added to ``acc_in`` (float32 [M x N]) in order: a K split at
        group boundaries adds exactly what one tile over all of K adds."""
        self.check_tile(tile)
        a, w = tile.a, tile.b
        want = np.int8 if self.a_bits == 8 else np.float16
        if a.dtype != want or not isinstance(w, GroupWeights):
            raise TypeError(f"tile must hold a {np.dtype(want)} A and GroupWeights B, not "
                            f"{a.dtype} and {type(w).__name__}")
        if self.a_bits == 8:
            ai, u = a.astype(np.int64), np.zeros((tile.M, w.s.shape[0]), dtype=np.int64)
        else:
            ai, big_e = align_fp16(a)
            u = big_e - 10 - ALIGN_FRAC_BITS
        acc = np.array(acc_in, dtype=np.float32)
        q = np.asarray(w.q).astype(np.int64)
        for g in range(w.s.shape[0]):  # groups in order; all M x N outputs of a group at once
            ks = slice(g * G_SIZE, min((g + 1) * G_SIZE, tile.K))
            p = ai[:, ks] @ q[ks, :]
            s_sum = ai[:, ks].sum(axis=1)
            d = p - np.asarray(w.z[g, :]).astype(np.int64)[None, :] * s_sum[:, None]
            # exact in float64 (11-bit s times |d| < 2^30); one rounding to FP32
            t = np.ldexp(np.asarray(w.s[g, :]).astype(np.float64)[None, :] * d.astype(np.float64),
                         u[:, g][:, None]).astype(np.float32)
            acc = (acc + t).astype(np.float32)
        return acc

    def events(self, tile: Tile) -> dict[str, int]:
        """``mac_shift_add``: useful MACs; ``act_sum``: row-adder adds (M*K); ``dequant``:
        group results dequantized (M*N*G); ``act_align``: W4A16 activations aligned (M*K, 0
        for W4A8)."""
        groups = -(-tile.K // G_SIZE)
        return {"mac_shift_add": tile.M * tile.K * tile.N, "act_sum": tile.M * tile.K,
                "dequant": tile.M * tile.N * groups,
                "act_align": tile.M * tile.K if self.a_bits == 16 else 0}

    @property
    def _int_a_bits(self) -> int:
        """Width of the integer activation in the PE (unit: bits): 8, or 17 aligned (W4A16)."""
        return 8 if self.a_bits == 8 else 17

    def event_costs(self) -> dict[str, Cost | None]:
        """45 nm costs. No shifter anchor exists: a 4-bit shift-and-add multiplier is priced as
        an int4 x a-bits multiplier, an aligner as an adder of its width."""
        psum_bits = self._int_a_bits + 4 + 7   # 128 products of a x 4 bits
        return {"mac_shift_add": self.pe_cost(), "act_sum": int_add(psum_bits),
                "dequant": int_mult(4, psum_bits) + int_add(psum_bits + 1) + fp_mult(32)
                + fp_add(32),
                "act_align": int_add(16)}

    def pe_cost(self) -> Cost:
        """One PE's MAC at 45 nm: 4 x a shift-and-add multiplier + group psum adder."""
        psum_bits = self._int_a_bits + 4 + 7
        return int_mult(4, self._int_a_bits) + int_add(psum_bits)

    def layer_operands(self, layer: Any) -> list[tuple[np.ndarray, GroupWeights]]:
        """(A, GroupWeights B) per GEMM. B: a captured ``int4_g128`` weight as stored; any
        other B (int8 captures, seeded shape-only layers, the KV operand of attention matmuls)
        is encoded with the MixPE weight format from its real values. A: int8 codes (W4A8;
        int8 captures and seeded layers as they are, others encoded per token) or FP16."""
        from qaccel.models.operands import float_operands

        a_f, b_f = float_operands(layer)
        if self.a_bits == 16:
            a = fp16_format.encode(a_f, name=f"layer {layer.name} A").codes.view(np.float16)
        elif layer.act is None or layer.act.meta.get("format") == int8_format.NAME:
            a = layer.operands()[0]
        else:
            a = np.stack([int8_format.to_int8(int8_format.encode(x, "per_token"))
                          for x in a_f])
        w = layer.weight
        if (layer.op == "linear" and w is not None and layer.b_source == "weight"
                and w.meta.get("format") == WEIGHT_FORMAT.name):
            return [(a[0], GroupWeights.from_encoded(w))]
        return [(a[g], GroupWeights.from_float(b_f[g], f"layer {layer.name} B"))
                for g in range(a.shape[0])]
