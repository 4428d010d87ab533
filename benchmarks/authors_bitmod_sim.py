"""Run the BitMoD authors' own simulator on the paper's six models, beside their notebook.

    python benchmarks/authors_bitmod_sim.py --authors-repo /path/to/BitMoD-HPCA-25
    python benchmarks/authors_bitmod_sim.py --authors-repo REPO --qaccel-csv /tmp/r/bitmod.csv
    python benchmarks/authors_bitmod_sim.py --authors-repo REPO --cacti /path/to/cacti
    python benchmarks/authors_bitmod_sim.py --authors-repo GIT_DIR --commit a902a09

``--authors-repo`` is a work tree of github abdelfattah-lab/BitMoD-HPCA-25 at commit e445a5f
(the folder holding ``bitmod_sim/``) or its bare git directory (then the files are read from
``--commit``, e445a5f by default, with ``git show``). Nothing is downloaded and nothing is
written into it: the simulator's files are copied to a temporary folder, beside the shape
pickles this script writes. ``--commit a902a09`` runs the simulator as it was before e445a5f
(byte-identical to 48975fc, 2024-11-14), the version the notebooks' numbers come from.

What it does (docs/authors-bitmod.md):

1. writes the six ``model_shape_config/<stem>.pickle`` files that the authors'
   ``llm_shape_profile.py`` would write from Hugging Face, ``(config.to_dict(), {name: [out,
   in]} for every nn.Linear)``, by building each model on the meta device from the config.json
   values in :data:`MODELS`; checks them against our workload presets;
2. runs the authors' ``test_baseline.py``, ``test_ant.py``, ``test_olive.py`` and
   ``test_bitmod.py`` unmodified (each with and without ``--is_generation``, BitMoD also with
   ``--is_lossless``) in a subprocess, recording every ``Accelerator`` they build;
3. prints cycles and energy beside the notebooks' (``bitmod_sim/plot/speedup_plot.ipynb`` and
   ``energy_plot.ipynb``, cell 1) and the speedups from both, and from ``qaccel reproduce
   bitmod`` when ``--qaccel-csv`` names its CSV.

CACTI: the snapshot lacks the ``mem/cacti/cacti`` binary. Cycles read only the SRAM size from
CACTI's output, which CACTI echoes from its input (``Capacity (bytes)`` is the requested
``cache_size``), so without ``--cacti`` a stub returns the requested size and zero SRAM
energies and area: cycles, compute energy and DRAM energy are the authors', SRAM energy is
missing (the script then prints no on-chip or total energy of its own).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qaccel.errors import ConfigError, Problem

#: git blob ids of the files we run, per commit (``git ls-tree -r <commit> bitmod_sim``):
#: e445a5f (2025-07-19) is the published simulator; a902a09, its parent, holds the simulator
#: as added on 2024-11-14 (48975fc, files byte-identical), from which the notebooks' cycles come
_SHARED = {
    "mem/mem_instance.py": "0089286e5e904d232e368d9531a9d3c8efea6915",
    "mem/cacti_simulation.py": "49a123cade6c9e025a8cfd98fc5a32c1126a6297",
    "mem/cacti_config.py": "87abafee4016e34f92770441a1f1d8502181589b",
    "plot/speedup_plot.ipynb": "57ce72996509cea6b5da6ec454d7a5632e0aa075",
    "plot/energy_plot.ipynb": "9855c72418a45ab4335b9bfcca106071c58344fc",
}
VERSIONS = {
    "e445a5f": {
        "accelerator.py": "4988f7c5833cc06472f70a587d99f521be4ff744",
        "pe_array.py": "61e8c0e0aebbd1a9159c8f8164f78341ebb3c1e9",
        "test_baseline.py": "fe634c5ed6040a975dbe4132f9b3396d4d718d65",
        "test_ant.py": "34322b4e62095809d21708758526fa9979848d7f",
        "test_olive.py": "aab29fb6b23b1c45f3199a05ab9872e1ef710f81",
        "test_bitmod.py": "d70a723f038c6837b624bf3bfbf7be9bd207e1d2", **_SHARED},
    "a902a09": {
        "accelerator.py": "875955f05e393115e3b891789601439b33dfad84",
        "pe_array.py": "dec9051016d93cdacc6ec0f79914f7ddfc45b0ea",
        "test_baseline.py": "27cd8e35afe95cd90b145018a91f896f5159bc37",
        "test_ant.py": "675eac608ef6d5e9328a0b2e305ad69dd3e909a6",
        "test_olive.py": "a1bb2f90fb1b59747c78a5b08c2c52401b65edef",
        "test_bitmod.py": "2b9a1623c98bddb3fd614ef01e6ac58809fb4352", **_SHARED},
}
TECH_DIR = "mem/cacti/tech_params"
#: decode steps of the generative task (speedup_plot.ipynb cell 1: ``num_token_generate``)
GEN_STEPS = 20


@dataclass(frozen=True)
class ModelSpec:
    """One model: its Hugging Face name (the authors' key), pickle stem, our preset id, and the
    config.json fields that fix every nn.Linear shape (the rest keep transformers' defaults)."""

    hf_name: str
    stem: str
    qaccel_id: str
    model_type: str
    fields: dict[str, int]


MODELS = (
    ModelSpec("facebook/opt-1.3b", "opt_1_point_3", "opt-1.3b", "opt",
              {"hidden_size": 2048, "num_hidden_layers": 24, "num_attention_heads": 32,
               "ffn_dim": 8192, "word_embed_proj_dim": 2048, "vocab_size": 50272}),
    ModelSpec("microsoft/phi-2", "phi_2", "phi-2", "phi",
              {"hidden_size": 2560, "num_hidden_layers": 32, "num_attention_heads": 32,
               "num_key_value_heads": 32, "intermediate_size": 10240, "vocab_size": 51200}),
    ModelSpec("01-ai/Yi-6B", "yi_6", "yi-6b", "llama",
              {"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
               "num_key_value_heads": 4, "intermediate_size": 11008, "vocab_size": 64000}),
    ModelSpec("meta-llama/Llama-2-7b-hf", "llama_2_7", "llama-2-7b", "llama",
              {"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
               "num_key_value_heads": 32, "intermediate_size": 11008, "vocab_size": 32000}),
    ModelSpec("meta-llama/Llama-2-13b-hf", "llama_2_13", "llama-2-13b", "llama",
              {"hidden_size": 5120, "num_hidden_layers": 40, "num_attention_heads": 40,
               "num_key_value_heads": 40, "intermediate_size": 13824, "vocab_size": 32000}),
    ModelSpec("meta-llama/Meta-Llama-3-8B", "llama_3_8", "llama-3-8b", "llama",
              {"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
               "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 128256}),
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
#: issue 13's bands: speedups within 10 %, energy reductions within 15 %
TOLERANCE = 0.10
ENERGY_TOLERANCE = 0.15

# ---- inputs ---------------------------------------------------------------------------------


def git_blob_id(data: bytes) -> str:
    """The id git gives a file's bytes (sha1 of ``blob <size>\\0`` + bytes)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def copy_simulator(repo: Path, dest: Path, commit: str) -> list[str]:
    """Copy the authors' simulator files into ``dest`` (from ``commit`` when ``repo`` is a git
    directory); return the files that differ from ``commit``. Raises :class:`ConfigError` when
    ``repo`` holds no simulator."""
    work = repo / "bitmod_sim"
    bare = (repo / "objects").is_dir() and (repo / "HEAD").is_file()
    blobs = VERSIONS[commit]
    names = [*blobs, *(f"{TECH_DIR}/{n}" for n in _tech_names(repo, work, bare, commit))]
    problems: list[Problem] = []
    for name in names:
        try:
            if bare:
                data = subprocess.run(
                    ["git", f"--git-dir={repo}", "show", f"{commit}:bitmod_sim/{name}"],
                    check=True, capture_output=True).stdout
            else:
                data = (work / name).read_bytes()
        except (OSError, subprocess.CalledProcessError):
            problems.append(Problem("--authors-repo", f"must hold bitmod_sim/{name} (a checkout "
                                    f"of abdelfattah-lab/BitMoD-HPCA-25 at {commit} or its git "
                                    f"directory), not {str(repo)!r}"))
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / name).write_bytes(data)
    if problems:
        raise ConfigError(problems[:1] if len(problems) == len(names) else problems)
    return [n for n, blob in blobs.items() if git_blob_id((dest / n).read_bytes()) != blob]


def _tech_names(repo: Path, work: Path, bare: bool, commit: str) -> list[str]:
    if bare:
        out = subprocess.run(["git", f"--git-dir={repo}", "ls-tree", "--name-only",
                              f"{commit}:bitmod_sim/{TECH_DIR}"], capture_output=True, text=True)
        return out.stdout.split() if out.returncode == 0 else []
    folder = work / TECH_DIR
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def write_shapes(folder: Path) -> dict[str, dict[str, list[int]]]:
    """Write ``folder/model_shape_config/<stem>.pickle`` as llm_shape_profile.py does:
    ``(AutoConfig.to_dict(), {module name: list(weight.shape)})`` for every ``nn.Linear`` of
    the model built on the meta device (no weights, no download). Returns the layer dicts."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    out = folder / "model_shape_config"
    out.mkdir(parents=True, exist_ok=True)
    shapes = {}
    for spec in MODELS:
        config = AutoConfig.for_model(spec.model_type, **spec.fields)
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config)
        layers = {n: list(m.weight.shape) for n, m in model.named_modules()
                  if isinstance(m, torch.nn.Linear)}
        with open(out / f"{spec.stem}.pickle", "wb") as f:
            pickle.dump((config.to_dict(), layers), f)
        shapes[spec.hf_name] = layers
    return shapes


def check_presets(shapes: dict[str, dict[str, list[int]]]) -> list[str]:
    """Differences between the pickles' nn.Linear shapes and our workload presets' linear
    layers (``build_workload(id, phase="prefill", tokens=256)``: N = out, K = in)."""
    from qaccel.models.workloads import build_workload

    diffs = []
    for spec in MODELS:
        trace = build_workload(spec.qaccel_id, phase="prefill", tokens=256)
        ours = {lay.name: [lay.N, lay.K] for lay in trace.layers if lay.op == "linear"}
        if ours != shapes[spec.hf_name]:
            diffs.append(f"{spec.qaccel_id}: {len(ours)} preset linear layers, "
                         f"{len(shapes[spec.hf_name])} in the pickle, shapes differ")
    return diffs


def read_notebook(path: Path, prefix: str) -> dict[str, Any]:
    """``<prefix>_<acc>_<d|g>`` arrays of the notebook's cell 1, as Python lists."""
    cell = "".join(json.loads(path.read_text())["cells"][1]["source"])
    pattern = rf"^({prefix}_\w+_[dg])\s*=\s*np\.array\((\[.*\])\)\s*$"
    return {m[1]: ast.literal_eval(m[2]) for m in re.finditer(pattern, cell, re.M)}


# ---- the authors' simulator, in a subprocess ------------------------------------------------

#: Runs inside the copied bitmod_sim folder. argv[1]: JSON list of [label, script, flags];
#: argv[2]: "stub" or "cacti". Prints one JSON list of records on stdout.
DRIVER = r'''
import contextlib, json, runpy, sys
import mem.mem_instance

class RequestedSizeOnly:
    """Stands in for CactiSimulation: echoes the requested size, no SRAM energy or area."""
    def __init__(self, config):
        self.config = dict(config)
    def run_cacti(self):
        return {**self.config, "latency": 1.0, "area": 0.0, "r_cost": 0.0, "w_cost": 0.0}

if sys.argv[2] == "stub":
    mem.mem_instance.CactiSimulation = RequestedSizeOnly
import accelerator
BUILT = []

class Recorded(accelerator.Accelerator):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.settings = {k: v for k, v in kw.items() if k not in ("model_name",)}
        BUILT.append(self)
    def calc_cycle(self):
        self.cycles = super().calc_cycle()
        return self.cycles

accelerator.Accelerator = Recorded
records = []
for label, script, flags in json.loads(sys.argv[1]):
    BUILT.clear()
    sys.argv[:] = [script, *flags]
    with contextlib.redirect_stdout(sys.stderr):
        runpy.run_path(script, run_name="__main__")
        for acc in BUILT:
            refetched = sum(v != (1, 1) for v in acc._layer_mem_refetch.values())
            attn = [n for n in acc.layer_name_list if "attn_qk" in n or "attn_v" in n]
            records.append({
                "label": label, "model": acc.model_name, "settings": acc.settings,
                "compute_cycles": int(acc.cycles[0]), "total_cycles": int(acc.cycles[1]),
                "attn_compute_cycles": int(sum(acc._layer_cycle_compute[n] for n in attn)),
                "compute_pj": acc.calc_compute_energy(), "dram_pj": acc.calc_dram_energy(),
                "sram_rd_pj": acc.calc_sram_rd_energy(), "sram_wr_pj": acc.calc_sram_wr_energy(),
                "sram_bits": [acc.w_sram.size, acc.i_sram.size], "refetched_layers": refetched})
print(json.dumps(records))
'''


def run_authors(sim: Path, cacti: Path | None) -> list[dict[str, Any]]:
    """Run the four test scripts (both phases, BitMoD lossy and lossless) in one subprocess
    whose working folder is ``sim`` (it holds the scripts and model_shape_config/)."""
    runs = []
    for label, (script, flags, _) in ACCELERATORS.items():
        for phase, (_, phase_flags) in PHASES.items():
            runs.append([f"{label}|{phase}", script, [*flags, *phase_flags]])
    if cacti is not None:
        shutil.copy2(cacti, sim / "mem" / "cacti" / "cacti")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(sim)}
    proc = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(runs),
                           "stub" if cacti is None else "cacti"],
                          cwd=sim, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"the authors' simulator failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout)


# ---- tables ---------------------------------------------------------------------------------

#: speedup column -> (accelerator, baseline, qaccel reproduce metric)
SPEEDUPS = {
    "ANT/FP16": ("ANT", "FP16", "speedup_vs_fp16"),
    "OliVe/FP16": ("OliVe", "FP16", "speedup_vs_fp16"),
    "BitMoD/FP16": ("BitMoD", "FP16", "speedup_vs_fp16"),
    "BitMoD/ANT": ("BitMoD", "ANT", "speedup_vs_ant"),
    "BitMoD/OliVe": ("BitMoD", "OliVe", "speedup_vs_olive"),
}
#: energy reduction column -> (accelerator, baseline, qaccel reproduce metric)
ENERGY_REDUCTIONS = {col: (acc, base, metric.replace("speedup", "energy_reduction"))
                     for col, (acc, base, metric) in SPEEDUPS.items()}
TASKS = ("prefill", "decode", "generative")


class Points:
    """Cycles and energy (unit: uJ) per (source, accelerator, model, task); sources are
    ``sim`` (the authors' simulator here) and ``nb`` (their notebooks)."""

    def __init__(self, records: list[dict[str, Any]], cycles_nb: dict[str, Any],
                 energy_nb: dict[str, Any], with_sram: bool) -> None:
        self.rec = {(r["label"], r["model"]): r for r in records}
        self.cycles_nb, self.energy_nb, self.with_sram = cycles_nb, energy_nb, with_sram

    def record(self, acc: str, model: ModelSpec, phase: str) -> dict[str, Any]:
        return self.rec[(f"{acc}|{phase}", model.hf_name)]

    def _task(self, one: Any, task: str) -> float:
        if task == "generative":
            return one("prefill") + GEN_STEPS * one("decode")
        return one(task)

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


def read_ours(path: Path | None) -> dict[tuple[str, str, str, str], float]:
    """``qaccel reproduce bitmod`` CSV -> {(model, task, accelerator, metric): value}."""
    if path is None:
        return {}
    import pandas as pd

    df = pd.read_csv(path)
    return {(r.model, r.task, r.accelerator, r.metric): float(r.value) for r in df.itertuples()}


def _rel(a: float, b: float, tolerance: float = TOLERANCE) -> str:
    err = a / b - 1
    text = f"{err:+.1%}".replace("%", " %")
    return f"**{text}**" if abs(err) > tolerance else text


def cycles_table(pts: Points) -> list[str]:
    rows = ["| model | task | accelerator | sim compute | of which attention | sim total | "
            "notebook | sim / notebook | layers refetched |",
            "|---|---|---|---:|---:|---:|---:|---|---:|"]
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
                            f"{sim:,.0f} | {nb:,.0f} | {sim / nb:.3f} ({_rel(sim, nb)}) | "
                            f"{refetch} |")
    return rows


def ratio_table(pts: Points, ours: dict[Any, float], columns: dict[str, Any],
                value: Any, tolerance: float = TOLERANCE) -> tuple[list[str], int, int]:
    """Rows ``sim / notebook / ours (sim vs notebook)``; returns rows, misses, points."""
    head = "| model | task | " + " | ".join(columns) + " |"
    rows = [head, "|---|---|" + "---|" * len(columns)]
    misses = total = 0
    for model in MODELS:
        for task in TASKS:
            cells = []
            for acc, base, metric in columns.values():
                sim, nb = value("sim", acc, base, model, task), value("nb", acc, base, model, task)
                mine = ours.get((model.qaccel_id, task, acc, metric))
                total += 1
                misses += abs(sim / nb - 1) > tolerance
                cells.append(f"{sim:.2f} / {nb:.2f}" + (f" / {mine:.2f}" if mine else "")
                             + f" ({_rel(sim, nb, tolerance)})")
            rows.append(f"| {model.qaccel_id} | {task} | " + " | ".join(cells) + " |")
    return rows, misses, total


def energy_table(pts: Points) -> list[str]:
    parts = ("dram", "onchip", "total") if pts.with_sram else ("dram",)
    head = ("| model | task | accelerator | sim compute (uJ) | notebook on-chip (uJ) | "
            + " | ".join(f"sim / notebook {p}" for p in parts) + " |")
    rows = [head, "|---|---|---|---:|---:|" + "---|" * len(parts)]
    for model in MODELS:
        for task in ("prefill", "decode"):
            for acc in ACCELERATORS:
                compute = pts.record(acc, model, task)["compute_pj"] / 1e6
                cells = []
                for p in parts:
                    sim = pts.energy("sim", acc, model, task, p)
                    nb = pts.energy("nb", acc, model, task, p)
                    cells.append(f"{sim:,.0f} / {nb:,.0f} ({_rel(sim, nb, ENERGY_TOLERANCE)})")
                onchip = pts.energy("nb", acc, model, task, "onchip")
                rows.append(f"| {model.qaccel_id} | {task} | {acc} | {compute:,.0f} | "
                            f"{onchip:,.0f} | " + " | ".join(cells) + " |")
    return rows


def headlines(pts: Points, ours: dict[Any, float]) -> list[str]:
    """The paper's means: arithmetic mean over the 12 (model, prefill | generative) points, as
    the notebook's "Geo Mean" column computes it (``np.mean``)."""
    rows = ["| mean over 12 points | authors' sim | notebook | qaccel |", "|---|---:|---:|---:|"]
    kinds = [("speedup", SPEEDUPS, lambda src, a, b, m, t: pts.cycles(src, b, m, t)
              / pts.cycles(src, a, m, t))]
    if pts.with_sram:
        kinds.append(("energy reduction", ENERGY_REDUCTIONS, lambda src, a, b, m, t: (
            pts.energy(src, b, m, t, "total") / pts.energy(src, a, m, t, "total"))))
    for name, columns, value in kinds:
        for col, (acc, base, metric) in columns.items():
            points = [(m, t) for m in MODELS for t in ("prefill", "generative")]
            means = [sum(value(src, acc, base, m, t) for m, t in points) / len(points)
                     for src in ("sim", "nb")]
            mine = [ours.get((m.qaccel_id, t, acc, metric)) for m, t in points]
            text = f"{sum(mine) / len(mine):.3f}" if all(mine) else ""
            rows.append(f"| {name} {col} | {means[0]:.3f} | {means[1]:.3f} | {text} |")
    return rows


def settings_table(pts: Points) -> list[str]:
    rows = ["| accelerator | phase | settings (their test_*.py, as passed to Accelerator) |",
            "|---|---|---|"]
    for acc in ACCELERATORS:
        for phase in PHASES:
            seen = []
            for model in MODELS:
                s = pts.record(acc, model, phase)["settings"]
                text = ", ".join(f"{k}={v}" for k, v in s.items() if k not in ("cxt_len",))
                if text not in seen:
                    seen.append(text)
            rows.append(f"| {acc} | {phase} | {'; '.join(seen)} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--authors-repo", type=Path, required=True,
                    help="work tree or git directory of abdelfattah-lab/BitMoD-HPCA-25")
    ap.add_argument("--commit", choices=tuple(VERSIONS), default="e445a5f",
                    help="simulator version: e445a5f (published, default) or a902a09 (its "
                    "parent: the 2024-11-14 simulator the notebooks come from)")
    ap.add_argument("--qaccel-csv", type=Path,
                    help="bitmod.csv of `qaccel reproduce bitmod --out DIR` (adds 'ours')")
    ap.add_argument("--cacti", type=Path, help="a CACTI 7 binary (adds SRAM energy)")
    ap.add_argument("--no-preset-check", action="store_true",
                    help="skip the comparison with our workload presets (~1 min)")
    args = ap.parse_args(argv)
    problems = []
    for flag, path in (("--qaccel-csv", args.qaccel_csv), ("--cacti", args.cacti)):
        if path is not None and not path.is_file():
            problems.append(Problem(flag, f"must be an existing file, not {str(path)!r}"))
    with tempfile.TemporaryDirectory(prefix="authors-bitmod-") as tmp:
        sim = Path(tmp)
        try:
            if not args.authors_repo.is_dir():
                problems.append(Problem("--authors-repo", "must be a folder holding bitmod_sim/"
                                        f" at {args.commit}, not {str(args.authors_repo)!r}"))
            else:
                changed = copy_simulator(args.authors_repo, sim, args.commit)
            if problems:
                raise ConfigError(problems)
        except ConfigError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        if changed:
            print(f"note: these files differ from commit {args.commit}: {', '.join(changed)}")
        shapes = write_shapes(sim)
        if not args.no_preset_check:
            diffs = check_presets(shapes)
            print("shape pickles vs our workload presets:", "; ".join(diffs) or "identical")
        records = run_authors(sim, args.cacti)
        pts = Points(records, read_notebook(sim / "plot/speedup_plot.ipynb", "cycle"),
                     read_notebook(sim / "plot/energy_plot.ipynb", "energy"),
                     with_sram=args.cacti is not None)
    ours = read_ours(args.qaccel_csv)
    print("\n".join(["", "## Settings", *settings_table(pts), "", "## Cycles", *cycles_table(pts)]))
    rows, misses, total = ratio_table(
        pts, ours, SPEEDUPS,
        lambda src, acc, base, m, t: pts.cycles(src, base, m, t) / pts.cycles(src, acc, m, t))
    print("\n".join(["", "## Speedups: authors' sim / notebook" + (" / qaccel" if ours else ""),
                     *rows, f"\nsim outside {TOLERANCE:.0%} of the notebook: {misses} of {total}"]))
    print("\n".join(["", "## Energy (uJ)", *energy_table(pts)]))
    print("\n".join(["", "## Headline means", *headlines(pts, ours)]))
    if pts.with_sram:
        rows, misses, total = ratio_table(
            pts, ours, ENERGY_REDUCTIONS,
            lambda src, acc, base, m, t: (pts.energy(src, base, m, t, "total")
                                          / pts.energy(src, acc, m, t, "total")),
            ENERGY_TOLERANCE)
        print("\n".join(["", "## Energy reductions: authors' sim / notebook"
                         + (" / qaccel" if ours else ""), *rows, f"\nsim outside "
                         f"{ENERGY_TOLERANCE:.0%} of the notebook: {misses} of {total}"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
