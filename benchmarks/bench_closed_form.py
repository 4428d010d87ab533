"""The fast engine's closed form per *distinct* layer, today against commit 8f7e10d (issue 17
item 6: "closed form per layer at most 8f7e10d's cost"), same layers, same presets, same run.

    python benchmarks/bench_closed_form.py [--layers 400] [--repeat 5] [--rounds 2]
                                           [--commits 8f7e10d,3e60692]

Each commit of ``--commits`` (the first is the base of the ratios) is taken with
``git archive`` into a temporary folder laid out as the ``qaccel`` package; every tree (those
and today's working tree) is timed in its own subprocess, alternately (``--rounds`` times;
each figure is the best over rounds and repeats), so all see the same load. Cases, on the
presets 8f7e10d has (systolic-int8 8x8, 32x32, 128x128):

- ``run``: ``sim.run`` of ``--layers`` distinct seeded random GEMMs (M up to 2048, K and N up
  to 8192), timing only, divided by the layer count (the frame's cost included, spread over
  the layers); today with ``mapping: fixed`` (8f7e10d had no mapper) and every per-shape memo
  cleared before each pass, so each layer is evaluated in full;
- ``layer``: ``simulate_layer`` of each of those layers (no frame), memos cleared likewise;
- ``model``: ``sim.run`` of the GEMM layers of Llama-2-7B (256-token prefill and 20 decode
  steps, 6,069 layers of 50 distinct shapes) per layer, ``mapping: fixed``, memos cleared
  first (8f7e10d evaluates every layer, today every distinct shape once).

Trees with the mapper only: ``mapper``, the mapper's search (``mapping: auto``) per distinct
layer on the first ``--layers // 4`` of the random layers, and ``model-auto``, the whole
model per layer with the mapper, cold (memos cleared) and warm. Times are CPU seconds of the
worker process (``time.process_time``), less distorted by a loaded machine than wall time;
compare the ratios, printed with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE_COMMIT = "8f7e10d"
PRESETS = ("systolic-int8-8x8", "systolic-int8-32x32", "systolic-int8-128x128")
#: the repository's top-level folders that install as ``qaccel.<name>`` (pyproject.toml)
SUBPACKAGES = ("arch", "models", "sim", "rtl", "sweeps")


def random_shapes(n: int, seed: int = 0) -> list[tuple[int, int, int]]:
    """``n`` distinct (M, K, N), M in 1..2048, K and N in 1..8192, seeded."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out: set[tuple[int, int, int]] = set()
    while len(out) < n:
        out.add((int(rng.integers(1, 2049)), int(rng.integers(1, 8193)),
                 int(rng.integers(1, 8193))))
    return sorted(out)


def model_shapes() -> list[tuple[str, int, int, int, int]]:
    """(name, count, M, K, N) of every GEMM layer of Llama-2-7B prefill-256 + 20 decode steps."""
    from qaccel.models.workloads import build_workload

    layers = (build_workload("llama-2-7b", phase="prefill", tokens=256).layers
              + build_workload("llama-2-7b", phase="decode", tokens=256, kv_len=256,
                               steps=20).layers)
    return [(f"{i}:{layer.name}", *layer.gemm_shape()) for i, layer in enumerate(layers)
            if layer.op != "vector"]


def commit_tree(tmp: Path, commit: str) -> Path:
    """``commit``'s files under ``tmp/<commit>``, its top-level packages moved under
    ``qaccel/`` (what the package-dir mapping installs), ready for ``sys.path``."""
    root = tmp / commit
    root.mkdir()
    archive = tmp / f"{commit}.tar"
    subprocess.run(["git", "archive", "-o", str(archive), commit], cwd=ROOT, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(root, filter="data")
    for name in SUBPACKAGES:
        if (root / name).is_dir():
            (root / name).rename(root / "qaccel" / name)
    return root


# ---- worker (runs inside one tree) ---------------------------------------------------------

def _clear() -> None:
    """Clear every per-shape memo this tree has (8f7e10d has none; trees before
    ``engine.clear_caches`` have the lru caches named here)."""
    import importlib

    engine = importlib.import_module("qaccel.sim.engine")
    if hasattr(engine, "clear_caches"):
        engine.clear_caches()
        return
    for module, name in (("engine", "_timed_shape"), ("mapper", "choose"),
                         ("fast.closed_form", "_cycles"), ("fast.closed_form", "tile_events")):
        try:
            fn = getattr(importlib.import_module(f"qaccel.sim.{module}"), name)
        except (ImportError, AttributeError):
            continue
        fn.cache_clear()


def _best(fn, repeat: int) -> float:
    """Least CPU seconds of ``repeat`` calls of ``fn``, every memo cleared before each (CPU
    time, not wall: on a loaded machine the wall clock mostly measures waiting)."""
    best = float("inf")
    for _ in range(repeat):
        _clear()
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def _accel(name: str, mode: str):
    import dataclasses

    from qaccel.arch import load_accelerator

    accel = load_accelerator(name)
    if hasattr(accel, "mapping"):              # 8f7e10d: always the fixed mapping
        accel = dataclasses.replace(accel, mapping=type(accel.mapping)(mode))
    return accel


def worker(args: argparse.Namespace) -> dict[str, float]:
    """µs per layer of each case (module docstring) in the tree on ``sys.path``."""
    from qaccel import sim
    from qaccel.sim.engine import simulate_layer
    from qaccel.sim.gemm import gemm_layer

    spec = json.loads(Path(args.shapes).read_text())
    layers = [gemm_layer(m, k, n) for m, k, n in spec["random"]]
    model = [gemm_layer(m, k, n, count=c, name=name) for name, c, m, k, n in spec["model"]]
    mapped = hasattr(_accel(PRESETS[0], "fixed"), "mapping")
    out = {}
    for preset in PRESETS:
        accel = _accel(preset, "fixed")
        t = _best(lambda a=accel: sim.run(layers, a, "fast", values=False), args.repeat)
        out[f"run {preset}"] = t / len(layers) * 1e6
        t = _best(lambda a=accel: [simulate_layer(x, a, "fast") for x in layers], args.repeat)
        out[f"layer {preset}"] = t / len(layers) * 1e6
        t = _best(lambda a=accel: sim.run(model, a, "fast", values=False), args.repeat)
        out[f"model {preset}"] = t / len(model) * 1e6
        if mapped:
            auto = _accel(preset, "auto")
            few = layers[:max(1, len(layers) // 4)]
            t = _best(lambda a=auto, f=few: sim.run(f, a, "fast", values=False), 1)
            out[f"mapper {preset}"] = t / len(few) * 1e6
            t = _best(lambda a=auto: sim.run(model, a, "fast", values=False), 1)
            out[f"model-auto cold {preset}"] = t / len(model) * 1e6
            sim.run(model, auto, "fast", values=False)
            best = float("inf")
            for _ in range(args.repeat):
                t0 = time.process_time()
                sim.run(model, auto, "fast", values=False)
                best = min(best, time.process_time() - t0)
            out[f"model-auto warm {preset}"] = best / len(model) * 1e6
    return out


# ---- driver --------------------------------------------------------------------------------

def _run_worker(root: str, shapes: Path, repeat: int) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--worker", "--root", root, "--shapes", str(shapes),
           "--repeat", str(repeat)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=shapes.parent)
    if done.returncode != 0:
        raise RuntimeError(f"worker for {root or 'today'} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="example: python benchmarks/bench_closed_form.py "
                                            "--layers 400 --repeat 5 --rounds 2")
    parser.add_argument("--layers", type=int, default=400, help="distinct random GEMMs")
    parser.add_argument("--repeat", type=int, default=5, help="passes per case (best kept)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs of every tree")
    parser.add_argument("--commits", default=BASE_COMMIT,
                        help=f"comma-separated commits to time beside today's tree, the first "
                             f"the base of the ratios (default {BASE_COMMIT})")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--root", default="", help=argparse.SUPPRESS)
    parser.add_argument("--shapes", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        if args.root:
            sys.path.insert(0, args.root)
        import qaccel.sim

        if args.root and not qaccel.sim.__file__.startswith(args.root):
            raise RuntimeError(f"imported {qaccel.sim.__file__}, not the tree at {args.root}")
        print(json.dumps(worker(args)))
        return 0

    print(f"load average before: {os.getloadavg()}")
    commits = [c for c in args.commits.split(",") if c]
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        trees = [(c, str(commit_tree(tmp_path, c))) for c in commits] + [("today", "")]
        shapes = tmp_path / "shapes.json"
        t0 = time.perf_counter()
        spec = {"random": random_shapes(args.layers), "model": model_shapes()}
        shapes.write_text(json.dumps(spec))
        print(f"{len(spec['random'])} random layers, {len(spec['model'])} model GEMM layers "
              f"({len({s[1:] for s in spec['model']})} distinct), built in "
              f"{time.perf_counter() - t0:.1f} s")
        results: dict[str, dict[str, float]] = {name: {} for name, _ in trees}
        for _ in range(args.rounds):
            for name, root in trees:
                for case, us in _run_worker(root, shapes, args.repeat).items():
                    results[name][case] = min(us, results[name].get(case, float("inf")))
    print(f"load average after: {os.getloadavg()}")
    base = trees[0][0]
    names = [name for name, _ in trees]
    print(f"\n{'case (us per layer)':<36}" + "".join(f"{n:>10}" for n in names)
          + "".join(f"{n + '/' + base:>18}" for n in names[1:]))
    for case in results["today"]:
        us = [results[n].get(case, float("nan")) for n in names]
        ratios = [u / us[0] if us[0] == us[0] else float("nan") for u in us[1:]]
        print(f"{case:<36}" + "".join(f"{u:>10.1f}" for u in us)
              + "".join(f"{r:>18.2f}" for r in ratios))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
