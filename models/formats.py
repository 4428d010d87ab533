"""The quantization-format registry: format name -> format.

A format exposes ``NAME``, ``BITS``, ``encode(x, *, name=...) -> Encoded``,
``decode(Encoded) -> float32 ndarray`` and ``values()`` (its table, in units of the scale).
INT8 and FP16 are modules; the configurable families are frozen dataclasses (one object per
format: :class:`~qaccel.models.intk.IntK`, :class:`~qaccel.models.ant.Ant`,
:class:`~qaccel.models.bitmod.BitMoD`, :class:`~qaccel.models.olive.OliVe`). Adding a format
is one line in :data:`FORMATS`; adding a family is a module plus one line in
:data:`FAMILIES`.

Every Encoded names its format in ``meta["format"]`` and, for the families, the family in
``meta["family"]``; :func:`decode` dispatches on the family, so an Encoded made by a format
that is not registered (``IntK(3, 64)``) still decodes. :func:`get_format` also understands
any INTk name (``int5_g64``, ``int3_pc_sym``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from qaccel.errors import ConfigError
from qaccel.models import ant, bitmod, fp16, int8, intk, mixpe, olive
from qaccel.models.ant import Ant
from qaccel.models.bitmod import BitMoD
from qaccel.models.encoded import Encoded
from qaccel.models.intk import IntK
from qaccel.models.olive import OliVe

__all__ = ["FORMATS", "FAMILIES", "get_format", "decode", "format_to_dict",
           "format_from_dict"]

FORMATS: dict[str, Any] = {
    "int8": int8,
    "fp16": fp16,
    "int4_g128": IntK(4, 128),
    "int3_g128": IntK(3, 128),
    "int2_g128": IntK(2, 128),
    "int8_g128": IntK(8, 128),
    "int4_pc": IntK(4, None),
    "int4_pc_sym": IntK(4, None, symmetric=True),
    "int8_pc_sym": IntK(8, None, symmetric=True),
    "ant4": Ant(4),
    "ant4_pt": Ant(4, "per_tensor"),
    "bitmod_fp4": BitMoD(4),
    "bitmod_fp3": BitMoD(3),
    "olive4": OliVe(4),
    # per channel, every row searches its own clip: a coarser grid (0.75..2.45 by 0.1)
    "olive4_pc": OliVe(4, granularity="per_channel",
                       clip_ratios=tuple(i / 100 for i in range(75, 250, 10))),
    "olive8": OliVe(8),
    "mixpe_w4": mixpe.WEIGHT_FORMAT,  # alias: its Encoded says "int4_g128"
}

#: family (``meta["family"]``, else ``meta["format"]``) -> decode function
FAMILIES: dict[str, Callable[[Encoded], np.ndarray]] = {
    "int8": int8.decode,
    "fp16": fp16.decode,
    intk.FAMILY: intk.decode,
    ant.FAMILY: ant.decode,
    bitmod.FAMILY: bitmod.decode,
    olive.FAMILY: olive.decode,
}


def get_format(name: str, path: str = "format") -> Any:
    """The format registered as ``name`` (or the INTk format its name spells); ConfigError
    at ``path`` if there is none."""
    fmt = FORMATS.get(name) if isinstance(name, str) else None
    if fmt is None:
        fmt = IntK.from_name(name)
    if fmt is None:
        raise ConfigError.single(path, f"must be one of {', '.join(map(repr, FORMATS))}, "
                                 f"not {name!r}")
    return fmt


def decode(enc: Encoded) -> np.ndarray:
    """Decode ``enc`` with the family its meta names."""
    family = enc.meta.get("family", enc.meta.get("format"))
    try:
        fn = FAMILIES[family]
    except (KeyError, TypeError):
        raise ConfigError.single("Encoded.meta['format']", f"must be one of "
                                 f"{', '.join(map(repr, FORMATS))}, not "
                                 f"{enc.meta.get('format')!r}") from None
    return fn(enc)


#: the configurable families' classes and the fixed formats' modules, by family
_CLASSES: dict[str, Any] = {intk.FAMILY: IntK, ant.FAMILY: Ant, bitmod.FAMILY: BitMoD,
                            olive.FAMILY: OliVe}
_MODULES: dict[str, Any] = {"int8": int8, "fp16": fp16}


def format_to_dict(fmt: Any) -> dict[str, Any]:
    """A JSON dict that :func:`format_from_dict` turns back into ``fmt``."""
    if hasattr(fmt, "to_dict"):
        return fmt.to_dict()
    return {"family": fmt.NAME, "version": 1}


def format_from_dict(d: dict[str, Any]) -> Any:
    family = d.get("family") if isinstance(d, dict) else None
    if family in _MODULES:
        return _MODULES[family]
    if family not in _CLASSES:
        raise ConfigError.single("format family", f"must be one of "
                                 f"{', '.join(map(repr, [*_MODULES, *_CLASSES]))}, not "
                                 f"{family!r}")
    return _CLASSES[family].from_dict(d)
