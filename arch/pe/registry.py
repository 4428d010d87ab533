"""The PE family registry: family key -> frozen parameter class.

A family is registered once, in ``arch/pe/<family>.py``::

    @register_pe("systolic_int8")
    @dataclass(frozen=True)
    class SystolicInt8(PEArray): ...

and its levels are found by file stem, never by ``if family == ...`` chains:
``qaccel.sim.reference.<family>``, ``qaccel.sim.fast.<family>``, ``qaccel.rtl.pe.<family>``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import TypeVar

from qaccel.arch.spec import PEArray

__all__ = ["register_pe", "PE_FAMILIES", "family_class", "level_module", "LEVELS",
           "default_family"]

PE_FAMILIES: dict[str, type[PEArray]] = {}
#: Layer packages that hold one module per family, named by the family key.
LEVELS = {"reference": "qaccel.sim.reference", "fast": "qaccel.sim.fast", "rtl": "qaccel.rtl.pe"}

P = TypeVar("P", bound=type[PEArray])


def register_pe(name: str) -> Callable[[P], P]:
    """Class decorator: register a :class:`PEArray` subclass under ``name``."""

    def deco(cls: P) -> P:
        if name in PE_FAMILIES:
            raise ValueError(f"PE family {name!r} is registered twice")
        if not issubclass(cls, PEArray):
            raise TypeError(f"PE family class must subclass PEArray, not {cls!r}")
        cls.family = name
        PE_FAMILIES[name] = cls
        return cls

    return deco


def family_class(name: str) -> type[PEArray]:
    """The parameter class registered as ``name``; ``KeyError`` names the known ones."""
    try:
        return PE_FAMILIES[name]
    except KeyError:
        known = ", ".join(sorted(PE_FAMILIES))
        raise KeyError(f"PE family must be one of {known}, not {name!r}") from None


def default_family() -> str:
    """The family commands use when none is named (the one declaring ``default_family``)."""
    return next(name for name, cls in sorted(PE_FAMILIES.items()) if cls.default_family)


def level_module(family: str, level: str) -> ModuleType:
    """Import the module implementing ``family`` at ``level`` (``reference``, ``fast``, ``rtl``)."""
    return importlib.import_module(f"{LEVELS[level]}.{family}")
