"""sim/counts.py: the fast constructors of the hot path build the objects the classes build
(equal, same hash and repr), and scaling by hand."""

from __future__ import annotations

from qaccel.sim.counts import (
    Events,
    GemmCounts,
    OperandBits,
    events_of,
    gemm_counts_of,
    operand_bits,
)


def test_fast_constructors_build_equal_objects():
    bits = operand_bits(1, 2, 3)
    assert bits == OperandBits(1, 2, 3) and hash(bits) == hash(OperandBits(1, 2, 3))
    assert repr(bits) == "OperandBits(A=1, B=2, O=3)" and bits.total == 6
    ev = events_of({"mac": 5})
    assert ev == Events({"mac": 5}) and repr(ev) == "Events({'mac': 5})"
    fast = gemm_counts_of(2, 10, 3, 4, bits, bits, bits, bits, ev)
    slow = GemmCounts(folds=2, compute_cycles=10, prologue_bits=3, epilogue_bits=4,
                      dram_rd=OperandBits(1, 2, 3), dram_wr=OperandBits(1, 2, 3),
                      sram_rd=OperandBits(1, 2, 3), sram_wr=OperandBits(1, 2, 3),
                      events=Events({"mac": 5}))
    assert fast == slow and repr(fast) == repr(slow)


def test_scaled_by_hand():
    one = GemmCounts(folds=2, compute_cycles=10, prologue_bits=3, epilogue_bits=4,
                     dram_rd=OperandBits(1, 2, 3), events=Events({"mac": 5}))
    assert one.scaled(1) is one
    three = one.scaled(3)
    assert (three.folds, three.compute_cycles, three.prologue_bits, three.epilogue_bits) == \
        (6, 30, 3, 4)                         # prologue/epilogue stay one GEMM's
    assert three.dram_rd == OperandBits(3, 6, 9) and three.dram_wr == OperandBits(0, 0, 0)
    assert three.events == {"mac": 15} and three.events.to_dict() == {"mac": 15}
    assert dict(three.events.items()) == {"mac": 15}
