"""``ant`` ``weight_bits``: weights stored and moved at more bits than the PEs compute on (the
BitMoD authors' 5-bit ANT weights). Traffic by hand in both engines; compute unchanged."""

from __future__ import annotations

import pytest

from qaccel import sim
from qaccel.arch.pe.ant import AntArray
from qaccel.sim.gemm import gemm_layer
from tests.conftest import assert_same_frame, make_accel


def _run(engine: str, weight_bits: int | None):
    fields = {} if weight_bits is None else {"weight_bits": weight_bits}
    accel = make_accel(rows=4, cols=4, family="ant", kib=64.0, **fields)
    return sim.run([gemm_layer(8, 8, 8)], accel, engine=engine, values=False).frame


@pytest.mark.parametrize("engine", ["reference", "fast"])
def test_weight_bits_by_hand(engine):
    # 4x4 ws, fixed mapping, 8x8x8 4-bit: B (8 x 8 weights, the stationary operand) is read
    # from DRAM once: 64 x 4 bits = 32 B, at weight_bits 5: 64 x 5 = 40 B; A (8 x 8 4-bit
    # codes) 32 B either way; compute is the same 4 folds of 2*4 + 4 + 8 - 2 = 18 cycles
    four, five = _run(engine, None), _run(engine, 5)
    assert int(four.dram_rd_bytes[0]) == 32 + 32
    assert int(five.dram_rd_bytes[0]) == 40 + 32
    assert int(four.compute_cycles[0]) == int(five.compute_cycles[0]) == 4 * 18
    assert float(four.energy_pj_pe[0]) == float(five.energy_pj_pe[0])


def test_engines_agree_with_weight_bits():
    assert_same_frame(_run("reference", 5), _run("fast", 5))


def test_weight_bits_field():
    pe = AntArray(rows=4, cols=4, dataflow="ws", weight_bits=5)
    assert (pe.b_bits, pe.b_stored_bits) == (4, 5)
    assert AntArray(rows=4, cols=4, dataflow="ws").b_stored_bits == 4
    # the KV cache view stores its own width, not the weights'
    assert pe.kv_array(4).b_stored_bits == 4
    with pytest.raises(ValueError, match=r"^weight_bits must be 0 or at least bits \(8\), not 5"):
        AntArray(rows=4, cols=4, dataflow="ws", bits=8, weight_bits=5)
