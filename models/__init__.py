"""Quantization formats, model capture into traces, and the models they run on.

``import qaccel.models`` is light (NumPy): the format registry (``FORMATS``, ``get_format``:
the numba quantizer kernels) and ``load_minilm`` are imported on first use (PEP 562), so
reading a trace loads neither; torch and transformers are imported on first use of
``capture`` / ``load_minilm``.
"""

from __future__ import annotations

import importlib
from typing import Any

from qaccel.models import int8
from qaccel.models.capture import capture, capture_run
from qaccel.models.encoded import Encoded
from qaccel.models.trace import Layer, Trace

#: exported name -> the submodule that defines it, imported on first use
_LAZY = {"FORMATS": "formats", "get_format": "formats", "load_minilm": "minilm"}

__all__ = ["Encoded", "FORMATS", "get_format", "int8", "Layer", "Trace", "capture",
           "capture_run", "load_minilm"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"qaccel.models.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'qaccel.models' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
