"""Frozen hardware spec objects. They know nothing about YAML (see :mod:`qaccel.arch.loader`).

Units are in the field names: ``_kib`` kibibytes, ``_bits`` bits, ``_mhz`` megahertz,
``_pj_per_bit`` picojoules per bit, ``_nm`` nanometres.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum, StrEnum
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from qaccel.arch.fields import FloatIn, IntIn, OneOf, spec_field

__all__ = ["Dataflow", "Preload", "Drain", "DramTraffic", "MappingMode", "Buffer", "Dram",
           "Tech", "PEArray", "Accelerator", "SPEC_VERSION"]

SPEC_VERSION = 1


class Dataflow(StrEnum):
    """Which operand stays in the PEs: weights (ws), outputs (os) or inputs (is)."""

    WS = "ws"
    OS = "os"
    IS = "is"


class MappingMode(StrEnum):
    """How each layer's mapping is chosen: ``auto`` (the mapper searches the family's mapping
    space per layer, ``sim/mapper.py``), ``dataflow`` (the mapper keeps ``pe_array.dataflow``
    and searches loop order and stream tile: for sweeps over the dataflow) or ``fixed`` (the
    preset's dataflow, column blocks outer, the streamed dim untiled: SCALE-Sim's schedule)."""

    AUTO = "auto"
    DATAFLOW = "dataflow"
    FIXED = "fixed"


class Preload(StrEnum):
    """How a fold's stationary block reaches the PEs (ws/is dataflows).

    ``serial``: the R preload cycles run before the fold's stream (SCALE-Sim). ``overlapped``:
    double-buffered (shadow) stationary registers: the next fold's block shifts in while the
    current fold streams, so every fold but the first of a run hides its preload.
    """

    SERIAL = "serial"
    OVERLAPPED = "overlapped"


class Drain(StrEnum):
    """How an output-stationary (os) fold's results leave the PEs.

    ``serial``: a fold ends when its last result is done (``R + C + S - 2`` cycles, the skewed
    fill and drain included) and the next fold starts after it (SCALE-Sim). ``overlapped``:
    double-buffered (shadow) accumulators: each PE hands its result to a shadow register and
    starts the next fold's stream at once, the shadows draining while it runs, so every fold
    but the first of a run costs its stream, at least the R cycles a column of shadows takes
    to drain (a family's ``fold_cycles(S, overlapped=True)``). ws/is folds are unaffected.
    """

    SERIAL = "serial"
    OVERLAPPED = "overlapped"


@dataclass(frozen=True)
class Buffer:
    """One on-chip SRAM buffer."""

    size_kib: float = spec_field(FloatIn(0.125, 1 << 20), "KiB", "capacity (unit: KiB)")
    word_bits: int = spec_field(IntIn(8, 4096), "bits", "width of one access (unit: bits)")
    banks: int = spec_field(IntIn(1, 1024), "banks", "independent banks (unit: count)")

    @property
    def size_bytes(self) -> int:
        """Capacity (unit: bytes)."""
        return int(self.size_kib * 1024)


class DramTraffic(StrEnum):
    """How a layer's DRAM traffic is counted.

    ``buffers`` (default): what the mapping moves through the three buffers, fold by fold
    (``sim.plan``: each operand re-read when its reuse half cannot hold it; the reference
    engine simulates it, the fast engine's closed forms agree). ``layer_refetch``: a paper's
    whole-layer rule, not a schedule: each operand moves once, except that when the weights
    *and* the inputs both exceed their buffers' reuse halves, the cheaper of re-reading all
    weights once per input-buffer-full of inputs or all inputs once per weight-buffer-full
    of weights is charged (the BitMoD authors' simulator, ``bitmod_sim/accelerator.py``
    ``_calc_num_mem_refetch``, commit e445a5f; ``qaccel.sim.layer_refetch``). Compute
    cycles and the array-side SRAM accesses stay the mapping's.
    """

    BUFFERS = "buffers"
    LAYER_REFETCH = "layer_refetch"


@dataclass(frozen=True)
class Dram:
    """Off-chip memory seen through one channel."""

    bits_per_cycle: int = spec_field(IntIn(1, 1 << 16), "bits/cycle",
                                     "sustained bandwidth (unit: bits per accelerator cycle)")
    pj_per_bit: float = spec_field(FloatIn(0.01, 1000.0), "pJ/bit",
                                   "access energy (unit: pJ/bit)")
    #: capacity (unit: GiB); None: not checked. ``sim.run`` raises ConfigError when a
    #: trace's weights plus its KV cache do not fit (``qaccel.sim.kv``)
    capacity_gib: float | None = spec_field(FloatIn(0.001, float(1 << 20)), "GiB",
                                            "capacity (unit: GiB; optional)", default=None)
    #: how DRAM traffic is counted (:class:`DramTraffic`; default ``buffers``)
    traffic: DramTraffic = spec_field(OneOf(DramTraffic), "",
                                      "buffers (the mapping's, fold by fold) or layer_refetch "
                                      "(a paper's whole-layer rule)",
                                      default=DramTraffic.BUFFERS)
    #: with ``traffic: layer_refetch``: the bits per weight the rule charges (a paper's
    #: average, e.g. the BitMoD authors' ``w_prec`` 5.25: mixed-precision layers and
    #: metadata included; unit: bits); None: the array's stored width (B's bits plus its
    #: metadata per weight)
    weight_bits: float | None = spec_field(FloatIn(1.0, 64.0), "bits",
                                           "bits per weight the layer_refetch rule charges "
                                           "(unit: bits; optional)", default=None)


@dataclass(frozen=True)
class Tech:
    """Process technology the energy/area models scale to."""

    node_nm: int = spec_field(IntIn(3, 180), "nm", "technology node (unit: nm)")
    #: a paper's PE energy accounting: every PE of the array costs this much per compute
    #: cycle, busy or not (unit: pJ), in place of the PE events' prices (the edge decoders
    #: keep theirs); None (default): event-priced. E.g. the BitMoD authors' simulator charges
    #: ``pe_energy * PR_SCALING`` (1.5) per PE per compute cycle (``bitmod_sim/pe_array.py``)
    pe_pj_per_cycle: float | None = spec_field(
        FloatIn(0.0001, 1000.0), "pJ", "energy of every PE per compute cycle, a paper's "
        "accounting (unit: pJ; optional)", default=None)


@dataclass(frozen=True)
class PEArray:
    """Base of every PE family's parameter class: an R x C array of one kind of PE.

    A family subclasses this in ``arch/pe/<family>.py``, adds its own fields and registers
    with :func:`qaccel.arch.pe.register_pe`. The subclass links the family's levels through
    ``golden(tile)``, ``timing(tile)``, ``events(tile)`` and ``create()``.
    """

    family: ClassVar[str] = ""
    #: the number format the PEs compute on (the ``fmt`` result column)
    fmt: ClassVar[str] = ""
    #: levels this family does not have yet (level -> why), e.g. {"rtl": "issue 7"};
    #: the registry test accepts a missing level only when it is listed here
    absent_levels: ClassVar[dict[str, str]] = {}
    #: dataflows the hardware supports (the simulator's mapping space), first = default
    dataflows: ClassVar[tuple[Dataflow, ...]] = ()
    #: dataflows the family's RTL implements (a subset of ``dataflows``)
    rtl_dataflows: ClassVar[tuple[Dataflow, ...]] = ()
    #: preload modes the hardware has (``overlapped`` needs shadow stationary registers)
    preload_modes: ClassVar[tuple[Preload, ...]] = (Preload.SERIAL,)
    #: os drain modes the hardware has (``overlapped`` needs shadow accumulators)
    drain_modes: ClassVar[tuple[Drain, ...]] = (Drain.SERIAL,)
    #: whether a fold's partial sums may leave the array and come back (a K split in ``os``):
    #: false when the PEs keep state that the output buffer cannot hold exactly
    k_split: ClassVar[bool] = True
    #: a K split's stream tile must be a multiple of this (unit: elements)
    k_split_multiple: ClassVar[int] = 1
    #: weight metadata stored per group of ``group_size`` weights along K (unit: bits)
    meta_bits_per_group: ClassVar[int] = 0
    group_size: ClassVar[int] = 0
    #: published per-PE areas this family cites (``arch.published.PublishedArea``)
    published_area: ClassVar[tuple[Any, ...]] = ()
    #: the published PE energy this family cites (``arch.published.PublishedEnergy``) or None
    published_energy: ClassVar[Any] = None
    #: whether ratios of PE areas are taken to this family's PE (the FP16 baseline)
    area_reference: ClassVar[bool] = False
    #: whether this is the family commands use when none is named (exactly one family)
    default_family: ClassVar[bool] = False
    #: LLM phase -> the paper preset that runs it (``qaccel sim --arch <family> --phase``)
    phase_presets: ClassVar[dict[str, str]] = {}
    rows: int = spec_field(IntIn(1, 4096), "PEs", "array rows (unit: PEs)")
    cols: int = spec_field(IntIn(1, 4096), "PEs", "array columns (unit: PEs)")
    dataflow: Dataflow = spec_field(OneOf(Dataflow), "", "which operand is stationary")
    preload: Preload = spec_field(OneOf(Preload), "", "stationary preload: serial, or "
                                  "overlapped with the previous fold (shadow registers)",
                                  default=Preload.SERIAL, kw_only=True)
    drain: Drain = spec_field(OneOf(Drain), "", "os result drain: serial, or overlapped "
                              "with the next fold (shadow accumulators)",
                              default=Drain.SERIAL, kw_only=True)
    # (declared after the fields: a family may make them fields, e.g. bitfusion's widths)
    #: operand widths as stored in the buffers (unit: bits): activation, weight, output /
    #: partial sum; a family sets them as class constants or properties
    a_bits: ClassVar[int] = 0
    b_bits: ClassVar[int] = 0
    acc_bits: ClassVar[int] = 0

    def __post_init__(self) -> None:
        """Coerce ``dataflow`` / ``preload`` / ``drain`` given as strings (``"os"``) to their
        enums and check them against what this family's hardware has."""
        for name, kind in (("dataflow", Dataflow), ("preload", Preload), ("drain", Drain)):
            value = getattr(self, name)
            if not isinstance(value, kind):
                try:
                    object.__setattr__(self, name, kind(value))
                except ValueError:
                    allowed = ", ".join(repr(d.value) for d in kind)
                    raise ValueError(f"{name} must be one of {allowed}, not {value!r}") from None
        for name, allowed in (("dataflow", self.dataflows), ("preload", self.preload_modes),
                              ("drain", self.drain_modes)):
            value = getattr(self, name)
            if allowed and value not in allowed:
                names = ", ".join(repr(v.value) for v in allowed)
                raise ValueError(f"{name} must be one of {names} for the {self.family} array, "
                                 f"not {value.value!r}")

    def with_dataflow(self, dataflow: Dataflow) -> PEArray:
        """This array under another of its dataflows (what a mapping picks)."""
        return _with_dataflow(self, Dataflow(dataflow))

    @property
    def b_stored_bits(self) -> int:
        """Bits one B element occupies in the buffers and DRAM (unit: bits; the traffic
        model's width of B): ``b_bits`` unless a family stores more per element than its PEs
        compute on (group metadata is counted separately, ``meta_bits_per_group``)."""
        return self.b_bits

    @property
    def psum_bits(self) -> int:
        """Width of a partial sum carried between the chunks of a K split (unit: bits)."""
        return self.acc_bits

    @property
    def hides_preload(self) -> bool:
        """Whether folds after the first of a run overlap the previous fold: they hide their
        stationary preload (``preload: overlapped``, ws/is) or the previous fold's drain
        (``drain: overlapped``, os); the engines then charge them
        ``fold_cycles_of(..., overlapped=True)``."""
        if self.dataflow is Dataflow.OS:
            return self.drain is Drain.OVERLAPPED
        return self.preload is Preload.OVERLAPPED

    @property
    def weight_format_name(self) -> str:
        """The ``qaccel.models.formats`` name of the weights these PEs compute on (the
        sweeps' accuracy proxy encodes real weights with it)."""
        raise NotImplementedError(f"PE family {self.family!r} must define weight_format_name")

    @property
    def lanes(self) -> int:
        """Multipliers per PE (1 unless the family has dot-product PEs)."""
        return 1

    def kv_array(self, bits: int) -> PEArray:
        """The array as it runs a matmul whose B operand is the KV cache stored at ``bits``
        bits per element (``qaccel.arch.kv``): by default the PEs take a B no wider than
        their own ``b_bits`` at their own speed (widened at the array edge), and a wider one
        raises ``ValueError``. Families whose timing depends on B's width override this."""
        from qaccel.arch.kv import kv_view

        if bits > self.b_bits:
            raise ValueError(f"Cannot compute on a {bits}-bit KV cache on the {self.family} "
                             f"array because its B operand is at most {self.b_bits} bits")
        return kv_view(self, bits)

    def check_tile(self, tile: Any) -> None:
        """Raise ``ValueError`` when the tile does not fit one fold of this array: the dims
        on the rows and columns (``self.mapping``) must not exceed them."""
        row_dim, col_dim, _ = self.mapping
        dims = tile.dims
        if dims[row_dim] > self.rows or dims[col_dim] > self.cols:
            raise ValueError(
                f"Cannot run a tile of M={tile.M} K={tile.K} N={tile.N} on a {self.rows}x"
                f"{self.cols} {self.dataflow} array because {row_dim} must be <= {self.rows} "
                f"and {col_dim} <= {self.cols}")

    def fold_cycles_of(self, m: int, k: int, n: int, overlapped: bool = False) -> int:
        """Cycles of one fold whose tile is M=m, K=k, N=n (no memory stalls), the one timing
        basis of every family: the fold as the RTL runs it, fill and drain included;
        ``overlapped``: its stationary preload ran during the previous fold. Default:
        ``fold_cycles`` of the streamed extent (families override when other dims count)."""
        streamed = {"M": m, "K": k, "N": n}[self.mapping[2]]
        if overlapped:
            return self.fold_cycles(streamed, overlapped=True)
        return self.fold_cycles(streamed)

    def timing(self, tile: Any, overlapped: bool = False) -> int:
        """Cycles from a tile's cycle 0 to its ``done`` (one fold), no memory stalls:
        :meth:`fold_cycles_of` the tile. ``overlapped``: the tile's stationary preload ran
        during the previous tile of the batch (needs :attr:`hides_preload`)."""
        self.check_tile(tile)
        if overlapped and not self.hides_preload:
            what = "drain" if self.dataflow is Dataflow.OS else "preload"
            raise ValueError(f"Cannot overlap a tile's {what} on a {self.family} "
                             f"{self.dataflow.value} array because its {what} is "
                             f"{getattr(self, what).value!r}")
        return self.fold_cycles_of(tile.M, tile.K, tile.N, overlapped=overlapped)

    def batch_timing(self, tiles: Any) -> list[int]:
        """Cycles of each tile of a batch run back to back (the RTL's ``cycles`` after each
        ``done``): with ``preload: overlapped`` every tile after the first hides its
        stationary preload behind the previous tile; otherwise each is ``timing(tile)``."""
        hide = self.hides_preload
        return [self.timing(t, overlapped=hide and i > 0) for i, t in enumerate(tiles)]

    def rtl_absent_reason(self) -> str | None:
        """Why this array (these field values) has no RTL, or None when it has: the family's
        ``absent_levels["rtl"]``, or a mode of the family that the RTL does not cover."""
        if self.drain is Drain.OVERLAPPED and self.dataflow is Dataflow.OS:
            return ("no RTL for drain 'overlapped': the RTL arrays have no shadow "
                    "accumulators; the overlapped os drain is simulated (both engines) only")
        return self.absent_levels.get("rtl")

    def create(self, **kw: Any) -> Any:
        """The Amaranth array top of this array (``rtl/pe/<family>.py`` ``create(self, **kw)``;
        ``kw``: ``buffer_rows``, ``max_tiles``). Raises ``NotImplementedError`` with the reason
        when the family's RTL level is listed in ``absent_levels``."""
        reason = self.rtl_absent_reason()
        if reason is not None:
            raise NotImplementedError(f"The {self.family} array has no RTL: {reason}")
        from qaccel.arch.pe.registry import level_module

        return level_module(self.family, "rtl").create(self, **kw)

    # ---- how the reference fold loop assembles a GEMM's output from its folds ----------
    def output_accumulator(self, m: int, n: int) -> np.ndarray:
        """The output buffer of one GEMM before its first fold: integer partial sums."""
        return np.zeros((m, n), dtype=np.int64)

    def fold_merge(self, block: np.ndarray, tile: Any) -> np.ndarray:
        """The output block after one more fold: by default ``block + golden(tile)`` (integer
        partial sums over K folds; addition mod 2^32 is associative, so the order of folds
        does not matter). Families whose folds carry FP state or own whole outputs override."""
        return block + self.golden(tile)

    def finish_output(self, acc: np.ndarray) -> np.ndarray:
        """The GEMM's output from the accumulator: 32-bit accumulators wrap mod 2^32."""
        return acc.astype(np.int32)

    def layer_operands(self, layer: Any) -> list[tuple[Any, Any]]:
        """One (A, B) pair per GEMM of ``layer``, in the form this family's ``golden()`` and
        sim levels take: by default the signed int8 arrays of ``layer.operands()``
        (A [M x K], B [K x N]). Families whose PEs see more (group scales, type ids, FP16
        activations) override this; whatever they return must support 2-D slicing
        (``a[m0:m1, k0:k1]``) and ``.shape``, so the reference fold loop can cut tiles."""
        from qaccel.models.operands import int8_operands

        return int8_operands(layer)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"family": self.family}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.value if isinstance(v, Enum) else v
        return out


@lru_cache(maxsize=4096)
def _with_dataflow(pe: PEArray, dataflow: Dataflow) -> PEArray:
    return pe if pe.dataflow is dataflow else dataclasses.replace(pe, dataflow=dataflow)


@dataclass(frozen=True)
class Accelerator:
    """A whole accelerator: PE array, three buffers, DRAM, clock and technology."""

    name: str
    pe_array: PEArray
    weight_buffer: Buffer
    input_buffer: Buffer
    output_buffer: Buffer
    dram: Dram
    clock_mhz: float
    tech: Tech
    mapping: MappingMode = MappingMode.AUTO
    version: int = SPEC_VERSION
    #: the KV cache's format (attention's cached K and V, the B operand of the layers a trace
    #: marks ``kv_cache``), a ``qaccel.arch.kv`` name; None: B in the PE's own B format (the
    #: behaviour before the KV cache was its own operand)
    kv_format: str | None = None
    #: the on-chip buffer reserved for the KV cache (None: no such buffer, KV lives in DRAM)
    kv_buffer: Buffer | None = None
    #: the vector unit that runs the non-GEMM layers (``qaccel.arch.vector``); None: the
    #: default one (:meth:`vector`)
    vector_unit: Any = None

    def vector(self) -> Any:
        """The vector unit: ``vector_unit``, or ``arch.vector.default_vector_unit``."""
        if self.vector_unit is not None:
            return self.vector_unit
        from qaccel.arch.vector import default_vector_unit

        return default_vector_unit(self.pe_array)

    @property
    def family(self) -> str:
        return self.pe_array.family

    def replace_array(self, **changes: Any) -> Accelerator:
        """A copy with some PE-array fields changed (e.g. ``dataflow="os"``), re-validated."""
        from qaccel.arch.loader import load_accelerator

        data = self.to_dict()
        data["pe_array"].update({k: (v.value if isinstance(v, Enum) else v)
                                 for k, v in changes.items()})
        return load_accelerator(data)

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :func:`qaccel.arch.load_accelerator` turns back into this object."""
        return {
            "version": self.version,
            "name": self.name,
            "clock_mhz": self.clock_mhz,
            "pe_array": self.pe_array.to_dict(),
            "buffers": {k: dataclasses.asdict(getattr(self, f"{k}_buffer"))
                        for k in ("weight", "input", "output", "kv")
                        if getattr(self, f"{k}_buffer") is not None},
            "dram": {k: (v.value if isinstance(v, Enum) else v)
                     for k, v in dataclasses.asdict(self.dram).items()
                     if v is not None and v is not DramTraffic.BUFFERS},   # defaults left out
            "tech": {k: v for k, v in dataclasses.asdict(self.tech).items() if v is not None},
            "mapping": self.mapping.value,
            **({"kv_format": self.kv_format} if self.kv_format is not None else {}),
            **({"vector_unit": self.vector_unit.to_dict()}
               if self.vector_unit is not None else {}),
        }

    def with_kv_format(self, name: str | None) -> Accelerator:
        """A copy whose KV cache is in format ``name`` (re-validated: ConfigError at
        ``kv_format`` when the PEs cannot compute on it)."""
        from qaccel.arch.loader import load_accelerator

        data = self.to_dict()
        data.pop("kv_format", None)
        if name is not None:
            data["kv_format"] = name
        return load_accelerator(data)
