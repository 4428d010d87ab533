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

import random
from typing import Any

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles

from qaccel.rtl.fpga import regmap, tb_common
from qaccel.rtl.fpga.scoreboard import check_batch, new_report

#: AP_DONE polls before a batch counts as hung
POLL_LIMIT = 100_000


@cocotb.test()
async def shell_tiles(dut: Any) -> None:
    """Every tile of the job through the shell; values, CYCLES, LENGTH and TILES checked."""
    from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

    folder, job, options = tb_common.load_job()
    params, family_rtl, batches = tb_common.job_batches(job, options)
    axil = tb_common.control_master(dut)
    source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.ap_clk,
                             dut.ap_rst_n, reset_active_level=False)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.ap_clk, dut.ap_rst_n,
                         reset_active_level=False)
    rng = random.Random(job.seed)
    if job.gap:
        source.set_pause_generator(tb_common.pauses(random.Random(rng.random()), job.gap))
    if job.stall:
        sink.set_pause_generator(tb_common.pauses(random.Random(rng.random()), job.stall))
    await tb_common.reset(dut)

    report = new_report(len(job.tiles))
    bad = report["mismatches"]
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
    tb_common.finish_report(folder, report, len(job.tiles))
