"""Joint per-layer format x array shape search (qaccel.sweeps.codesign, ``qaccel codesign``)."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from qaccel.errors import ConfigError

optuna = pytest.importorskip("optuna")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qaccel", *args], capture_output=True,
                          text=True, check=False)


def test_unknown_format_is_one_config_error_exit_2(tmp_path):
    proc = _cli("codesign", "--formats", "int8_pc_sym,nosuch", "--plot",
                str(tmp_path / "p.png"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert re.fullmatch(r"qaccel codesign: error: --formats: must name formats of the "
                        r"registry \(.*\), not 'nosuch'\n", proc.stderr), proc.stderr
    assert not (tmp_path / "p.png").exists()


def test_format_variant_sets_the_weight_width():
    from qaccel.cli.codesign import pick_accelerator
    from qaccel.sweeps.codesign import format_variant

    accel, formats = pick_accelerator(None, ["int8_pc_sym", "int4_pc_sym", "int2_pc_sym"])
    assert formats == ("int8_pc_sym", "int4_pc_sym", "int2_pc_sym")
    for bits in (8, 4, 2):
        variant = format_variant(accel, f"int{bits}_pc_sym")
        assert variant.pe_array.weight_format_name == f"int{bits}_pc_sym"
        assert variant.pe_array.b_bits == bits
    with pytest.raises(ValueError, match="has no weight format 'bitmod_fp4'"):
        format_variant(accel, "bitmod_fp4")


def test_formats_no_family_runs_together():
    from qaccel.cli.codesign import pick_accelerator

    with pytest.raises(ConfigError, match=r"^--formats: must be formats one PE family runs "):
        pick_accelerator(None, ["int8_pc_sym", "bitmod_fp4"])


def test_pareto_and_dominance_by_hand():
    from qaccel.sweeps.codesign import dominance_table, pareto_front

    df = pd.DataFrame([
        # source, uniform, rows, cols, area, cos, edp
        ("uniform", "a", 8, 8, 1.0, 0.99, 10.0),
        ("uniform", "b", 8, 8, 1.0, 0.90, 4.0),
        ("trial 0", "", 8, 8, 1.0, 0.99, 8.0),     # dominates uniform a (same cos, less EDP)
        ("trial 1", "", 8, 8, 1.0, 0.95, 9.0),     # dominated by trial 0
        ("trial 2", "", 4, 4, 0.5, 0.995, 20.0),   # other shape, smaller area: on the front
    ], columns=["source", "uniform", "rows", "cols", "area_mm2", "cos_mean", "edp_uj_us"])
    front = pareto_front(df, "edp_uj_us")
    assert sorted(front["source"]) == ["trial 0", "trial 2", "uniform"]   # b, 0, 2
    assert list(front[front["source"] == "uniform"]["uniform"]) == ["b"]
    dom = dominance_table(df, "edp_uj_us", 0.97)
    assert list(dom["uniform"]) == ["a"]                 # b misses the budget
    assert list(dom["dominated_by"]) == ["trial 0"]
    assert dom["mixed_edp_uj_us"][0] == 8.0


@pytest.fixture(scope="module")
def mlp_evaluator():
    from qaccel.cli.codesign import pick_accelerator
    from qaccel.models.capture import capture
    from qaccel.models.demo import mlp_demo
    from qaccel.sweeps.codesign import Evaluator, SearchSpace

    accel, formats = pick_accelerator(None, ["int8_pc_sym", "int4_pc_sym"])
    model, inputs = mlp_demo(seed=0)
    layers = ("0", "2", "4")
    trace = capture(model, inputs)
    space = SearchSpace(layers, formats, 0.2, aspects=(1.0, 2.0), area_fractions=(0.5, 1.0))
    return Evaluator(model, lambda m: m(*inputs), trace, accel, space, "int8"), model, inputs


def test_accuracy_agrees_with_the_uniform_recipe(mlp_evaluator):
    """A uniform assignment equals models.accuracy.evaluate of the same recipe (a second
    path: quantize_model over the whole module)."""
    from qaccel.models.accuracy import evaluate
    from qaccel.models.quantize import Recipe

    ev, model, inputs = mlp_evaluator
    for fmt in ev.space.formats:
        _, summary = evaluate(model, lambda m: m(*inputs), Recipe("u", fmt, "int8"))
        got = ev.accuracy([fmt] * 3)
        assert got["cos_mean"] == summary["cos_mean"]
        assert got["cos_min"] == summary["cos_min"]


def test_cost_of_a_uniform_point_is_the_simulated_trace(mlp_evaluator):
    from qaccel.sim import run
    from qaccel.sweeps.codesign import format_variant

    ev, _, _ = mlp_evaluator
    accel = ev.shape(1.0, 1.0)
    row = ev.cost(["int4_pc_sym"] * 3, accel)
    tot = run(ev.trace, format_variant(accel, "int4_pc_sym"), values=False).totals()
    assert row["total_cycles"] == tot["total_cycles"]
    assert row["energy_uj"] == pytest.approx(tot["energy_pj_total"] / 1e6, rel=1e-12)
    assert row["area_mm2"] <= 0.2


def test_search_resumes_from_its_study(mlp_evaluator, tmp_path):
    from qaccel.sweeps.codesign import run_search

    ev, _, _ = mlp_evaluator
    storage = f"sqlite:///{tmp_path / 's.db'}"
    first = run_search(ev, trials=3, objective="edp", budget_cosine=0.9, storage=storage,
                       progress=False)
    assert (first["source"] == "uniform").sum() == 2 * 4      # formats x shapes
    assert (first["source"] != "uniform").sum() == 3
    before = ev.evaluations
    second = run_search(ev, trials=5, objective="edp", budget_cosine=0.9, storage=storage,
                        progress=False)
    assert (second["source"] != "uniform").sum() == 5
    assert ev.evaluations - before == 2 * 4 + 2                # only the two new trials ran
    assert np.isfinite(second["edp_uj_us"]).all()


def test_cli_bad_numbers_reported_together():
    from qaccel.cli.codesign import _check

    args = argparse.Namespace(objective="speed", budget_cosine=1.5, trials=0, area_mm2=-1.0,
                              plot=__import__("pathlib").Path("x.svg"))
    with pytest.raises(ConfigError) as info:
        _check(args)
    assert [p.path for p in info.value.problems] == ["--objective", "--budget-cosine",
                                                     "--trials", "--area-mm2", "--plot"]
