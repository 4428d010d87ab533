"""OliVe: outlier-victim pair quantization, 4- and 8-bit (DESIGN.md "Formats"; Guo et al.,
ISCA 2023, github clevercool/ANT-Quantization ``olive_quantization``).

Values are in integer units of the scale (``value * scale`` is the real number), so the
hardware decoder outputs integers (a significand and a left shift):

=========  =====================================  ===============================================
type       normal magnitudes (code = rank)         outlier (abfloat) magnitudes
=========  =====================================  ===============================================
int4       0..7                                    (2 + m) << (e + 2): 12 16 24 32 48 64 96
flint4     {0, 1, 2, 3, 4, 6, 8, 16}               (2 + m) << (e + 3): 24 32 48 64 96 128 192
int8       0..127                                  (32 + m) << (e + 2): 132 136 ... 2016
=========  =====================================  ===============================================

(flint4 is ANT's {0, .25, ..., 2, 4} times 4.) An outlier is ``2^(e + bias) * (1 + m / 2^M)``
with a 2-bit exponent ``e``, ``M = bits - 3`` mantissa bits and ``bias = log2`` of the first
value past the normal range (8, 16 or 128); ``e = m = 0`` (that value itself) is never
produced, as in the authors' ``outlier_value``, so no outlier code equals 0 or the victim code.

Bit layout (low ``bits`` bits of a ``uint8``), sign-magnitude: the top bit is the sign; a
normal value's magnitude bits are its rank in the normal table (for flint this is ANT's
first-one code), an outlier's are ``e << M | m``; the victim code is the normal type's -0,
``1 << (bits - 1)`` (``0x8`` / ``0x80``). :func:`decode_pair` is the pair decoder as a pure
function; the RTL decoder is checked against it.

Encoding, with scale ``s``: pairs are adjacent elements along the last axis (an odd last
element is unpaired and only takes normal values). Each element goes to the nearest entry of
normal + outlier magnitudes with its sign (``x / s`` in float64; a value exactly halfway goes
to the larger magnitude, which is what the authors' kernel does for positive values and at the
normal/outlier boundary). If one element of a pair is an outlier, its partner becomes the
victim (value 0, victim code); if both are, the one with the larger ``|x|`` stays (the first on
a tie; the authors keep the first one unconditionally) and the other is the victim.

Scale: ``s = clip / max normal magnitude`` with ``clip = r * base``, ``base = max(|mean +
3 std|, |mean - 3 std|)`` (the authors' starting point; max|x| if that is 0) and ``r`` the
ratio of ``clip_ratios`` with the smallest squared error of the encoded tensor (default: the
authors' r = 0.75, 0.77, ..., 2.49; ties: the first ratio).
DESIGN.md asks for one scale per tensor (``granularity="per_tensor"``, the default); the
authors use one per output channel for weights (``"per_channel"``). ``normal="auto"`` picks
int or flint for 4 bits by the same error (ties: int; 8 bits is always int, as the authors
force). The search scores ``x / base`` in float64 through
:class:`qaccel.models.search.Buckets`; the chosen scale is rounded once to float32
(floor 2^-149; small enough that the largest outlier times it stays finite); a tensor of
zeros gets scale 1.0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from qaccel.errors import ConfigError
from qaccel.models.encoded import Encoded
from qaccel.models.lazy import lazy_names
from qaccel.models.numerics import F32_MAX, F32_TINY, FormatConfig, Grid, Tie, as_real

#: the numba kernels, imported when an encoder first runs (qaccel.models.lazy)
pair_buckets, pair_candidates, pair_codes, victim_terms = lazy_names(
    "qaccel.models.format_kernels", "pair_buckets", "pair_candidates", "pair_codes", "victim_terms")
Lut, flat, row_moments = lazy_names("qaccel.models.kernels", "Lut", "flat", "row_moments")
Buckets, thresholds = lazy_names("qaccel.models.search", "Buckets", "thresholds")

__all__ = ["OliVe", "FAMILY", "Spec", "spec", "decode_pair", "decode_pairs", "pair_tables"]

FAMILY = "olive"
GRANULARITIES = ("per_tensor", "per_channel")
#: the authors' clip search: 0.75, 0.77, ..., 2.49 times the 3-sigma base
DEFAULT_CLIP_RATIOS = tuple(i / 100 for i in range(75, 250, 2))


@dataclass(frozen=True)
class Spec:
    """One normal type with its abfloat outliers (all magnitudes in units of the scale)."""

    bits: int
    normal: str
    normal_mags: tuple[int, ...]
    bias: int           #: log2 of the first magnitude past the normal range
    mant_bits: int      #: M, mantissa bits of an outlier

    @property
    def mag_bits(self) -> int:
        return self.bits - 1

    @property
    def victim(self) -> int:
        """The victim code: the normal type's -0."""
        return 1 << self.mag_bits

    def outlier_mag(self, mag_code: int) -> int:
        """Magnitude of an outlier's magnitude bits ``e << M | m``."""
        e, m = mag_code >> self.mant_bits, mag_code & ((1 << self.mant_bits) - 1)
        return ((1 << self.mant_bits) + m) << (e + self.bias - self.mant_bits)

    @property
    def outlier_mags(self) -> tuple[int, ...]:
        """Produced outlier magnitudes, ascending (magnitude code 0 left out)."""
        return tuple(self.outlier_mag(c) for c in range(1, 1 << self.mag_bits))


def spec(bits: int, normal: str) -> Spec:
    """The normal/outlier tables of ``bits`` (4 or 8) and ``normal`` ("int"/"flint")."""
    if (bits, normal) == (4, "int"):
        return Spec(4, "int", tuple(range(8)), 3, 1)
    if (bits, normal) == (4, "flint"):
        return Spec(4, "flint", (0, 1, 2, 3, 4, 6, 8, 16), 4, 1)
    if (bits, normal) == (8, "int"):
        return Spec(8, "int", tuple(range(128)), 7, 5)
    raise ConfigError.single("olive normal", f"must be 'int' or 'flint' with 4 bits or 'int' "
                             f"with 8 bits, not {normal!r} with {bits!r} bits")


def decode_pair(code_a: int, code_b: int, *, bits: int = 4,
                normal: str = "int") -> tuple[int, int]:
    """The pair decoder: two codes -> two values in integer units of the scale.

    A victim code on one side makes the other side an abfloat outlier and this side 0;
    otherwise both are normal values. Two victim codes (never produced) decode to (0, 0).
    """
    sp = spec(bits, normal)
    mask = (1 << sp.mag_bits) - 1
    for c in (code_a, code_b):
        if not 0 <= c < 1 << bits:
            raise ValueError(f"OliVe code must be in 0..{(1 << bits) - 1}, not {c!r}")

    def signed(code: int, mag: int) -> int:
        return -mag if code >> sp.mag_bits else mag

    if code_a == sp.victim and code_b == sp.victim:
        return 0, 0
    if code_b == sp.victim:
        return signed(code_a, sp.outlier_mag(code_a & mask)), 0
    if code_a == sp.victim:
        return 0, signed(code_b, sp.outlier_mag(code_b & mask))
    return (signed(code_a, sp.normal_mags[code_a & mask]),
            signed(code_b, sp.normal_mags[code_b & mask]))


def pair_tables(sp: Spec) -> tuple[np.ndarray, np.ndarray]:
    """(normal, outlier): value of every code read as a normal / as an outlier (int64)."""
    codes = np.arange(1 << sp.bits)
    mags = codes & ((1 << sp.mag_bits) - 1)
    sign = np.where(codes >> sp.mag_bits, -1, 1)
    normal = sign * np.asarray(sp.normal_mags)[mags]
    outlier = sign * np.array([sp.outlier_mag(int(c)) for c in mags])
    return normal.astype(np.int64), outlier.astype(np.int64)


def decode_pairs(codes: np.ndarray, bits: int, normal: str) -> np.ndarray:
    """Vectorized :func:`decode_pair` over the last axis (pairs 0-1, 2-3, ...; an odd last
    code is a lone normal value): int64 values of the codes' shape."""
    sp = spec(bits, normal)
    norm, out = pair_tables(sp)
    c = codes.astype(np.intp)
    vals = norm[c]
    k = c.shape[-1] - c.shape[-1] % 2
    a, b = c[..., 0:k:2], c[..., 1:k:2]
    va, vb = vals[..., 0:k:2], vals[..., 1:k:2]
    both = (a == sp.victim) & (b == sp.victim)
    va = np.where(b == sp.victim, out[a], np.where(a == sp.victim, 0, va))
    vb = np.where(a == sp.victim, out[b], np.where(b == sp.victim, 0, vb))
    vals[..., 0:k:2] = np.where(both, 0, va)
    vals[..., 1:k:2] = np.where(both, 0, vb)
    return vals


@dataclass(frozen=True)
class OliVe(FormatConfig):
    """OliVe outlier-victim pair format; see the module docstring."""

    bits: int = 4
    normal: str = "auto"
    granularity: str = "per_tensor"
    clip_ratios: tuple[float, ...] = field(default=DEFAULT_CLIP_RATIOS, repr=False)
    family: ClassVar[str] = FAMILY
    version: ClassVar[int] = 1

    def __post_init__(self) -> None:
        if isinstance(self.bits, bool) or self.bits not in (4, 8):
            raise ConfigError.single("olive bits", f"must be 4 or 8, not {self.bits!r}")
        if self.normal != "auto":
            spec(self.bits, self.normal)
        if self.granularity not in GRANULARITIES:
            raise ConfigError.single("olive granularity", f"must be one of "
                                     f"{', '.join(map(repr, GRANULARITIES))}, not "
                                     f"{self.granularity!r}")
        if not self.clip_ratios or any(not 0 < r for r in self.clip_ratios):
            raise ConfigError.single("olive clip_ratios", f"must be positive numbers, not "
                                     f"{self.clip_ratios!r}")

    @property
    def name(self) -> str:
        """``olive4`` / ``olive8``, ``_int`` / ``_flint`` if fixed, ``_pc`` if per channel."""
        normal = "" if self.normal == "auto" else f"_{self.normal}"
        return f"olive{self.bits}{normal}{'_pc' if self.granularity == 'per_channel' else ''}"

    NAME = property(lambda self: self.name)
    BITS = property(lambda self: self.bits)

    @property
    def normals(self) -> tuple[str, ...]:
        if self.normal != "auto":
            return (self.normal,)
        return ("int", "flint") if self.bits == 4 else ("int",)

    def values(self, normal: str | None = None) -> np.ndarray:
        """Every value one element can take (normal and outlier, both signs), ascending, in
        integer units of the scale (float32)."""
        sp = spec(self.bits, normal or self.normals[0])
        mags = np.array(sp.normal_mags + sp.outlier_mags, dtype=np.float64)
        return np.concatenate([-mags[:0:-1], mags]).astype(np.float32)

    def _search(self, pairs: _PairRows, sp: Spec) -> tuple[np.ndarray, np.ndarray]:
        """Best ratio and squared error per row (see :class:`_PairRows`).

        Per pair the error is ``e_all(hi) + e_normal(lo)``, or ``e_all(hi) + lo^2`` when
        ``hi`` is an outlier (the larger one stays, the smaller is the victim), so the total
        is ``E_all(hi) + E_normal(lo) + E_normal(lone)`` corrected on the (few) outlier pairs.
        """
        comb = np.array(sp.normal_mags + sp.outlier_mags, dtype=np.float64)
        norm = np.array(sp.normal_mags, dtype=np.float64)
        cut = _cut(sp)                                   # |u| / step >= cut: an outlier
        nrows = pairs.hi.rows
        steps = np.array([r / norm[-1] for r in self.clip_ratios])
        lut = Lut(Grid(norm, Tie.UPPER).mids, pairs.cand_row.size)
        from numba import get_num_threads  # loaded with the kernels already
        terms, hit = victim_terms(pairs.cand_row, pairs.cand_hi, pairs.cand_lo, nrows, steps,
                                  np.argsort(steps, kind="stable"), cut, norm, *lut.args,
                                  2 * get_num_threads(), work=pairs.cand_row.size * steps.size)
        errs = (pairs.hi.sq_errors(comb, steps) + pairs.lo.sq_errors(norm, steps)
                + pairs.lone.sq_errors(norm, steps))
        best_err = np.full(nrows, np.inf)
        best_r = np.ones(nrows)
        for i, r in enumerate(self.clip_ratios):
            err = errs[i]
            if hit[i]:  # the victims: e_normal(lo) becomes lo^2
                err = err + terms[i]
            win = err < best_err
            best_err = np.where(win, err, best_err)
            best_r = np.where(win, r, best_r)
        return best_r, best_err

    def encode(self, x: np.ndarray, *, name: str = "tensor") -> Encoded:
        """Codes (pairs along the last axis) and per-tensor (or per-channel) float32 scales."""
        x = as_real(x, name, rows=True)
        per_channel = self.granularity == "per_channel"
        if per_channel and x.ndim < 2:
            raise ConfigError.single(name, f"must have at least two axes for per_channel "
                                     f"scales (channels x pairs), not shape {x.shape}")
        xk = flat(x)
        nrows = x.shape[0] if per_channel else 1
        keep = (x.shape[0],) + (1,) * (x.ndim - 1) if per_channel else (1,) * x.ndim
        n = x.size // nrows if nrows else 0
        base = _base(xk, nrows, n)
        # the lowest outlier cut of any candidate, with a margin for rounding
        floor = 0.999 * min(min(self.clip_ratios) * _cut(spec(self.bits, nm))
                            / spec(self.bits, nm).normal_mags[-1] for nm in self.normals)
        pairs = _PairRows(xk, nrows, n, x.shape[-1], base[:, 0], floor,
                          [spec(self.bits, nm) for nm in self.normals], self.clip_ratios)
        best = None
        for normal in self.normals:
            sp = spec(self.bits, normal)
            ratios, errs = self._search(pairs, sp)
            total = float(np.sum(errs * base[:, 0] ** 2))
            if best is None or total < best[0]:
                best = (total, sp, ratios)
        _, sp, ratios = best
        biggest = float(sp.outlier_mags[-1])
        scale64 = ratios[:, None] * base / sp.normal_mags[-1]
        scales = scale64.astype(np.float32)
        scales = np.where(scales.astype(np.float64) * biggest > F32_MAX,
                          np.float32(F32_MAX / biggest), scales)
        scales = np.where(base == 0, np.float32(1.0), np.maximum(scales, np.float32(F32_TINY)))
        scales = np.asarray(scales, dtype=np.float32).reshape(keep)
        mags = np.array(sp.normal_mags + sp.outlier_mags, dtype=np.float64)
        nmag = len(sp.normal_mags)
        comb = Lut(Grid(mags, Tie.UPPER).mids, x.size)
        norm = Lut(Grid(mags[:nmag], Tie.UPPER).mids)
        codes = pair_codes(xk, nrows, n, x.shape[-1], scales.astype(np.float64).reshape(-1),
                           nmag, sp.mag_bits, sp.victim, *comb.args, *norm.args)
        meta: dict[str, Any] = {"format": self.name, "family": FAMILY, "bits": self.bits,
                                "normal": sp.normal, "granularity": self.granularity,
                                "axis": 0 if per_channel else None, "pairs_axis": -1}
        return Encoded(codes.reshape(x.shape), scales, meta)

    def decode(self, enc: Encoded) -> np.ndarray:
        return decode(enc)

    def bits_per_weight(self, metadata_bits: int | None = None) -> float:
        """Storage per element (unit: bits); per-tensor or per-channel scales are not counted
        (there is no group, so ``metadata_bits`` is ignored)."""
        return float(self.bits)


class _PairRows:
    """The search's view of ``|x / base|`` per row: bucket sums (:class:`Buckets`) of the
    larger (``hi``) and smaller (``lo``) magnitude of each pair and of the unpaired values,
    on every threshold the searches of ``specs`` over ``ratios`` ask about, plus the pairs
    whose ``hi`` reaches ``floor`` (the lowest outlier cut of any candidate scale), in
    row-major order."""

    def __init__(self, xk: np.ndarray, rows: int, n: int, k: int, base: np.ndarray,
                 floor: float, specs: list[Spec], ratios: tuple[float, ...]) -> None:
        want_hi, want_lo = [], []
        for sp in specs:
            norm = np.array(sp.normal_mags, dtype=np.float64)
            comb = np.array(sp.normal_mags + sp.outlier_mags, dtype=np.float64)
            for r in ratios:
                want_hi.append(thresholds(comb, r / norm[-1]))
                want_lo.append(thresholds(norm, r / norm[-1]))
        th = Lut(np.unique(np.concatenate(want_hi)), n * rows // 2)
        tl = Lut(np.unique(np.concatenate(want_lo)), n * rows // 2)
        hi, lo, lone, ncand = pair_buckets(xk, rows, n, k, base, floor, *th.args, *tl.args)
        self.hi = Buckets(th.t, hi[..., 0], hi[..., 1], hi[..., 2])
        self.lo = Buckets(tl.t, lo[..., 0], lo[..., 1], lo[..., 2])
        self.lone = Buckets(tl.t, lone[..., 0], lone[..., 1], lone[..., 2])
        self.floor = floor
        self.cand_row, self.cand_hi, self.cand_lo = pair_candidates(xk, rows, n, k, base,
                                                                    floor, ncand)


def _cut(sp: Spec) -> float:
    """Midpoint of the largest normal and the smallest outlier magnitude."""
    return (sp.normal_mags[-1] + sp.outlier_mags[0]) / 2


def _base(xk: np.ndarray, rows: int, n: int) -> np.ndarray:
    """Per row of the flat ``xk``: max(|mean + 3 std|, |mean - 3 std|) (unbiased std),
    max|x| if that is 0 (rows x 1, float64; NumPy's mean and std, in its summation order)."""
    mean, std, amax = (a[:, None] for a in row_moments(xk, rows, n))
    base = np.maximum(np.abs(mean + 3 * std), np.abs(mean - 3 * std))
    base = np.where(base > 0, base, amax)
    return np.where(np.isfinite(base), base, amax)


def encode_pairs(v: np.ndarray, ax: np.ndarray, sp: Spec) -> np.ndarray:
    """Codes of ``v = x / s`` (float64, pairs along the last axis); ``ax = |x|`` decides
    which of two outliers stays."""
    nmag = len(sp.normal_mags)
    mags = np.array(sp.normal_mags + sp.outlier_mags, dtype=np.float64)
    comb = Grid(mags, Tie.UPPER)
    av = np.abs(v)
    idx = comb.index(av)                                  # rank among all magnitudes
    outlier = idx >= nmag
    sign = np.where(v < 0, 1 << sp.mag_bits, 0)
    normal_code = np.where(idx == 0, 0, sign | np.minimum(idx, nmag - 1))
    # outlier magnitude code: rank among outliers + 1 (code 0, the threshold, is skipped)
    outlier_code = sign | (idx - nmag + 1)
    codes = np.where(outlier, outlier_code, normal_code)
    k = v.shape[-1]
    kp = k - k % 2
    if kp < k:  # a lone last element takes the nearest normal value
        lone = np.minimum(Grid(mags[:nmag], Tie.UPPER).index(av[..., kp:]), nmag - 1)
        codes[..., kp:] = np.where(lone == 0, 0, sign[..., kp:] | lone)
    oa, ob = outlier[..., 0:kp:2], outlier[..., 1:kp:2]
    keep_a = ax[..., 0:kp:2] >= ax[..., 1:kp:2]
    victim_a = ob & (~oa | ~keep_a)       # b stays an outlier and a gives way
    victim_b = oa & (~ob | keep_a)
    ca, cb = codes[..., 0:kp:2], codes[..., 1:kp:2]
    codes[..., 0:kp:2] = np.where(victim_a, sp.victim, ca)
    codes[..., 1:kp:2] = np.where(victim_b, sp.victim, cb)
    return codes.astype(np.uint8)


def decode(enc: Encoded) -> np.ndarray:
    """float32 values of any OliVe Encoded: pair-decoded integers times the scale (float64,
    rounded once)."""
    if enc.meta.get("family") != FAMILY:
        raise ValueError(f"Encoded family must be {FAMILY!r}, not {enc.meta.get('family')!r}")
    ints = decode_pairs(enc.codes, int(enc.meta["bits"]), enc.meta["normal"])
    return (ints * enc.scales.astype(np.float64)).astype(np.float32)
