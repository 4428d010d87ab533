"""``tech.pe_pj_per_cycle``: a paper's PE energy accounting (every PE, every compute cycle)."""

from __future__ import annotations

import pytest

from qaccel import sim
from qaccel.arch import load_accelerator
from qaccel.errors import ConfigError
from qaccel.sim.gemm import gemm_layer


def accel_with(preset: str, per_pe: float | None):
    data = load_accelerator(preset).to_dict()
    data["tech"].pop("pe_pj_per_cycle", None)
    if per_pe is not None:
        data["tech"]["pe_pj_per_cycle"] = per_pe
    return load_accelerator(data)


def row(accel, m: int, k: int, n: int):
    return sim.run([gemm_layer(m, k, n)], accel, engine="fast", values=False).frame.iloc[0]


def test_bitmod_paper_fp16_decode_pe_energy_by_hand():
    """The BitMoD authors charge pe_energy * PR_SCALING = 0.77 * 1.5 = 1.155 pJ per PE per
    compute cycle for every PE of the FP16 baseline (64 x 12 = 768 PEs in decode): Llama-2-7B
    q_proj (M=1, K=N=4096) mapped input-stationary: ceil(4096/64) = 64 folds of
    2*64 + 12 + 4096 - 2 = 4234 cycles = 270,976 compute cycles, so the PE energy is
    1.155 * 768 * 270,976 = 240,367,902.72 pJ."""
    r = row(load_accelerator("bitmod-hpca25-fp16-decode"), 1, 4096, 4096)
    assert r.compute_cycles == 64 * (2 * 64 + 12 + 4096 - 2) == 270_976
    assert r.energy_pj_pe == pytest.approx(1.155 * 768 * 270_976, rel=1e-12)


def test_only_the_pe_column_changes():
    paper = accel_with("bitmod-hpca25-ant-prefill", 0.84)
    priced = accel_with("bitmod-hpca25-ant-prefill", None)
    a, b = row(paper, 256, 4096, 4096), row(priced, 256, 4096, 4096)
    for col in ("compute_cycles", "total_cycles", "energy_pj_sram", "energy_pj_dram",
                "energy_pj_decoder"):
        assert a[col] == b[col], col
    assert a.energy_pj_pe == pytest.approx(0.84 * 32 * 32 * a.compute_cycles, rel=1e-12)
    assert a.energy_pj_pe != b.energy_pj_pe
    assert a.energy_pj_total == pytest.approx(b.energy_pj_total - b.energy_pj_pe
                                              + a.energy_pj_pe, rel=1e-12)


def test_bad_value_and_default_left_out():
    data = load_accelerator("fp16-prefill").to_dict()
    assert "pe_pj_per_cycle" not in data["tech"]
    data["tech"]["pe_pj_per_cycle"] = -1
    with pytest.raises(ConfigError, match=r"tech\.pe_pj_per_cycle: must be a number in"):
        load_accelerator(data)
