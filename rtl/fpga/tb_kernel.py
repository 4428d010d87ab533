"""cocotb test module: tiles through the U280 kernel, its AXI4 master against an ``AxiRam``.

cocotbext-axi's ``AxiLiteMaster`` drives ``s_axi_control``; an ``AxiRam`` (sparse, 64-bit
address space) answers ``m_axi_gmem`` as the HBM does, with random pauses on all five of
its channels (the job's ``gap`` on AR/R/AW, ``stall`` on W/B). Per batch: the batch's
memory image (:func:`qaccel.rtl.fpga.host.gmem_image`) is written at :data:`IN_ADDR`, the
result area at :data:`OUT_ADDR` filled with :data:`FILL`; LENGTH, IN_PTR and OUT_PTR are
written, then AP_START; CTRL is polled for AP_DONE; CYCLES and TILES are read and the result
words read back from the RAM. The checks are :func:`qaccel.rtl.fpga.scoreboard.check_batch`
(golden() bit for bit, CYCLES = timing()), plus: no word written past the batch's results.
Both buffers sit above 4 GiB and start off a burst boundary, so the 64-bit pointers and the
boundary splitting are exercised. Writes ``report.json``; the option ``flip`` ([batch,
stream, word, xor]) corrupts one word of a stream's segment in memory after the expectations
were made (the mutation test: the bench must report it).
"""

from __future__ import annotations

import logging
import random
from typing import Any

import cocotb
import numpy as np

from qaccel.rtl.fpga import regmap, tb_common
from qaccel.rtl.fpga.host import gmem_image
from qaccel.rtl.fpga.kernel import GMEM
from qaccel.rtl.fpga.scoreboard import check_batch, new_report

#: where the batch's memory image and results go (above 4 GiB, off a 64-byte boundary)
IN_ADDR = 0x1_2345_6FD4
OUT_ADDR = 0x2_0000_0FE8
#: the AxiRam's (sparse) size: a len() must fit 63 bits (unit: bytes)
RAM_BYTES = 1 << 48
#: the word the result area holds before a run
FILL = 0xA5A5_5A5A
#: words past the results that must still hold FILL
GUARD_WORDS = 16
#: AP_DONE polls before a batch counts as hung
POLL_LIMIT = 100_000


def attach(dut: Any, seed: int, gap: float, stall: float) -> tuple[Any, Any]:
    """Start the clock; an AxiLiteMaster on s_axi_control and an AxiRam on m_axi_gmem with
    pause generators (probability per cycle ``gap`` on AR/R/AW, ``stall`` on W/B)."""
    from cocotbext.axi import AxiBus, AxiRam

    axil = tb_common.control_master(dut)
    ram = AxiRam(AxiBus.from_prefix(dut, GMEM), dut.ap_clk, dut.ap_rst_n,
                 reset_active_level=False, size=RAM_BYTES)
    for name in ("write_if", "read_if"):
        logging.getLogger(getattr(ram, name).log.name).setLevel(logging.WARNING)
    rng = random.Random(seed)
    channels = ((ram.read_if.ar_channel, gap), (ram.read_if.r_channel, gap),
                (ram.write_if.aw_channel, gap), (ram.write_if.w_channel, stall),
                (ram.write_if.b_channel, stall))
    for channel, probability in channels:
        if probability:
            channel.set_pause_generator(tb_common.pauses(random.Random(rng.random()), probability))
    return axil, ram


async def run_batch(axil: Any, ram: Any, image: np.ndarray, out_words: int) -> dict[str, Any]:
    """One kernel run on ``image``; CTRL polls, CYCLES, TILES and the words at OUT_ADDR
    (``out_words`` plus the guard)."""
    off = {r.name: r.offset for r in regmap.registers("maxi")}
    ctrl = regmap.REGISTERS[0]
    ram.write(IN_ADDR, image.astype("<u4").tobytes())
    ram.write(OUT_ADDR, np.full(out_words + GUARD_WORDS, FILL, "<u4").tobytes())
    await axil.write_dword(off["LENGTH"], len(image))
    for name, addr in (("IN_PTR", IN_ADDR), ("OUT_PTR", OUT_ADDR)):
        await axil.write_dword(off[f"{name}_LO"], addr & 0xFFFF_FFFF)
        await axil.write_dword(off[f"{name}_HI"], addr >> 32)
    await axil.write_dword(off["CTRL"], 1 << ctrl.field("AP_START").lsb)
    for _ in range(POLL_LIMIT):
        if await axil.read_dword(off["CTRL"]) & (1 << ctrl.field("AP_DONE").lsb):
            break
    else:
        raise AssertionError("AP_DONE never rose")
    words = np.frombuffer(ram.read(OUT_ADDR, 4 * (out_words + GUARD_WORDS)), dtype="<u4")
    return {"cycles": await axil.read_dword(off["CYCLES"]),
            "tiles": await axil.read_dword(off["TILES"]),
            "got": words[:out_words].copy(), "guard": words[out_words:].copy()}


@cocotb.test()
async def kernel_tiles(dut: Any) -> None:
    """Every tile of the job through the kernel; values, CYCLES and TILES checked."""
    folder, job, options = tb_common.load_job()
    params, family_rtl, batches = tb_common.job_batches(job, options)
    axil, ram = attach(dut, job.seed, job.gap, job.stall)
    await tb_common.reset(dut)
    report = new_report(len(job.tiles))
    bad = report["mismatches"]
    for b, batch in enumerate(batches):
        inputs = dict(batch.inputs)
        flip = options.get("flip")  # [batch, stream, word, xor]: a fault in memory
        if flip and flip[0] == b:
            inputs[flip[1]] = inputs[flip[1]].copy()
            inputs[flip[1]][flip[2]] ^= flip[3]
        image = gmem_image(inputs)
        result = await run_batch(axil, ram, image, len(batch.expected))
        if result["tiles"] != len(batch.tiles):
            bad.append(f"batch {b}: TILES {result['tiles']} != {len(batch.tiles)}")
        if np.any(result["guard"] != FILL):
            bad.append(f"batch {b}: words written past the {len(batch.expected)} results")
        check_batch(report, b, batch, result["got"], result["cycles"], params=params,
                    family_rtl=family_rtl, design=job.design)
    tb_common.finish_report(folder, report, len(job.tiles))
