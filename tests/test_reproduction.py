"""The BitMoD-vs-ANT/OliVe reproduction (benchmarks/reproduce_bitmod.py, docs/reproduction.md),
pinned on one layer by hand: Llama-2-7B's q_proj in a 256-token prefill, M x K x N = 256 x 4096
x 4096, on the three ``*-prefill`` presets.

Hand calculation, qaccel with ``mapping: fixed`` (SCALE-Sim ws folds for ANT/OliVe; BitMoD
folds of one RTL tile run, fill and drain included, as for every family):

- ant-prefill 32x32 ws: folds = ceil(4096/32) * ceil(4096/32) = 16384,
  fold = 2*32 + 32 + 256 - 2 = 350 -> 5,734,400 cycles
- olive-prefill 36x32 ws: folds = ceil(4096/36) * ceil(4096/32) = 114 * 128 = 14592,
  fold = 2*36 + 32 + 256 - 2 = 358 -> 5,223,936 cycles
- bitmod-prefill 32x32, 4 lanes, FP4 (2 cycles/weight): folds = ceil(4096/32) * ceil(256/32)
  = 1024, each one tile of K = 4096: (32 - 1) * 2 + 2048 + 32 + 32 + 13 = 2187 cycles
  (arch/pe/bitmod.py "Single tile") -> 2,239,488 cycles (the lane formula alone, DESIGN.md:
  ceil(4096/4) * 128 * 8 * 2 = 2,097,152)

The authors' rules (no fill/drain, one MAC per PE per cycle; bitmod_sim/accelerator.py):
ANT 4096 * 128 * 8 = 4,194,304; OliVe 4096 * 114 * 8 = 3,735,552; BitMoD 2,097,152; all three
compute-bound (ANT's DRAM: 4 weight refetches of 10,485,760 B + 2 x 2,097,152 B = 1,441,792
cycles at 32 B/cycle). So one layer's compute speedups are 2.561 / 2.333 here and 2.0 / 1.781
in the paper's model: the systolic folds pay fill/drain 350/256 (ANT) and 358/256 (OliVe), the
BitMoD folds 2187/2048.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path

import pytest

from qaccel import arch, sim
from qaccel.arch.spec import MappingMode
from qaccel.sim.gemm import gemm_layer

FAMILIES = ("ant", "olive", "bitmod")
_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "reproduce_bitmod.py"


@pytest.fixture(scope="module")
def repro():
    spec = importlib.util.spec_from_file_location("reproduce_bitmod", _PATH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod       # dataclasses resolve annotations through sys.modules
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.modules.pop(spec.name, None)


@pytest.fixture(scope="module")
def frames():
    layer = gemm_layer(256, 4096, 4096, name="q_proj")
    fixed = {fam: dataclasses.replace(arch.load_accelerator(f"{fam}-prefill"),
                                      mapping=MappingMode.FIXED) for fam in FAMILIES}
    return {fam: sim.run([layer], fixed[fam], engine="fast", values=False).frame.iloc[0]
            for fam in FAMILIES}


HAND_QACCEL = {"ant": 5_734_400, "olive": 5_223_936, "bitmod": 2_239_488}
HAND_FORMULA = {"ant": 4_194_304, "olive": 3_735_552, "bitmod": 2_097_152}


@pytest.mark.parametrize("fam", ["ant", "olive", "bitmod"])
def test_compute_cycles_match_hand(frames, fam):
    assert int(frames[fam]["compute_cycles"]) == HAND_QACCEL[fam]


@pytest.mark.parametrize("fam", ["ant", "olive", "bitmod"])
def test_formula_matches_hand(repro, fam):
    layer = gemm_layer(256, 4096, 4096, name="q_proj")
    fa = repro.formula_array(fam, "prefill", "llama-2-7b")
    assert repro.formula_cycles([layer], fa) == HAND_FORMULA[fam]


def test_one_layer_speedups(frames):
    bm = frames["bitmod"]["compute_cycles"]
    assert frames["ant"]["compute_cycles"] / bm == pytest.approx(350 * 16 / 2187)
    assert frames["olive"]["compute_cycles"] / bm == pytest.approx(114 * 128 * 358 / 2_239_488)
    assert HAND_FORMULA["ant"] / HAND_FORMULA["bitmod"] == pytest.approx(2.0)
    assert HAND_FORMULA["olive"] / HAND_FORMULA["bitmod"] == pytest.approx(1.78125)
    # with stalls: BitMoD stays ahead of both, and further ahead of ANT than of OliVe
    total = {f: int(r["total_cycles"]) for f, r in frames.items()}
    assert total["ant"] > total["olive"] > total["bitmod"]
