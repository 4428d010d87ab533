"""benchmarks/authors_bitmod_sim.py without the BitMoD authors' repository: bad input, and the
pure helpers of benchmarks/_authors_bitmod.py against hand values (docs/authors-bitmod.md)."""

from __future__ import annotations

import importlib
import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

_BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
_SCRIPT = _BENCH / "authors_bitmod_sim.py"


@pytest.fixture(scope="module")
def helpers():
    """benchmarks/_authors_bitmod.py, imported as the script does (benchmarks/ on sys.path)."""
    sys.path.insert(0, str(_BENCH))
    try:
        yield importlib.import_module("_authors_bitmod")
    finally:
        sys.path.remove(str(_BENCH))
        sys.modules.pop("_authors_bitmod", None)


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(_SCRIPT), *args], capture_output=True, text=True,
                          timeout=120)


def test_missing_repo_is_one_error_exit_2():
    proc = _run()
    assert proc.returncode == 2
    assert "--authors-repo" in proc.stderr and "missing" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_every_problem_listed_at_once(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = _run("--authors-repo", str(empty), "--cacti", str(tmp_path / "no-cacti"),
                "--qaccel-csv", str(tmp_path / "no.csv"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    for field in ("--authors-repo", "--cacti", "--qaccel-csv"):
        assert field in proc.stderr
    assert "no-cacti" in proc.stderr and "bitmod_sim/accelerator.py" in proc.stderr


def test_not_a_folder_and_non_executable_cacti(tmp_path):
    cacti = tmp_path / "cacti"
    cacti.write_text("not a binary")  # exists, but not executable
    proc = _run("--authors-repo", str(tmp_path / "nowhere"), "--cacti", str(cacti))
    assert proc.returncode == 2
    assert "is not a folder" in proc.stderr and "is not an executable file" in proc.stderr


def test_folder_with_other_files_names_them(tmp_path):
    sim = tmp_path / "bitmod_sim"
    sim.mkdir()
    (sim / "accelerator.py").write_text("# not the authors' file\n")
    proc = _run("--authors-repo", str(tmp_path), "--commit", "e445a5f", "--attention")
    assert proc.returncode == 2
    assert "accelerator.py" in proc.stderr and "pe_array.py" in proc.stderr
    assert "not as at commit e445a5f" in proc.stderr
    assert "--attention" in proc.stderr  # e445a5f has no 2024 attention to compare


def test_git_blob_id_of_empty_file(helpers):
    # git hash-object /dev/null, the id git gives every empty file
    assert helpers.git_blob_id(b"") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"


def test_linear_shapes_by_hand(helpers):
    by_id = {m.qaccel_id: m for m in helpers.MODELS}
    counts = {m: len(helpers.linear_shapes(by_id[m])) for m in by_id}
    # per block: OPT and Phi-2 q, k, v, out + 2 MLP = 6; Llama 4 + 3 = 7; plus lm_head
    assert counts == {"opt-1.3b": 24 * 6 + 1, "phi-2": 32 * 6 + 1, "yi-6b": 32 * 7 + 1,
                      "llama-2-7b": 32 * 7 + 1, "llama-2-13b": 40 * 7 + 1,
                      "llama-3-8b": 32 * 7 + 1}
    yi = helpers.linear_shapes(by_id["yi-6b"])
    assert yi["model.layers.0.self_attn.k_proj"] == [4 * 128, 4096]  # 4 KV heads of 128
    l3 = helpers.linear_shapes(by_id["llama-3-8b"])
    assert l3["model.layers.31.self_attn.v_proj"] == [8 * 128, 4096]
    assert l3["model.layers.31.mlp.down_proj"] == [4096, 14336]
    assert l3["lm_head"] == [128256, 4096]
    opt = helpers.linear_shapes(by_id["opt-1.3b"])
    assert opt["model.decoder.layers.23.fc1"] == [8192, 2048]
    # Llama-2-7B has 6,738,415,616 parameters (Meta's model card / HF); less the embedding
    # (32000 x 4096) and the 65 RMSNorm weights (4096 each), the rest is nn.Linear
    l2 = helpers.linear_shapes(by_id["llama-2-7b"])
    assert sum(o * i for o, i in l2.values()) == 6_738_415_616 - 32000 * 4096 - 65 * 4096


def test_pickles_hold_what_pe_array_reads(helpers, tmp_path):
    helpers.write_pickles(tmp_path)
    files = sorted(p.name for p in (tmp_path / "model_shape_config").iterdir())
    assert files == sorted(["opt_1_point_3.pickle", "phi_2.pickle", "yi_6.pickle",
                            "llama_2_7.pickle", "llama_2_13.pickle", "llama_3_8.pickle"])
    with open(tmp_path / "model_shape_config" / "opt_1_point_3.pickle", "rb") as f:
        config, layers = pickle.load(f)
    # OPT's config.json has no num_key_value_heads: pe_array.py then uses the head count
    assert config == {"num_hidden_layers": 24, "hidden_size": 2048, "num_attention_heads": 32}
    assert layers["lm_head"] == [50272, 2048]
    with open(tmp_path / "model_shape_config" / "yi_6.pickle", "rb") as f:
        assert pickle.load(f)[0]["num_key_value_heads"] == 4


def test_read_notebook_cell_one(helpers, tmp_path):
    cells = [{"source": ["import numpy as np\n"]},
             {"source": ["cycle_fp16_d  = np.array([10, 20])\n", "cycle_ant_g = np.array([3])\n",
                         "energy_x_d = np.array([[1, 2]])\n", "speedup = cycle_fp16_d / 2\n"]}]
    nb = tmp_path / "nb.ipynb"
    nb.write_text(json.dumps({"cells": cells}))
    assert helpers.read_notebook(nb, "cycle") == {"cycle_fp16_d": [10, 20], "cycle_ant_g": [3]}
    assert helpers.read_notebook(nb, "energy") == {"energy_x_d": [[1, 2]]}


def test_paper_values_reader(helpers, tmp_path):
    doc = tmp_path / "paper.yaml"
    doc.write_text("models: [a, b]\npaper_values:\n  cycles:\n    FP16:\n"
                   "      prefill: [5, 7]\n      decode: [1, 2]\n")
    assert helpers.paper_values("cycles", doc) == {
        ("a", "prefill", "FP16"): 5, ("b", "prefill", "FP16"): 7,
        ("a", "decode", "FP16"): 1, ("b", "decode", "FP16"): 2}
