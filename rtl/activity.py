"""Switching activity of an array top from a Verilator run of real tiles (toggle coverage).

The fast harness (``fastsim_main.cpp``, :mod:`qaccel.rtl.fastsim`) drives the tiles through
the top exactly as the cocotb bench does; here it is compiled with Verilator's
``--coverage-toggle`` (every bit of every signal, ``--coverage-max-width`` raised so that
none is skipped for its width) through a small wrapper, :data:`WRAPPER_SOURCE`, that writes
the coverage file (``$QACCEL_COVERAGE_FILE``) when the harness calls ``final()`` at its end.
The run is checked like a fast run (values and cycles against ``golden()`` and the timing
model), so the toggles are those of a correct computation.

:func:`read_toggles` reads Verilator's ``coverage.dat``: per (instance path, signal) one
count per bit, the number of times that bit changed (its ``0->1`` plus its ``1->0`` points).
Builds go to ``build_root/activity/<design>/`` and are reused while unchanged.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qaccel.arch.pe.registry import level_module
from qaccel.arch.pe.tile import Tile
from qaccel.arch.spec import PEArray
from qaccel.rtl import fastsim
from qaccel.rtl.controller import ArrayTop
from qaccel.rtl.export import create_top, verilog_text
from qaccel.rtl.tb.bench import Report

__all__ = ["ActivityRun", "Toggles", "build_activity", "run_activity", "read_toggles",
           "WRAPPER_SOURCE", "COVERAGE_ARGS", "demangle"]

#: Verilator flags added to the fast harness's for toggle counting, and C++ at -O0: the runs
#: are short, the coverage model's compile is not (a 2x2 array: 26 s at -O0 vs 41 s with the
#: harness's -O2/-Os, measured back to back at load 15)
COVERAGE_ARGS = ("--coverage-toggle", "--coverage-max-width", "65536",
                 "-MAKEFLAGS", "OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0")
#: C++ wrapper: the fast harness, with the coverage file written at its ``top->final()``
WRAPPER_SOURCE = """\
// qaccel/rtl/activity.py: the fast harness with Verilator's coverage written at the end.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>
#include "Vfast.h"
#include "verilated.h"
#include "verilated_cov.h"
#define main qaccel_fastsim_main
#define final() final(); ctx->coveragep()->write(std::getenv("QACCEL_COVERAGE_FILE"))
#include "fastsim_main.cpp"
#undef final
#undef main
int main(int argc, char** argv) { return qaccel_fastsim_main(argc, argv); }
"""
#: (instance path, signal name) -> toggles per bit (index = bit number)
Toggles = dict[tuple[str, str], np.ndarray]
_POINT = re.compile(r"^(.*?)(?:\[(\d+)\])?:(0->1|1->0)$")


def demangle(name: str) -> str:
    """A Verilator-mangled name (``__024`` for ``$``, ``__02e`` for ``.``...) as written."""
    return re.sub(r"__0([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), name)


def read_toggles(path: Path) -> Toggles:
    """Toggle counts per bit of every signal in a Verilator ``coverage.dat``."""
    points: dict[tuple[str, str], dict[int, int]] = {}
    for line in Path(path).read_text().splitlines():
        if not line.startswith("C '"):
            continue
        key, count = line[3:].rsplit("' ", 1)
        fields = dict(part.split("\x02", 1) for part in key.split("\x01") if part)
        if fields.get("t") != "toggle":
            continue
        m = _POINT.match(fields["o"])
        if m is None:
            raise ValueError(f"Cannot read the toggle point {fields['o']!r} in {path}")
        bits = points.setdefault((fields["h"], demangle(m.group(1))), {})
        bit = int(m.group(2) or 0)
        bits[bit] = bits.get(bit, 0) + int(count)
    out: Toggles = {}
    for k, bits in points.items():
        arr = np.zeros(max(bits) + 1, dtype=np.int64)
        for bit, n in bits.items():
            arr[bit] = n
        out[k] = arr
    return out


def build_activity(top: ArrayTop, build_root: Path) -> Path:
    """Compile the coverage harness against ``top`` into ``build_root/activity/<design>/``
    (or reuse it); the executable."""
    name = top.design.name
    files = {f"{name}.v": verilog_text(top), "fastsim_main.cpp": fastsim.HARNESS_SOURCE.read_text(),
             "activity_main.cpp": WRAPPER_SOURCE}
    return fastsim.compile_harness(
        name, (build_root / "activity" / name).resolve(), files, ("activity_main.cpp",),
        (*fastsim.BUILD_ARGS, *COVERAGE_ARGS),
        f"-O0 -DQACCEL_META={1 if top.design.meta_bits else 0}",
        what="the activity harness", jobs=fastsim.BUILD_JOBS)


@dataclass
class ActivityRun:
    """A run's toggles, its check report, the Verilog it ran, the busy (RUN) cycles and all
    simulated edges (unit: cycles)."""

    top: ArrayTop
    verilog: str
    toggles: Toggles
    report: Report
    run_cycles: int
    edges: int


def run_activity(params: PEArray, tiles: Sequence[Tile], *, build_root: Path,
                 buffer_rows: int = 256, max_tiles: int = 16) -> ActivityRun:
    """Replay ``tiles`` through ``params``'s array top with toggle coverage; checked like
    :func:`qaccel.rtl.fastsim.verify_fast` (a mismatch is in ``report``, not raised)."""
    top = create_top(params, buffer_rows=buffer_rows, max_tiles=max_tiles)
    exe = build_activity(top, build_root)
    design, family_rtl = top.design, level_module(params.family, "rtl")
    batches, limits = fastsim.plan_job(params, family_rtl, design, tiles)
    run = fastsim.FastRun(Report("verilator-activity", design.name, len(tiles)))
    folder = Path(tempfile.mkdtemp(prefix="job-", dir=exe.parent.parent))
    try:
        (folder / "in.bin").write_bytes(fastsim.input_file(design, batches, limits))
        env = dict(os.environ, QACCEL_COVERAGE_FILE=str(folder / "coverage.dat"))
        done = subprocess.run([str(exe), str(folder / "in.bin"), str(folder / "out.bin")],
                              capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"Cannot run the activity harness of {design.name} because it "
                               f"exited {done.returncode}: {done.stderr.strip()[-2000:]}")
        info = json.loads(done.stdout.strip().splitlines()[-1])
        data = np.fromfile(folder / "out.bin", dtype="<u4")
        toggles = read_toggles(folder / "coverage.dat")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report = run.report
    if info["status"]:
        report.errors.append(f"WaitTimeout: {info['message']}")
    report.run_cycles = info["run_cycles"]
    report.sim_cycles = info["last_edge"] - info["first_edge"]
    fastsim.check_results(params, family_rtl, design, batches, fastsim.predict(params, batches),
                   data, run)
    return ActivityRun(top, verilog_text(top), toggles, report, int(info["run_cycles"]),
                       int(report.sim_cycles))
