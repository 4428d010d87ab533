"""CLI start-up and the workload trace cache, each beside a baseline run in the same loop.

Run:  python benchmarks/bench_cli.py [--repeat 5] [--cache DIR]

Every command runs in a fresh process, ``--repeat`` times, the command and its baseline
alternating so both see the same machine load; the medians and their ratio are printed:

- ``qaccel --version``                          vs ``python3 -c "import numpy"``
- ``qaccel sim --arch systolic-int8-32x32 --gemm 512x512x512``
                                                 vs ``python3 -c "import numpy, pandas"``
- ``qaccel workloads`` (parameter counts cached) vs ``python3 -c "import numpy, pandas"``
- loading the cached Llama-2-7B prefill (256 tokens) and 20-step decode traces (the pair
  ``qaccel compare --phase generative --steps 20`` needs), timed inside a fresh process after
  importing the trace modules (pandas, safetensors: ``qaccel sim`` has them loaded anyway;
  their import time is printed beside), vs building them (meta-device capture, what every
  call did before the cache).

Targets (issue 17): version within 1.5x of numpy, ``sim --gemm`` within 1.5x of numpy +
pandas, ``workloads`` under 1 s, the cached trace pair under 0.5 s. The commands run from a
temporary folder, so the installed ``qaccel`` is the one measured (``PYTHONPATH`` and
``QACCEL_CACHE`` are passed on).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

QACCEL = [shutil.which("qaccel")] if shutil.which("qaccel") else [sys.executable, "-m", "qaccel"]
PY = sys.executable

PAIRS = [
    ("qaccel --version", QACCEL + ["--version"], "import numpy", [PY, "-c", "import numpy"]),
    ("qaccel sim --gemm 512x512x512",
     QACCEL + ["sim", "--arch", "systolic-int8-32x32", "--gemm", "512x512x512"],
     "import numpy, pandas", [PY, "-c", "import numpy, pandas"]),
    ("qaccel workloads", QACCEL + ["workloads"], "import numpy, pandas",
     [PY, "-c", "import numpy, pandas"]),
]

#: the two traces of a Llama-2-7B generative case, as ``qaccel compare`` requests them
TRACES = """
import sys, time
t0 = time.perf_counter()
import qaccel.models.trace, qaccel.models.workloads
imports = time.perf_counter() - t0
request = dict(id="llama-2-7b", tokens=256, kv_len=None, batch=1)
try:
    from qaccel.cache import cached_workload as get
except ImportError:  # a tree without the cache: every call builds
    from qaccel.models.workloads import build_workload
    def get(use_cache=True, **kw):
        return build_workload(**kw)
t0 = time.perf_counter()
a = get(use_cache=%s, phase="prefill", steps=1, **request)
b = get(use_cache=%s, phase="decode", steps=20, **request)
print(time.perf_counter() - t0, len(a) + len(b), imports)
"""


def wall(cmd: list[str], cwd: str) -> float:
    """Seconds ``cmd`` takes, start to exit (it must succeed)."""
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def inner(cmd: list[str], cwd: str) -> tuple[float, int, float]:
    """(seconds to get both traces, their layers, seconds of the imports before)."""
    out = subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout
    seconds, layers, imports = out.split()
    return float(seconds), int(layers), float(imports)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cache", help="QACCEL_CACHE for the run (default: a fresh temp folder)")
    args = ap.parse_args()
    cwd = tempfile.mkdtemp(prefix="bench-cli-")
    os.environ.setdefault("QACCEL_CACHE", args.cache or os.path.join(cwd, "cache"))
    print(f"qaccel: {' '.join(QACCEL)}; cache: {os.environ['QACCEL_CACHE']}; load average "
          f"{os.getloadavg()[0]:.1f}")
    for _, cmd, _, _ in PAIRS:  # warm: the parameter-count cache, OS file caches
        wall(cmd, cwd)
    for name, cmd, base_name, base in PAIRS:
        times, bases = [], []
        for _ in range(args.repeat):
            times.append(wall(cmd, cwd))
            bases.append(wall(base, cwd))
        t, b = statistics.median(times), statistics.median(bases)
        print(f"{name:32s} {t:6.3f} s   {base_name:22s} {b:6.3f} s   ratio {t / b:5.2f}")
    build, layers, _ = inner([PY, "-c", TRACES % (False, False)], cwd)
    inner([PY, "-c", TRACES % (True, True)], cwd)  # fills the cache
    runs = [inner([PY, "-c", TRACES % (True, True)], cwd) for _ in range(args.repeat)]
    load = statistics.median(r[0] for r in runs)
    imports = statistics.median(r[2] for r in runs)
    print(f"{'llama-2-7b prefill + 20 decode':32s} {load:6.3f} s   {'built (capture)':22s} "
          f"{build:6.3f} s   ratio {load / build:5.2f}   ({layers} layers; trace module "
          f"imports before: {imports:.3f} s)")
    print(f"load average {os.getloadavg()[0]:.1f}")
    shutil.rmtree(cwd, ignore_errors=True)


if __name__ == "__main__":
    main()
