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
                              plot=__import__("pathlib").Path("x.svg"), batch=0)
    with pytest.raises(ConfigError) as info:
        _check(args)
    assert [p.path for p in info.value.problems] == ["--objective", "--budget-cosine",
                                                     "--trials", "--batch", "--area-mm2",
                                                     "--plot"]


def _fresh_mlp_evaluator():
    """A new MLP evaluator with empty caches (the module fixture's has filled ones)."""
    from qaccel.cli.codesign import pick_accelerator
    from qaccel.models.capture import capture
    from qaccel.models.demo import mlp_demo
    from qaccel.sweeps.codesign import Evaluator, SearchSpace

    accel, formats = pick_accelerator(None, ["int8_pc_sym", "int4_pc_sym", "int2_pc_sym"])
    model, inputs = mlp_demo(seed=0)
    space = SearchSpace(("0", "2", "4"), formats, 0.2, aspects=(1.0, 2.0),
                        area_fractions=(0.5, 1.0))
    return Evaluator(model, lambda m: m(*inputs), capture(model, inputs), accel, space, "int8")


def test_batch_of_one_is_optunas_own_loop():
    """batch=1 ask/tell gives the trials of optuna's study.optimize with the same sampler
    (the sequential search this module ran before trials went through executors)."""
    from qaccel.sweeps.codesign import _study, _suggest, run_search

    ev = _fresh_mlp_evaluator()
    ours = run_search(ev, trials=10, objective="cycles", budget_cosine=0.9, storage=None,
                      seed=5, progress=False, batch=1)
    study = _study(ev, "cycles", 0.9, None, 5, 10)

    def objective(trial):
        fmts, aspect, fraction = _suggest(trial, ev.space)
        row = ev.evaluate(list(fmts), aspect, fraction)
        trial.set_user_attr("constraint", 0.9 - row["cos_mean"])
        return row["cos_mean"], row["total_cycles"], row["area_mm2"]

    study.optimize(objective, n_trials=10)
    trials = ours[ours["source"] != "uniform"]
    assert list(trials["formats"]) == [",".join(t.params[f"fmt:{p}"] for p in ev.space.layers)
                                       for t in study.trials]
    assert [tuple(v) for v in trials[["cos_mean", "total_cycles", "area_mm2"]].to_numpy()] \
        == [tuple(t.values) for t in study.trials]
    assert trials["formats"].nunique() > 1          # a search, not one point ten times


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_dask_cluster_gives_the_local_trials(dask_client, tmp_path):
    """Trials evaluated on two Dask worker processes (each with its own pickled copy of the
    evaluator), three in flight: every row equals the in-process run's, exactly."""
    from qaccel.sweeps.codesign import run_search
    from qaccel.sweeps.executors import DaskExecutor

    kwargs = dict(trials=9, objective="edp", budget_cosine=0.9, seed=2, progress=False,
                  batch=3)
    local = run_search(_fresh_mlp_evaluator(), storage=None, **kwargs)
    ev = _fresh_mlp_evaluator()
    storage = f"sqlite:///{tmp_path / 'dask.db'}"
    remote = run_search(ev, storage=storage, executor=DaskExecutor(dask_client), **kwargs)
    assert len(remote) == 3 * 4 + 9                       # formats x shapes, then trials
    assert ev.evaluations == len(remote)
    assert ev._accuracy == {}                             # all evaluated on the workers
    assert remote["formats"].nunique() > 3
    assert remote.equals(local), pd.concat({"local": local, "dask": remote}, axis=1)
    # the study is in its SQLite file: a rerun asks for nothing new
    again = run_search(ev, storage=storage, executor=DaskExecutor(dask_client), **kwargs)
    assert again.equals(remote)


def test_trials_a_killed_run_left_running_are_failed_on_resume(tmp_path):
    from qaccel.sweeps.codesign import _study, run_search

    ev = _fresh_mlp_evaluator()
    storage = f"sqlite:///{tmp_path / 's.db'}"
    _study(ev, "edp", 0.9, storage, 0, 4).ask()           # asked, never told: a kill
    df = run_search(ev, trials=4, objective="edp", budget_cosine=0.9, storage=storage,
                    progress=False, batch=2)
    assert df.attrs["stale_trials"] == 1
    assert list(df["source"][df["source"] != "uniform"]) == [f"trial {n}" for n in (1, 2, 3, 4)]
    states = [t.state.name for t in _study(ev, "edp", 0.9, storage, 0, 4).trials]
    assert states == ["FAIL"] + ["COMPLETE"] * 4


def test_bad_batch_is_a_config_error():
    from qaccel.sweeps.codesign import run_search

    with pytest.raises(ConfigError, match=r"^--batch: must be an int >= 1, not 0$"):
        run_search(None, trials=1, objective="edp", budget_cosine=0.9, storage=None, batch=0)
