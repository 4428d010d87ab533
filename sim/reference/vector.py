"""The reference engine's vector layers: walk every chunk of every row and add up what it
costs (the rules in ``sim/vector.py``; ``tests/sim/test_vector.py`` ties the two)."""

from __future__ import annotations

from qaccel.sim.counts import GemmCounts, OperandBits
from qaccel.sim.vector import VectorPlan

__all__ = ["simulate_vector"]


def simulate_vector(plan: VectorPlan) -> GemmCounts:
    """Cycles and traffic of a vector layer, chunk by chunk."""
    b = plan.elem_bits
    cycles = prologue = epilogue = 0
    rd = {"A": 0, "O": 0}
    wr = {"A": 0, "O": 0}
    dram_rd = dram_wr = 0
    first = True
    for _row in range(plan.rows):
        start = 0
        while start < plan.n:
            length = min(plan.lanes, plan.n - start)
            cycles += plan.cpe                       # one pass of the lanes per cycle
            inputs, output = plan.inputs * length * b, length * b
            if plan.on_chip:                         # the producer's output, in the buffer
                rd["O"] += inputs
                wr["O"] += output
            else:
                dram_rd += inputs                    # fill the input buffer, read it
                wr["A"] += inputs
                rd["A"] += inputs
                wr["O"] += output                    # write the result, write it back
                rd["O"] += output
                dram_wr += output
                if first:
                    prologue = inputs
                epilogue = output
            first = False
            start += length
    return GemmCounts(folds=0, compute_cycles=cycles, prologue_bits=prologue,
                      epilogue_bits=epilogue, dram_rd=OperandBits(A=dram_rd),
                      dram_wr=OperandBits(O=dram_wr), sram_rd=OperandBits(**rd),
                      sram_wr=OperandBits(**wr))
