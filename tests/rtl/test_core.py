"""The plug-in boundary: CoreSpec checks, core and PE signatures, ArrayTop arguments."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator

import pytest
from amaranth.hdl import Cat, Module, Mux, Shape, Signal
from amaranth.lib import wiring
from amaranth.sim import Simulator

from qaccel.arch.pe.systolic_int8 import SystolicInt8
from qaccel.arch.spec import Dataflow
from qaccel.rtl.controller import ArrayTop
from qaccel.rtl.core import CoreSpec, core_signature
from qaccel.rtl.pe.systolic_int8 import MacPE, create
from qaccel.rtl.systolic import SystolicCore, pe_signature


@pytest.fixture(autouse=True)
def _components_built_only_to_be_rejected() -> Iterator[None]:
    """These tests build components that are never elaborated, on purpose; collect them
    here so Amaranth's "created but never used" warnings do not land on later tests."""
    yield
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".* created but never used")
        gc.collect()


def test_core_signature_widths() -> None:
    spec = CoreSpec(rows=3, cols=5, w_word_bits=8, a_word_bits=4, acc_bits=20)
    members = core_signature(spec).members
    assert {name: Shape.cast(members[name].shape).width for name in members} == {
        "w_row": 40, "w_load": 1, "a_row": 12, "a_valid": 1, "o_data": 100, "o_valid": 5}


@pytest.mark.parametrize(("field", "value", "message"), [
    ("rows", 0, r"^CoreSpec\.rows must be a positive integer, not 0$"),
    ("meta_bits", -1, r"^CoreSpec\.meta_bits must be an integer >= 0, not -1$"),
    ("schedule", "is", r"^CoreSpec\.schedule must be 'ws' or 'os', not 'is'$"),
    ("beat_cycles", 2, r"^CoreSpec\.beat_cycles must be 1 for the ws schedule, not 2$"),
    ("beat_cycles", 0, r"^CoreSpec\.beat_cycles must be a positive integer, not 0$"),
])
def test_core_spec_rejects(field: str, value: int, message: str) -> None:
    kwargs = {"rows": 2, "cols": 2, "w_word_bits": 8, "a_word_bits": 8, "acc_bits": 32}
    kwargs[field] = value
    with pytest.raises(ValueError, match=message):
        CoreSpec(**kwargs)


def test_mac_pe_has_the_grid_signature() -> None:
    assert MacPE().signature == pe_signature(8, 8, 32)


def test_systolic_core_rejects_a_pe_with_other_ports() -> None:
    spec = CoreSpec(rows=1, cols=1, w_word_bits=8, a_word_bits=8, acc_bits=32)
    core = SystolicCore(spec, lambda: MacPE(acc_bits=16))
    with pytest.raises(TypeError, match=r"^PE must have signature "):
        core.elaborate(None)


def test_array_top_rejects_bad_buffer_sizes() -> None:
    params = SystolicInt8(rows=2, cols=2, dataflow=Dataflow.WS)
    with pytest.raises(ValueError, match=r"^buffer_rows must be an int in 1\.\.65536, not 0$"):
        create(params, buffer_rows=0)


def test_array_top_rejects_a_core_of_another_shape() -> None:
    spec = CoreSpec(rows=2, cols=2, w_word_bits=8, a_word_bits=8, acc_bits=32)
    other = SystolicCore(CoreSpec(rows=2, cols=3, w_word_bits=8, a_word_bits=8, acc_bits=32),
                         MacPE)
    with pytest.raises(TypeError, match=r"^core must have signature "):
        ArrayTop(spec, other, params={}, name="x")
    assert isinstance(other, wiring.Component)


# ---- os schedule and metadata read port -----------------------------------------------------
OS_SPEC = CoreSpec(rows=2, cols=2, w_word_bits=8, a_word_bits=8, acc_bits=32, meta_bits=8,
                   schedule="os", beat_cycles=2)


def test_os_core_signature_has_a_last_and_the_metadata_port() -> None:
    members = core_signature(OS_SPEC).members
    assert {name: Shape.cast(members[name].shape).width for name in members} == {
        "w_row": 16, "a_row": 16, "a_valid": 1, "a_last": 1, "m_row": 8, "m_addr": 16,
        "o_data": 64, "o_valid": 2}


class _ProbeCore(wiring.Component):
    """An os core that reads metadata beat 1 and, in the R cycles after the stream, delivers
    R results per column (word n of result j: 10*j + n)."""

    def __init__(self) -> None:
        super().__init__(core_signature(OS_SPEC))

    def elaborate(self, platform: object) -> Module:
        m = Module()
        was_last, left = Signal(), Signal(range(3))
        m.d.sync += was_last.eq(self.a_valid & self.a_last)
        m.d.comb += self.m_addr.eq(1)
        with m.If(was_last & ~self.a_last):
            m.d.sync += left.eq(2)
        with m.Elif(left != 0):
            m.d.sync += left.eq(left - 1)
        j = 2 - left
        m.d.comb += [self.o_valid.eq(Mux(left != 0, 0b11, 0)),
                     self.o_data.eq(Cat((10 * j)[:32], (10 * j + 1)[:32]))]
        return m


def test_os_schedule_presents_beats_in_lockstep_and_reads_metadata() -> None:
    """rtl/core.py "os": beat k on a_row and w_row in cycles 1 + 2k and 2 + 2k (beat_cycles
    2), a_last with the last beat, m_row = beat m_addr of the tile one cycle after; the tile
    ends with the core's last result: the probe sees the stream end (a_last falls) in cycle
    7 and delivers its R = 2 results in cycles 8 and 9, so T = 9."""
    core = _ProbeCore()
    top = ArrayTop(OS_SPEC, core, params={}, name="probe", buffer_rows=8, max_tiles=2,
                   meta_rows=4)
    seen: list[tuple[int, int, int, int, int, int]] = []
    out: dict[str, int] = {}

    async def bench(ctx: object) -> None:
        for s, beats in (("w", [0x0201, 0x0403, 0x0605]), ("a", [0x1211, 0x1413, 0x1615]),
                         ("m", [0xA0, 0xA1])):
            for i, word in enumerate(beats):
                ctx.set(getattr(top, f"{s}_valid"), 1)
                ctx.set(getattr(top, f"{s}_data"), word)
                ctx.set(getattr(top, f"{s}_last"), int(i == len(beats) - 1))
                await ctx.tick()
            ctx.set(getattr(top, f"{s}_valid"), 0)
        ctx.set(top.start, 1)
        for cycle in range(12):      # cycle 0: start is high
            seen.append((cycle, ctx.get(core.a_valid), ctx.get(core.a_last),
                         ctx.get(core.a_row), ctx.get(core.w_row), ctx.get(core.m_row)))
            await ctx.tick()
            ctx.set(top.start, 0)
            if ctx.get(top.done):
                out["done_after"] = cycle
                out["cycles"] = ctx.get(top.cycles)

    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    stream = [(c, last, a, w) for c, valid, last, a, w, _ in seen if valid]
    assert stream == [(1, 0, 0x1211, 0x0201), (2, 0, 0x1211, 0x0201),
                      (3, 0, 0x1413, 0x0403), (4, 0, 0x1413, 0x0403),
                      (5, 1, 0x1615, 0x0605), (6, 1, 0x1615, 0x0605)]
    assert all(row[5] == 0xA1 for row in seen[1:])           # beat m_addr = 1 from cycle 1
    assert all((a, w) == (0, 0) for _, valid, _, a, w, _ in seen if not valid)
    assert out == {"done_after": 9, "cycles": 9}
