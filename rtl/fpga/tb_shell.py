"""cocotb test module: tiles through the AXI shell with cocotbext-axi.

The host side is cocotbext-axi's models: an ``AxiLiteMaster`` on ``s_axi_control``, an
``AxiStreamSource`` on ``s_axis`` and an ``AxiStreamSink`` on ``m_axis``, both with random
pauses (the job's ``gap`` / ``stall``). Per batch: select each input stream in STREAM and
send its words, check LENGTH and TILES, write AP_START, collect the result transfer (up to
TLAST), poll CTRL for AP_DONE, read CYCLES; :func:`qaccel.rtl.fpga.scoreboard.check_batch`
compares the words with the expected words, each tile's decoded rows bit for bit with
``golden()`` and CYCLES with the sum of the batch's ``timing()`` (the job's first ``single``
tiles run one per batch, where CYCLES is the tile's own ``timing()``). Writes
``report.json``. The option ``flip`` ([batch, stream, word, xor]) corrupts one input word
after the expectations were made (the mutation test: the bench must report it).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles

from qaccel.arch.pe.registry import level_module
from qaccel.rtl.fpga import regmap
from qaccel.rtl.fpga.host import traffic
from qaccel.rtl.fpga.scoreboard import check_batch, new_report
from qaccel.rtl.fpga.sim import SHELL_JSON
from qaccel.rtl.tb.bench import params_of
from qaccel.rtl.tb.job import PLUSARG, Job

#: AP_DONE polls before a batch counts as hung
POLL_LIMIT = 100_000


def _pauses(rng: random.Random, probability: float) -> Any:
    while True:
        yield int(rng.random() < probability)


async def _reset(dut: Any) -> None:
    dut.ap_rst_n.value = 0
    await ClockCycles(dut.ap_clk, 4)
    dut.ap_rst_n.value = 1
    await ClockCycles(dut.ap_clk, 2)


@cocotb.test()
async def shell_tiles(dut: Any) -> None:
    """Every tile of the job through the shell; values, CYCLES, LENGTH and TILES checked."""
    from cocotbext.axi import (
        AxiLiteBus,
        AxiLiteMaster,
        AxiStreamBus,
        AxiStreamFrame,
        AxiStreamSink,
        AxiStreamSource,
    )

    folder = Path(str(cocotb.plusargs[PLUSARG]))
    job = Job.load(folder)
    options = json.loads((folder / SHELL_JSON).read_text())
    params = params_of(job.design)
    family_rtl = level_module(params.family, "rtl")
    Clock(dut.ap_clk, 10, unit="ns").start()
    reset = dut.ap_rst_n
    axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axi_control"), dut.ap_clk, reset,
                         reset_active_level=False)
    source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.ap_clk, reset,
                             reset_active_level=False)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.ap_clk, reset,
                         reset_active_level=False)
    rng = random.Random(job.seed)
    if job.gap:
        source.set_pause_generator(_pauses(random.Random(rng.random()), job.gap))
    if job.stall:
        sink.set_pause_generator(_pauses(random.Random(rng.random()), job.stall))
    await _reset(dut)

    report = new_report(len(job.tiles))
    bad = report["mismatches"]
    single = int(options.get("single", 0))  # the first tiles run one per batch
    batches = traffic(params, family_rtl, job.design, job.tiles[:single], max_batch=1) \
        + traffic(params, family_rtl, job.design, job.tiles[single:],
                  max_batch=options.get("max_batch"))
    off = {r.name: r.offset for r in regmap.registers("axis")}
    ctrl = regmap.REGISTERS[0]
    done_bit = 1 << ctrl.field("AP_DONE").lsb
    for b, batch in enumerate(batches):
        sent = 0
        for stream, words in batch.inputs.items():
            flip = options.get("flip")  # [batch, stream, word, xor]: a fault on the wires
            if flip and flip[0] == b and flip[1] == stream:
                words = words.copy()
                words[flip[2]] ^= flip[3]
            await axil.write_dword(off["STREAM"], regmap.STREAMS.index(stream))
            await source.send(AxiStreamFrame(words.astype("<u4").tobytes()))
            await source.wait()
            sent += len(words)
        await ClockCycles(dut.ap_clk, 2)  # the last beat reaches the array top
        length, tiles = (await axil.read_dword(off["LENGTH"]),
                         await axil.read_dword(off["TILES"]))
        if (length, tiles) != (sent, len(batch.tiles)):
            bad.append(f"batch {b}: LENGTH/TILES {length}/{tiles} != sent {sent} words "
                       f"{len(batch.tiles)} tiles")
        await axil.write_dword(off["CTRL"], 1 << ctrl.field("AP_START").lsb)
        frame = await sink.recv()
        got = np.frombuffer(bytes(frame.tdata), dtype="<u4")
        for _ in range(POLL_LIMIT):
            if await axil.read_dword(off["CTRL"]) & done_bit:
                break
        else:
            raise AssertionError(f"batch {b}: AP_DONE never rose")
        cycles = await axil.read_dword(off["CYCLES"])
        check_batch(report, b, batch, got, cycles, params=params, family_rtl=family_rtl,
                    design=job.design)
    report["passed"] = (not bad and report["tiles_checked"] == len(job.tiles)
                        and report["cycles_compared"] == len(job.tiles))
    (folder / "report.json").write_text(json.dumps(report, indent=1))
    assert report["passed"], "\n".join(bad[:20])
