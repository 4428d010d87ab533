"""Run the BitMoD authors' simulator at commit 6b68523 (the notebooks' commit) on the six models.

    python benchmarks/authors_bitmod_6b68523.py --authors-repo /path/to/BitMoD-HPCA-25
    python benchmarks/authors_bitmod_6b68523.py --authors-repo /path/to/BitMoD-HPCA-25/.git
    python benchmarks/authors_bitmod_6b68523.py --authors-repo REPO --cacti /path/to/cacti/binary

``--authors-repo`` is a clone of github abdelfattah-lab/BitMoD-HPCA-25 (a work tree or a bare
git directory): ``bitmod_sim/`` is read from commit 6b68523 with ``git show`` (and from e445a5f
for the attention comparison). A folder that is not a git repository but holds the 6b68523
``bitmod_sim/`` files (or is that folder) also works; the e445a5f comparison is then skipped.
Nothing is downloaded and nothing is written into the repository: the files are copied to a
temporary folder beside the shape pickles this script writes (docs/authors-bitmod-6b68523.md).

Steps:

1. write ``model_shape_config/<stem>.pickle`` = ``(model_config, layer_config)`` for the six
   models, as the authors' ``llm_shape_profile.py`` writes them from Hugging Face:
   ``layer_config`` maps every ``nn.Linear`` name to its weight shape ``[out, in]`` (lm_head
   included), ``model_config`` holds the keys ``pe_array.py`` reads. The numbers are the
   config.json values in :data:`MODELS`; with ``--check-shapes`` they are compared with the
   linear layers of ``qaccel.models.workloads.build_workload`` (a second implementation);
2. run the authors' ``test_baseline.py``, ``test_ant.py``, ``test_olive.py`` and
   ``test_bitmod.py`` (lossy: no ``--is_lossless``) unmodified, without and with
   ``--is_generation``, in a subprocess, recording every ``Accelerator`` they build;
3. print per (model, phase, accelerator) the total cycles beside the notebook values in
   ``sweeps/papers/bitmod.yaml`` (``paper_values.cycles``), energy parts, and the prefill cycles
   spent in attention: 6b68523's attention shapes vs e445a5f's, both priced by 6b68523's rules.

CACTI: the snapshot lacks the ``mem/cacti/cacti`` binary. Cycles read only the SRAM *size*
from CACTI (``MemoryInstance.size`` = CACTI's ``Capacity (bytes)`` x 8 x banks, used by
``_calc_num_mem_refetch``), which for a RAM is the requested ``cache_size``: without
``--cacti`` a stub returns the configured 512 KiB and zero SRAM energies and area, so
cycles, compute energy and DRAM energy are the authors' and SRAM energy is reported missing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

OLD_COMMIT = "6b68523"
NEW_COMMIT = "e445a5f"
#: notebook values: sweeps/papers/bitmod.yaml (cycles from speedup_plot.ipynb at 6b68523)
PAPER_YAML = Path(__file__).resolve().parents[1] / "sweeps" / "papers" / "bitmod.yaml"

#: published architecture of each model (Hugging Face config.json of the model id) -> pickle
MODELS: dict[str, dict[str, Any]] = {
    "opt-1.3b": {"hf": "facebook/opt-1.3b", "stem": "opt_1_point_3", "arch": "opt",
                 "layers": 24, "hidden": 2048, "heads": 32, "kv_heads": None, "ffn": 8192,
                 "vocab": 50272,
                 "source": "facebook/opt-1.3b config.json: hidden_size 2048, num_hidden_layers "
                           "24, num_attention_heads 32, ffn_dim 8192, vocab_size 50272, "
                           "word_embed_proj_dim 2048 (so no project_in/out); no "
                           "num_key_value_heads key"},
    "phi-2": {"hf": "microsoft/phi-2", "stem": "phi_2", "arch": "phi",
              "layers": 32, "hidden": 2560, "heads": 32, "kv_heads": 32, "ffn": 10240,
              "vocab": 51200,
              "source": "microsoft/phi-2 config.json (model_type phi): hidden_size 2560, "
                        "num_hidden_layers 32, num_attention_heads 32, num_key_value_heads 32, "
                        "intermediate_size 10240, vocab_size 51200"},
    "yi-6b": {"hf": "01-ai/Yi-6B", "stem": "yi_6", "arch": "llama",
              "layers": 32, "hidden": 4096, "heads": 32, "kv_heads": 4, "ffn": 11008,
              "vocab": 64000,
              "source": "01-ai/Yi-6B config.json (LlamaForCausalLM): hidden_size 4096, "
                        "num_hidden_layers 32, num_attention_heads 32, num_key_value_heads 4, "
                        "intermediate_size 11008, vocab_size 64000"},
    "llama-2-7b": {"hf": "meta-llama/Llama-2-7b-hf", "stem": "llama_2_7", "arch": "llama",
                   "layers": 32, "hidden": 4096, "heads": 32, "kv_heads": 32, "ffn": 11008,
                   "vocab": 32000,
                   "source": "meta-llama/Llama-2-7b-hf config.json: hidden_size 4096, "
                             "num_hidden_layers 32, num_attention_heads 32, "
                             "num_key_value_heads 32, intermediate_size 11008, vocab_size 32000"},
    "llama-2-13b": {"hf": "meta-llama/Llama-2-13b-hf", "stem": "llama_2_13", "arch": "llama",
                    "layers": 40, "hidden": 5120, "heads": 40, "kv_heads": 40, "ffn": 13824,
                    "vocab": 32000,
                    "source": "meta-llama/Llama-2-13b-hf config.json: hidden_size 5120, "
                              "num_hidden_layers 40, num_attention_heads 40, "
                              "num_key_value_heads 40, intermediate_size 13824, "
                              "vocab_size 32000"},
    "llama-3-8b": {"hf": "meta-llama/Meta-Llama-3-8B", "stem": "llama_3_8", "arch": "llama",
                   "layers": 32, "hidden": 4096, "heads": 32, "kv_heads": 8, "ffn": 14336,
                   "vocab": 128256,
                   "source": "meta-llama/Meta-Llama-3-8B config.json: hidden_size 4096, "
                             "num_hidden_layers 32, num_attention_heads 32, "
                             "num_key_value_heads 8, intermediate_size 14336, "
                             "vocab_size 128256"},
}
#: accelerator name -> the authors' script at 6b68523 (BitMoD: the lossy "agg" configuration)
SCRIPTS = {"FP16": "test_baseline.py", "ANT": "test_ant.py", "OliVe": "test_olive.py",
           "BitMoD": "test_bitmod.py"}
PHASES = {"prefill": [], "decode": ["--is_generation"]}
#: git blob ids of the files run, at 6b68523 (``git ls-tree -r 6b68523 bitmod_sim``); a plain
#: folder given as --authors-repo must hold exactly these
BLOBS = {"accelerator.py": "875955f05e393115e3b891789601439b33dfad84",
         "pe_array.py": "dec9051016d93cdacc6ec0f79914f7ddfc45b0ea",
         "mem/__init__.py": "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391",
         "mem/cacti_config.py": "87abafee4016e34f92770441a1f1d8502181589b",
         "mem/cacti_simulation.py": "49a123cade6c9e025a8cfd98fc5a32c1126a6297",
         "mem/mem_instance.py": "0089286e5e904d232e368d9531a9d3c8efea6915",
         "test_baseline.py": "27cd8e35afe95cd90b145018a91f896f5159bc37",
         "test_ant.py": "675eac608ef6d5e9328a0b2e305ad69dd3e909a6",
         "test_olive.py": "a1bb2f90fb1b59747c78a5b08c2c52401b65edef",
         "test_bitmod.py": "2b9a1623c98bddb3fd614ef01e6ac58809fb4352"}
_SIM_FILES = tuple(BLOBS)
_ATTN = ("attn_qk", "attn_v")


def linear_shapes(spec: dict[str, Any]) -> dict[str, list[int]]:
    """Every nn.Linear of the Hugging Face model -> weight shape [out, in] (unit: elements),
    in module order, as ``llm_shape_profile.py`` records them."""
    h, f, kv = spec["hidden"], spec["ffn"], spec["kv_heads"] or spec["heads"]
    kv_dim = h // spec["heads"] * kv
    per_layer = {
        "opt": ("model.decoder.layers.{i}.", [("self_attn.k_proj", [h, h]),
                                              ("self_attn.v_proj", [h, h]),
                                              ("self_attn.q_proj", [h, h]),
                                              ("self_attn.out_proj", [h, h]),
                                              ("fc1", [f, h]), ("fc2", [h, f])]),
        "phi": ("model.layers.{i}.", [("self_attn.q_proj", [h, h]), ("self_attn.k_proj", [h, h]),
                                      ("self_attn.v_proj", [h, h]), ("self_attn.dense", [h, h]),
                                      ("mlp.fc1", [f, h]), ("mlp.fc2", [h, f])]),
        "llama": ("model.layers.{i}.", [("self_attn.q_proj", [h, h]),
                                        ("self_attn.k_proj", [kv_dim, h]),
                                        ("self_attn.v_proj", [kv_dim, h]),
                                        ("self_attn.o_proj", [h, h]),
                                        ("mlp.gate_proj", [f, h]), ("mlp.up_proj", [f, h]),
                                        ("mlp.down_proj", [h, f])]),
    }[spec["arch"]]
    prefix, mods = per_layer
    out = {prefix.format(i=i) + name: list(shape)
           for i in range(spec["layers"]) for name, shape in mods}
    out["lm_head"] = [spec["vocab"], h]
    return out


def model_config(spec: dict[str, Any]) -> dict[str, int]:
    """The config.json keys ``pe_array.py`` reads (num_key_value_heads only where it exists)."""
    cfg = {"num_hidden_layers": spec["layers"], "hidden_size": spec["hidden"],
           "num_attention_heads": spec["heads"]}
    if spec["kv_heads"] is not None:
        cfg["num_key_value_heads"] = spec["kv_heads"]
    return cfg


def write_pickles(folder: Path) -> None:
    """Write the six ``model_shape_config/<stem>.pickle`` files under ``folder``."""
    (folder / "model_shape_config").mkdir(parents=True, exist_ok=True)
    for spec in MODELS.values():
        with open(folder / "model_shape_config" / f"{spec['stem']}.pickle", "wb") as f:
            pickle.dump((model_config(spec), linear_shapes(spec)), f)


def check_shapes() -> list[str]:
    """Compare :func:`linear_shapes` with the linear layers of our workload presets (built with
    transformers on the meta device); returns one line per model."""
    from qaccel.models.workloads import build_workload
    lines = []
    for name, spec in MODELS.items():
        trace = build_workload(name, phase="prefill", tokens=256)
        ours = {la.name: [la.N, la.K] for la in trace.layers if la.op == "linear"}
        mine = linear_shapes(spec)
        if ours != mine:
            diff = sorted(k for k in set(ours) | set(mine) if ours.get(k) != mine.get(k))[:4]
            raise SystemExit(f"shape check failed for {name}: differing layers {diff}")
        lines.append(f"{name}: {len(mine)} linear layers equal to build_workload's")
    return lines


def _git_dir(repo: Path) -> str | None:
    """The git directory of ``repo`` (work tree or bare), or None when it is not one."""
    r = subprocess.run(["git", "-C", str(repo), "rev-parse", "--git-dir"], capture_output=True,
                       text=True, check=False)
    if r.returncode != 0:
        return None
    gd = Path(r.stdout.strip())
    return str(gd if gd.is_absolute() else (repo / gd).resolve())


def _blob_id(path: Path) -> str | None:
    """Git's blob id of a file (sha1 of ``blob <size>\\0`` + content), None if absent."""
    if not path.is_file():
        return None
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def extract(repo: Path, commit: str | None, dest: Path) -> Path:
    """Copy the simulator's Python files (``_SIM_FILES``) to ``dest``; from ``commit`` of the git
    repository ``repo``, or from the folder itself when ``commit`` is None."""
    dest.mkdir(parents=True)
    for rel in _SIM_FILES:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        if commit is None:
            src = repo / rel if (repo / rel).exists() else repo / "bitmod_sim" / rel
            shutil.copyfile(src, dest / rel)
        else:
            blob = subprocess.run(["git", "--git-dir", str(repo), "show",
                                   f"{commit}:bitmod_sim/{rel}"], capture_output=True,
                                  check=True).stdout
            (dest / rel).write_bytes(blob)
    tech = dest / "mem" / "cacti" / "tech_params"  # CACTI's technology files (for --cacti)
    tech.mkdir(parents=True)
    if commit is None:
        src = next((p for p in (repo / "mem", repo / "bitmod_sim" / "mem") if p.is_dir()), None)
        if src is not None and (src / "cacti" / "tech_params").is_dir():
            shutil.copytree(src / "cacti" / "tech_params", tech, dirs_exist_ok=True)
    else:
        names = subprocess.run(["git", "--git-dir", str(repo), "ls-tree", "--name-only", commit,
                                "bitmod_sim/mem/cacti/tech_params/"], capture_output=True,
                               text=True, check=True).stdout.split()
        for name in names:
            (tech / Path(name).name).write_bytes(subprocess.run(
                ["git", "--git-dir", str(repo), "show", f"{commit}:{name}"],
                capture_output=True, check=True).stdout)
    return dest


def validate(args: argparse.Namespace) -> tuple[str | None, Path]:
    """Check the command line; raise one ConfigError listing every problem."""
    from qaccel.errors import ConfigError, Problem
    problems = []
    repo = Path(args.authors_repo)
    git_dir = None
    if not repo.is_dir():
        problems.append(Problem("--authors-repo", f"{str(repo)!r} is not a folder; allowed: a "
                                "clone of abdelfattah-lab/BitMoD-HPCA-25 (work tree or bare git "
                                "directory) or a folder holding its 6b68523 bitmod_sim files"))
    else:
        git_dir = _git_dir(repo)
        sim = next((p for p in (repo, repo / "bitmod_sim") if (p / "accelerator.py").is_file()),
                   None)
        if git_dir is not None and subprocess.run(
                ["git", "--git-dir", git_dir, "cat-file", "-e",
                 f"{OLD_COMMIT}:bitmod_sim/accelerator.py"], capture_output=True,
                check=False).returncode != 0:
            if sim is None:
                problems.append(Problem("--authors-repo", f"{str(repo)!r} has no commit "
                                        f"{OLD_COMMIT} with bitmod_sim/accelerator.py; allowed: "
                                        "a clone of abdelfattah-lab/BitMoD-HPCA-25"))
            git_dir = None  # a folder of files inside some other repository
        elif git_dir is None and sim is None:
            problems.append(Problem("--authors-repo", f"{str(repo)!r} is neither a git "
                                    "repository nor a folder with bitmod_sim/accelerator.py"))
        if git_dir is None and sim is not None:
            bad = [rel for rel, blob in BLOBS.items() if _blob_id(sim / rel) != blob]
            if bad:
                problems.append(Problem("--authors-repo", f"{str(sim)!r}: {', '.join(bad)} "
                                        f"missing or not as at commit {OLD_COMMIT}; allowed: "
                                        f"the files of bitmod_sim/ at {OLD_COMMIT}"))
    if args.cacti is not None and not (Path(args.cacti).is_file()
                                       and os.access(args.cacti, os.X_OK)):
        problems.append(Problem("--cacti", f"{args.cacti!r} is not an executable file; allowed:"
                                " a CACTI 7 binary (HewlettPackard/cacti)"))
    if problems:
        raise ConfigError(problems)
    return git_dir, repo


def run_sim(sim: Path, cacti: str | None, hybrid: Path | None) -> dict[str, Any]:
    """Run the authors' scripts in ``sim`` in a subprocess (this file with ``--_driver``)."""
    if cacti:
        shutil.copyfile(cacti, sim / "mem" / "cacti" / "cacti")
        os.chmod(sim / "mem" / "cacti" / "cacti", 0o755)
    out = sim / "records.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_driver", str(out)]
    if hybrid is not None:
        cmd += ["--_hybrid", str(hybrid)]
    if cacti is None:
        cmd += ["--_stub-cacti"]
    r = subprocess.run(cmd, cwd=sim, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise SystemExit(f"the authors' simulator failed:\n{r.stderr[-3000:]}")
    return json.loads(out.read_text())


# ---------------------------------------------------------------- driver (runs in the sim dir)
def _stub_cacti() -> None:
    """Replace CACTI's run by its echo of the requested size (zero energies and area)."""
    from mem.cacti_simulation import CactiSimulation

    def run_cacti(self: Any) -> dict[str, Any]:
        c = self.mem_config
        return {**{k: c[k] for k in ("technology", "mem_type", "bank_count", "r_port",
                                     "w_port", "rw_port", "rw_bw")},
                "size": int(c["size"] / 8 / c["bank_count"]) * 8 * c["bank_count"],
                "latency": 0.0, "area": 0.0, "r_cost": 0.0, "w_cost": 0.0}
    CactiSimulation.run_cacti = run_cacti


def _record(acc: Any) -> dict[str, Any]:
    """Per-layer cycles and energy parts of one Accelerator after its script ran."""
    attn = [n for n in acc.layer_name_list if any(a in n for a in _ATTN)]
    layer_total = {n: max(acc._layer_cycle_compute[n], acc._layer_cycle_dram[n])
                   for n in acc.layer_name_list}
    return {
        "model": acc.model_name, "w_prec": acc.w_prec, "i_prec": acc.i_prec,
        "pe_array_dim": [int(acc.pe_array_dim["h"]), int(acc.pe_array_dim["w"])],
        "pe_dp_size": int(acc.pe_dp_size), "is_bit_serial": bool(acc.is_bit_serial),
        "compute": int(sum(acc._layer_cycle_compute.values())),
        "total": int(sum(layer_total.values())),
        "attn_total": int(sum(layer_total[n] for n in attn)),
        "linear_layers": {n: int(v) for n, v in layer_total.items() if n not in attn},
        "refetched": sum(1 for v in acc._layer_mem_refetch.values() if v != (1, 1)),
        "sram_bits": [int(acc.w_sram.size), int(acc.i_sram.size)],
        "energy_pj": {"compute": float(acc.calc_compute_energy()),
                      "dram": float(acc.calc_dram_energy()),
                      "sram_rd": float(acc.calc_sram_rd_energy()),
                      "sram_wr": float(acc.calc_sram_wr_energy())},
    }


def _driver(out: str, hybrid: str | None, stub: bool) -> None:
    """Run each script unmodified (runpy) and record every Accelerator it built; with
    ``hybrid`` (the e445a5f files), rebuild each prefill configuration there with 6b68523's
    precision rules (attention operands i_prec bits, attention latency = linear latency)."""
    import contextlib
    import io
    import runpy
    sys.path.insert(0, os.getcwd())
    if stub:
        _stub_cacti()
    import accelerator
    built: list[Any] = []
    orig_init = accelerator.Accelerator.__init__

    def init(self: Any, *a: Any, **kw: Any) -> None:
        orig_init(self, *a, **kw)
        built.append(self)
    accelerator.Accelerator.__init__ = init
    runs = []
    for acc_name, script in SCRIPTS.items():
        for phase, flags in PHASES.items():
            built.clear()
            sys.argv = [script, *flags]
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                runpy.run_path(script, run_name="__main__")
            latency = next(line for line in buf.getvalue().splitlines()
                           if line.startswith("Latency:"))
            recs = [_record(a) for a in built]
            printed = json.loads(latency.split(":", 1)[1].strip())
            assert printed == [r["total"] for r in recs], (printed, recs)
            runs.append({"accelerator": acc_name, "phase": phase, "records": recs})
    if hybrid:
        runs_new = _hybrid(hybrid, [r for r in runs if r["phase"] == "prefill"])
        for r, new in zip([r for r in runs if r["phase"] == "prefill"], runs_new, strict=True):
            for rec, n in zip(r["records"], new, strict=True):
                rec["new_shapes"] = n
    Path(out).write_text(json.dumps(runs))


def _hybrid(folder: str, runs: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Rebuild each prefill configuration with e445a5f's Accelerator (its attention shapes;
    kv_prec = i_prec and the attention latency set to the linear one, 6b68523's rules)."""
    import contextlib
    import io
    for mod in ("accelerator", "pe_array", "mem", "mem.mem_instance", "mem.cacti_simulation",
                "mem.cacti_config"):
        sys.modules.pop(mod, None)
    sys.path.insert(0, folder)
    os.chdir(folder)
    _stub_cacti()  # cycles only: the SRAM size is all they read from CACTI
    from accelerator import Accelerator
    energy = {"FP16": (0.77, 1968.7), "ANT": (0.56, 1318.6), "OliVe": (0.613, 1318.6),
              "BitMoD": (0.56, 1507.7)}  # the scripts' pe_energy, pe_area (unused by cycles)
    result = []
    for run in runs:
        out = []
        for rec in run["records"]:
            pe_e, pe_a = energy[run["accelerator"]]
            acc = Accelerator(model_name=rec["model"], i_prec=rec["i_prec"],
                              kv_prec=rec["i_prec"], w_prec=rec["w_prec"], batch_size=1,
                              is_bit_serial=rec["is_bit_serial"], pe_dp_size=rec["pe_dp_size"],
                              pe_energy=pe_e, pe_area=pe_a, pe_array_dim=rec["pe_array_dim"],
                              cxt_len=256, is_generation=False)
            acc.pe_latency["attn"] = acc.pe_latency["linear"]
            with contextlib.redirect_stdout(io.StringIO()):
                acc.calc_cycle()
            attn = [n for n in acc.layer_name_list if any(a in n for a in _ATTN)]
            tot = {n: max(acc._layer_cycle_compute[n], acc._layer_cycle_dram[n])
                   for n in acc.layer_name_list}
            linear = {n: int(v) for n, v in tot.items() if n not in attn}
            assert linear == rec["linear_layers"], "linear layers differ between commits"
            out.append({"total": int(sum(tot.values())),
                        "attn_total": int(sum(tot[n] for n in attn))})
        result.append(out)
    return result


# ---------------------------------------------------------------- report
def paper_values(metric: str) -> dict[tuple[str, str, str], int]:
    """(model, phase, accelerator) -> the notebook's value of ``metric`` ("cycles": total
    cycles, "energy_uj": total energy in uJ), from sweeps/papers/bitmod.yaml."""
    import yaml
    doc = yaml.safe_load(PAPER_YAML.read_text())
    return {(m, ph, acc): int(v[i]) for acc, phases in doc["paper_values"][metric].items()
            for ph, v in phases.items() for i, m in enumerate(doc["models"])}


def tables(runs: list[dict[str, Any]], with_sram: bool) -> list[str]:
    """Markdown tables: cycles vs notebook, energy parts, prefill attention share."""
    by_hf = {s["hf"]: k for k, s in MODELS.items()}
    paper, paper_e = paper_values("cycles"), paper_values("energy_uj")
    rows = {(by_hf[r["model"]], run["phase"], run["accelerator"]): r
            for run in runs for r in run["records"]}
    order = [(m, ph, a) for m in MODELS for ph in PHASES for a in SCRIPTS]
    out = ["| model | phase | accelerator | w_prec | compute cycles | total cycles | notebook |"
           " sim / notebook | layers refetched |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    worst = 0.0
    for key in order:
        r, p = rows[key], paper[key]
        worst = max(worst, abs(r["total"] / p - 1))
        out.append(f"| {' | '.join(key)} | {r['w_prec']} | {r['compute']:,} | {r['total']:,} | "
                   f"{p:,} | {r['total'] / p:.4f} | {r['refetched']} |")
    out.append(f"\nlargest |sim / notebook - 1| over {len(order)} points: {worst:.2e}\n")
    head = ("compute uJ | DRAM uJ |" + (" SRAM rd uJ | SRAM wr uJ | total uJ |" if with_sram
                                         else " SRAM (needs CACTI) | compute + DRAM uJ |")
            + " notebook total uJ | " + ("sim / notebook |" if with_sram
                                        else "(compute + DRAM) / notebook |"))
    out += [f"| model | phase | accelerator | {head}", "|---|---|---|" + "---:|" * 6]
    worst = 0.0
    for key in order:
        e = {k: v / 1e6 for k, v in rows[key]["energy_pj"].items()}
        # the scripts' sum: compute + sram_rd + sram_wr + dram (uJ)
        total = e["compute"] + e["sram_rd"] + e["sram_wr"] + e["dram"]
        worst = max(worst, abs(total / paper_e[key] - 1))
        mid = (f"{e['sram_rd']:,.0f} | {e['sram_wr']:,.0f} | {total:,.1f}" if with_sram
               else f"missing | {e['compute'] + e['dram']:,.0f}")
        out.append(f"| {' | '.join(key)} | {e['compute']:,.0f} | {e['dram']:,.0f} | {mid} | "
                   f"{paper_e[key]:,} | {total / paper_e[key]:.4f} |")
    if with_sram:
        out.append(f"\nlargest |sim / notebook - 1| of total energy: {worst:.2e}")
    if any("new_shapes" in r for r in rows.values()):
        out += ["", "| model | accelerator | total 6b68523 | attention 6b68523 | share | "
                "total with e445a5f attention | attention e445a5f shapes | share | "
                "attention overcount |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for m in MODELS:
            for a in SCRIPTS:
                r = rows[(m, "prefill", a)]
                n = r["new_shapes"]
                out.append(f"| {m} | {a} | {r['total']:,} | {r['attn_total']:,} | "
                           f"{r['attn_total'] / r['total']:.1%} | {n['total']:,} | "
                           f"{n['attn_total']:,} | {n['attn_total'] / n['total']:.1%} | "
                           f"{r['attn_total'] / n['attn_total']:.1f}x |")
        out += ["", "| model | BitMoD prefill speedup over | 6b68523 | with e445a5f attention |",
                "|---|---|---:|---:|"]
        for m in MODELS:
            bit = rows[(m, "prefill", "BitMoD")]
            for a in ("FP16", "ANT", "OliVe"):
                r = rows[(m, "prefill", a)]
                out.append(f"| {m} | {a} | {r['total'] / bit['total']:.3f} | "
                           f"{r['new_shapes']['total'] / bit['new_shapes']['total']:.3f} |")
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 on bad input)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="examples:\n" + __doc__.split("\n\n")[1])
    p.add_argument("--authors-repo", required=False, default=None,
                   help="clone of abdelfattah-lab/BitMoD-HPCA-25 (work tree or git dir)")
    p.add_argument("--cacti", default=None, help="a CACTI 7 binary for the SRAM energies")
    p.add_argument("--check-shapes", action="store_true",
                   help="compare the pickles with qaccel's workload presets (about 1 min)")
    p.add_argument("--json", default=None, help="also write the raw records to this file")
    p.add_argument("--_driver", help=argparse.SUPPRESS)
    p.add_argument("--_hybrid", help=argparse.SUPPRESS)
    p.add_argument("--_stub-cacti", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._driver:
        _driver(args._driver, args._hybrid, args._stub_cacti)
        return 0
    from qaccel.errors import ConfigError, Problem
    try:
        if args.authors_repo is None:
            raise ConfigError([Problem("--authors-repo", "missing; allowed: a clone of "
                                       "abdelfattah-lab/BitMoD-HPCA-25 (nothing is downloaded)")])
        git_dir, repo = validate(args)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.check_shapes:
        print("\n".join(check_shapes()))
    with tempfile.TemporaryDirectory(prefix="bitmod6b68523-") as tmp:
        old = extract(Path(git_dir) if git_dir else repo, OLD_COMMIT if git_dir else None,
                      Path(tmp) / "old")
        write_pickles(old)
        new = None
        if git_dir:
            new = extract(Path(git_dir), NEW_COMMIT, Path(tmp) / "new")
            write_pickles(new)
        runs = run_sim(old, args.cacti, new)
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1))
    print("\n".join(tables(runs, with_sram=args.cacti is not None)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
