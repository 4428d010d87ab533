"""Traces: the GEMM layers of one model run (DESIGN.md "Trace contract").

Every layer is ``out[M x N] = A[M x K] . B[K x N]`` (A the activation, B the weight or, for
activation x activation matmuls, a second activation), repeated ``count`` times:

- ``linear``: one GEMM. M = product of the input's leading dims (tokens x batch), K = in
  features, N = out features. Stored: ``act`` codes [M, K], ``weight`` codes [N, K] (as
  PyTorch stores an nn.Linear weight).
- ``conv2d``: lowered by im2col, ``conv_groups`` GEMMs of M = batch x Hout x Wout,
  K = Cin/groups x kh x kw, N/groups. Stored: the raw input codes [batch, Cin, H, W] and
  weight codes [Cout, Cin/groups, kh, kw]; im2col happens in :meth:`Layer.operands`.
- ``matmul``: ``meta["batch"]`` independent GEMMs (the product of the broadcast batch dims,
  e.g. batch x heads for attention). Stored: ``act`` codes of shape ``meta["a_shape"]``
  (batch dims + [M, K]) and either ``act_b`` codes of shape ``meta["b_shape"]`` (batch dims +
  [K, N], ``meta["b_source"] == "activation"``) or ``weight`` codes [N, K]
  (``meta["b_source"] == "weight"``). Batch dims broadcast as in ``torch.matmul``.

- ``vector``: a non-GEMM operator (``qaccel.models.vector_capture``): ``M`` rows of ``N``
  elements each, reduced along rows of ``K`` elements (``K = N`` for softmax and the norms,
  1 for elementwise ops). ``meta``: ``vop`` (one of :data:`VECTOR_OPS`), ``inputs`` (tensor
  operands read, 1 or 2), ``in_dtype`` / ``out_dtype``. No MACs, no stored tensors.

Layer ``meta`` keys (all JSON): ``batch``, ``a_shape``, ``b_shape``, ``b_source``; conv:
``kernel`` [kh, kw], ``stride`` [sh, sw], ``padding`` [top, bottom, left, right] (pixels),
``dilation`` [dh, dw]; matmul: ``batch_shape``; activation x activation matmuls in an
attention module: ``kv_cache`` ("B": the B operand is the cached K or V). Shape-only layers
(meta-device capture) carry no Encoded tensors but ``seed`` and ``generator`` (see
:func:`qaccel.models.lowering.generate`), so their values are produced on demand.

On disk a trace is a folder: ``manifest.json`` ({"schema": "qaccel.trace", "version": 1,
"meta": ..., "layers": [...]}) and ``tensors.safetensors`` holding each Encoded tensor as
``"<layer index>.<weight|act|act_b>.codes"`` and ``".scales"``, plus
``".extra.<key>"`` for each array of ``Encoded.extra`` (whose keys the manifest lists under
``"extra"``; the entry is left out when there are none).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import safetensors.numpy

from qaccel.errors import ConfigError, Problem
from qaccel.fileio import atomic_path, atomic_write_text
from qaccel.models import int8
from qaccel.models.encoded import Encoded
from qaccel.models.lowering import conv_weight_gemm, generate, im2col

__all__ = ["OPS", "VECTOR_OPS", "Layer", "Trace"]

OPS = ("linear", "conv2d", "matmul", "vector")
#: kinds of vector layer (``meta["vop"]``): non-GEMM operators run on the vector unit
VECTOR_OPS = ("softmax", "layernorm", "rmsnorm", "gelu", "silu", "mul", "add", "rotary",
              "scale", "mask")
ROLES = ("weight", "act", "act_b")
SCHEMA = "qaccel.trace"
VERSION = 1
MANIFEST = "manifest.json"
TENSORS = "tensors.safetensors"


@dataclass(eq=False)
class Layer:
    """One GEMM layer (or ``gemm_shape()[0]`` identical-shape GEMMs) of a trace."""

    name: str
    op: str
    M: int  # noqa: N815 - GEMM notation
    K: int  # noqa: N815
    N: int  # noqa: N815
    conv_groups: int = 1
    weight: Encoded | None = None
    act: Encoded | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    #: B operand of an activation x activation matmul (None otherwise)
    act_b: Encoded | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError.single("layer name", f"must be a non-empty string, not "
                                     f"{self.name!r}")
        where = f"layer {self.name}"
        if not isinstance(self.op, str) or self.op not in OPS:
            raise ConfigError.single(f"{where} op", f"must be one of {', '.join(OPS)}, "
                                     f"not {self.op!r}")
        for key in ("M", "K", "N", "conv_groups"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ConfigError.single(f"{where} {key}",
                                         f"must be a positive int, not {value!r}")
            setattr(self, key, int(value))
        if self.N % self.conv_groups:
            raise ConfigError.single(f"{where} conv_groups", f"must divide N={self.N}, "
                                     f"not {self.conv_groups!r}")
        if self.op == "vector" and self.meta.get("vop") not in VECTOR_OPS:
            raise ConfigError.single(f"{where} meta.vop", f"must be one of "
                                     f"{', '.join(VECTOR_OPS)}, not {self.meta.get('vop')!r}")
        if self.op != "conv2d" and self.conv_groups != 1:
            raise ConfigError.single(f"{where} conv_groups", f"must be 1 for a {self.op} "
                                     f"layer, not {self.conv_groups!r}")

    @property
    def batch(self) -> int:
        """Independent GEMMs of a batched matmul (1 for linear and conv2d)."""
        return int(self.meta.get("batch", 1))

    def gemm_shape(self) -> tuple[int, int, int, int]:
        """(count, M, K, N_each): ``count`` GEMMs of M x K . K x N_each."""
        if self.op == "conv2d":
            return self.conv_groups, self.M, self.K, self.N // self.conv_groups
        if self.op == "matmul":
            return self.batch, self.M, self.K, self.N
        return 1, self.M, self.K, self.N

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the whole layer (0 for a vector layer)."""
        if self.op == "vector":
            return 0
        return math.prod(self.gemm_shape())

    @property
    def elements(self) -> int:
        """Elements a vector layer produces (``M x N``; for GEMMs the output's too)."""
        count, m, _, n = self.gemm_shape()
        return count * m * n

    @property
    def b_source(self) -> str:
        """Where operand B comes from: "weight" or "activation" (``act_b``)."""
        default = "activation" if self.act_b is not None else "weight"
        return str(self.meta.get("b_source", default))

    @property
    def has_values(self) -> bool:
        """True if operand values exist: captured codes, or a seed to generate them from."""
        if self.op == "vector":
            return False
        b = self.act_b if self.b_source == "activation" else self.weight
        return (self.act is not None and b is not None) or "seed" in self.meta

    def _codes(self) -> tuple[np.ndarray, np.ndarray]:
        """Signed int8 values of A and B in their stored shapes (see module docstring)."""
        b_enc = self.act_b if self.b_source == "activation" else self.weight
        if self.act is not None and b_enc is not None:
            for role, enc in (("act", self.act), ("B", b_enc)):
                if enc.meta.get("format") != int8.NAME:  # bad input: a ConfigError (exit 2)
                    raise ConfigError.single(f"layer {self.name} {role}", f"must hold int8 "
                                             f"codes to form int8 operands, not format "
                                             f"{enc.meta.get('format')!r}")
            return int8.to_int8(self.act), int8.to_int8(b_enc)
        if "seed" in self.meta:
            spec = self.meta["generator"]
            return (generate(self.meta["a_shape"], self.meta["seed"], 0, spec),
                    generate(self.meta["b_shape"], self.meta["seed"], 1, spec))
        raise ValueError(f"Cannot form operands of layer {self.name} because it holds "
                         f"neither captured values nor a seed")

    def operands(self) -> tuple[np.ndarray, np.ndarray]:
        """A int8 [count, M, K] and B int8 [count, K, N_each] (C-contiguous)."""
        return self.gemm_operands(*self._codes())

    def gemm_operands(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A [count, M, K] and B [count, K, N_each] (C-contiguous) from operand values ``a``
        and ``b`` in their stored shapes (any dtype): im2col, weight transposes, batch
        broadcasts."""
        count, m, k, n = self.gemm_shape()
        if self.op == "linear":
            a_g, b_g = a.reshape(1, m, k), b.T.reshape(1, k, n)
        elif self.op == "conv2d":
            meta = self.meta
            a_g = im2col(a, meta["kernel"], meta["stride"], meta["padding"], meta["dilation"],
                         self.conv_groups)
            b_g = conv_weight_gemm(b, self.conv_groups)
        else:
            if self.b_source == "weight":
                b = b.T  # stored N x K
            batch_shape = tuple(self.meta.get("batch_shape", ()))
            a_g = np.broadcast_to(a, batch_shape + (m, k)).reshape(count, m, k)
            b_g = np.broadcast_to(b, batch_shape + (k, n)).reshape(count, k, n)
        if a_g.shape != (count, m, k) or b_g.shape != (count, k, n):  # bad input: exit 2
            raise ConfigError.single(f"layer {self.name}", f"must store operands that form "
                                     f"{(count, m, k)} and {(count, k, n)} GEMM operands, "
                                     f"not A {a_g.shape} and B {b_g.shape}")
        return np.ascontiguousarray(a_g), np.ascontiguousarray(b_g)

    def __repr__(self) -> str:
        count, m, k, n = self.gemm_shape()
        times = f"{count} x " if count > 1 else ""
        values = "values" if self.has_values else "shapes only"
        return f"Layer({self.name!r}, {self.op}, {times}{m}x{k}x{n}, {values})"


@dataclass(eq=False)
class Trace:
    """The GEMM layers of one model run, in execution order, plus JSON ``meta``."""

    layers: list[Layer]
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for layer in self.layers:
            if layer.name in seen:
                raise ConfigError.single("layers", f"names must be unique, not "
                                         f"{layer.name!r} twice")
            seen.add(layer.name)

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __getitem__(self, key: int | str) -> Layer:
        if isinstance(key, str):
            for layer in self.layers:
                if layer.name == key:
                    return layer
            raise KeyError(key)
        return self.layers[key]

    def to_frame(self) -> pd.DataFrame:
        """One row per layer: name, op, M, K, N, conv_groups, batch, has_values."""
        rows = [{"name": ly.name, "op": ly.op, "M": ly.M, "K": ly.K, "N": ly.N,
                 "conv_groups": ly.conv_groups, "batch": ly.batch,
                 "has_values": ly.has_values} for ly in self.layers]
        columns = ["name", "op", "M", "K", "N", "conv_groups", "batch", "has_values"]
        return pd.DataFrame(rows, columns=columns)

    def save(self, folder: str | Path) -> Path:
        """Write ``manifest.json`` and ``tensors.safetensors`` into ``folder`` (created),
        each atomically (a temporary file renamed into place), the manifest last."""
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise ConfigError.single("trace folder", f"must be a folder, not the file "
                                     f"{str(folder)!r}")
        folder.mkdir(parents=True, exist_ok=True)
        tensors: dict[str, np.ndarray] = {}
        layers = []
        for i, ly in enumerate(self.layers):
            entry: dict[str, Any] = {"name": ly.name, "op": ly.op, "M": ly.M, "K": ly.K,
                                     "N": ly.N, "conv_groups": ly.conv_groups,
                                     "meta": ly.meta}
            for role in ROLES:
                enc = getattr(ly, role)
                entry[role] = None if enc is None else {"meta": enc.meta}
                if enc is not None:
                    tensors[f"{i}.{role}.codes"] = np.ascontiguousarray(enc.codes)
                    tensors[f"{i}.{role}.scales"] = np.ascontiguousarray(enc.scales)
                    if enc.extra:
                        entry[role]["extra"] = list(enc.extra)
                    for key, arr in enc.extra.items():
                        tensors[f"{i}.{role}.extra.{key}"] = np.ascontiguousarray(arr)
            layers.append(entry)
        manifest = {"schema": SCHEMA, "version": VERSION, "meta": self.meta, "layers": layers}
        text = json.dumps(manifest, indent=1)  # before writing anything: fails if not JSON
        # each file whole or not at all; the manifest last, so a folder whose manifest is
        # there has its tensors too
        with atomic_path(folder / TENSORS) as tmp:
            safetensors.numpy.save_file(tensors, tmp)
        atomic_write_text(folder / MANIFEST, text + "\n")
        return folder

    @classmethod
    def load(cls, folder: str | Path, path: str = "--trace") -> Trace:
        """Read a folder written by :meth:`save`; ConfigError at ``path`` if it is not one."""
        folder = Path(folder)
        if not folder.is_dir():
            raise ConfigError.single(path, f"must be a trace folder, not {str(folder)!r} "
                                     f"({'not a folder' if folder.exists() else 'missing'})")
        manifest_path = folder / MANIFEST
        if not manifest_path.is_file():
            raise ConfigError.single(path, f"must be a trace folder holding {MANIFEST}, not "
                                     f"{str(folder)!r} (no {MANIFEST})")
        try:
            manifest = json.loads(manifest_path.read_text())
        except json.JSONDecodeError as exc:
            raise ConfigError.single(path, f"{MANIFEST} must be JSON, not invalid ({exc.msg})",
                                     line=exc.lineno, source=str(manifest_path)) from None
        got = (manifest.get("schema"), manifest.get("version")) \
            if isinstance(manifest, dict) else (None, None)
        if got != (SCHEMA, VERSION):
            raise ConfigError.single(path, f"{MANIFEST} must have schema {SCHEMA!r} version "
                                     f"{VERSION}, not schema {got[0]!r} version {got[1]!r}",
                                     source=str(manifest_path))
        if not (folder / TENSORS).is_file():
            raise ConfigError.single(path, f"must hold {TENSORS} next to {MANIFEST}, not "
                                     f"{str(folder)!r} (no {TENSORS})")
        try:
            tensors = safetensors.numpy.load_file(folder / TENSORS)
        except Exception as exc:  # safetensors' own error type: a truncated or foreign file
            raise ConfigError.single(path, f"{TENSORS} in {str(folder)!r} must be a whole "
                                     f"safetensors file, not unreadable ({exc})") from None
        entries, meta = manifest.get("layers", []), manifest.get("meta", {})
        problems = []
        if not isinstance(entries, list):
            problems.append(Problem(f"{path} {MANIFEST} layers", f"must be a list, not "
                                    f"{type(entries).__name__}"))
            entries = []
        if not isinstance(meta, dict):
            problems.append(Problem(f"{path} {MANIFEST} meta", f"must be an object, not "
                                    f"{type(meta).__name__}"))
        layers = []
        for i, entry in enumerate(entries):
            try:
                layers.append(_layer_from_entry(i, entry, tensors, path))
            except ConfigError as exc:
                problems += exc.problems
        if problems:
            raise ConfigError(problems)
        return cls(layers, dict(meta))


def _layer_from_entry(i: int, entry: Any, tensors: dict[str, np.ndarray],
                      path: str) -> Layer:
    """One manifest layer entry back into a Layer (ConfigError on a missing field)."""
    where = f"{path} {MANIFEST} layers[{i}]"
    if not isinstance(entry, dict):
        raise ConfigError.single(where, f"must be an object, not {entry!r}")
    missing = [k for k in ("name", "op", "M", "K", "N") if k not in entry]
    if missing:
        raise ConfigError.single(where, f"must have {', '.join(missing)}, not only "
                                 f"{', '.join(map(str, entry)) or 'nothing'}")
    problems: list[Problem] = []
    if not isinstance(entry.get("meta", {}), dict):
        problems.append(Problem(f"{where} meta", f"must be an object, not "
                                f"{entry['meta']!r}"))
    encs: dict[str, Encoded | None] = {}
    for role in ROLES:
        encs[role] = None
        try:
            encs[role] = _encoded(i, role, entry, tensors, path)
        except ConfigError as exc:
            problems += exc.problems
    layer = None
    try:
        layer = Layer(entry["name"], entry["op"], entry["M"], entry["K"], entry["N"],
                      entry.get("conv_groups", 1), encs["weight"], encs["act"],
                      dict(entry.get("meta") or {}) if not problems else {}, encs["act_b"])
    except ConfigError as exc:
        problems += [Problem(f"{where} {p.path.split(' ')[-1]}", p.message)
                     for p in exc.problems]
    if layer is not None and not problems:
        problems += _meta_problems(layer, f"{where} meta")
    if layer is not None and not problems:
        problems += _shape_problems(layer, f"{path} {TENSORS} {i}.")
    if problems:
        raise ConfigError(problems)
    return layer


def _encoded(i: int, role: str, entry: dict, tensors: dict[str, np.ndarray],
             path: str) -> Encoded | None:
    """The Encoded tensor of ``role`` of manifest layer ``i`` (None if it has none)."""
    desc = entry.get(role)
    if desc is None:
        return None
    where = f"{path} {MANIFEST} layers[{i}].{role}"
    if not isinstance(desc, dict) or not isinstance(desc.get("meta"), dict) \
            or not isinstance(desc.get("extra", []), list):
        raise ConfigError.single(where, f"must be null or an object with a 'meta' object "
                                 f"(and an 'extra' list), not {desc!r}")
    names = [str(key) for key in desc.get("extra", [])]
    extra_keys = [f"{i}.{role}.extra.{key}" for key in names]
    keys = (f"{i}.{role}.codes", f"{i}.{role}.scales", *extra_keys)
    absent = [k for k in keys if k not in tensors]
    if absent:
        raise ConfigError.single(f"{path} {TENSORS}", f"must hold {', '.join(absent)} "
                                 f"(layer {entry['name']!r} {role}), not leave it out")
    extra = {key: tensors[k] for key, k in zip(names, extra_keys, strict=True)}
    try:
        return Encoded(tensors[keys[0]], tensors[keys[1]], dict(desc["meta"]), extra)
    except (ValueError, TypeError) as exc:
        raise ConfigError.single(f"{path} {TENSORS} {keys[0]}", f"must be a valid encoded "
                                 f"tensor (layer {entry['name']!r} {role}), not one where "
                                 f"{exc}") from None


def _ints(value: Any, length: int | None, lo: int) -> bool:
    return isinstance(value, list) and (length is None or len(value) == length) and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= lo for v in value)


#: layer meta keys the operands are formed from: (length or None, smallest element)
_META_LISTS = {"a_shape": (None, 1), "b_shape": (None, 1), "batch_shape": (None, 1),
               "kernel": (2, 1), "stride": (2, 1), "padding": (4, 0), "dilation": (2, 1)}


def _meta_problems(layer: Layer, where: str) -> list[Problem]:
    """Layer and operand meta the simulator reads, checked at load time: shape lists, the
    batch count, B's source, the seed of a shape-only layer, each tensor's format name."""
    meta, problems = layer.meta, []
    for key, (length, lo) in _META_LISTS.items():
        valued = layer.act is not None or "seed" in meta  # operands will be formed
        need = key in ("kernel", "stride", "padding", "dilation") and layer.op == "conv2d" \
            and valued or key in ("a_shape", "b_shape") and "seed" in meta
        if (key in meta or need) and not _ints(meta.get(key), length, lo):
            size = f"{length} " if length else ""
            problems.append(Problem(f"{where}.{key}", f"must be a list of {size}ints >= {lo}, "
                                    f"not {meta.get(key)!r}"))
    batch = meta.get("batch", 1)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        problems.append(Problem(f"{where}.batch", f"must be a positive int, not {batch!r}"))
    if meta.get("b_source", "weight") not in ("weight", "activation"):
        problems.append(Problem(f"{where}.b_source", f"must be 'weight' or 'activation', "
                                f"not {meta['b_source']!r}"))
    seed = meta.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        problems.append(Problem(f"{where}.seed", f"must be a non-negative int, not {seed!r}"))
    b_role = "act_b" if layer.b_source == "activation" else "weight"
    held = [role for role in ROLES if getattr(layer, role) is not None]
    if held and not {"act", b_role} <= set(held):
        problems.append(Problem(f"{where[:-5]}", f"must hold both operands (act and "
                                f"{b_role}) or neither, not only {', '.join(held)}"))
    for role in held:
        enc = getattr(layer, role)
        fmt, bits = enc.meta.get("format"), enc.meta.get("bits")
        if not isinstance(fmt, str) or not fmt:
            problems.append(Problem(f"{where[:-5]}.{role}.meta.format", f"must be a format "
                                    f"name, not {fmt!r}"))
        if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 16:
            problems.append(Problem(f"{where[:-5]}.{role}.meta.bits", f"must be an int in "
                                    f"1..16, not {bits!r}"))
    return problems


def _shape_problems(layer: Layer, prefix: str) -> list[Problem]:
    """Stored int8 operand shapes that contradict the layer's M, K, N (linear and matmul; a
    conv's input, and other formats' grouped layouts, are checked when operands are
    formed)."""
    want: dict[str, tuple[int, ...]] = {}
    if layer.op == "linear":
        want = {"act": (layer.M, layer.K), "weight": (layer.N, layer.K)}
    elif layer.op == "matmul":
        want["weight"] = (layer.N, layer.K)
        for role, key in (("act", "a_shape"), ("act_b", "b_shape")):
            shape = layer.meta.get(key)
            if isinstance(shape, list) and all(isinstance(d, int) for d in shape):
                want[role] = tuple(shape)
    problems = []
    for role, shape in want.items():
        enc = getattr(layer, role)  # int8 codes keep the tensor's shape; grouped ones pad
        if enc is not None and enc.meta.get("format") == int8.NAME \
                and np.prod(enc.codes.shape) != np.prod(shape):
            problems.append(Problem(f"{prefix}{role}.codes",
                                    f"must hold {'x'.join(map(str, shape))} values for "
                                    f"layer {layer.name!r} (M={layer.M}, K={layer.K}, "
                                    f"N={layer.N}), not shape {list(enc.codes.shape)}"))
    return problems
