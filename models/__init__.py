"""Quantization formats, model capture into traces, and the models they run on.

``import qaccel.models`` stays light (NumPy, pandas, safetensors): torch and transformers are
imported on first use of ``capture`` / ``load_minilm``.
"""

from qaccel.models import int8
from qaccel.models.capture import capture, capture_run
from qaccel.models.encoded import Encoded
from qaccel.models.formats import FORMATS, get_format
from qaccel.models.minilm import load_minilm
from qaccel.models.trace import Layer, Trace

__all__ = ["Encoded", "FORMATS", "get_format", "int8", "Layer", "Trace", "capture",
           "capture_run", "load_minilm"]
