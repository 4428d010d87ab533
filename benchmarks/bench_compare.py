"""Simulation time of the five-family Llama-2-7B generative comparison, against the engine of
commit cd70cc9 (loaded from git) in the same process.

    python benchmarks/bench_compare.py

The case is ``qaccel compare --arch fp16,ant,olive,bitmod,mixpe-w4a8 --workload llama-2-7b
--phase generative --steps 20``: a 256-token prefill (289 layers) and 20 decode steps (5,780
layers) on each family's prefill and decode presets (``mixpe-w4a8`` runs both), fast engine,
timing only. Both engines share the mapper's per-shape memo, so the first (cold) pass of each
is timed after clearing the mapper's caches, then the best of three warm passes. The frames
must be equal (checked) on every column both fill (cd70cc9 has no KV / vector columns).
Workload building is timed separately (``qaccel`` caches traces on
disk; this script builds them once).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE_COMMIT = "cd70cc9"
CASES = (("fp16-prefill", "fp16-decode"), ("ant-prefill", "ant-decode"),
         ("olive-prefill", "olive-decode"), ("bitmod-prefill", "bitmod-decode"),
         ("mixpe-w4a8", "mixpe-w4a8"))


def load_base_engine(tmp: Path):
    """``sim/engine.py`` as it is at :data:`BASE_COMMIT` (its imports resolve to today's
    ``qaccel`` modules, which it calls the same way)."""
    src = subprocess.run(["git", "show", f"{BASE_COMMIT}:sim/engine.py"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    path = tmp / "_engine_base.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("_engine_base", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def clear_caches() -> None:
    """Forget the simulator's memos (the mapper's and the closed forms', which the base
    engine calls too; cd70cc9's engine has none of its own)."""
    from qaccel.sim import engine

    engine.clear_caches()


def timed(run, accels, pre, dec) -> tuple[float, list]:
    t0 = time.perf_counter()
    frames = [(run(pre, a, engine="fast", values=False).frame,
               run(dec, b, engine="fast", values=False).frame) for a, b in accels]
    return time.perf_counter() - t0, frames


#: columns added after cd70cc9 (issue 16), which its engine does not fill
NEW_COLUMNS = ("kv_rd_bytes", "kv_wr_bytes", "hidden_cycles")


def same(base, now) -> bool:
    """Equal frames on every column both engines fill."""
    cols = [c for c in now.columns if c not in NEW_COLUMNS]
    return base[cols].equals(now[cols])


def main() -> int:
    from qaccel import sim
    from qaccel.arch import load_accelerator
    from qaccel.models.workloads import build_workload

    t0 = time.perf_counter()
    pre = build_workload("llama-2-7b", phase="prefill", tokens=256).layers
    dec = build_workload("llama-2-7b", phase="decode", tokens=256, kv_len=256, steps=20).layers
    print(f"workloads built in {time.perf_counter() - t0:.1f} s "
          f"({len(pre)} prefill + {len(dec)} decode layers)")
    accels = [(load_accelerator(p), load_accelerator(d)) for p, d in CASES]
    with tempfile.TemporaryDirectory() as tmp:
        base = load_base_engine(Path(tmp))
        results = {}
        for name, run in (("base", base.run), ("now", sim.run)):
            clear_caches()
            cold, frames = timed(run, accels, pre, dec)
            warm = min(timed(run, accels, pre, dec)[0] for _ in range(3))
            results[name] = (cold, warm, frames)
    for (a, b), (c, d) in zip(results["base"][2], results["now"][2], strict=True):
        if not (same(a, c) and same(b, d)):
            print("FRAMES DIFFER", file=sys.stderr)
            return 1
    print(f"{'engine':<28}{'cold s':>10}{'warm s':>10}")
    for name, label in (("base", f"sim/engine.py @ {BASE_COMMIT}"), ("now", "today")):
        cold, warm, _ = results[name]
        print(f"{label:<28}{cold:>10.3f}{warm:>10.3f}")
    (bc, bw, _), (nc, nw, _) = results["base"], results["now"]
    print(f"speed-up: cold {bc / nc:.1f}x, warm {bw / nw:.1f}x (frames equal)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
