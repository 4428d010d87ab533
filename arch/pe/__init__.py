"""PE families. Importing this package registers every family module in this folder.

A family is one module ``arch/pe/<family>.py`` whose class is decorated with
``@register_pe("<family>")``; modules are discovered here, so adding a family needs no edit
to this file.
"""

import importlib
import pkgutil

from qaccel.arch.pe.registry import LEVELS, PE_FAMILIES, family_class, level_module, register_pe
from qaccel.arch.pe.tile import Tile

_NOT_FAMILIES = {"registry", "tile"}
for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name not in _NOT_FAMILIES and not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["PE_FAMILIES", "LEVELS", "Tile", "family_class", "level_module", "register_pe"]
