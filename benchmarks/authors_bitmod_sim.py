"""Run the BitMoD authors' own simulator on the paper's six models, beside their notebook.

    python benchmarks/authors_bitmod_sim.py --authors-repo REPO
    python benchmarks/authors_bitmod_sim.py --authors-repo REPO --cacti /path/to/cacti --attention
    python benchmarks/authors_bitmod_sim.py --authors-repo REPO --commit e445a5f \\
        --qaccel-csv /tmp/r/bitmod.csv
    python benchmarks/authors_bitmod_sim.py --authors-repo REPO --check-shapes --json out.json

REPO is a clone of github abdelfattah-lab/BitMoD-HPCA-25 (work tree or bare git directory;
``bitmod_sim/`` is read from ``--commit`` with ``git show``), or a folder holding that commit's
``bitmod_sim/`` files (their git blob ids are checked). ``--commit``: 6b68523 (default; the
2024-11-14 simulator the notebooks come from; a902a09 holds the same files) or e445a5f (the
published 2025-07-19 simulator). Nothing is downloaded or written into REPO: the files are
copied to a temporary folder beside the shape pickles this script writes, and the authors'
``test_{baseline,ant,olive,bitmod}.py`` run there unmodified in a subprocess, without and with
``--is_generation`` (BitMoD also with ``--is_lossless``). The output: cycles and energy beside
the notebooks (and an exact check against sweeps/papers/bitmod.yaml), speedups, energy
reductions, optionally ``qaccel reproduce bitmod``'s CSV and, with ``--attention``, 6b68523's
prefill attention against e445a5f's attention shapes with everything else at 6b68523.

Without ``--cacti`` a stub stands in for CACTI (the snapshot lacks its binary): it returns
the requested SRAM size, the one CACTI value cycles read, and zero SRAM energy and area, so
cycles, compute and DRAM energy are the authors' and SRAM energy is missing
(docs/authors-bitmod.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from qaccel.errors import ConfigError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _authors_bitmod import (  # noqa: E402
    MODELS,
    VERSIONS,
    ModelSpec,
    check_shapes,
    copy_simulator,
    paper_values,
    read_notebook,
    validate,
    write_pickles,
)

#: accelerator label -> (authors' script, extra flags, notebook array stem)
ACCELERATORS = {
    "FP16": ("test_baseline.py", (), "fp16"),
    "ANT": ("test_ant.py", (), "ant"),
    "OliVe": ("test_olive.py", (), "olive"),
    "BitMoD": ("test_bitmod.py", (), "bitmod_agg"),
    "BitMoD-lossless": ("test_bitmod.py", ("--is_lossless",), "bitmod_con"),
}
PHASES = {"prefill": ("_d", ()), "decode": ("_g", ("--is_generation",))}
TASKS = ("prefill", "decode", "generative")
GEN_STEPS = 20  # decode steps of the generative task (speedup_plot.ipynb: num_token_generate)
TOLERANCE, ENERGY_TOLERANCE = 0.10, 0.15  # issue 13's bands (speedups, energy reductions)

#: Runs in the copied bitmod_sim folder. argv: runs (JSON [label, phase, script, flags]),
#: "stub" | "cacti", e445a5f folder or "" (attention comparison). Prints JSON records.
DRIVER = r'''
import contextlib, io, json, os, runpy, sys
ATTN = ("attn_qk", "attn_v")

def stub_cacti():  # the requested size (what CACTI echoes), zero SRAM energy and area
    from mem.cacti_simulation import CactiSimulation
    def run_cacti(self):
        c = self.mem_config
        keep = ("technology", "mem_type", "bank_count", "r_port", "w_port", "rw_port", "rw_bw")
        return {**{k: c[k] for k in keep}, "latency": 0.0, "area": 0.0, "r_cost": 0.0,
                "w_cost": 0.0, "size": int(c["size"] / 8 / c["bank_count"]) * 8 * c["bank_count"]}
    CactiSimulation.run_cacti = run_cacti

def per_layer(acc):
    total = {n: max(acc._layer_cycle_compute[n], acc._layer_cycle_dram[n])
             for n in acc.layer_name_list}
    return total, [n for n in acc.layer_name_list if any(a in n for a in ATTN)]

RUNS, MODE, NEW = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
if MODE == "stub":
    stub_cacti()
import accelerator
BUILT, records = [], []
original_init = accelerator.Accelerator.__init__
def recording_init(self, **kw):
    original_init(self, **kw)
    BUILT.append((self, {k: v for k, v in kw.items() if k != "model_name"}))
accelerator.Accelerator.__init__ = recording_init
for label, phase, script, flags in RUNS:
    BUILT.clear()
    sys.argv[:] = [script, *flags]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        runpy.run_path(script, run_name="__main__")
    for acc, settings in BUILT:
        total, attn = per_layer(acc)
        records.append({
            "label": label, "phase": phase, "model": acc.model_name, "settings": settings,
            "compute_cycles": int(sum(acc._layer_cycle_compute.values())),
            "total_cycles": int(sum(total.values())),
            "attn_compute_cycles": int(sum(acc._layer_cycle_compute[n] for n in attn)),
            "attn_total_cycles": int(sum(total[n] for n in attn)),
            "refetched_layers": sum(v != (1, 1) for v in acc._layer_mem_refetch.values()),
            "sram_bits": [int(acc.w_sram.size), int(acc.i_sram.size)],
            "compute_pj": float(acc.calc_compute_energy()),
            "dram_pj": float(acc.calc_dram_energy()),
            "sram_rd_pj": float(acc.calc_sram_rd_energy()),
            "sram_wr_pj": float(acc.calc_sram_wr_energy()),
            "_linear": {n: int(v) for n, v in total.items() if n not in attn}})
    printed = next(ln for ln in out.getvalue().splitlines() if ln.startswith("Latency:"))
    mine = [r["total_cycles"] for r in records[len(records) - len(BUILT):]]
    assert json.loads(printed.split(":", 1)[1]) == mine, (script, printed, mine)
if NEW:  # e445a5f's Accelerator (its attention shapes), 6b68523's precision rules
    for mod in [m for m in sys.modules if m in ("accelerator", "pe_array", "mem")
                or m.startswith("mem.")]:
        del sys.modules[mod]
    sys.path.insert(0, NEW)
    os.chdir(NEW)
    stub_cacti()  # cycles only read the SRAM size
    from accelerator import Accelerator
    for rec in records:
        if rec["phase"] != "prefill":
            continue
        s = dict(rec["settings"])
        s["cxt_len"] = s.pop("context_length", 256)
        s["kv_prec"] = s["i_prec"]  # 6b68523 prices attention operands at i_prec
        acc = Accelerator(model_name=rec["model"], **s)
        acc.pe_latency["attn"] = acc.pe_latency["linear"]  # and at the weights' latency
        with contextlib.redirect_stdout(io.StringIO()):
            acc.calc_cycle()
        total, attn = per_layer(acc)
        assert {n: int(v) for n, v in total.items() if n not in attn} == rec["_linear"]
        rec["e445a5f_attention"] = {"total_cycles": int(sum(total.values())),
                                    "attn_total_cycles": int(sum(total[n] for n in attn))}
for rec in records:
    del rec["_linear"]
print(json.dumps(records))
'''


def run_authors(sim: Path, cacti: Path | None, new: Path | None) -> list[dict[str, Any]]:
    """Run the authors' four test scripts (both phases; BitMoD lossy and lossless) in one
    subprocess whose working folder is ``sim``; ``new``: e445a5f's folder for --attention."""
    runs = [[label, phase, script, [*flags, *phase_flags]]
            for label, (script, flags, _) in ACCELERATORS.items()
            for phase, (_, phase_flags) in PHASES.items()]
    if cacti is not None:
        (sim / "mem" / "cacti" / "cacti").write_bytes(cacti.read_bytes())
        os.chmod(sim / "mem" / "cacti" / "cacti", 0o755)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(sim)}
    proc = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(runs),
                           "stub" if cacti is None else "cacti", str(new or "")],
                          cwd=sim, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"the authors' simulator failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout)


class Points:
    """Cycles and energy (unit: uJ) per (source, accelerator, model, task); source ``sim``
    (the authors' simulator here) or ``nb`` (their notebooks' cell 1)."""

    def __init__(self, records: list[dict[str, Any]], cycles_nb: dict[str, Any],
                 energy_nb: dict[str, Any], with_sram: bool) -> None:
        self.rec = {(r["label"], r["phase"], r["model"]): r for r in records}
        self.cycles_nb, self.energy_nb, self.with_sram = cycles_nb, energy_nb, with_sram

    def record(self, acc: str, model: ModelSpec, phase: str) -> dict[str, Any]:
        return self.rec[(acc, phase, model.hf_name)]

    @staticmethod
    def _task(one: Any, task: str) -> float:
        return one("prefill") + GEN_STEPS * one("decode") if task == "generative" else one(task)

    def cycles(self, src: str, acc: str, model: ModelSpec, task: str) -> float:
        stem, i = ACCELERATORS[acc][2], MODELS.index(model)
        if src == "sim":
            return self._task(lambda p: self.record(acc, model, p)["total_cycles"], task)
        return self._task(lambda p: self.cycles_nb[f"cycle_{stem}{PHASES[p][0]}"][i], task)

    def energy(self, src: str, acc: str, model: ModelSpec, task: str, part: str) -> float:
        """``part``: "onchip" (compute + SRAM), "dram" or "total" (unit: uJ)."""
        stem, i = ACCELERATORS[acc][2], MODELS.index(model)

        def one(phase: str) -> float:
            if src == "nb":
                onchip, total = self.energy_nb[f"energy_{stem}{PHASES[phase][0]}"][i]
                return {"onchip": onchip, "dram": total - onchip, "total": total}[part]
            r = self.record(acc, model, phase)
            onchip = r["compute_pj"] + r["sram_rd_pj"] + r["sram_wr_pj"]
            return {"onchip": onchip, "dram": r["dram_pj"],
                    "total": onchip + r["dram_pj"]}[part] / 1e6
        return self._task(one, task)


def _rel(a: float, b: float, tolerance: float = TOLERANCE) -> str:
    text = f"{a / b - 1:+.1%}".replace("%", " %")
    return f"**{text}**" if abs(a / b - 1) > tolerance else text


def settings_table(pts: Points) -> list[str]:
    rows = ["| accelerator | phase | settings (as their test_*.py pass them to Accelerator) |",
            "|---|---|---|"]
    for acc in ACCELERATORS:
        for phase in PHASES:
            seen = []
            for model in MODELS:
                s = pts.record(acc, model, phase)["settings"]
                text = ", ".join(f"{k}={v}" for k, v in s.items()
                                 if k not in ("cxt_len", "context_length"))
                seen += [text] if text not in seen else []
            rows.append(f"| {acc} | {phase} | {'; '.join(seen)} |")
    return rows


def cycles_table(pts: Points) -> list[str]:
    rows = ["| model | task | accelerator | compute | attention share | total | notebook | "
            "sim / notebook | layers refetched |", "|---|---|---|---:|---:|---:|---:|---|---:|"]
    for model in MODELS:
        for task in TASKS:
            for acc in ACCELERATORS:
                sim, nb = pts.cycles("sim", acc, model, task), pts.cycles("nb", acc, model, task)
                compute = attn = refetch = ""
                if task != "generative":
                    r = pts.record(acc, model, task)
                    compute, refetch = f"{r['compute_cycles']:,}", str(r["refetched_layers"])
                    attn = f"{r['attn_compute_cycles'] / r['compute_cycles']:.1%}"
                rows.append(f"| {model.qaccel_id} | {task} | {acc} | {compute} | {attn} | "
                            f"{sim:,.0f} | {nb:,.0f} | {sim / nb:.4f} ({_rel(sim, nb)}) | "
                            f"{refetch} |")
    return rows


def yaml_check(pts: Points) -> list[str]:
    """Exact comparison with sweeps/papers/bitmod.yaml (48 lossy points): cycles equal, total
    energy within 1 uJ (with CACTI)."""
    lines = []
    for metric, value in (("cycles", lambda a, m, p: pts.cycles("sim", a, m, p)),
                          ("energy_uj", lambda a, m, p: pts.energy("sim", a, m, p, "total"))):
        if metric == "energy_uj" and not pts.with_sram:
            continue
        paper = paper_values(metric)
        spec = {m.qaccel_id: m for m in MODELS}
        diffs = [value(a, spec[m], p) - v for (m, p, a), v in paper.items()]
        ok = sum(d == 0 if metric == "cycles" else abs(d) <= 1 for d in diffs)
        worst = max(abs(d) / v for d, v in zip(diffs, paper.values(), strict=True))
        lines.append(f"bitmod.yaml {metric}: {ok} of {len(diffs)} "
                     + ("equal" if metric == "cycles" else "within 1 uJ")
                     + f"; largest |sim / notebook - 1| = {worst:.2e}")
    return lines


def energy_table(pts: Points) -> tuple[list[str], str]:
    """Per (model, phase, accelerator): sim / notebook energy parts (uJ); and a summary line."""
    parts = ("dram", "onchip", "total") if pts.with_sram else ("dram",)
    rows = ["| model | phase | accelerator | compute | SRAM rd + wr | "
            + " | ".join(f"{p} sim / notebook" for p in parts) + " |",
            "|---|---|---|---:|---:|" + "---|" * len(parts)]
    close = total = 0
    for model in MODELS:
        for phase in PHASES:
            for acc in ACCELERATORS:
                r = pts.record(acc, model, phase)
                sram = f"{(r['sram_rd_pj'] + r['sram_wr_pj']) / 1e6:,.0f}" if pts.with_sram \
                    else "needs --cacti"
                cells = []
                for p in parts:
                    sim = pts.energy("sim", acc, model, phase, p)
                    nb = pts.energy("nb", acc, model, phase, p)
                    close, total = close + (abs(sim - nb) <= 1), total + 1
                    cells.append(f"{sim:,.0f} / {nb:,.0f} ({_rel(sim, nb, ENERGY_TOLERANCE)})")
                rows.append(f"| {model.qaccel_id} | {phase} | {acc} | "
                            f"{r['compute_pj'] / 1e6:,.0f} | {sram} | " + " | ".join(cells) + " |")
    return rows, f"energy values ({', '.join(parts)}) within 1 uJ of the notebook: {close} " \
                 f"of {total}"


#: ratio column -> (accelerator, baseline, `qaccel reproduce bitmod` metric suffix)
RATIOS = {"ANT/FP16": ("ANT", "FP16", "fp16"), "OliVe/FP16": ("OliVe", "FP16", "fp16"),
          "BitMoD/FP16": ("BitMoD", "FP16", "fp16"), "BitMoD/ANT": ("BitMoD", "ANT", "ant"),
          "BitMoD/OliVe": ("BitMoD", "OliVe", "olive")}


def read_ours(path: Path | None) -> dict[tuple[str, str, str, str], float]:
    """``qaccel reproduce bitmod`` CSV -> {(model, task, accelerator, metric): value}."""
    if path is None:
        return {}
    import pandas as pd

    df = pd.read_csv(path)
    return {(r.model, r.task, r.accelerator, r.metric): float(r.value) for r in df.itertuples()}


def ratio_table(pts: Points, ours: dict[Any, float], kind: str) -> tuple[list[str], str]:
    """Speedups (``kind`` "speedup") or energy reductions: sim / notebook / ours per point."""
    tol = TOLERANCE if kind == "speedup" else ENERGY_TOLERANCE
    rows = ["| model | task | " + " | ".join(RATIOS) + " |", "|---|---|" + "---|" * len(RATIOS)]
    misses = total = 0
    for model in MODELS:
        for task in TASKS:
            cells = []
            for acc, base, suffix in RATIOS.values():
                sim, nb = (ratio(pts, kind, src, acc, base, model, task) for src in ("sim", "nb"))
                mine = ours.get((model.qaccel_id, task, acc, f"{kind}_vs_{suffix}"))
                misses, total = misses + (abs(sim / nb - 1) > tol), total + 1
                cells.append(f"{sim:.2f} / {nb:.2f}" + (f" / {mine:.2f}" if mine else "")
                             + f" ({_rel(sim, nb, tol)})")
            rows.append(f"| {model.qaccel_id} | {task} | " + " | ".join(cells) + " |")
    return rows, f"sim outside {tol:.0%} of the notebook: {misses} of {total}"


def ratio(pts: Points, kind: str, src: str, acc: str, base: str, m: ModelSpec, t: str) -> float:
    if kind == "speedup":
        return pts.cycles(src, base, m, t) / pts.cycles(src, acc, m, t)
    return pts.energy(src, base, m, t, "total") / pts.energy(src, acc, m, t, "total")


def headlines(pts: Points, ours: dict[Any, float]) -> list[str]:
    """Arithmetic means over the 12 (model, prefill | generative) points, as the notebook's
    "Geo Mean" column computes them (``np.mean``)."""
    rows = ["| mean over 12 points | authors' sim | notebook | qaccel |", "|---|---:|---:|---:|"]
    points = [(m, t) for m in MODELS for t in ("prefill", "generative")]
    for kind in ("speedup", "energy_reduction") if pts.with_sram else ("speedup",):
        for col, (acc, base, suffix) in RATIOS.items():
            means = [sum(ratio(pts, kind, src, acc, base, m, t) for m, t in points) / len(points)
                     for src in ("sim", "nb")]
            mine = [ours.get((m.qaccel_id, t, acc, f"{kind}_vs_{suffix}")) for m, t in points]
            text = f"{sum(mine) / len(mine):.3f}" if all(mine) else ""
            rows.append(f"| {kind} {col} | {means[0]:.3f} | {means[1]:.3f} | {text} |")
    return rows


def attention_tables(pts: Points) -> list[str]:
    """Prefill: 6b68523's attention against e445a5f's shapes (everything else 6b68523)."""
    rows = ["| model | accelerator | total 6b68523 | attention | share | total, e445a5f "
            "attention | attention | share | overcount |", "|---|---|" + "---:|" * 7]
    speed = ["| model | BitMoD prefill speedup over | 6b68523 | with e445a5f attention |",
             "|---|---|---:|---:|"]
    for m in MODELS:
        for acc in ("FP16", "ANT", "OliVe", "BitMoD"):
            r = pts.record(acc, m, "prefill")
            n = r["e445a5f_attention"]
            rows.append(f"| {m.qaccel_id} | {acc} | {r['total_cycles']:,} | "
                        f"{r['attn_total_cycles']:,} | "
                        f"{r['attn_total_cycles'] / r['total_cycles']:.1%} | "
                        f"{n['total_cycles']:,} | {n['attn_total_cycles']:,} | "
                        f"{n['attn_total_cycles'] / n['total_cycles']:.1%} | "
                        f"{r['attn_total_cycles'] / n['attn_total_cycles']:.1f}x |")
        bit = pts.record("BitMoD", m, "prefill")
        for acc in ("FP16", "ANT", "OliVe"):
            r = pts.record(acc, m, "prefill")
            new = r["e445a5f_attention"]["total_cycles"]
            speed.append(f"| {m.qaccel_id} | {acc} | {r['total_cycles'] / bit['total_cycles']:.3f}"
                         f" | {new / bit['e445a5f_attention']['total_cycles']:.3f} |")
    return [*rows, "", *speed]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 on bad input)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="examples:\n" + __doc__.split("\n\n", 1)[1])
    ap.add_argument("--authors-repo", type=Path,
                    help="clone (work tree or git dir) of abdelfattah-lab/BitMoD-HPCA-25")
    ap.add_argument("--commit", choices=tuple(VERSIONS), default="6b68523",
                    help="simulator version (default 6b68523, the notebooks'; a902a09 = same "
                    "files; e445a5f = published 2025)")
    ap.add_argument("--cacti", type=Path, help="a CACTI 7 binary (adds SRAM energy)")
    ap.add_argument("--attention", action="store_true", help="also price 6b68523's prefill "
                    "with e445a5f's attention shapes (needs a git clone)")
    ap.add_argument("--qaccel-csv", type=Path,
                    help="bitmod.csv of `qaccel reproduce bitmod --out DIR` (adds 'ours')")
    ap.add_argument("--check-shapes", action="store_true",
                    help="compare the pickles with our workload presets (about 1 min)")
    ap.add_argument("--json", type=Path, help="also write the raw records to this file")
    args = ap.parse_args(argv)
    try:
        git_dir, folder = validate(args.authors_repo, args.commit, args.cacti, args.qaccel_csv,
                                   args.attention)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.check_shapes:
        print("shape pickles vs our workload presets:", *check_shapes(), sep="\n  ")
    with tempfile.TemporaryDirectory(prefix="authors-bitmod-") as tmp:
        sim, new = Path(tmp) / "sim", Path(tmp) / "e445a5f" if args.attention else None
        for commit, dest in ((args.commit, sim), ("e445a5f", new)):
            if dest is not None:
                copy_simulator(git_dir, folder, commit, dest)
                write_pickles(dest)
        records = run_authors(sim, args.cacti, new)
        pts = Points(records, read_notebook(sim / "plot/speedup_plot.ipynb", "cycle"),
                     read_notebook(sim / "plot/energy_plot.ipynb", "energy"),
                     with_sram=args.cacti is not None)
    if args.json:
        args.json.write_text(json.dumps(records, indent=1))
    ours = read_ours(args.qaccel_csv)
    out = ["", f"# The authors' simulator at {args.commit}", "", "## Settings",
           *settings_table(pts), "", "## Cycles", *cycles_table(pts), "", *yaml_check(pts)]
    speedups, summary = ratio_table(pts, ours, "speedup")
    out += ["", "## Speedups: authors' sim / notebook" + (" / qaccel" if ours else ""),
            *speedups, "", summary]
    energy, summary = energy_table(pts)
    out += ["", "## Energy (uJ)", *energy, "", summary, "", "## Headline means",
            *headlines(pts, ours)]
    if pts.with_sram:
        reductions, summary = ratio_table(pts, ours, "energy_reduction")
        out += ["", "## Energy reductions: authors' sim / notebook" + (" / qaccel" if ours
                                                                        else ""),
                *reductions, "", summary]
    if args.attention:
        out += ["", "## Prefill attention: 6b68523 vs e445a5f's shapes", *attention_tables(pts)]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
