"""Joint search over per-layer weight formats and array shape (``qaccel codesign``).

A design point is (one weight format per nn.Linear of the model, array aspect, share of the
area budget). Its figures:

- **accuracy**: end to end on the real model: the model with each layer's weights encoded in
  its format and its inputs in the array's activation format (``qaccel.models.quantize``),
  cosine of its outputs (MiniLM: sentence embeddings of the demo sentences) to float32, mean
  and min over the rows. Measured, not a proxy.
- **cost**: the trace of the model captured once, simulated (fast engine, timing only) on the
  array sized to ``area_fraction * area_mm2`` at ``aspect`` (:mod:`qaccel.arch.sizing`, the
  calibrated area model) once per format variant of the PE; each weight layer takes its row
  from its format's run, the other layers (attention matmuls) from the base variant's.
  ``edp_uj_us`` = energy (µJ) x latency (µs).

The search is optuna's NSGA-II sampler (``optuna.samplers.NSGAIISampler``) over three
objectives: maximize the mean cosine, minimize the chosen cost (``edp``, ``cycles`` or
``energy``), minimize the area; ``budget_cosine`` enters as an NSGA-II constraint. Studies
live in an SQLite file, so a rerun with the same file resumes (it adds trials up to the
total asked). Every uniform-format assignment at every shape is evaluated too, for the
comparison (:func:`dominance_table`).

Trials run through the sweeps' executor layer (:mod:`qaccel.sweeps.executors`): optuna's
ask/tell interface asks ``batch`` trials at a time in this process, the executor evaluates
them (in this process, or on a Dask cluster where every worker holds its own copy of the
:class:`Evaluator` and its caches), and their results are told in trial-number order once the
whole batch is back. The trials' parameters therefore depend on the seed, the trial count and
``batch`` only, never on the executor or on which worker finished first.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from qaccel.arch.spec import Accelerator
from qaccel.errors import ConfigError, Problem

__all__ = ["SearchSpace", "Evaluator", "format_variant", "run_search", "dominance_table",
           "pareto_front", "best_feasible", "check_formats", "evaluate_points", "OBJECTIVES",
           "ASPECTS", "AREA_FRACTIONS", "BATCH"]

#: cost objectives (result columns)
OBJECTIVES = {"edp": "edp_uj_us", "cycles": "total_cycles", "energy": "energy_uj"}
#: aspect ratios (rows / cols) and shares of the area budget the search may pick
ASPECTS = (0.25, 0.5, 1.0, 2.0, 4.0)
AREA_FRACTIONS = (0.25, 0.5, 1.0)
#: trials asked (and in flight) at a time, unless the caller says otherwise
BATCH = 8


def format_variant(accel: Accelerator, fmt: str) -> Accelerator:
    """``accel`` with its PE switched to weight format ``fmt`` (registry name): the first PE
    field (a ``*bits`` width set to the format's bits, or a format-name field) that makes
    ``weight_format_name == fmt``. ValueError when no field does."""
    from qaccel.models.formats import get_format

    pe = accel.pe_array
    if pe.weight_format_name == fmt:
        return accel
    bits = getattr(get_format(fmt), "BITS", None)
    for f in dataclasses.fields(pe):
        if f.name in ("rows", "cols", "dataflow", "preload"):
            continue
        value = bits if f.name.endswith("bits") else fmt
        try:
            variant = dataclasses.replace(pe, **{f.name: value})
        except (TypeError, ValueError):
            continue
        if variant.weight_format_name == fmt:
            return accel.replace_array(**{f.name: getattr(variant, f.name)})
    raise ValueError(f"the {pe.family} array has no weight format {fmt!r}")


@dataclass(frozen=True)
class SearchSpace:
    """What the search may choose: ``formats`` per weight layer (``layers``: module paths),
    ``aspects`` and ``area_fractions`` of ``area_mm2`` (unit: mm²)."""

    layers: tuple[str, ...]
    formats: tuple[str, ...]
    area_mm2: float
    aspects: tuple[float, ...] = ASPECTS
    area_fractions: tuple[float, ...] = AREA_FRACTIONS

    def key(self, extra: dict[str, Any]) -> str:
        """A short hash naming the study (resume only into the same space)."""
        text = json.dumps({**dataclasses.asdict(self), **extra}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass
class Evaluator:
    """Accuracy and cost of design points, with the per-layer encodings and the per-shape
    simulations cached. Safe to share between threads (one evaluation at a time: the
    accuracy run swaps layers of one working copy of the model); picklable, so a Dask worker
    can hold a copy."""

    model: Any
    run: Any                   # model -> output tensor (rows = samples)
    trace: Any                 # the model's captured Trace
    base: Accelerator          # the array in its first format (sizes the shapes)
    space: SearchSpace
    act_format: str
    _ref: np.ndarray | None = None
    _wrapped: dict[tuple[str, str], Any] = field(default_factory=dict)
    _frames: dict[tuple[int, int, str], pd.DataFrame] = field(default_factory=dict)
    _shapes: dict[tuple[float, float], Accelerator] = field(default_factory=dict)
    _accuracy: dict[tuple[str, ...], dict[str, float]] = field(default_factory=dict)
    evaluations: int = 0       # counted by run_search, where the rows arrive
    _lock: Any = field(default_factory=threading.Lock, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __post_init__(self) -> None:
        import copy

        self._ref = self._output(self.model)
        memo = {id(t): t for t in (*self.model.parameters(), *self.model.buffers())}
        self._work = copy.deepcopy(self.model, memo)
        mods = dict(self._work.named_modules())
        self._slots = {}
        for path in self.space.layers:
            parent, _, child = path.rpartition(".")
            self._slots[path] = (mods[parent] if parent else self._work, child,
                                 getattr(mods[parent] if parent else self._work, child))

    def _output(self, model: Any) -> np.ndarray:
        import torch

        with torch.no_grad():
            out = self.run(model).detach().double().numpy()
        return out.reshape(out.shape[0], -1)

    def accuracy(self, assignment: Sequence[str]) -> dict[str, float]:
        """Cosine of the model's outputs with ``assignment`` (one format per layer) to
        float32: mean and min over the rows."""
        from qaccel.models.accuracy import cosine_rows
        from qaccel.models.quantize import QuantLinear

        key_all = tuple(assignment)
        if key_all in self._accuracy:
            return self._accuracy[key_all]
        for path, fmt in zip(self.space.layers, assignment, strict=True):
            parent, child, original = self._slots[path]
            key = (path, fmt)
            if key not in self._wrapped:
                self._wrapped[key] = QuantLinear(original, fmt, self.act_format, path)
            setattr(parent, child, self._wrapped[key])
        cos = cosine_rows(self._ref, self._output(self._work))
        self._accuracy[key_all] = {"cos_mean": float(cos.mean()), "cos_min": float(cos.min())}
        return self._accuracy[key_all]

    def shape(self, aspect: float, fraction: float) -> Accelerator:
        """The base array sized to ``fraction`` of the budget at ``aspect``."""
        from qaccel.arch.sizing import size_accelerator

        if (aspect, fraction) not in self._shapes:
            self._shapes[(aspect, fraction)] = size_accelerator(
                self.base, self.space.area_mm2 * fraction, aspect=aspect,
                field="--area-mm2")[0]
        return self._shapes[(aspect, fraction)]

    def _frame(self, accel: Accelerator, fmt: str) -> pd.DataFrame:
        from qaccel.sim import run

        pe = accel.pe_array
        key = (pe.rows, pe.cols, fmt)
        if key not in self._frames:
            variant = format_variant(accel, fmt)
            self._frames[key] = run(self.trace, variant, engine="fast",
                                    values=False).frame.set_index("layer")
        return self._frames[key]

    def cost(self, assignment: Sequence[str], accel: Accelerator) -> dict[str, float]:
        """Cycles, energy, latency, EDP and area of the trace on ``accel`` with each weight
        layer in its assigned format."""
        from qaccel.arch.cost import area_um2

        base = self._frame(accel, self.space.formats[0])
        chosen = dict(zip(self.space.layers, assignment, strict=True))
        cycles = energy = 0.0
        for layer in base.index:
            row = self._frame(accel, chosen[layer]).loc[layer] if layer in chosen \
                else base.loc[layer]
            cycles += float(row["total_cycles"])
            energy += float(row["energy_pj_total"])
        latency_us = cycles / accel.clock_mhz
        return {"rows": accel.pe_array.rows, "cols": accel.pe_array.cols,
                "area_mm2": area_um2(accel) / 1e6, "total_cycles": int(cycles),
                "latency_us": latency_us, "energy_uj": energy / 1e6,
                "edp_uj_us": energy / 1e6 * latency_us}

    def evaluate(self, assignment: Sequence[str], aspect: float,
                 fraction: float) -> dict[str, Any]:
        """One design point's row: accuracy, cost, its shape and its formats."""
        with self._lock:
            accel = self.shape(aspect, fraction)
            row: dict[str, Any] = {"aspect": aspect, "area_fraction": fraction}
            row.update(self.accuracy(assignment))
            row.update(self.cost(assignment, accel))
        kinds = sorted(set(assignment))
        row["uniform"] = kinds[0] if len(kinds) == 1 else ""
        row["formats"] = ",".join(assignment)
        for fmt in self.space.formats:
            row[f"layers_{fmt}"] = sum(1 for f in assignment if f == fmt)
        return row


def check_formats(formats: Sequence[str], base: Accelerator,
                  field_name: str = "--formats") -> tuple[str, ...]:
    """The registry's formats ``formats`` names, each runnable on ``base``'s PE; one
    ConfigError listing every problem otherwise."""
    from qaccel.models.formats import FORMATS, get_format

    problems = []
    if len(formats) < 2 or len(set(formats)) != len(formats):
        problems.append(Problem(field_name, f"must list at least two different formats, not "
                                f"{','.join(formats)!r}"))
    for fmt in formats:
        try:
            get_format(fmt)
        except ConfigError:
            problems.append(Problem(field_name, f"must name formats of the registry "
                                    f"({', '.join(FORMATS)} or any intK name), not {fmt!r}"))
            continue
        try:
            format_variant(base, fmt)
        except ValueError as exc:
            problems.append(Problem(field_name, f"must name formats the "
                                    f"{base.family} array runs, not {fmt!r} ({exc})"))
    if problems:
        raise ConfigError(problems)
    return tuple(formats)


#: one design point of a task: (key, assignment: one format per layer, aspect, area fraction)
PointSpec = tuple[Any, tuple[str, ...], float, float]


def evaluate_points(points: Sequence[PointSpec], ev: Evaluator) -> list[tuple[Any, dict]]:
    """One executor task: ``(key, row)`` of each point, rows by :meth:`Evaluator.evaluate`
    (this process's or this Dask worker's copy of ``ev``)."""
    return [(key, ev.evaluate(list(fmts), aspect, fraction))
            for key, fmts, aspect, fraction in points]


def run_search(ev: Evaluator, *, trials: int, objective: str, budget_cosine: float,
               storage: str | None, seed: int = 0, progress: bool = True,
               executor: Any = None, batch: int = BATCH) -> pd.DataFrame:
    """Uniform points at every shape, then NSGA-II trials up to ``trials`` in the study
    (resumed from ``storage`` when it holds one for the same space); every point's row.

    ``executor``: where points are evaluated (:mod:`qaccel.sweeps.executors`; default: this
    process); ``batch``: trials asked at a time, evaluated together, told in trial-number
    order (the trials depend on ``seed``, ``trials`` and ``batch``, not on the executor).
    Trials a killed run left RUNNING in the study are marked FAIL first
    (``df.attrs["stale_trials"]`` counts them): one process per study file."""
    import optuna
    from tqdm import tqdm

    from qaccel.sweeps.executors import InlineExecutor

    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ConfigError.single("--batch", f"must be an int >= 1, not {batch!r}")
    space = ev.space
    column = OBJECTIVES[objective]
    study = _study(ev, objective, budget_cosine, storage, seed, trials)
    stale = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    for t in stale:
        study.tell(t.number, state=optuna.trial.TrialState.FAIL)
    uniform = [(i, (fmt,) * len(space.layers), a, f) for i, (fmt, a, f) in enumerate(
        (fmt, a, f) for fmt in space.formats for a in space.aspects
        for f in space.area_fractions)]
    with executor if executor is not None else InlineExecutor() as ex:
        shared = ex.share(ev)
        got = _evaluate(ex, uniform, shared)
        ev.evaluations += len(got)
        rows = [{**got[p[0]], "source": "uniform"} for p in uniform]
        done = len(study.get_trials(deepcopy=False,
                                    states=(optuna.trial.TrialState.COMPLETE,)))
        with tqdm(total=max(trials, done), initial=done, desc="codesign trials",
                  unit="trial", disable=not progress, dynamic_ncols=True) as bar:
            while done < trials:
                n = _run_batch(study, ex, shared, space, min(batch, trials - done),
                               column, budget_cosine)
                ev.evaluations += n
                done += n
                bar.update(n)
    for t in study.trials:
        if t.state == optuna.trial.TrialState.COMPLETE:
            rows.append({**{k: v for k, v in t.user_attrs.items() if k != "constraint"},
                         "source": f"trial {t.number}"})
    df = pd.DataFrame(rows)
    df.attrs["stale_trials"] = len(stale)
    return df


def _evaluate(ex: Any, points: Sequence[PointSpec], shared: tuple) -> dict[Any, dict]:
    """key -> row of every point, one executor task per point."""
    out: dict[Any, dict] = {}
    for pairs in ex.map_unordered(evaluate_points, [[p] for p in points], *shared):
        out.update(pairs)
    return out


def _run_batch(study: Any, ex: Any, shared: tuple, space: SearchSpace, n: int,
               column: str, budget_cosine: float) -> int:
    """Ask ``n`` trials, evaluate them on ``ex``, tell them in trial-number order; a failure
    (or an interrupt) marks the trials not yet told FAIL and is raised."""
    import optuna

    asked, points = [], []
    for _ in range(n):
        trial = study.ask()
        asked.append(trial)
        points.append((trial.number, *_suggest(trial, space)))
    told: set[int] = set()
    try:
        got = _evaluate(ex, points, shared)
        for trial in asked:
            row = got[trial.number]
            for k, v in row.items():
                trial.set_user_attr(k, v)
            trial.set_user_attr("constraint", budget_cosine - row["cos_mean"])
            study.tell(trial, (row["cos_mean"], row[column], row["area_mm2"]))
            told.add(trial.number)
    except BaseException:
        for trial in asked:
            if trial.number not in told:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
        raise
    return n


def _suggest(trial: Any, space: SearchSpace) -> tuple[tuple[str, ...], float, float]:
    """(formats per layer, aspect, area fraction) of ``trial``, suggested in that order."""
    fmts = tuple(trial.suggest_categorical(f"fmt:{p}", list(space.formats))
                 for p in space.layers)
    aspect = trial.suggest_categorical("aspect", list(space.aspects))
    fraction = trial.suggest_categorical("area_fraction", list(space.area_fractions))
    return fmts, aspect, fraction


def _constraint(trial: Any) -> tuple[float]:
    """NSGA-II constraint: <= 0 when the trial meets the cosine budget."""
    return (trial.user_attrs["constraint"],)


def _study(ev: Evaluator, objective: str, budget_cosine: float, storage: str | None,
           seed: int, trials: int) -> Any:
    """The study of this space and settings: created, or loaded from ``storage``."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():   # constraints_func: deprecated in optuna 5, still works
        warnings.simplefilter("ignore", FutureWarning)
        sampler = optuna.samplers.NSGAIISampler(
            seed=seed, population_size=min(50, max(8, trials // 4)),
            constraints_func=_constraint)
    extra = {"objective": objective, "budget": budget_cosine, "act": ev.act_format,
             "arch": ev.base.to_dict(), "seed": seed}
    return optuna.create_study(study_name=f"codesign-{ev.space.key(extra)}", storage=storage,
                               sampler=sampler, load_if_exists=True,
                               directions=["maximize", "minimize", "minimize"])


def pareto_front(df: pd.DataFrame, column: str) -> pd.DataFrame:
    """Rows not dominated on (cos_mean max, ``column`` min, area_mm2 min)."""
    vals = df[["cos_mean", column, "area_mm2"]].to_numpy(dtype=float) * np.array([-1, 1, 1])
    keep = []
    for v in vals:
        dominated = np.any(np.all(vals <= v, axis=1) & np.any(vals < v, axis=1))
        keep.append(not dominated)
    return df[keep].sort_values(column)


def dominance_table(df: pd.DataFrame, column: str, budget_cosine: float) -> pd.DataFrame:
    """Per uniform point meeting the budget: the best mixed point at the same array shape
    meeting the budget that dominates it on (cosine, ``column``), if any."""
    out = []
    uniform = df[(df["source"] == "uniform") & (df["cos_mean"] >= budget_cosine)]
    mixed = df[(df["uniform"] == "") & (df["cos_mean"] >= budget_cosine)]
    for _, u in uniform.iterrows():
        same = mixed[(mixed["rows"] == u["rows"]) & (mixed["cols"] == u["cols"])]
        dom = same[(same["cos_mean"] >= u["cos_mean"]) & (same[column] <= u[column])
                   & ((same["cos_mean"] > u["cos_mean"]) | (same[column] < u[column]))]
        best = dom.sort_values(column).iloc[0] if len(dom) else None
        out.append({"uniform": u["uniform"], "rows": u["rows"], "cols": u["cols"],
                    "area_mm2": u["area_mm2"], "cos_mean": u["cos_mean"], column: u[column],
                    "dominated_by": best["source"] if best is not None else "-",
                    "mixed_cos_mean": best["cos_mean"] if best is not None else np.nan,
                    f"mixed_{column}": best[column] if best is not None else np.nan})
    return pd.DataFrame(out)


def best_feasible(df: pd.DataFrame, column: str, budget_cosine: float) -> pd.DataFrame:
    """The lowest-``column`` uniform point and the lowest-``column`` mixed point meeting the
    budget (one row each, where one exists)."""
    ok = df[df["cos_mean"] >= budget_cosine]
    out = []
    for kind, part in (("uniform", ok[ok["uniform"] != ""]), ("mixed", ok[ok["uniform"] == ""])):
        if len(part):
            out.append({"kind": kind, **part.sort_values(column).iloc[0].to_dict()})
    return pd.DataFrame(out)
