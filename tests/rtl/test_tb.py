"""Testbench parts on their own: beat packing, batch planning, scoreboard verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from qaccel.arch.pe.systolic_int8 import SystolicInt8
from qaccel.arch.pe.tile import Tile
from qaccel.arch.spec import Dataflow
from qaccel.rtl.controller import Design
from qaccel.rtl.tb.beats import StreamTile, pack_row, plan_batches, unpack_row
from qaccel.rtl.tb.driver import Corruption
from qaccel.rtl.tb.model import Expected
from qaccel.rtl.tb.scoreboard import InOrderScoreboard
from qaccel.rtl.tb.stimulus import gemm_tiles, random_tiles


def test_pack_row_puts_code_i_in_bits_8i() -> None:
    assert pack_row(np.array([1, -1, -128]), lanes=4, bits=8) == 0x00_80_FF_01
    assert pack_row(np.array([-2]), lanes=2, bits=32) == 0x00000000_FFFFFFFE
    assert pack_row(np.array([-1, 1]), lanes=2, bits=4) == 0x1F


def test_unpack_row_is_signed() -> None:
    assert unpack_row(0x00_80_FF_01, lanes=4, bits=8).tolist() == [1, -1, -128, 0]
    assert unpack_row(0x7FFFFFFF_80000000, lanes=2, bits=32).tolist() == [-2**31, 2**31 - 1]
    assert unpack_row(0x1F, lanes=2, bits=4).tolist() == [-1, 1]


def _design(buffer_rows: int, max_tiles: int) -> Design:
    return Design(name="t", params={}, rows=2, cols=2, w_word_bits=8, a_word_bits=8,
                  acc_bits=32, buffer_rows=buffer_rows, max_tiles=max_tiles)


def _stream_tile(index: int, streamed: int) -> StreamTile:
    tile = Tile(np.zeros((streamed, 1), np.int8), np.zeros((1, 1), np.int8))
    return StreamTile(index, tile, (0,), (0,) * streamed)


def test_plan_batches_fills_rows_and_tiles_in_order() -> None:
    tiles = [_stream_tile(i, s) for i, s in enumerate([3, 4, 2, 1, 5])]
    by_rows = plan_batches(tiles, _design(buffer_rows=7, max_tiles=16))
    assert [[t.index for t in b] for b in by_rows] == [[0, 1], [2, 3], [4]]
    by_tiles = plan_batches(tiles, _design(buffer_rows=64, max_tiles=2))
    assert [[t.index for t in b] for b in by_tiles] == [[0, 1], [2, 3], [4]]


def _expected(index: int = 0) -> Expected:
    tile = Tile(np.array([[1, 2]], np.int8), np.array([[3], [4]], np.int8))
    return Expected(index, tile, np.array([[11]], np.int32), cycles=7)


def _scoreboard() -> InOrderScoreboard:
    return InOrderScoreboard(lambda tile, rows: rows[:, :tile.N])


def test_scoreboard_passes_equal_observations() -> None:
    sb = _scoreboard()
    sb.add_expected(_expected())
    sb.add_cycles(7, 7)
    sb.add_rows(np.array([[11, 0]]))
    assert sb.mismatches == [] and sb.pending == 0 and sb.tiles_checked == 1


@pytest.mark.parametrize(("cycles", "measured", "rows", "checks"), [
    (8, 7, [[11, 0]], ["cycles"]),
    (7, 6, [[11, 0]], ["measured"]),
    (7, 7, [[-11, 0]], ["values"]),
    (7, 7, [[11, 0], [0, 0]], ["values"]),   # an extra row
])
def test_scoreboard_reports_each_kind_of_difference(cycles: int, measured: int,
                                                    rows: list, checks: list) -> None:
    sb = _scoreboard()
    sb.add_expected(_expected(index=4))
    sb.add_cycles(cycles, measured)
    sb.add_rows(np.array(rows))
    assert [(m.tile, m.check) for m in sb.mismatches] == [(4, c) for c in checks]


def test_scoreboard_value_message_shows_hex() -> None:
    sb = _scoreboard()
    sb.add_expected(_expected(index=2))
    sb.add_rows(np.array([[-3, 0]]))
    assert str(sb.mismatches[0]) == ("tile 2: values: 1 of 1 differ (M=1 K=2 N=1): "
                                     "out[0,0] -3 (0xfffffffd) != 11 (0x0000000b); "
                                     "a=[[1, 2]] b=[[3], [4]]")


def test_scoreboard_rejects_unpredicted_observations() -> None:
    with pytest.raises(AssertionError, match=r"^done observed with no tile predicted"):
        _scoreboard().add_cycles(7, 7)


def test_corruption_must_change_something() -> None:
    with pytest.raises(ValueError, match=r"^Corruption.xor must be non-zero, not 0$"):
        Corruption(tile=0, row=0, lane=0, xor=0)


@pytest.mark.parametrize("dataflow", ["ws", "is"])
def test_random_tiles_fit_one_fold(dataflow: str) -> None:
    params = SystolicInt8(rows=3, cols=5, dataflow=Dataflow(dataflow))
    tiles = random_tiles(params, 200, seed=1, max_streamed=9)
    for tile in tiles:
        params.check_tile(tile)
    streamed = [tile.dims[params.mapping[2]] for tile in tiles]
    assert min(streamed) == 1 and max(streamed) == 9
    assert min(t.a.min() for t in tiles) == -128 and max(t.b.max() for t in tiles) == 127


def test_gemm_tiles_sum_to_the_gemm() -> None:
    params = SystolicInt8(rows=4, cols=3, dataflow=Dataflow.WS)
    rng = np.random.default_rng(0)
    a = rng.integers(-128, 128, (10, 9), dtype=np.int8)
    b = rng.integers(-128, 128, (9, 7), dtype=np.int8)
    tiles = gemm_tiles(params, a, b, max_streamed=4)
    assert len(tiles) == 3 * 3 * 3      # M 10 / 4, K 9 / 4, N 7 / 3 (rounded up)
    total = np.zeros((10, 7), np.int64)
    i = 0
    for m0 in range(0, 10, 4):
        for _k0 in range(0, 9, 4):
            for n0 in range(0, 7, 3):
                t = tiles[i]
                total[m0:m0 + t.M, n0:n0 + t.N] += t.a.astype(np.int64) @ t.b
                i += 1
    assert (total == a.astype(np.int64) @ b).all()


def test_plan_batches_respects_the_metadata_buffer() -> None:
    design = Design(name="t", params={}, rows=2, cols=2, w_word_bits=8, a_word_bits=8,
                    acc_bits=32, buffer_rows=64, max_tiles=16, schedule="os", meta_bits=8,
                    meta_rows=5)
    tiles = [StreamTile(i, _stream_tile(i, 2).tile, (0, 0), (0, 0), (0,) * g)
             for i, g in enumerate([2, 3, 1, 4, 1])]
    batches = plan_batches(tiles, design)
    assert [[t.index for t in b] for b in batches] == [[0, 1], [2, 3], [4]]
    # os tiles drain R result rows each, ws tiles one per streamed row
    assert (design.result_rows(7), _design(8, 2).result_rows(7)) == (2, 7)


def test_corruption_names_a_stream() -> None:
    assert Corruption(tile=0, row=0, lane=5, stream="m").stream == "m"
    with pytest.raises(ValueError, match=r"^Corruption.stream must be 'w', 'a' or 'm', not 'o'$"):
        Corruption(tile=0, row=0, lane=0, stream="o")


def test_scoreboard_compares_float_outputs_bit_for_bit() -> None:
    """FP32 results are compared as bit patterns: -0.0 != +0.0, and a difference in the last
    place is not hidden by a cast to integers."""
    tile = Tile(np.zeros((1, 1), np.int8), np.zeros((1, 2), np.int8))
    want = np.array([[0.0, 1.5]], np.float32)
    sb = InOrderScoreboard(lambda tile, rows: rows.astype(np.int32).view(np.float32))
    for got in ([[0.0, 1.5]], [[-0.0, 1.5]], [[0.0, np.nextafter(np.float32(1.5), 2)]]):
        sb.add_expected(Expected(0, tile, want, cycles=1))
        sb.add_rows(np.array(got, np.float32).view(np.int32).astype(np.int64))
    assert [m.message.split(":")[0] for m in sb.mismatches] == ["1 of 2 differ (M=1 K=1 N=2)"] * 2
    assert "out[0,0] -2147483648 (0x80000000) != 0 (0x00000000)" in sb.mismatches[0].message


@pytest.mark.parametrize("preload", ["serial", "overlapped"])
def test_model_predicts_a_batch_when_start_is_pulsed(preload: str) -> None:
    """Tiles reported before a ``start`` form one batch: nothing is predicted until the pulse,
    then every tile with its ``batch_timing`` cycles (4x4 ws, S = M: serial 2R + C + M - 2
    each; overlapped R + C + M - 2 after the batch's first), and the next batch starts over."""
    from qaccel.rtl.tb.model import TileModel

    params = SystolicInt8(rows=4, cols=4, dataflow=Dataflow.WS, preload=preload)
    tiles = [Tile(np.ones((m, 4), dtype=np.int8), np.ones((4, 4), dtype=np.int8))
             for m in (3, 5, 2)]
    got: list[Expected] = []
    model = TileModel(params, got.append)
    model.on_tile(0, tiles[0])
    model.on_tile(1, tiles[1])
    assert got == []
    model.on_start()
    model.on_tile(2, tiles[2])
    model.on_start()
    first = {"serial": [13, 15, 12], "overlapped": [13, 11, 12]}[preload]
    assert [(e.index, e.cycles) for e in got] == list(enumerate(first))
    assert got[1].out.tolist() == [[4] * 4] * 5


def test_scoreboard_ignores_x_outside_the_result_only() -> None:
    """Rows read with X bits as 0 and as 1 (Icarus): X in a lane the tile's result does not
    use (column 1 of an N = 1 tile) is a don't-care; X in the result is a mismatch."""
    sb = _scoreboard()
    sb.add_expected(_expected(index=0))
    sb.add_cycles(7, 7)
    sb.add_rows(np.array([[11, 0]]), np.array([[11, 0xFF]]))
    assert sb.mismatches == [] and sb.tiles_checked == 1
    sb.add_expected(_expected(index=1))
    sb.add_rows(np.array([[11, 0]]), np.array([[15, 0]]))
    assert [str(m) for m in sb.mismatches] == ["tile 1: values: 1 of 1 are X (M=1 K=2 N=1): "
                                               "out[0,0]"]


def test_cocotb_pins_read_x_bits_as_a_mask() -> None:
    from cocotb.types import Logic, LogicArray

    from qaccel.rtl.tb.pins import CocotbPins

    class Handle:
        def __init__(self, value: object) -> None:
            self.value = value

    class Dut:
        o_data = Handle(LogicArray("01XZ10"))
        done = Handle(Logic("1"))

    pins = CocotbPins(Dut())
    assert pins.get_x("o_data") == (0b010010, 0b001100)
    assert pins.get_x("done") == (1, 0) and pins.get("done") == 1
    with pytest.raises(AssertionError, match=r"^o_data is 01XZ10 \(X or Z bits\)$"):
        pins.get("o_data")
