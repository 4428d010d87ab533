"""The energy/area model against its published anchors and a hand-priced layer."""

from __future__ import annotations

import pytest

from qaccel import ConfigError, sim
from qaccel.arch.components import (
    fp_add,
    fp_mult,
    int_add,
    int_mult,
    register,
    scale_to,
    sram_access_pj,
)
from qaccel.arch.cost import analytic_area_um2, counts_energy_pj
from qaccel.sim.gemm import gemm_layer


@pytest.mark.parametrize("cost,energy,area", [
    # Horowitz ISSCC 2014, 45 nm
    (int_add(8), 0.03, 36), (int_add(16), 0.05, 67), (int_add(32), 0.1, 137),
    (int_mult(8, 8), 0.2, 282), (int_mult(32, 32), 3.1, 3495),
    (fp_add(16), 0.4, 1360), (fp_mult(16), 1.1, 1640), (fp_add(32), 0.9, 4184),
    (fp_mult(32), 3.7, 7700),
])
def test_horowitz_anchors(cost, energy, area):
    assert cost.energy_pj == pytest.approx(energy) and cost.area_um2 == pytest.approx(area)


def test_register_anchor_is_aladdins_per_bit_figure():
    # Aladdin (TSMC 40 nm, 1 ns): REG_1ns_dynamic_energy 8.999495e-3 pJ, area 5.977 um^2 per bit
    one = register(1)
    assert one.energy_pj == pytest.approx(8.999495e-3, rel=1e-3)
    assert one.area_um2 == pytest.approx(5.977338, rel=1e-3)
    # linear in bits: a 48-bit PE (8 + 8 + 32) at 28 nm = 48 * 0.009 * 0.513
    assert scale_to(register(48), 28).energy_pj == pytest.approx(0.221616)
    assert register(0).energy_pj == 0.0
    with pytest.raises(ValueError, match=r"^bits must be an int >= 0, not -1$"):
        register(-1)


def test_sram_fit_meets_anchors():
    # 64-bit reads at 45 nm: 8 KB 10 pJ, 32 KB 20 pJ, 1 MB 100 pJ
    assert sram_access_pj(8 * 1024, 64) == pytest.approx(10.0)
    assert sram_access_pj(1 << 20, 64) == pytest.approx(100.0)
    assert sram_access_pj(32 * 1024, 64) == pytest.approx(20.0, rel=0.04)
    assert sram_access_pj(8 * 1024, 256) == pytest.approx(40.0)  # linear in word width


def test_stillmaker_baas_28nm():
    c = scale_to(int_mult(8, 8), 28)
    assert (c.energy_pj, c.area_um2) == pytest.approx((0.2 * 0.513, 282 * 0.377))


def test_unknown_node_is_refused():
    with pytest.raises(ConfigError, match=r"^tech\.node_nm: must be one of 28, 45 for the "
                                          r"energy/area model .*not 7$"):
        scale_to(int_add(8), 7)


def test_bad_width():
    with pytest.raises(ValueError, match=r"^a_bits must be an int in 1\.\.64, not 0$"):
        int_mult(0, 8)


def test_layer_energy_by_hand(accel_factory):
    # tests/sim/test_traffic_hand.py::test_everything_fits: ws 4x4, 10x6x5, 64 KiB buffers of
    # 64-bit words, 28 nm, 8 pJ/bit DRAM. 300 MACs; SRAM 550 B read + 490 B written; DRAM 290 B.
    # PE: 300 x (0.2 + 0.1) pJ x 0.513 = 46.17 pJ.
    # SRAM: one 64-bit access to 64 KiB = 10 pJ x 8^(log 10 / log 128) = 10^(1 + 3/7) pJ at
    # 45 nm (8 = 128^(3/7)), x 0.513 at 28 nm; (550 + 490) x 8 / 64 = 130 accesses.
    # DRAM: 290 x 8 bits x 8 pJ/bit = 18,560 pJ.
    accel = accel_factory(kib=64, bits_per_cycle=32)
    r = sim.run([gemm_layer(10, 6, 5)], accel).frame.iloc[0]
    pe = 300 * 0.3 * 0.513
    sram = 130 * 10 ** (1 + 3 / 7) * 0.513
    dram = 290 * 8 * 8.0
    assert r.energy_pj_pe == pytest.approx(pe)
    assert r.energy_pj_sram == pytest.approx(sram)
    assert r.energy_pj_dram == pytest.approx(dram)
    assert r.energy_pj_decoder == 0.0
    assert r.energy_pj_total == pytest.approx(pe + sram + dram)


def test_engines_agree_on_energy(accel_factory):
    accel = accel_factory(rows=3, cols=5, dataflow="is", kib=0.25, bits_per_cycle=16)
    layers = [gemm_layer(37, 21, 13, count=2)]
    ref = sim.run(layers, accel, engine="reference")
    fast = sim.run(layers, accel, engine="fast")
    assert ref.frame.equals(fast.frame)


def test_area_of_the_32x32_preset():
    from qaccel.arch import load_accelerator

    # 1024 PEs x (282 + 137) um^2 at 45 nm x 0.377 at 28 nm (the analytic model; area_um2 is
    # calibrated to synthesis: tests/rtl/test_calibrate.py)
    accel = load_accelerator("systolic-int8-32x32")
    assert analytic_area_um2(accel.pe_array, 28) == pytest.approx(
        1024 * 419 * 0.377)


def test_unlisted_event_is_refused_with_its_name_and_family(accel_factory):
    from qaccel.sim.counts import Events, GemmCounts

    accel = accel_factory()
    counts = GemmCounts(events=Events({"bogus": 1, "mac_int8": 2, "pe_cycles": 3}))
    with pytest.raises(ValueError, match=r"^Cannot price events \['bogus'\] of family "
                       r"'systolic_int8' because its event_costs\(\) does not list them$"):
        counts_energy_pj(accel, accel.pe_array, counts)
