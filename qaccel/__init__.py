"""qaccel: hardware-software co-design simulator for quantized neural-network accelerators.

Sub-packages (each a top-level folder of the repository):

- ``qaccel.arch``   hardware specs (strict YAML -> frozen dataclasses), the PE family registry
- ``qaccel.models`` quantization formats, model capture into traces
- ``qaccel.sim``    reference (NumPy loops) and fast (closed form + BLAS) engines
- ``qaccel.rtl``    Amaranth generators, cocotb testbenches, synthesis reports
- ``qaccel.sweeps`` design-space sweeps
"""

from qaccel.errors import ConfigError, Problem

__version__ = "0.1.0"
__all__ = ["ConfigError", "Problem", "__version__"]
