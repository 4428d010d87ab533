"""Simulation engines: ``reference`` (NumPy loops over folds) and ``fast`` (closed form + BLAS).

>>> from qaccel import arch, sim
>>> from qaccel.sim.gemm import gemm_layer
>>> accel = arch.load_accelerator("systolic-int8-32x32")
>>> result = sim.run([gemm_layer(64, 64, 64)], accel)
>>> int(result.frame.compute_cycles[0])   # 2 x 2 folds of 2*32 + 32 + 64 - 2 = 158 cycles
632
"""

from qaccel.sim.engine import ENGINES, run, simulate_layer
from qaccel.sim.result import COLUMNS, SimResult

__all__ = ["ENGINES", "COLUMNS", "SimResult", "run", "simulate_layer"]
