"""The tile testbench: driver, monitors, model and scoreboard wired together.

:class:`TileBench` runs on any :class:`~qaccel.rtl.tb.pins.Pins` (cocotb on Verilator, or
Amaranth's simulator) and any family: the family is found from the design's parameters and
its RTL module supplies ``tile_streams`` / ``tile_result``. Tiles go in batches that fill the
buffers: LOAD the batch, pulse ``start``, sleep until each tile's ``done`` (RUN runs free),
DRAIN. Callbacks connect the roles::

    driver --on_tile--> model --on_expected--> scoreboard <--rows-- result monitor
                                                          <--cycles-- done monitor
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qaccel.arch.fields import Context, build
from qaccel.arch.pe.registry import family_class, level_module
from qaccel.arch.pe.tile import Tile
from qaccel.arch.spec import PEArray
from qaccel.rtl.controller import Design
from qaccel.rtl.tb.beats import plan_batches, to_stream_tiles
from qaccel.rtl.tb.driver import Corruption, TileDriver
from qaccel.rtl.tb.model import TileModel, batch_cycles
from qaccel.rtl.tb.monitor import DoneMonitor, ResultMonitor
from qaccel.rtl.tb.pins import Pins, WaitTimeout
from qaccel.rtl.tb.scoreboard import InOrderScoreboard

__all__ = ["Report", "TileBench", "params_of"]


def params_of(design: Design) -> PEArray:
    """The family parameter object the design was built from (validated like YAML input)."""
    data = dict(design.params)
    ctx = Context(source=f"design {design.name}")
    params = build(family_class(data["family"]), data, "pe_array", ctx, skip=("family",))
    ctx.raise_if_any()
    assert params is not None
    return params


@dataclass
class Report:
    """Outcome of one testbench run.

    ``run_cycles``: clock periods spent in RUN (start -> each batch's last ``done``), i.e.
    the sum of the tiles' measured cycles; ``batch_tiles``: the tiles of each batch (one
    ``start`` each), in order; ``sim_cycles``: every clock edge simulated (LOAD and DRAIN
    included); ``*_seconds``: wall time of those parts (unit: s).
    """

    simulator: str
    design: str
    tiles: int
    tiles_checked: int = 0
    values_compared: int = 0
    cycles_compared: int = 0
    run_cycles: int = 0
    batch_tiles: list[int] = field(default_factory=list)
    sim_cycles: int = 0
    run_seconds: float = 0.0
    sim_seconds: float = 0.0
    mismatches: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (not self.mismatches and not self.errors and self.tiles_checked == self.tiles
                and self.cycles_compared == self.tiles)

    @property
    def run_cycles_per_s(self) -> float:
        return self.run_cycles / self.run_seconds if self.run_seconds else 0.0

    @property
    def sim_cycles_per_s(self) -> float:
        return self.sim_cycles / self.sim_seconds if self.sim_seconds else 0.0

    def summary(self) -> str:
        head = (f"{self.design} on {self.simulator}: {self.tiles_checked}/{self.tiles} tiles "
                f"checked, {self.values_compared:,} values and {self.cycles_compared} cycle "
                f"counts compared; RUN {self.run_cycles:,} cycles at "
                f"{self.run_cycles_per_s:,.0f} cycles/s, all {self.sim_cycles:,} cycles at "
                f"{self.sim_cycles_per_s:,.0f} cycles/s")
        lines = [head] + [f"  mismatch: {m}" for m in self.mismatches[:20]]
        if len(self.mismatches) > 20:
            lines.append(f"  ... {len(self.mismatches) - 20} more mismatches")
        lines += [f"  error: {e}" for e in self.errors]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: Path) -> Report:
        return cls(**json.loads(path.read_text()))


class TileBench:
    """Replays tiles through an array top and checks them (see the module docstring).

    ``gap``: probability per cycle that a LOAD stream idles; ``stall``: that DRAIN holds
    ``o_ready`` low (both exercise the handshakes; cycle counts must not change).
    ``corrupt``: a fault injected on the input wires (the mutation test).
    """

    def __init__(self, pins: Pins, design: Design, *, simulator: str, gap: float = 0.0,
                 stall: float = 0.0, seed: int = 0, corrupt: Corruption | None = None,
                 progress: Callable[[int, int, int], None] | None = None) -> None:
        self.pins, self.design, self.simulator = pins, design, simulator
        #: called after each batch with (tiles drained, tiles in all, mismatches so far)
        self.progress = progress
        self.params = params_of(design)
        self.family_rtl = level_module(self.params.family, "rtl")
        rng = random.Random(seed)
        self.scoreboard = InOrderScoreboard(
            lambda tile, rows: self.family_rtl.tile_result(self.params, tile, rows))
        self.model = TileModel(self.params, self.scoreboard.add_expected)
        self.driver = TileDriver(pins, design, self.model.on_tile, on_start=self.model.on_start,
                                 gap=gap, rng=random.Random(rng.random()), corrupt=corrupt)
        self.done_monitor = DoneMonitor(pins, self.scoreboard.add_cycles)
        self.result_monitor = ResultMonitor(pins, design, self.scoreboard.add_rows, stall=stall,
                                            rng=random.Random(rng.random()))
        self.gap, self.stall = gap, stall

    def cycle_budget(self, tiles: Sequence[Tile]) -> int:
        """A generous bound on the clock cycles :meth:`run` needs (for watchdogs)."""
        slow = 1.0 / (1.0 - min(max(self.gap, self.stall), 0.9))
        total = 1000
        for tile in tiles:
            stationary, streamed = self.family_rtl.tile_streams(self.params, tile)
            moved = (len(stationary) + len(streamed)
                     + self.design.result_rows(len(streamed)) + self.design.rows)
            total += 2 * self.params.timing(tile) + int(4 * slow * moved) + 64
        return total

    async def run(self, tiles: Sequence[Tile]) -> Report:
        report = Report(self.simulator, self.design.name, len(tiles))
        stream_tiles = to_stream_tiles(self.params, self.family_rtl, self.design, tiles)
        first_edge = self.pins.edge
        wall = time.perf_counter()
        done = 0
        try:
            for batch in plan_batches(stream_tiles, self.design):
                await self.driver.load(batch)
                predicted = sum(batch_cycles(self.params, [st.tile for st in batch]))
                report.batch_tiles.append(len(batch))
                t0 = time.perf_counter()
                start_edge = await self.driver.start()
                last = await self.done_monitor.collect(len(batch), start_edge,
                                                       limit=2 * predicted + 64)
                report.run_seconds += time.perf_counter() - t0
                report.run_cycles += last - start_edge
                rows = sum(self.design.result_rows(st.streamed) for st in batch)
                limit = int(4 * rows / (1.0 - min(self.stall, 0.9))) + 64
                await self.result_monitor.drain(rows, limit)
                done += len(batch)
                if self.progress is not None:
                    self.progress(done, len(tiles), len(self.scoreboard.mismatches))
        except (WaitTimeout, TimeoutError, AssertionError) as exc:
            report.errors.append(f"{type(exc).__name__}: {exc}")
        report.sim_seconds = time.perf_counter() - wall
        report.sim_cycles = self.pins.edge - first_edge
        sb = self.scoreboard
        report.tiles_checked, report.values_compared = sb.tiles_checked, sb.values_compared
        report.cycles_compared = sb.cycles_compared
        report.mismatches = [str(m) for m in sb.mismatches]
        if sb.pending and not report.errors:
            report.errors.append(f"{sb.pending} predicted tiles were never observed")
        return report
