"""Inputs of benchmarks/authors_bitmod_sim.py: model shapes, the authors' files, notebook values.

Pure helpers (no subprocess of the authors' code here): the six models' ``nn.Linear`` shapes
from their public config.json values, the shape pickles the authors' simulator reads, the
command-line check (one :class:`qaccel.ConfigError` listing every problem), copying the
simulator files of one commit, and reading the notebook values (ipynb cell 1 and
sweeps/papers/bitmod.yaml). Shapes are in elements, cycles in clock cycles, energy in uJ.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import pickle
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from qaccel.errors import ConfigError, Problem

PAPER_YAML = Path(__file__).resolve().parents[1] / "sweeps" / "papers" / "bitmod.yaml"
#: git blob ids of the files run (``git ls-tree -r <commit> bitmod_sim``); a902a09 (e445a5f's
#: parent) holds the 2024-11-14 simulator of 6b68523 / 48975fc, byte for byte
_SHARED = {
    "mem/__init__.py": "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391",
    "mem/mem_instance.py": "0089286e5e904d232e368d9531a9d3c8efea6915",
    "mem/cacti_simulation.py": "49a123cade6c9e025a8cfd98fc5a32c1126a6297",
    "mem/cacti_config.py": "87abafee4016e34f92770441a1f1d8502181589b",
    "plot/speedup_plot.ipynb": "57ce72996509cea6b5da6ec454d7a5632e0aa075",
    "plot/energy_plot.ipynb": "9855c72418a45ab4335b9bfcca106071c58344fc",
}
_OLD = {
    "accelerator.py": "875955f05e393115e3b891789601439b33dfad84",
    "pe_array.py": "dec9051016d93cdacc6ec0f79914f7ddfc45b0ea",
    "test_baseline.py": "27cd8e35afe95cd90b145018a91f896f5159bc37",
    "test_ant.py": "675eac608ef6d5e9328a0b2e305ad69dd3e909a6",
    "test_olive.py": "a1bb2f90fb1b59747c78a5b08c2c52401b65edef",
    "test_bitmod.py": "2b9a1623c98bddb3fd614ef01e6ac58809fb4352", **_SHARED}
VERSIONS = {
    "e445a5f": {
        "accelerator.py": "4988f7c5833cc06472f70a587d99f521be4ff744",
        "pe_array.py": "61e8c0e0aebbd1a9159c8f8164f78341ebb3c1e9",
        "test_baseline.py": "fe634c5ed6040a975dbe4132f9b3396d4d718d65",
        "test_ant.py": "34322b4e62095809d21708758526fa9979848d7f",
        "test_olive.py": "aab29fb6b23b1c45f3199a05ab9872e1ef710f81",
        "test_bitmod.py": "d70a723f038c6837b624bf3bfbf7be9bd207e1d2", **_SHARED},
    "6b68523": _OLD,
    "a902a09": _OLD,
}
TECH_DIR = "mem/cacti/tech_params"
ALLOWED_REPO = ("a clone of github abdelfattah-lab/BitMoD-HPCA-25 (work tree or bare git "
                "directory), or a folder holding its bitmod_sim/ files at that commit")


@dataclass(frozen=True)
class ModelSpec:
    """One model: our preset id, its Hugging Face name (the authors' key), the pickle stem, and
    the config.json values that fix every ``nn.Linear`` shape (``kv_heads`` None: no such key)."""

    qaccel_id: str
    hf_name: str
    stem: str
    arch: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int | None
    ffn: int
    vocab: int


#: config.json of each Hugging Face id (docs/authors-bitmod.md cites the fields)
MODELS = (
    ModelSpec("opt-1.3b", "facebook/opt-1.3b", "opt_1_point_3", "opt",
              24, 2048, 32, None, 8192, 50272),
    ModelSpec("phi-2", "microsoft/phi-2", "phi_2", "phi", 32, 2560, 32, 32, 10240, 51200),
    ModelSpec("yi-6b", "01-ai/Yi-6B", "yi_6", "llama", 32, 4096, 32, 4, 11008, 64000),
    ModelSpec("llama-2-7b", "meta-llama/Llama-2-7b-hf", "llama_2_7", "llama",
              32, 4096, 32, 32, 11008, 32000),
    ModelSpec("llama-2-13b", "meta-llama/Llama-2-13b-hf", "llama_2_13", "llama",
              40, 5120, 40, 40, 13824, 32000),
    ModelSpec("llama-3-8b", "meta-llama/Meta-Llama-3-8B", "llama_3_8", "llama",
              32, 4096, 32, 8, 14336, 128256),
)


def linear_shapes(spec: ModelSpec) -> dict[str, list[int]]:
    """Every ``nn.Linear`` of the Hugging Face model -> weight shape ``[out, in]`` (unit:
    elements), in module order, as the authors' ``llm_shape_profile.py`` records them."""
    h, f = spec.hidden, spec.ffn
    kv = h // spec.heads * (spec.kv_heads or spec.heads)
    prefix, mods = {
        "opt": ("model.decoder.layers.{i}.", [
            ("self_attn.k_proj", [h, h]), ("self_attn.v_proj", [h, h]),
            ("self_attn.q_proj", [h, h]), ("self_attn.out_proj", [h, h]),
            ("fc1", [f, h]), ("fc2", [h, f])]),
        "phi": ("model.layers.{i}.", [
            ("self_attn.q_proj", [h, h]), ("self_attn.k_proj", [h, h]),
            ("self_attn.v_proj", [h, h]), ("self_attn.dense", [h, h]),
            ("mlp.fc1", [f, h]), ("mlp.fc2", [h, f])]),
        "llama": ("model.layers.{i}.", [
            ("self_attn.q_proj", [h, h]), ("self_attn.k_proj", [kv, h]),
            ("self_attn.v_proj", [kv, h]), ("self_attn.o_proj", [h, h]),
            ("mlp.gate_proj", [f, h]), ("mlp.up_proj", [f, h]), ("mlp.down_proj", [h, f])]),
    }[spec.arch]
    out = {prefix.format(i=i) + name: list(shape)
           for i in range(spec.layers) for name, shape in mods}
    out["lm_head"] = [spec.vocab, h]
    return out


def model_config(spec: ModelSpec) -> dict[str, int]:
    """The config.json keys ``pe_array.py`` reads (``num_key_value_heads`` only if present)."""
    cfg = {"num_hidden_layers": spec.layers, "hidden_size": spec.hidden,
           "num_attention_heads": spec.heads}
    if spec.kv_heads is not None:
        cfg["num_key_value_heads"] = spec.kv_heads
    return cfg


def write_pickles(folder: Path) -> None:
    """Write ``folder/model_shape_config/<stem>.pickle`` = ``(model_config, linear_shapes)``."""
    (folder / "model_shape_config").mkdir(parents=True, exist_ok=True)
    for spec in MODELS:
        with open(folder / "model_shape_config" / f"{spec.stem}.pickle", "wb") as f:
            pickle.dump((model_config(spec), linear_shapes(spec)), f)


def check_shapes() -> list[str]:
    """Compare :func:`linear_shapes` with our presets' linear layers (``build_workload``, which
    builds the model with transformers on the meta device); one line per model."""
    from qaccel.models.workloads import build_workload

    lines = []
    for spec in MODELS:
        trace = build_workload(spec.qaccel_id, phase="prefill", tokens=256)
        ours = {la.name: [la.N, la.K] for la in trace.layers if la.op == "linear"}
        mine = linear_shapes(spec)
        diff = sorted(k for k in set(ours) | set(mine) if ours.get(k) != mine.get(k))
        lines.append(f"{spec.qaccel_id}: " + (f"{len(mine)} linear layers equal to the preset's"
                                               if not diff else f"differs at {diff[:4]}"))
    return lines


def git_blob_id(data: bytes) -> str:
    """The id git gives a file's bytes: sha1 of ``blob <size>\\0`` + bytes."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _git_dir(repo: Path, commit: str) -> str | None:
    """The git directory of ``repo`` if it is a repository holding ``commit``'s simulator."""
    r = subprocess.run(["git", "-C", str(repo), "rev-parse", "--absolute-git-dir"],
                       capture_output=True, text=True, check=False)
    if r.returncode != 0:
        return None
    git_dir = r.stdout.strip()
    has = subprocess.run(["git", "--git-dir", git_dir, "cat-file", "-e",
                          f"{commit}:bitmod_sim/accelerator.py"], capture_output=True, check=False)
    return git_dir if has.returncode == 0 else None


def locate(repo: Path, commit: str) -> tuple[str | None, Path | None, list[Problem]]:
    """Where ``commit``'s simulator is: (git dir, None) or (None, folder), and the problems."""
    if not repo.is_dir():
        return None, None, [Problem("--authors-repo", f"{str(repo)!r} is not a folder; "
                                    f"allowed: {ALLOWED_REPO}")]
    git_dir = _git_dir(repo, commit)
    if git_dir is not None:
        return git_dir, None, []
    sim = next((p for p in (repo / "bitmod_sim", repo) if (p / "accelerator.py").is_file()), None)
    if sim is None:
        return None, None, [Problem("--authors-repo", f"{str(repo)!r} has neither commit {commit}"
                                    f" nor bitmod_sim/accelerator.py; allowed: {ALLOWED_REPO}")]
    bad = [n for n, blob in VERSIONS[commit].items()
           if not (sim / n).is_file() or git_blob_id((sim / n).read_bytes()) != blob]
    if bad:
        return None, None, [Problem("--authors-repo", f"{str(sim)!r}: {', '.join(bad)} missing "
                                    f"or not as at commit {commit}; allowed: {ALLOWED_REPO}")]
    return None, sim, []


def validate(repo: Path | None, commit: str, cacti: Path | None, qaccel_csv: Path | None,
             attention: bool) -> tuple[str | None, Path | None]:
    """Check the command line; raise one :class:`ConfigError` listing every problem."""
    problems: list[Problem] = []
    git_dir = folder = None
    if repo is None:
        problems.append(Problem("--authors-repo", f"missing; allowed: {ALLOWED_REPO} "
                                "(nothing is downloaded)"))
    else:
        git_dir, folder, found = locate(repo, commit)
        problems += found
        if attention and commit == "e445a5f":
            problems.append(Problem("--attention", "compares 6b68523's prefill attention with "
                                    "e445a5f's; allowed with --commit 6b68523 or a902a09"))
        elif attention and not found and (git_dir is None or _git_dir(repo, "e445a5f") is None):
            problems.append(Problem("--attention", f"needs commit e445a5f in {str(repo)!r}; "
                                    "allowed: a git clone of abdelfattah-lab/BitMoD-HPCA-25"))
    if cacti is not None and not (cacti.is_file() and os.access(cacti, os.X_OK)):
        problems.append(Problem("--cacti", f"{str(cacti)!r} is not an executable file; allowed: "
                                "a CACTI 7 binary (github HewlettPackard/cacti, `make`)"))
    if qaccel_csv is not None and not qaccel_csv.is_file():
        problems.append(Problem("--qaccel-csv", f"{str(qaccel_csv)!r} is not a file; allowed: "
                                "the bitmod.csv of `qaccel reproduce bitmod --out DIR`"))
    if problems:
        raise ConfigError(problems)
    return git_dir, folder


def copy_simulator(git_dir: str | None, folder: Path | None, commit: str, dest: Path) -> None:
    """Copy ``commit``'s simulator files and CACTI tech_params into ``dest`` (from the git
    directory with ``git show``, or from the checked folder)."""
    def show(rel: str) -> bytes:
        return subprocess.run(["git", "--git-dir", git_dir, "show", f"{commit}:bitmod_sim/{rel}"],
                              capture_output=True, check=True).stdout
    if git_dir is not None:
        out = subprocess.run(["git", "--git-dir", git_dir, "ls-tree", "--name-only",
                              f"{commit}:bitmod_sim/{TECH_DIR}"], capture_output=True, text=True)
        tech = out.stdout.split() if out.returncode == 0 else []
    else:
        tech = sorted(p.name for p in (folder / TECH_DIR).glob("*")) if folder else []
    for rel in [*VERSIONS[commit], *(f"{TECH_DIR}/{n}" for n in tech)]:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_bytes(show(rel) if git_dir else (folder / rel).read_bytes())


def read_notebook(path: Path, prefix: str) -> dict[str, list]:
    """``<prefix>_<acc>_<d|g> = np.array([...])`` lines of a notebook's cell 1, as lists."""
    cell = "".join(json.loads(path.read_text())["cells"][1]["source"])
    pattern = rf"^({prefix}_\w+_[dg])\s*=\s*np\.array\((\[.*\])\)\s*$"
    return {m[1]: ast.literal_eval(m[2]) for m in re.finditer(pattern, cell, re.M)}


def paper_values(metric: str, path: Path = PAPER_YAML) -> dict[tuple[str, str, str], int]:
    """(model, phase, accelerator) -> notebook value of ``metric`` in bitmod.yaml ("cycles":
    total cycles; "energy_uj": total energy, unit uJ)."""
    import yaml

    doc = yaml.safe_load(path.read_text())
    return {(m, ph, acc): int(v[i]) for acc, phases in doc["paper_values"][metric].items()
            for ph, v in phases.items() for i, m in enumerate(doc["models"])}
