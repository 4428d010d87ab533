"""The mapper (sim/mapper.py): never worse than the fixed mapping, the same choice as a
brute-force search simulated fold by fold, engines agreeing in every mode, overlapped preload
by hand, and clear errors for mappings the hardware lacks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qaccel import sim
from qaccel.arch import load_accelerator, preset_names
from qaccel.arch.pe.registry import level_module
from qaccel.arch.spec import MappingMode
from qaccel.cli import main
from qaccel.errors import ConfigError
from qaccel.sim.gemm import gemm_layer
from qaccel.sim.mapper import Objective, candidate_mappings, choose, evaluate
from qaccel.sim.plan import LoopOrder, Mapping, mapping_problem, plan_gemm, total_cycles
from tests.conftest import assert_same_frame, make_accel

PRESETS = preset_names()
OBJECTIVES = list(Objective)


@settings(max_examples=60, deadline=None)
@given(preset=st.sampled_from(PRESETS), M=st.integers(1, 3000), K=st.integers(1, 5000),
       N=st.integers(1, 5000), objective=st.sampled_from(OBJECTIVES))
def test_mapped_never_worse_than_fixed(preset, M, K, N, objective):
    accel = load_accelerator(preset)
    mapped = choose(accel, M, K, N, objective)
    fixed = choose(accel, M, K, N, objective, fixed=True)
    assert mapped.score(objective) <= fixed.score(objective)
    assert fixed.mapping.loop_order is LoopOrder.COLS_OUTER
    assert fixed.mapping.dataflow is accel.pe_array.dataflow


def _brute_force(accel, M, K, N, objective):  # noqa: N803
    """Every mapping of the space simulated by the *reference* engine (fold loop, LRU
    buffers), scored with the engine's own total-cycle and energy rules; first best wins."""
    from qaccel.arch.cost import counts_energy_pj

    best = None
    for mapping in candidate_mappings(accel.pe_array, M, K, N):
        plan = plan_gemm(accel, M, K, N, mapping)
        if mapping_problem(plan) is not None:
            continue
        pe = accel.pe_array.with_dataflow(mapping.dataflow)
        counts, _ = level_module(pe.family, "reference").simulate_gemm(pe, plan)
        cycles = total_cycles(counts.compute_cycles, counts.dram_bits, counts.prologue_bits,
                              counts.epilogue_bits, accel.dram.bits_per_cycle)
        energy = counts_energy_pj(accel, pe, counts)["energy_pj_total"]
        score = {"cycles": cycles, "energy": energy, "edp": cycles * energy}[objective]
        if best is None or score < best[0]:
            best = (score, mapping)
    return best[1]


FAMILY_FIELDS = {
    "systolic_int8": {}, "fp16": {}, "ant": {}, "olive": {}, "bitfusion": {},
    "mixpe": {"a_bits": 8},
    "bitmod": {"weight_format": "bitmod_fp4", "guard_bits": 3, "metadata_bits": 18},
}
OS_ONLY = {"bitfusion", "mixpe", "bitmod"}


@settings(max_examples=40, deadline=None)
@given(family=st.sampled_from(sorted(FAMILY_FIELDS)), M=st.integers(1, 80),
       K=st.integers(1, 80), N=st.integers(1, 80), side=st.integers(1, 3),
       kib=st.sampled_from([0.25, 1.0, 4.0]), bw=st.sampled_from([8, 64]),
       objective=st.sampled_from(OBJECTIVES))
def test_brute_force_picks_the_same_mapping(family, M, K, N, side, kib, bw, objective):
    rows = 2 * side if family == "olive" else side + 1
    accel = make_accel(rows=rows, cols=side + 2, family=family, kib=kib, bits_per_cycle=bw,
                       dataflow="os" if family in OS_ONLY else "ws", mapping="auto",
                       **FAMILY_FIELDS[family])
    assert choose(accel, M, K, N, objective).mapping == _brute_force(accel, M, K, N, objective)


@settings(max_examples=40, deadline=None)
@given(family=st.sampled_from(sorted(FAMILY_FIELDS)), M=st.integers(1, 60),
       K=st.integers(1, 60), N=st.integers(1, 60), side=st.integers(1, 3),
       kib=st.sampled_from([0.25, 1.0, 64.0]), overlapped=st.booleans(),
       objective=st.sampled_from(OBJECTIVES), seed=st.integers(0, 2**16))
def test_engines_agree_in_every_mode(family, M, K, N, side, kib, overlapped, objective, seed):
    fields = dict(FAMILY_FIELDS[family])
    if overlapped and family not in OS_ONLY:
        fields["preload"] = "overlapped"
    rows = 2 * side if family == "olive" else side + 1
    accel = make_accel(rows=rows, cols=side + 1, family=family, kib=kib, mapping="auto",
                       dataflow="os" if family in OS_ONLY else "ws", **fields)
    layer = gemm_layer(M, K, N, seed=seed)
    ref = sim.run([layer], accel, engine="reference", values=True, objective=objective)
    fast = sim.run([layer], accel, engine="fast", values=True, objective=objective)
    assert_same_frame(ref.frame, fast.frame)
    assert ref.events == fast.events
    out_r, out_f = ref.outputs[layer.name], fast.outputs[layer.name]
    raw = np.dtype(f"u{out_r.dtype.itemsize}")
    np.testing.assert_array_equal(out_r.view(raw), out_f.view(raw))


@pytest.mark.parametrize("engine", ["reference", "fast"])
def test_overlapped_preload_by_hand(engine):
    # 4x4 ws, 8x8x8, fixed: folds = ceil(8/4) * ceil(8/4) = 4, each streaming M = 8.
    # serial: 2*4 + 4 + 8 - 2 = 18 per fold -> 72; overlapped: the first fold 18, the other
    # three hide their R = 4 preload cycles: 4 + 4 + 8 - 2 = 14 -> 18 + 3 * 14 = 60
    for preload, cycles in (("serial", 72), ("overlapped", 60)):
        accel = make_accel(rows=4, cols=4, preload=preload)
        frame = sim.run([gemm_layer(8, 8, 8)], accel, engine=engine).frame
        assert int(frame.compute_cycles[0]) == cycles
    # os has no stationary input to preload: overlapped changes nothing (2 + ... = R+C+K-2)
    accel = make_accel(rows=4, cols=4, dataflow="os", preload="overlapped")
    assert int(sim.run([gemm_layer(8, 8, 8)], accel, engine=engine).frame
               .compute_cycles[0]) == 4 * (4 + 4 + 8 - 2)


def test_stream_tile_and_loop_order_by_hand():
    # 2x2 ws array, M x K x N = 8 x 4 x 4, stream tile 4, rows outer: 2 chunks of M = 4,
    # each with 2 x 2 folds of 2*2 + 2 + 4 - 2 = 8 cycles -> 8 folds, 64 cycles (untiled:
    # 4 folds of 12 = 48: the tile pays fill/drain twice)
    accel = make_accel(rows=2, cols=2, kib=64.0)
    plan = plan_gemm(accel, 8, 4, 4, Mapping(accel.pe_array.dataflow, LoopOrder.ROWS_OUTER, 4))
    counts, _ = level_module("systolic_int8", "reference").simulate_gemm(accel.pe_array, plan)
    assert (counts.folds, counts.compute_cycles) == (8, 64)
    # weights (B, 4 x 4 int8 = 128 bits) fit: read once over both chunks; A (8 x 4) once;
    # outputs written once (32-bit partial sums stay in the buffer): 8 x 4 x 32 bits
    assert (counts.dram_rd.B, counts.dram_rd.A, counts.dram_wr.O) == (128, 256, 1024)


def test_partial_sums_that_do_not_fit_are_outside_the_space():
    # 0.25 KiB output buffer: reuse half 1024 bits. ws rows_outer revisits a chunk's O
    # (D_c x T x 32 bits) over the 4 row blocks: N = 8, T = 8 -> 2048 bits > 1024: rejected
    accel = make_accel(rows=2, cols=2, kib=0.25)
    plan = plan_gemm(accel, 8, 8, 8, Mapping(accel.pe_array.dataflow, LoopOrder.ROWS_OUTER, 8))
    assert mapping_problem(plan) == ("rows_outer needs the partial sums it revisits in the output "
                                     "buffer")
    assert evaluate(accel, 8, 8, 8, plan_mapping(plan)) is None
    # T = 4: 1024 bits fit, the mapping is in the space
    ok = plan_gemm(accel, 8, 8, 8, Mapping(accel.pe_array.dataflow, LoopOrder.ROWS_OUTER, 4))
    assert mapping_problem(ok) is None


def plan_mapping(plan):
    from qaccel.arch.spec import Dataflow

    flow = {("K", "N", "M"): Dataflow.WS, ("M", "N", "K"): Dataflow.OS,
            ("K", "M", "N"): Dataflow.IS}[(plan.row_dim, plan.col_dim, plan.stream_dim)]
    return Mapping(flow, plan.loop_order, plan.tile)


def test_group_sum_pes_split_k_at_group_boundaries_only():
    # bitmod's FP32 group sums may leave the array only between groups of 128: K = 4096
    # gives the untiled 4096 and the powers of two 128 .. 2048 (not 16, 32, 64)
    accel = load_accelerator("bitmod-prefill")
    tiles = sorted({m.stream_tile for m in candidate_mappings(accel.pe_array, 256, 4096, 4096)})
    assert tiles == [128, 256, 512, 1024, 2048, 4096]


def test_fixed_mapping_mode_reproduces_the_preset_schedule():
    accel = dataclasses.replace(load_accelerator("systolic-int8-32x32"),
                                mapping=MappingMode.FIXED)
    frame = sim.run([gemm_layer(64, 64, 64)], accel).frame
    # ws 32x32: 2 x 2 folds of 2*32 + 32 + 64 - 2 = 158 (SCALE-Sim v3) -> 632
    assert (frame.dataflow[0], frame.loop_order[0], int(frame.stream_tile[0]),
            int(frame.compute_cycles[0])) == ("ws", "cols_outer", 64, 632)


# ---- bad input: a mapping the hardware lacks ------------------------------------------------

@pytest.mark.parametrize(("argv", "message"), [
    (["--arch", "bitmod-prefill", "--dataflow", "ws"],
     "--dataflow: must be one of 'os' for the bitmod array, not 'ws'"),
    (["--arch", "mixpe-w4a8", "--preload", "overlapped"],
     "--preload: must be one of 'serial' for the mixpe array, not 'overlapped'"),
    (["--arch", "systolic-int8-8x8", "--mapping", "best"],
     "--mapping: must be one of 'auto', 'dataflow', 'fixed', not 'best'"),
    (["--arch", "systolic-int8-8x8", "--objective", "speed"],
     "--objective: must be one of cycles, energy, edp, not 'speed'"),
])
def test_cli_rejects_mappings_the_hardware_lacks(capsys, argv, message):
    assert main(["sim", *argv, "--gemm", "8x8x8"]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == f"qaccel sim: error: {message}"
    assert "Traceback" not in captured.err


def test_yaml_preload_the_family_lacks_is_one_config_error():
    from tests.conftest import accel_dict

    spec = accel_dict(family="mixpe", dataflow="os", a_bits=8, preload="overlapped")
    with pytest.raises(ConfigError, match=r"pe_array\.preload: must be one of 'serial' for the "
                       r"mixpe array, not 'overlapped'"):
        load_accelerator(spec)


def test_mapping_dataflow_mode_keeps_the_spec_dataflow():
    # 256x4096x4096 on ant-decode: auto picks os (docs/mapping.md); `mapping: dataflow` keeps
    # the spec's ws and still tiles / orders: never worse than fixed ws, never better than auto
    base = load_accelerator("ant-decode")
    layer = gemm_layer(256, 4096, 4096)
    totals = {}
    for mode in MappingMode:
        frame = sim.run([layer], dataclasses.replace(base, mapping=mode)).frame
        totals[mode] = int(frame.total_cycles[0])
        assert frame.dataflow[0] == ("os" if mode is MappingMode.AUTO else "ws"), mode
    assert totals[MappingMode.AUTO] <= totals[MappingMode.DATAFLOW] <= totals[MappingMode.FIXED]


@pytest.mark.parametrize("mapping", ["fixed", "auto"])
def test_a_changed_accelerator_never_hits_a_stale_memo(mapping):
    """The memos (mapper choices, timing rows, fold events and cycles) live in each
    accelerator's context: a copy with one field changed is simulated afresh, as the
    reference engine (fold loop, LRU buffers) simulates it."""
    layers = [gemm_layer(37, 100, 45), gemm_layer(64, 64, 64, count=2), gemm_layer(9, 300, 5)]
    base = make_accel(rows=8, cols=8, kib=1.0, bits_per_cycle=32, mapping=mapping)
    first = sim.run(layers, base, "fast", values=False).frame      # fills base's memos
    variants = {
        "dram": dataclasses.replace(base, dram=dataclasses.replace(base.dram, bits_per_cycle=8)),
        "buffer": dataclasses.replace(base, output_buffer=dataclasses.replace(
            base.output_buffer, size_kib=0.25)),
        "rows": base.replace_array(rows=4),
        "node": dataclasses.replace(base, tech=dataclasses.replace(base.tech, node_nm=45)),
    }
    for name, accel in variants.items():
        fast = sim.run(layers, accel, "fast", values=False).frame
        assert not fast.equals(first), name
        assert_same_frame(fast, sim.run(layers, accel, "reference", values=False).frame)
    assert_same_frame(sim.run(layers, base, "fast", values=False).frame, first)


def test_equal_accelerators_share_one_context():
    from qaccel.sim.mapper import clear_caches, context_of

    a, b = make_accel(), make_accel()
    assert a is not b and a == b
    assert context_of(a) is context_of(b)
    assert context_of(dataclasses.replace(a, clock_mhz=500)) is not context_of(a)
    ctx = context_of(a)
    clear_caches()
    assert context_of(a) is not ctx


def test_memo_budget_forgets_and_recomputes(monkeypatch):
    """Past the entry budget (over every context, and over every array's fold memos) every
    memo is forgotten; results are unchanged and the memos stay within the budget."""
    from qaccel.sim import mapper
    from qaccel.sim.fast import fold_memo

    layers = [gemm_layer(m, 2 * m + 1, 3 * m + 2) for m in range(1, 12)]
    accel = make_accel(rows=4, cols=4, mapping="auto")
    mapper.clear_caches()
    full = sim.run(layers, accel, "fast", values=False).frame
    monkeypatch.setattr(mapper, "MAX_ENTRIES", 3)
    monkeypatch.setattr(fold_memo, "MAX_ENTRIES", 5)
    mapper.clear_caches()
    assert_same_frame(sim.run(layers, accel, "fast", values=False).frame, full)
    assert sum(len(c.rows) + len(c.choices) for c in mapper._BY_VALUE.values()) <= 3
    held = sum(len(m.events) + len(m.cycles) for _, m in fold_memo._MEMOS.values())
    assert held <= 5 and len(fold_memo._MEMOS) <= 5
