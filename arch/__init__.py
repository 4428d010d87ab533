"""Hardware specs: strict YAML -> frozen dataclasses, the PE family registry, presets."""

from qaccel.arch.loader import PRESET_DIR, load_accelerator, preset_names
from qaccel.arch.pe import PE_FAMILIES, Tile, family_class, level_module, register_pe
from qaccel.arch.spec import Accelerator, Buffer, Dataflow, Dram, PEArray, Tech

__all__ = ["Accelerator", "Buffer", "Dataflow", "Dram", "PEArray", "Tech", "Tile",
           "PE_FAMILIES", "PRESET_DIR", "family_class", "level_module", "load_accelerator",
           "preset_names", "register_pe"]
