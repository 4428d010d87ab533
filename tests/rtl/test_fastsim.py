"""The fast verification path (C++ harness, :mod:`qaccel.rtl.fastsim`) against the cocotb bench.

For every family with RTL, a handful of tiles of its first 4x4 case (each family's
``RTL_CASES``, spread over the case's sources) go through both paths on Verilator: both
reports must pass against ``golden()`` / ``batch_timing()``, and agree field for field --
tiles and values checked, cycle counts compared, RUN cycles, batches and *every* simulated
clock edge (LOAD and DRAIN included), which holds only if the harness plays the streams
exactly as the cocotb driver and monitors do. One harness build per design (4x4, under
``build/rtl/fast/``), reused between runs. Mutations show the fast checker can fail: a
corrupted input beat (values) and a controller whose ``done`` comes a cycle late (cycles).
``qaccel rtl verify --fast`` end to end: a pass, a corrupted beat (exit 1) and conflicting
options (exit 2, both problems).
"""

from __future__ import annotations

import functools
import re
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from qaccel.arch.pe.registry import level_module
from qaccel.arch.pe.tile import Tile
from qaccel.cli import main
from qaccel.rtl import fastsim
from qaccel.rtl.controller import ControllerFault
from qaccel.rtl.export import create_top
from qaccel.rtl.fastsim import pack_words, unpack_words, verify_fast
from qaccel.rtl.tb.beats import pack_row, plan_batches, to_stream_tiles, unpack_row
from qaccel.rtl.tb.driver import Corruption
from qaccel.rtl.tb.model import batch_cycles
from qaccel.rtl.tb.stimulus import random_tiles
from tests.rtl import support
from tests.rtl.support import BUILD_ROOT, assert_report_matches, require_tool
from tests.rtl.test_icarus import FAMILY_TABLES, spread
from tests.rtl.test_mixpe import BUFFER_ROWS as MIXPE_BUFFER_ROWS
from tests.rtl.test_mixpe import MAX_TILES as MIXPE_MAX_TILES

pytestmark = pytest.mark.rtl

#: tiles per family (spread over its first 4x4 case): more than one batch for mixpe (8
#: tiles per batch there), one full and one partial batch elsewhere (16 per batch)
TILES = 20
#: design options of a family's case table (as its ``run_level`` passes them)
DESIGN_KW: dict[str, dict[str, Any]] = {
    "mixpe": {"buffer_rows": MIXPE_BUFFER_ROWS, "max_tiles": MIXPE_MAX_TILES}}
#: report fields that must be equal on both paths (only wall times may differ)
SAME_FIELDS = ("tiles", "tiles_checked", "values_compared", "cycles_compared", "run_cycles",
               "batch_tiles", "sim_cycles", "mismatches", "errors")


def _first_4x4(module: Any) -> Any:
    return next(c for c in module.RTL_CASES if (c.rows, c.cols) == (4, 4))


RUNS = [(family, _first_4x4(module)) for family, module in FAMILY_TABLES.items()]


def _expected_port_cycles(params: Any, tiles: list[Tile], batch_tiles: list[int]) -> list[int]:
    out, pos = [], 0
    for count in batch_tiles:
        out += batch_cycles(params, tiles[pos:pos + count])
        pos += count
    return out


def _both(family: str, params: Any, tiles: list[Tile]) -> tuple[Any, Any]:
    require_tool("verilator")
    kw = DESIGN_KW.get(family, {})
    cocotb = support.run_level("verilator", params, tiles, **kw)
    fast = verify_fast(params, tiles, build_root=BUILD_ROOT, **kw)
    return cocotb, fast


@pytest.mark.parametrize(("family", "case"), RUNS, ids=[f for f, _ in RUNS])
def test_fast_and_cocotb_agree(family: str, case: Any) -> None:
    tiles = spread(FAMILY_TABLES[family].case_tiles(case), TILES)
    cocotb, fast = _both(family, case.params, tiles)
    assert "fast" not in cocotb.simulator and fast.report.simulator == "verilator-fast"
    assert_report_matches(cocotb, case.params, tiles)
    assert_report_matches(fast.report, case.params, tiles)
    for name in SAME_FIELDS:
        assert getattr(fast.report, name) == getattr(cocotb, name), name
    assert len(cocotb.batch_tiles) >= 2, cocotb.batch_tiles  # batch boundaries exercised
    assert fast.cycles == _expected_port_cycles(case.params, tiles, fast.report.batch_tiles)


def test_fast_and_cocotb_agree_with_overlapped_preload() -> None:
    """Shadow stationary registers: every tile after a batch's first hides its preload, so
    the per-tile cycles depend on the batch boundaries the harness must keep."""
    module = FAMILY_TABLES["systolic_int8"]
    case = _first_4x4(module)
    params = replace(case.params, preload="overlapped")
    tiles = spread(module.case_tiles(case), TILES)
    cocotb, fast = _both("systolic_int8", params, tiles)
    assert_report_matches(fast.report, params, tiles)
    for name in SAME_FIELDS:
        assert getattr(fast.report, name) == getattr(cocotb, name), name
    port = fast.cycles
    assert port == _expected_port_cycles(params, tiles, fast.report.batch_tiles)
    assert port[1] < port[0] or tiles[1].M > tiles[0].M  # overlapped: R cycles shorter


@pytest.mark.parametrize(("family", "buffer_rows"), [("systolic_int8", 48), ("mixpe", None)])
def test_streamed_batches_are_the_benchs_batches(family: str, buffer_rows: int | None) -> None:
    """:func:`fastsim.iter_batches` (batches piped as they are packed) cuts the tiles where
    the bench's :func:`plan_batches` does, at the tile limit and at full data or metadata
    buffers, and its input words equal the whole-file input's. No simulator needed."""
    module = FAMILY_TABLES[family]
    case = _first_4x4(module)
    tiles = module.case_tiles(case)
    kw = DESIGN_KW.get(family, {})
    if buffer_rows is not None:
        kw = {**kw, "buffer_rows": buffer_rows}
    design = create_top(case.params, **kw).design
    family_rtl = level_module(case.params.family, "rtl")
    want = [[st.index for st in batch]
            for batch in plan_batches(to_stream_tiles(case.params, family_rtl, design, tiles),
                                      design)]
    streamed = list(fastsim.iter_batches(case.params, family_rtl, design, tiles))
    assert [[tb.index for tb in batch] for batch, _ in streamed] == want
    assert len(want) >= 2
    if buffer_rows is not None:
        assert any(len(b) < design.max_tiles for b in want[:-1])  # a full buffer cut one
    whole = fastsim.input_file(design, *fastsim.plan_job(case.params, family_rtl, design,
                                                         tiles))
    piped = b"".join(fastsim.input_batch(design, b, lim) for b, lim in streamed)
    assert whole == fastsim.input_head(design, len(want)) + piped


def test_fast_path_flags_a_corrupted_beat() -> None:
    require_tool("verilator")
    case = _first_4x4(FAMILY_TABLES["systolic_int8"])
    tiles = spread(FAMILY_TABLES["systolic_int8"].case_tiles(case), 6)
    run = verify_fast(case.params, tiles, build_root=BUILD_ROOT,
                      corrupt=Corruption(tile=2, row=0, lane=0, xor=0x01, stream="a"))
    report = run.report
    assert not report.passed
    assert [m.split(":")[0] for m in report.mismatches] == ["tile 2"], report.mismatches
    assert "values" in report.mismatches[0]
    assert report.cycles_compared == report.tiles_checked == len(tiles)


def test_fast_path_flags_a_late_done() -> None:
    """``done`` one edge after the last result is written: the measured start->done
    periods exceed batch_timing() while the cycles port still agrees."""
    require_tool("verilator")
    case = _first_4x4(FAMILY_TABLES["systolic_int8"])
    tiles = spread(FAMILY_TABLES["systolic_int8"].case_tiles(case), 4)
    run = verify_fast(case.params, tiles, build_root=BUILD_ROOT,
                      fault=ControllerFault("done_late"))
    checks = {m.split(": ")[1] for m in run.report.mismatches}
    assert checks == {"measured"}, run.report.mismatches
    assert run.report.tiles_checked == len(tiles)


@pytest.mark.parametrize(("lanes", "bits"), [(4, 4), (4, 5), (4, 6), (16, 8), (4, 9),
                                             (4, 16), (16, 32), (4, 64), (6, 11), (2, 33),
                                             (16, 4), (20, 4), (33, 2), (70, 1)])
def test_pack_words_are_pack_row_words(lanes: int, bits: int) -> None:
    """The vectorized packing against the bench's own per-row :func:`pack_row` (and back
    against :func:`unpack_row`), extreme codes and partial rows included."""
    rng = np.random.default_rng(bits * 100 + lanes)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    for width in (lanes, max(lanes - 1, 1)):
        codes = rng.integers(lo, hi, (7, width), dtype=np.int64, endpoint=True)
        codes[0, 0], codes[1, -1] = lo, hi
        words = pack_words(codes, lanes, bits)
        assert words.dtype == np.dtype("<u4") and words.shape == (7, (lanes * bits + 31) // 32)
        back = unpack_words(words, lanes, bits)
        for row, got, codes_back in zip(codes, words, back, strict=True):
            want = pack_row(row, lanes, bits)
            assert int.from_bytes(got.tobytes(), "little") == want
            assert codes_back.tolist() == unpack_row(want, lanes, bits).tolist()
            assert codes_back.tolist()[:width] == row.tolist()


def test_pack_words_refuses_rows_wider_than_the_port() -> None:
    with pytest.raises(ValueError, match=r"at most 4 columns, not shape \(2, 5\)"):
        pack_words(np.zeros((2, 5), dtype=np.int64), 4, 8)


def test_cli_verify_fast(capsys: pytest.CaptureFixture[str]) -> None:
    """``qaccel rtl verify --fast``: the cocotb command's report lines, from the harness (the
    4x4 build the agreement tests use)."""
    require_tool("verilator")
    assert main(["rtl", "verify", "--rows", "4", "--cols", "4", "--tiles", "20", "--seed", "3",
                 "--max-streamed", "9", "--fast", "--quiet",
                 "--build-dir", str(BUILD_ROOT)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("systolic_int8_4x4_d256_t16 on verilator-fast: 20/20 tiles checked")
    assert "tiles checked: 20 of 20\n" in out
    assert re.search(r"^cycles compared: 20 tiles ", out, re.M)
    assert re.search(r"^simulated cycles/s: [\d,]+ in RUN", out, re.M)
    assert out.endswith("PASS\n")


def test_cli_verify_fast_fails_on_a_corrupted_beat(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A real harness run whose tile 1 gets one flipped activation bit (the mutation of
    :func:`test_fast_path_flags_a_corrupted_beat`): FAIL, exit status 1, the tile named."""
    require_tool("verilator")
    corrupt = Corruption(tile=1, row=0, lane=0, xor=0x01, stream="a")
    monkeypatch.setattr(fastsim, "verify_fast",
                        functools.partial(fastsim.verify_fast, corrupt=corrupt))
    assert main(["rtl", "verify", "--rows", "4", "--cols", "4", "--tiles", "3", "--seed", "3",
                 "--max-streamed", "9", "--fast", "--quiet",
                 "--build-dir", str(BUILD_ROOT)]) == 1
    out = capsys.readouterr().out
    assert "  mismatch: tile 1: values" in out, out
    assert "tiles checked: 3 of 3\n" in out and out.endswith("FAIL\n")


def test_cli_verify_fast_refuses_other_simulators(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rtl", "verify", "--rows", "2", "--cols", "2", "--fast", "--simulator",
                 "icarus", "--netlist"]) == 2
    assert capsys.readouterr().err == (
        "qaccel rtl: error: 2 problems:\n"
        "  - --fast: runs on Verilator only (the C++ harness), not --simulator icarus\n"
        "  - --fast: cannot simulate the gate-level netlist (--netlist runs on Icarus); drop "
        "one of them\n")


def test_cli_verify_fast_refuses_a_bad_jobs_count_with_the_other_problems(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rtl", "verify", "--rows", "2", "--cols", "2", "--fast", "--netlist",
                 "--simulator", "icarus", "--jobs", "0"]) == 2
    assert capsys.readouterr().err == (
        "qaccel rtl: error: 3 problems:\n"
        "  - --fast: runs on Verilator only (the C++ harness), not --simulator icarus\n"
        "  - --fast: cannot simulate the gate-level netlist (--netlist runs on Icarus); drop "
        "one of them\n"
        "  - --jobs: must be an int in 1..64, not 0\n")


def test_cli_verify_jobs_needs_fast(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rtl", "verify", "--rows", "2", "--cols", "2", "--jobs", "2"]) == 2
    assert capsys.readouterr().err == (
        "qaccel rtl: error: --jobs: runs harness processes of --fast only; add --fast or drop "
        "--jobs 2\n")


#: tiles of the sharding tests: 5 batches of systolic_int8 4x4 (16 a batch), 8 of mixpe's
SHARD_TILES = 70


@pytest.mark.parametrize("family", ["systolic_int8", "mixpe"])
def test_sharded_run_is_the_single_run(family: str) -> None:
    """Batches over 3 harness processes (batch i in process i % 3): the report is the
    ``jobs=1`` report field for field -- edges, RUN cycles, every tile's cycles -- and a
    corrupted beat in a batch that is not the first process's is flagged in the same words."""
    require_tool("verilator")
    module = FAMILY_TABLES[family]
    case = _first_4x4(module)
    tiles = spread(module.case_tiles(case), SHARD_TILES)
    kw = DESIGN_KW.get(family, {})
    for corrupt in (None, Corruption(tile=len(tiles) // 3, row=0, lane=0, xor=0x01,
                                     stream="a")):
        one = verify_fast(case.params, tiles, build_root=BUILD_ROOT, jobs=1, corrupt=corrupt,
                          **kw)
        three = verify_fast(case.params, tiles, build_root=BUILD_ROOT, jobs=3,
                            corrupt=corrupt, **kw)
        assert (one.jobs, three.jobs) == (1, 3)
        assert len(one.report.batch_tiles) >= 4, one.report.batch_tiles
        for name in SAME_FIELDS:
            assert getattr(three.report, name) == getattr(one.report, name), name
        assert three.cycles == one.cycles
        assert one.report.passed is (corrupt is None)
        if corrupt is not None:
            assert [m.split(":")[0] for m in three.report.mismatches] == \
                [f"tile {corrupt.tile}"]
        else:
            assert_report_matches(three.report, case.params, tiles)


def test_sharded_run_with_a_timeout_is_the_single_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch whose ``done`` wait is cut to 3 cycles times out in its harness: the sharded
    run reports what the one-process run reports (the error, the batches up to it, the
    tiles never observed)."""
    require_tool("verilator")
    module = FAMILY_TABLES["systolic_int8"]
    case = _first_4x4(module)
    tiles = spread(module.case_tiles(case), SHARD_TILES)
    limits = fastsim._limits

    def short(params: Any, design: Any, batch: Any) -> Any:
        rows, done, drain, load = limits(params, design, batch)
        return (rows, 3, drain, load) if batch[0].index > 20 else (rows, done, drain, load)

    monkeypatch.setattr(fastsim, "_limits", short)
    one = verify_fast(case.params, tiles, build_root=BUILD_ROOT, jobs=1)
    three = verify_fast(case.params, tiles, build_root=BUILD_ROOT, jobs=3)
    assert one.report.errors and one.report.errors[0].startswith(
        "WaitTimeout: done did not rise within 3 cycles"), one.report.errors
    assert one.report.tiles_checked < len(tiles)
    assert three.jobs == 1  # repeated in one process
    for name in SAME_FIELDS:
        assert getattr(three.report, name) == getattr(one.report, name), name
    assert three.cycles == one.cycles


def test_default_jobs_are_the_usable_cores_capped_by_batches(
        monkeypatch: pytest.MonkeyPatch) -> None:
    design = create_top(_first_4x4(FAMILY_TABLES["systolic_int8"]).params).design
    assert design.max_tiles == 16
    monkeypatch.setattr(fastsim.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert [fastsim.default_jobs(n, design) for n in (0, 1, 16, 17, 33, 48, 49, 1000)] == \
        [1, 1, 1, 2, 3, 3, 4, 4]
    monkeypatch.setattr(fastsim.os, "sched_getaffinity", lambda pid: {5})
    assert fastsim.default_jobs(1000, design) == 1


@pytest.mark.parametrize("jobs", [0, -1, 1.5, True, "2"])
def test_verify_fast_refuses_bad_jobs(jobs: Any) -> None:
    case = _first_4x4(FAMILY_TABLES["systolic_int8"])
    with pytest.raises(ValueError, match=r"jobs must be an int >= 1 or None, not "):
        verify_fast(case.params, [], build_root=BUILD_ROOT, jobs=jobs)


def test_profile_guided_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """``QACCEL_FAST_PGO=1`` on a small design: an instrumented build, its training run
    (profiles next to the objects), the optimized build; a second call reuses it; its report
    equals the plain build's field for field."""
    require_tool("verilator")
    case = _first_4x4(FAMILY_TABLES["systolic_int8"])
    params = replace(case.params, rows=2, cols=2)
    tiles = random_tiles(params, 6, seed=3, max_streamed=9)
    plain = verify_fast(params, tiles, build_root=BUILD_ROOT, jobs=1)
    monkeypatch.setenv("QACCEL_FAST_PGO", "1")
    root = BUILD_ROOT / "pgo"
    exe = fastsim.build_fast(create_top(params), root, params=params)
    log = (exe.parent.parent / "build.log").read_text()
    assert "-fprofile-generate" in log and "-fprofile-use" in log
    assert (exe.parent / "Vfast__ALL.gcda").is_file()
    built = exe.stat().st_mtime_ns
    assert fastsim.build_fast(create_top(params), root, params=params) == exe
    assert exe.stat().st_mtime_ns == built  # reused: same stamp
    guided = verify_fast(params, tiles, build_root=root, jobs=1)
    assert guided.report.passed
    for name in SAME_FIELDS:
        assert getattr(guided.report, name) == getattr(plain.report, name), name


def test_large_designs_and_the_pgo_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not fastsim.is_large("x" * 999_999) and fastsim.is_large("x" * 1_000_000)
    monkeypatch.delenv("QACCEL_FAST_PGO", raising=False)
    assert [fastsim.pgo_default(large) for large in (False, True)] == [False, True]
    for setting, want in (("auto", [False, True]), ("0", [False, False]), ("1", [True, True])):
        monkeypatch.setenv("QACCEL_FAST_PGO", setting)
        assert [fastsim.pgo_default(large) for large in (False, True)] == want, setting


def test_training_input_is_seeded_and_fits_the_design() -> None:
    """The training set: the same bytes every time (so a rebuild reuses the stamp), the
    family's random tiles in the harness's input format, batched for the design."""
    case = _first_4x4(FAMILY_TABLES["mixpe"])
    design = create_top(case.params, **DESIGN_KW["mixpe"]).design
    data = fastsim.train_input(case.params, design)
    assert data == fastsim.train_input(case.params, design)
    head = np.frombuffer(data[:32], dtype="<u4")
    assert head[0] == 0x49534651 and head[2] == 3  # 'QFSI', w, a and m streams
    assert head[7] >= -(-fastsim.TRAIN_TILES // design.max_tiles)  # batches
