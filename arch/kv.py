"""The KV cache as its own operand: its format, and the array as it computes on it.

Attention's cached keys and values are the B operand of QK^T and AV (a trace marks those
layers ``kv_cache: "B"``). ``Accelerator.kv_format`` stores them in a format of their own,
independent of the weight format: ``fp16``, ``int8``, ``int4`` or any registered
``qaccel.models.formats`` name (``int4_g128``, ``bitmod_fp4``...). Only the element width
matters to the simulator (unit: bits per cached element); the per-vector scales of the
integer formats (one FP16 scale per cached head vector: 16 / head_dim = 0.125 bits per
element at head_dim 128) are not charged.

Whether the PEs can compute on a KV format is the family's call (``PEArray.kv_array``): by
default a B no wider than the PE's own ``b_bits`` is widened at the array edge and runs at
the PE's speed; a family whose timing depends on B's width (bit-serial PEs) overrides it.
:func:`kv_view` builds that array: a subclass of the family's class whose ``b_bits`` is the
KV width and whose B carries no group metadata (or, when ``b_bits`` is a spec field, the array
with that field set), so the mapper, both engines and the energy
model see a KV layer as an ordinary GEMM with a narrower (or wider) B. Its events are priced
at the base array's costs (the same PEs; B widened at the edge).
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from typing import Any

from qaccel.errors import ConfigError

__all__ = ["KV_ALIASES", "kv_bits", "kv_view"]

#: short KV format names -> the registered format they stand for
KV_ALIASES = {"int4": "int4_pc_sym"}


def kv_bits(name: Any, path: str = "kv_format") -> int:
    """Bits per cached element of KV format ``name`` (``fp16`` 16, ``int8`` 8, ``int4`` 4,
    any registered format its ``BITS``); ConfigError at ``path`` for an unknown name."""
    from qaccel.models.formats import FORMATS, get_format

    if not isinstance(name, str):
        raise ConfigError.single(path, f"must be a format name (fp16, int8, int4 or one of "
                                 f"{', '.join(FORMATS)}), not {name!r}")
    try:
        fmt = get_format(KV_ALIASES.get(name, name), path)
    except ConfigError:
        raise ConfigError.single(path, f"must be fp16, int8, int4 or a registered format "
                                 f"({', '.join(FORMATS)}), not {name!r}") from None
    return int(fmt.BITS)


@lru_cache(maxsize=256)
def _view_class(cls: type) -> type:
    """``cls`` with ``b_bits`` taken from a ``kv_bits`` field and no B metadata."""

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class KvView(cls):
        #: width of the cached K / V elements (unit: bits)
        kv_bits: int = 8
        b_bits = property(lambda self: self.kv_bits)
        b_stored_bits = property(lambda self: self.kv_bits)
        meta_bits_per_group = 0

        def kv_array(self, bits: int) -> Any:   # a view of the base array, never nested
            return kv_view(self, bits)

        def event_costs(self) -> Any:
            """The base array's prices: the PEs are the same hardware, B is widened at the
            edge (a bit-serial family's extra terms show up in its event counts)."""
            return _base(self).event_costs()

        def __repr__(self) -> str:
            return f"{cls.__repr__(self)} [KV {self.kv_bits} bits]"

    KvView.__name__ = KvView.__qualname__ = f"{cls.__name__}KvView"
    return KvView


@lru_cache(maxsize=1024)
def _base(view: Any) -> Any:
    """The family's array a view was made from."""
    base = type(view).__mro__[1]
    return base(**{f.name: getattr(view, f.name) for f in dataclasses.fields(base) if f.init})


@lru_cache(maxsize=1024)
def kv_view(pe: Any, bits: int) -> Any:
    """``pe`` as it computes with a ``bits``-wide KV cache as operand B (equal arrays give
    the same view object, so the mapper's caches hit)."""
    base = type(pe)
    while getattr(base, "__name__", "").endswith("KvView"):
        base = base.__mro__[1]
    values = {f.name: getattr(pe, f.name) for f in dataclasses.fields(base) if f.init}
    if "b_bits" in values:   # a configurable B width (fusible PEs): the array at that width
        return dataclasses.replace(pe, b_bits=int(bits))
    return _view_class(base)(**values, kv_bits=int(bits))
