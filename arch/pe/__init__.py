"""PE families. Importing this package registers every family (one import line each)."""

from qaccel.arch.pe import systolic_int8  # noqa: E402,F401  (registers "systolic_int8")
from qaccel.arch.pe.registry import LEVELS, PE_FAMILIES, family_class, level_module, register_pe
from qaccel.arch.pe.tile import Tile

__all__ = ["PE_FAMILIES", "LEVELS", "Tile", "family_class", "level_module", "register_pe"]
