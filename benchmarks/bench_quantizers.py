"""Quantizers at LLM scale: every ANT / OliVe / BitMoD / INTk format on one 4096 x 11008 weight.

Run:  python benchmarks/bench_quantizers.py [--rows 4096] [--baseline-rows 1024] [--repeat 3]
      python benchmarks/bench_quantizers.py --minilm

The weight is float32, Student-t (4 degrees of freedom) times 0.02, seeded: heavy-tailed like
an LLM's, so OliVe finds outlier pairs. Per format it prints the encode time (best of
``--repeat``, after a warm-up encode that compiles or loads the numba kernels; in brackets
the process CPU time of that run, all threads, which depends less on other load) and the
peak resident memory beyond the weight (Linux: ``VmHWM`` reset through
``/proc/self/clear_refs`` before each encode, after ``malloc_trim`` has returned freed heap
pages, minus ``VmRSS`` just before it; this counts NumPy and numba allocations alike, the
output codes included).

Baseline: the quantizers of commit 018e362 (before their searches were vectorized), loaded
from git into a private package of this process. They need about 5x the weight's size in
float64 copies and sort every row, so they run on the first ``--baseline-rows`` rows
(default 1024 x 11008, a quarter of the weight), and the new code is timed on that slice too
for a same-run ratio; the codes, scales and extra arrays of both are compared there (they
must be identical). Targets (issue 17): at most 1 s and 200 MB beyond the weight per format
at 4096 x 11008.

``--previous REV`` instead times the OliVe formats (or ``--formats``) on the whole weight
with the OliVe modules of commit ``REV`` (``olive``, ``search``, ``kernels``,
``format_kernels``, loaded from git as a private package; their numba kernels compile in the
warm-up) and with this tree's, interleaved per format, and compares the encodings.

``--minilm`` instead runs ``qaccel quantize --model minilm --all`` twice, back to back in
fresh processes: on a copy of commit 018e362 (``git archive``) and on this tree, and prints
each run's wall time and the wall / CPU time spent inside the four families' ``encode``.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from qaccel.models.formats import FORMATS, format_to_dict

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the pin generator's loader
from tests.models.make_quantizer_pins import BASE_COMMIT, load_base_modules  # noqa: E402

FAMILIES = ("intk", "ant", "bitmod", "olive")
COLS = 11008
LIBC = ctypes.CDLL("libc.so.6")


def mem_mb() -> dict[str, float]:
    """VmRSS and VmHWM of this process (unit: MiB)."""
    with open("/proc/self/status") as f:
        d = dict(line.split(":", 1) for line in f if line.startswith(("VmRSS", "VmHWM")))
    return {k: int(v.split()[0]) / 1024 for k, v in d.items()}


def measure(fmt, x: np.ndarray, repeat: int) -> tuple[float, float, float, object]:
    """(best encode wall time in s, its process CPU time in s (all threads), peak resident
    memory beyond the state before it in MiB, the Encoded)."""
    best, cpu, peak, enc = float("inf"), 0.0, 0.0, None
    for _ in range(repeat):
        enc = None
        gc.collect()
        LIBC.malloc_trim(0)  # give freed heap pages back, so reusing them counts again
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        before = mem_mb()["VmRSS"]
        c0, t0 = time.process_time(), time.perf_counter()
        enc = fmt.encode(x, name="w")
        wall = time.perf_counter() - t0
        if wall < best:
            best, cpu = wall, time.process_time() - c0
        peak = max(peak, mem_mb()["VmHWM"] - before)
    return best, cpu, peak, enc


#: the modules of the OliVe encoder that ``--previous`` loads at the given commit
PREVIOUS_MODULES = ("olive", "search", "kernels", "format_kernels")


def load_previous(rev: str, tmp: Path):
    """:data:`PREVIOUS_MODULES` at commit ``rev`` as the package ``_qaccel_prev`` under
    ``tmp`` (their imports of each other, lazy ones included, rewritten to it)."""
    import importlib
    import re

    pkg = tmp / "_qaccel_prev"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    root = Path(__file__).resolve().parents[1]
    for mod in PREVIOUS_MODULES:
        src = subprocess.run(["git", "show", f"{rev}:models/{mod}.py"], cwd=root, check=True,
                             capture_output=True, text=True).stdout
        src = re.sub(r"qaccel\.models\.(" + "|".join(PREVIOUS_MODULES) + r")\b",
                     r"_qaccel_prev.\1", src)
        (pkg / f"{mod}.py").write_text(src)
    sys.path.insert(0, str(tmp))
    return importlib.import_module("_qaccel_prev.olive")


def previous(rev: str, w: np.ndarray, names: list[str], repeat: int) -> None:
    """OliVe formats on the whole weight: commit ``rev``'s modules against this tree's."""
    print("| format | load | " + rev + " (cpu) | this tree (cpu) | speed-up | " + rev
          + " peak | this tree peak | codes equal |\n|---|---:|---:|---:|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as tmp:
        old_olive = load_previous(rev, Path(tmp))
        ok = True
        for name in names:
            fmt = FORMATS[name]
            old = old_olive.OliVe.from_dict(format_to_dict(fmt))
            old.encode(w, name="w")
            fmt.encode(w, name="w")
            load = os.getloadavg()[0]
            o_s, o_cpu, o_mb, enc_old = measure(old, w, repeat)
            n_s, n_cpu, n_mb, enc_new = measure(fmt, w, repeat)
            eq = same(enc_old, enc_new)
            ok &= eq
            del enc_old, enc_new
            print(f"| {name} | {load:.1f} | {o_s:.2f} s ({o_cpu:.2f}) | {n_s:.2f} s "
                  f"({n_cpu:.2f}) | {o_s / n_s:.2f}x | {o_mb:.0f} MB | {n_mb:.0f} MB | "
                  f"{'yes' if eq else 'NO'} |", flush=True)
    print(f"load average now {os.getloadavg()[0]:.1f}")
    if not ok:
        raise SystemExit("codes differ from the previous commit")


def load_baseline(tmp: Path):
    """The four families' modules at :data:`BASE_COMMIT` as the package ``_qaccel_base``
    (the pin generator's loader, ``tests/models/make_quantizer_pins.py``)."""
    return load_base_modules(tmp, "_qaccel_base")


def same(a, b) -> bool:
    """Codes, scales, extra arrays and meta identical."""
    return (a.meta == b.meta and np.array_equal(a.codes, b.codes)
            and a.codes.dtype == b.codes.dtype and a.scales.dtype == b.scales.dtype
            and np.array_equal(a.scales, b.scales) and sorted(a.extra) == sorted(b.extra)
            and all(np.array_equal(a.extra[k], b.extra[k]) for k in a.extra))


#: run in a child process: ``qaccel quantize --all`` with the four families' encode timed
MINILM_CHILD = """
import json, sys, time
from qaccel.models import ant, bitmod, intk, olive
spent = {"encode_s": 0.0, "encode_cpu_s": 0.0, "calls": 0}
def timed(encode):
    def wrapper(self, *a, **k):
        c, t = time.process_time(), time.perf_counter()
        try:
            return encode(self, *a, **k)
        finally:
            spent["encode_s"] += time.perf_counter() - t
            spent["encode_cpu_s"] += time.process_time() - c
            spent["calls"] += 1
    return wrapper
for cls in (ant.Ant, bitmod.BitMoD, intk.IntK, olive.OliVe):
    cls.encode = timed(cls.encode)
from qaccel.cli import main
t = time.perf_counter()
rc = main(["quantize", "--model", "minilm", "--all", "--out", sys.argv[1]])
spent["total_s"] = time.perf_counter() - t
print(json.dumps(spent), file=sys.stderr)
sys.exit(rc)
"""


def minilm() -> None:
    """``qaccel quantize --all`` on MiniLM with the quantizers of 018e362 and of this tree."""
    import json

    import pandas as pd

    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        src, pkg = Path(tmp) / "src", Path(tmp) / "pkg"
        src.mkdir()
        archive = subprocess.run(["git", "archive", BASE_COMMIT], cwd=root, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
        (pkg / "qaccel").mkdir(parents=True)
        subprocess.run(["cp", "-r", f"{src}/qaccel/.", str(pkg / "qaccel")], check=True)
        for sub in ("arch", "models", "sim", "rtl", "sweeps"):
            (pkg / "qaccel" / sub).symlink_to(src / sub)
        rows = {}
        for side, path in ((BASE_COMMIT, str(pkg)), ("this tree", "")):
            env = dict(os.environ, PYTHONPATH=path, HF_HUB_OFFLINE="1")
            out = Path(tmp) / "table.csv"
            load = os.getloadavg()[0]
            run = subprocess.run([sys.executable, "-c", MINILM_CHILD, str(out)], cwd=tmp,
                                 env=env, capture_output=True, text=True, check=True)
            rows[side] = json.loads(run.stderr.strip().splitlines()[-1])
            rows[side]["load"] = load
            rows[side]["table"] = pd.read_csv(out).drop(columns=["seconds"])
    same = rows[BASE_COMMIT]["table"].equals(rows["this tree"]["table"])
    print("| quantizers | `quantize --all` wall | in encode: wall (cpu) | encode calls | "
          "load average |\n|---|---:|---:|---:|---:|")
    for side, r in rows.items():
        print(f"| {side} | {r['total_s']:.1f} s | {r['encode_s']:.1f} s "
              f"({r['encode_cpu_s']:.1f} s) | {r['calls']} | {r['load']:.1f} |")
    print(f"accuracy tables identical: {'yes' if same else 'NO'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=4096)
    ap.add_argument("--baseline-rows", type=int, default=1024, help="0: no baseline")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--formats", default=",".join(
        n for n, f in FORMATS.items() if getattr(f, "family", None) in FAMILIES))
    ap.add_argument("--previous", default="", metavar="REV",
                    help="time the OliVe formats against commit REV's OliVe modules")
    ap.add_argument("--minilm", action="store_true",
                    help="time qaccel quantize --all on MiniLM, 018e362 vs this tree")
    args = ap.parse_args()
    if args.minilm:
        minilm()
        return
    names = args.formats.split(",")
    rng = np.random.default_rng(17)
    w = np.empty((args.rows, COLS), np.float32)
    for i in range(0, args.rows, 256):  # in slices: no float64 copy of the whole weight
        w[i:i + 256] = 0.02 * rng.standard_t(4.0, (min(256, args.rows - i), COLS))
    part = w[:args.baseline_rows]
    if args.previous:
        olive = [n for n in names if FORMATS[n].family == "olive"]
        print(f"weight {args.rows} x {COLS} float32; numba threads "
              f"{os.environ.get('NUMBA_NUM_THREADS', os.cpu_count())}; best of "
              f"{args.repeat}\n", flush=True)
        previous(args.previous, w, olive, args.repeat)
        return
    print(f"weight {args.rows} x {COLS} float32 ({w.nbytes / 2**20:.0f} MiB); baseline "
          f"{BASE_COMMIT} on {args.baseline_rows} x {COLS}; numba threads "
          f"{os.environ.get('NUMBA_NUM_THREADS', os.cpu_count())}; load average "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        base = load_baseline(Path(tmp)) if args.baseline_rows else None
        rows = []
        for name in names:
            fmt = FORMATS[name]
            fmt.encode(w, name="w")    # compile / load the kernels (serial and parallel)
            row = {"format": name}
            if base is not None:
                d = format_to_dict(fmt)
                old = getattr(base[d["family"]], type(fmt).__name__).from_dict(d)
                row["old_s"], row["old_cpu"], row["old_mb"], enc_old = measure(old, part, 1)
                row["part_s"], row["part_cpu"], row["part_mb"], enc_new = measure(
                    fmt, part, args.repeat)
                row["equal"] = same(enc_old, enc_new)
                del enc_old, enc_new
            row["new_s"], row["new_cpu"], row["new_mb"], _ = measure(fmt, w, args.repeat)
            rows.append(row)
            print(row, file=sys.stderr, flush=True)
    r, b = args.rows, args.baseline_rows
    if base is not None:
        print(f"\n| format | {BASE_COMMIT} {b}x{COLS} (cpu) | new (cpu) | speed-up | "
              f"{BASE_COMMIT} peak | new peak | codes equal | new {r}x{COLS} (cpu) | "
              f"new peak |")
        print("|---|---:|---:|---:|---:|---:|---|---:|---:|")
        for row in rows:
            print(f"| {row['format']} | {row['old_s']:.2f} s ({row['old_cpu']:.2f}) | "
                  f"{row['part_s']:.2f} s ({row['part_cpu']:.2f}) | "
                  f"{row['old_s'] / row['part_s']:.0f}x | {row['old_mb']:.0f} MB | "
                  f"{row['part_mb']:.0f} MB | {'yes' if row['equal'] else 'NO'} | "
                  f"{row['new_s']:.2f} s ({row['new_cpu']:.2f}) | {row['new_mb']:.0f} MB |")
    else:
        print(f"\n| format | new {r}x{COLS} (cpu) | new peak |\n|---|---:|---:|")
        for row in rows:
            print(f"| {row['format']} | {row['new_s']:.2f} s ({row['new_cpu']:.2f}) | "
                  f"{row['new_mb']:.0f} MB |")
    if base is not None and not all(row["equal"] for row in rows):
        raise SystemExit("codes differ from the baseline")


if __name__ == "__main__":
    main()
