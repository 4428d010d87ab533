"""Paper reproductions: a paper's tasks on its accelerators, our figures beside the paper's.

A paper is one data file, ``sweeps/papers/<paper>.yaml`` (this module knows no paper, family or
preset by name): its models, the simulation *runs* (a workload phase with its tokens / context /
batch), the *tasks* built from runs (the BitMoD paper's generative task is one prefill plus 20
decode steps), its accelerators (``paper``: presets that model the paper's configuration;
``ours``: our own presets of the same families), the paper's raw numbers (``paper_values``:
cycles or energy per accelerator, run and model) or its published ratios (``paper_metrics``),
the metrics (speedup = baseline time / time; energy_reduction = baseline energy / energy;
latency_norm = time / baseline time; energy_norm = energy / baseline energy; our time is
cycles / the preset's clock, so presets of different clocks compare; the paper's time is its
cycles), the headlines (means the way the paper computes them) and the acceptance bands.

Papers whose simulators run hard-coded layer lists instead of models give them as
``workloads``: name -> model -> GEMM entries ``[M, K, N, count, group]`` (``count`` identical
GEMMs; ``group`` a tag, e.g. the entry's precision). An accelerator's run is then a mapping
``{workload: NAME, presets: {group: preset}}`` instead of a preset name: each group's GEMMs run
on the preset its tag names (e.g. a fused 4/8-bit array's 8-bit layers on the 8-bit preset of
the same array) and the groups' cycles and energies are summed. ``paper_values.energy_rel`` and
``cycles_rel`` hold energies and times in any unit common to one model's accelerators (e.g.
normalised to a baseline; only ratios are used), beside ``energy_uj`` and ``cycles``.

>>> paper = load_paper("bitmod")                              # doctest: +SKIP
>>> table = reproduce(paper, models=["opt-1.3b"])             # doctest: +SKIP
>>> table.metrics[["model", "task", "metric", "value", "paper_value"]]  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qaccel.errors import ConfigError, Problem

__all__ = ["CSV_COLUMNS", "Paper", "Reproduction", "headlines", "load_paper", "paper_names",
           "reproduce"]

PAPERS_DIR = Path(__file__).parent / "papers"
#: the columns of ``DIR/<paper>.csv``, in order
CSV_COLUMNS = ("paper", "model", "task", "accelerator", "cycles", "energy_pj", "metric",
               "value", "paper_value", "rel_err", "qaccel")
METRIC_KINDS = ("speedup", "energy_reduction", "latency_norm", "energy_norm")
MEANS = ("arithmetic", "geometric")
RUN_KEYS = ("phase", "tokens", "kv_len", "steps", "batch", "blocks")
TOP_KEYS = {"paper", "title", "source", "models", "runs", "tasks", "accelerators",
            "paper_values", "paper_metrics", "metrics", "headlines", "tolerance", "notes",
            "workloads"}
#: the fields of one ``workloads`` entry, in order
GEMM_FIELDS = ("M", "K", "N", "count", "group")
#: the key of an accelerator's per-model field overrides of its paper presets
OVERRIDES = "paper_overrides"


def paper_names() -> list[str]:
    """Papers ``qaccel reproduce`` knows (``sweeps/papers/*.yaml``)."""
    return sorted(p.stem for p in PAPERS_DIR.glob("*.yaml"))


@dataclass(frozen=True)
class Paper:
    """One paper's reproduction spec, validated (see the module docstring)."""

    name: str
    title: str
    source: str
    models: tuple[str, ...]
    runs: Mapping[str, Mapping[str, Any]]
    tasks: Mapping[str, Mapping[str, float]]
    accelerators: Mapping[str, Mapping[str, Mapping[str, str]]]
    paper_values: Mapping[str, Any]
    paper_metrics: Mapping[str, Any]
    metrics: tuple[Mapping[str, Any], ...]
    headlines: tuple[Mapping[str, Any], ...]
    tolerance: Mapping[str, float]
    notes: tuple[str, ...] = ()
    #: name -> model -> GEMM entries [M, K, N, count, group] (module docstring)
    workloads: Mapping[str, Mapping[str, Sequence[Sequence[Any]]]] = field(default_factory=dict)


def load_paper(name: str) -> Paper:
    """The spec of paper ``name`` (or of a paper YAML file, for a paper of your own); an
    unknown name raises ConfigError listing the known ones."""
    known = paper_names()
    path = Path(name) if name.endswith((".yaml", ".yml")) else PAPERS_DIR / f"{name}.yaml"
    if name not in known and not (path.suffix in (".yaml", ".yml") and path.is_file()):
        raise ConfigError([Problem("paper", f"must be one of {', '.join(known)} or a paper "
                                   f"YAML file, not {name!r}")])
    from qaccel.arch.yamlio import load_yaml

    data, _ = load_yaml(path)
    problems = [Problem(k, f"is not a key of a paper spec (allowed: {', '.join(sorted(TOP_KEYS))})")
                for k in data if k not in TOP_KEYS]
    for key in ("runs", "tasks", "accelerators", "metrics"):
        if key not in data:
            problems.append(Problem(key, "is required"))
    problems += _check_workloads(data)
    if problems:
        raise ConfigError(problems, source=str(path))
    return Paper(name=data["paper"], title=data.get("title", name), source=data.get("source", ""),
                 models=tuple(data["models"]), runs=data["runs"], tasks=data["tasks"],
                 accelerators=data["accelerators"], paper_values=data.get("paper_values", {}),
                 paper_metrics=data.get("paper_metrics", {}), metrics=tuple(data["metrics"]),
                 headlines=tuple(data.get("headlines", ())),
                 tolerance=data.get("tolerance", {}), notes=tuple(data.get("notes", ())),
                 workloads=data.get("workloads", {}))


def _check_workloads(data: Mapping[str, Any]) -> list[Problem]:
    """Every GEMM entry well formed; every accelerator run that names a workload names a
    known one and a preset for each of its groups."""
    problems, workloads = [], data.get("workloads", {}) or {}
    for name, per_model in workloads.items():
        for model, entries in per_model.items():
            for i, e in enumerate(entries):
                ok = (isinstance(e, list | tuple) and len(e) == len(GEMM_FIELDS)
                      and all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                              for v in e[:4]))
                if not ok:
                    problems.append(Problem(f"workloads.{name}.{model}[{i}]", f"must be "
                                            f"[{', '.join(GEMM_FIELDS)}] with positive ints "
                                            f"M, K, N, count, not {e!r}"))
    for acc, cfgs in (data.get("accelerators") or {}).items():
        for cfg, runs in (cfgs or {}).items():
            if cfg == OVERRIDES:
                problems += _check_overrides(data, acc, runs)
                continue
            for run, entry in (runs or {}).items():
                if isinstance(entry, str):
                    continue
                where = f"accelerators.{acc}.{cfg}.{run}"
                wl = entry.get("workload") if isinstance(entry, Mapping) else None
                if wl not in workloads:
                    problems.append(Problem(where, f"must be a preset name or {{workload, "
                                            f"presets}} with a workload among "
                                            f"{', '.join(workloads) or '(none defined)'}, "
                                            f"not {entry!r}"))
                    continue
                groups = {str(e[4]) for entries in workloads[wl].values() for e in entries}
                missing = sorted(groups - {str(g) for g in entry.get("presets", {})})
                if missing:
                    problems.append(Problem(f"{where}.presets", f"must name a preset for "
                                            f"every group of workload {wl!r}; missing "
                                            f"{', '.join(missing)}"))
    return problems


def _check_overrides(data: Mapping[str, Any], acc: str, runs: Any) -> list[Problem]:
    """``accelerators.<acc>.paper_overrides``: run -> model -> {dotted field: value}, each
    override applied to the run's paper preset and validated as that accelerator would be."""
    where, problems = f"accelerators.{acc}.{OVERRIDES}", []
    models, presets = data.get("models") or [], (data["accelerators"][acc] or {}).get("paper", {})
    if not isinstance(runs, Mapping):
        return [Problem(where, f"must map runs to models to fields, not {runs!r}")]
    for run, per_model in runs.items():
        if not isinstance(presets.get(run), str):
            runs_with_preset = ", ".join(k for k, v in presets.items() if isinstance(v, str))
            problems.append(Problem(f"{where}.{run}", f"must be a run with a paper preset "
                                    f"({runs_with_preset}), not {run!r}"))
            continue
        for model, fields in (per_model or {}).items():
            if model not in models:
                problems.append(Problem(f"{where}.{run}.{model}", f"must be one of the paper's "
                                        f"models ({', '.join(models)}), not {model!r}"))
                continue
            try:
                overridden(presets[run], fields)
            except ConfigError as exc:
                problems += [Problem(f"{where}.{run}.{model}.{p.path}", p.message)
                             for p in exc.problems]
    return problems


def overridden(preset: str, fields: Mapping[str, Any] | None) -> Any:
    """The accelerator of ``preset`` with ``fields`` (dotted paths of its YAML, e.g.
    ``dram.weight_bits``) replaced, validated like a preset."""
    from qaccel.arch import load_accelerator

    accel = load_accelerator(preset)
    if not fields:
        return accel
    data = accel.to_dict()
    for path, value in fields.items():
        *parents, leaf = str(path).split(".")
        node = data
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            raise ConfigError([Problem(str(path), f"must name a field of preset {preset!r}")])
        node[leaf] = value
    return load_accelerator(data)


@dataclass(frozen=True)
class Reproduction:
    """What :func:`reproduce` measured: ``tasks`` (one row per model, task, accelerator and
    configuration: cycles, energy in pJ) and ``metrics`` (the CSV rows, :data:`CSV_COLUMNS`)."""

    paper: Paper
    tasks: Any      # pandas.DataFrame
    metrics: Any    # pandas.DataFrame


def _check_models(paper: Paper, models: Sequence[str] | None) -> tuple[str, ...]:
    if not models:
        return paper.models
    bad = [m for m in models if m not in paper.models]
    if bad:
        raise ConfigError([Problem("models", f"must be among {', '.join(paper.models)} (the "
                                   f"{paper.name} paper's), not {', '.join(map(repr, bad))}")])
    return tuple(models)


def _simulate(paper: Paper, models: Sequence[str], progress: bool) -> list[dict[str, Any]]:
    """One row per (model, run, accelerator, config): cycles, seconds and energy (pJ), timing
    only."""
    jobs = [(m, run, acc, cfg) for m in models for run in paper.runs
            for acc, cfgs in paper.accelerators.items() for cfg in ("paper", "ours")
            if run in cfgs.get(cfg, {})]
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(jobs), desc=f"reproduce {paper.name}", unit="run", leave=False)
    rows, traces, done = [], {}, {}
    for model, run, acc, cfg in jobs:
        entry = paper.accelerators[acc][cfg][run]
        if isinstance(entry, str):
            parts = [(entry, _preset_trace(paper, traces, model, run), None)]
        else:
            parts = _workload_parts(paper, entry, model)
        fields = {}
        if cfg == "paper":
            fields = ((paper.accelerators[acc].get(OVERRIDES) or {}).get(run) or {}).get(model)
        cycles, energy, seconds = 0, 0.0, 0.0
        for preset, layers, counts in parts:
            # a run's result, shared by the accelerators and configs that make the same one
            key = (model, run, preset, tuple((x.M, x.K, x.N) for x in layers),
                   None if counts is None else tuple(counts), tuple(sorted((fields or {}).items())))
            if key not in done:
                done[key] = _run_layers(layers, overridden(preset, fields), counts)
            cycles += done[key][0]
            energy += done[key][1]
            seconds += done[key][2]
        rows.append({"model": model, "run": run, "accelerator": acc, "config": cfg,
                     "preset": "+".join(p for p, _, _ in parts), "cycles": cycles,
                     "seconds": seconds, "energy_pj": energy})
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(f"{model} {run} {acc}")
    if bar is not None:
        bar.close()
    return rows


def _preset_trace(paper: Paper, traces: dict[Any, Any], model: str, run: str) -> list[Any]:
    """The layers of workload preset ``model`` under run ``run`` (built once)."""
    from qaccel.models.workloads import build_workload

    if (model, run) not in traces:
        spec = {k: v for k, v in paper.runs[run].items() if k in RUN_KEYS}
        traces[(model, run)] = build_workload(model, **spec).layers
    return traces[(model, run)]


def _workload_parts(paper: Paper, entry: Mapping[str, Any],
                    model: str) -> list[tuple[str, list[Any], list[int]]]:
    """(preset, GEMM layers, counts) per group of a ``workloads`` entry for ``model``."""
    from qaccel.sim.gemm import gemm_layer

    entries = paper.workloads[entry["workload"]].get(model)
    if entries is None:
        raise ConfigError([Problem(f"workloads.{entry['workload']}", f"has no GEMM list for "
                                   f"model {model!r}")])
    presets = {str(g): p for g, p in entry["presets"].items()}   # YAML keys may be ints
    groups: dict[str, tuple[list[Any], list[int]]] = {}
    for m, k, n, count, group in entries:
        layers, counts = groups.setdefault(str(group), ([], []))
        layers.append(gemm_layer(m, k, n))
        counts.append(count)
    return [(presets[g], layers, counts) for g, (layers, counts) in groups.items()]


def _run_layers(layers: Sequence[Any], accel: Any,
                counts: Sequence[int] | None) -> tuple[int, float, float]:
    """Total cycles, energy (pJ) and time (s, cycles / the accelerator's clock) of ``layers``
    on ``accel``, layer i counted counts[i] times (once each without counts)."""
    from qaccel import sim

    frame = sim.run(layers, accel, engine="fast", values=False).frame
    weights = [1] * len(frame) if counts is None else list(counts)
    cycles = sum(int(c) * w for c, w in zip(frame.total_cycles, weights, strict=True))
    energy = sum(float(e) * w for e, w in zip(frame.energy_pj_total, weights, strict=True))
    return cycles, energy, cycles / (accel.clock_mhz * 1e6)


def _task_totals(paper: Paper, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs summed into tasks with the task's weights (cycles and energy)."""
    index = {(r["model"], r["run"], r["accelerator"], r["config"]): r for r in runs}
    out = []
    for (model, _, acc, cfg) in {(r["model"], None, r["accelerator"], r["config"]) for r in runs}:
        for task, weights in paper.tasks.items():
            parts = [(index.get((model, run, acc, cfg)), w) for run, w in weights.items()]
            if any(p is None for p, _ in parts):
                continue
            out.append({"model": model, "task": task, "accelerator": acc, "config": cfg,
                        "cycles": sum(p["cycles"] * w for p, w in parts),
                        "seconds": sum(p["seconds"] * w for p, w in parts),
                        "energy_pj": sum(p["energy_pj"] * w for p, w in parts)})
    return sorted(out, key=lambda r: (paper.models.index(r["model"]), list(paper.tasks).index(
        r["task"]), list(paper.accelerators).index(r["accelerator"]), r["config"]))


def _ratio(kind: str, base: Mapping[str, float], mine: Mapping[str, float]) -> float:
    """The metric of ``mine`` against ``base`` (dicts with cycles, energy and, for our runs,
    seconds: time ratios use seconds where both have them)."""
    q = "seconds" if "seconds" in base and "seconds" in mine else "cycles"
    if kind == "speedup":
        return base[q] / mine[q]
    if kind == "latency_norm":
        return mine[q] / base[q]
    if kind == "energy_norm":
        return mine["energy"] / base["energy"]
    return base["energy"] / mine["energy"]


def _paper_task_value(paper: Paper, quantity: str, acc: str, task: str, model: str) -> float:
    """A paper raw quantity (cycles, energy) of one task, from its per-run values."""
    keys = {"cycles": ("cycles", "cycles_rel"), "energy": ("energy_uj", "energy_rel")}[quantity]
    table = next((paper.paper_values[k][acc] for k in keys
                  if acc in paper.paper_values.get(k, {})), None)
    if table is None:
        return math.nan
    j = paper.models.index(model)
    total = 0.0
    for run, w in paper.tasks[task].items():
        if run not in table:
            return math.nan
        total += float(table[run][j]) * w
    return total


def _paper_metric(paper: Paper, metric: Mapping[str, Any], acc: str, task: str,
                  model: str) -> float:
    """The paper's value of one metric point: published directly (``paper_metrics``) or
    computed from the paper's raw numbers the way the metric is defined."""
    direct = paper.paper_metrics.get(metric["name"], {}).get(acc, {}).get(task)
    if direct is not None:
        value = direct[paper.models.index(model)]
        return math.nan if value is None else float(value)
    base = {q: _paper_task_value(paper, q, metric["baseline"], task, model)
            for q in ("cycles", "energy")}
    mine = {q: _paper_task_value(paper, q, acc, task, model) for q in ("cycles", "energy")}
    pick = "energy" if metric["kind"].startswith("energy") else "cycles"
    if math.isnan(base[pick]) or math.isnan(mine[pick]):   # the paper does not give it
        return math.nan
    return _ratio(metric["kind"], base, mine)


def reproduce(paper: Paper, models: Sequence[str] | None = None,
              progress: bool = False) -> Reproduction:
    """Simulate ``paper``'s runs for ``models`` (default: all the paper's) on its accelerators,
    both configurations, and compute every metric point beside the paper's value."""
    import pandas as pd

    models = _check_models(paper, models)
    tasks = _task_totals(paper, _simulate(paper, models, progress))
    by_key = {(t["model"], t["task"], t["accelerator"], t["config"]):
              {"cycles": t["cycles"], "seconds": t["seconds"], "energy": t["energy_pj"]}
              for t in tasks}
    rows = []
    for metric in paper.metrics:
        for model in models:
            for task in paper.tasks:
                for acc in metric["accelerators"]:
                    mine = by_key.get((model, task, acc, "paper"))
                    base = by_key.get((model, task, metric["baseline"], "paper"))
                    if mine is None or base is None:
                        continue
                    value = _ratio(metric["kind"], base, mine)
                    ours_mine = by_key.get((model, task, acc, "ours"))
                    ours_base = by_key.get((model, task, metric["baseline"], "ours"))
                    ours = (_ratio(metric["kind"], ours_base, ours_mine)
                            if ours_mine and ours_base else math.nan)
                    pv = _paper_metric(paper, metric, acc, task, model)
                    rows.append({"paper": paper.name, "model": model, "task": task,
                                 "accelerator": acc, "cycles": mine["cycles"],
                                 "energy_pj": mine["energy"], "metric": metric["name"],
                                 "value": value, "paper_value": pv,
                                 "rel_err": value / pv - 1 if pv == pv else math.nan,
                                 "qaccel": ours})
    return Reproduction(paper, pd.DataFrame(tasks), pd.DataFrame(rows, columns=CSV_COLUMNS))


def _mean(values: Sequence[float], kind: str) -> float:
    if not values:
        return math.nan
    if kind == "geometric":
        return math.exp(sum(math.log(v) for v in values) / len(values))
    return sum(values) / len(values)


def headlines(rep: Reproduction) -> list[dict[str, Any]]:
    """Each headline of the paper: our mean, the paper's mean of its own points, its claim,
    and whether ours lies within the headline's tolerance of the claim (of the mean of the
    paper's own points when the paper states no claim: ``points_rel_err``)."""
    out = []
    frame = rep.metrics
    for h in rep.paper.headlines:
        sel = frame[(frame.metric == h["metric"]) & (frame.accelerator == h["accelerator"])
                    & frame.task.isin(h.get("tasks", list(rep.paper.tasks)))]
        kind = h.get("mean", "arithmetic")
        ours = _mean(list(sel.value), kind)
        paper_pts = [v for v in sel.paper_value if v == v]
        claim = float(h["claim"]) if h.get("claim") is not None else math.nan
        tol = float(h.get("tolerance", math.nan))
        points_mean = _mean(paper_pts, kind)
        # without a claim, a tolerance compares ours with the mean of the paper's own points
        ref = claim if claim == claim else points_mean
        out.append({"headline": h["text"], "mean": kind, "points": len(sel),
                    "value": ours, "paper_points_mean": points_mean,
                    "claim": claim, "rel_err": ours / claim - 1 if claim == claim else math.nan,
                    "points_rel_err": ours / points_mean - 1,
                    "within": abs(ours / ref - 1) <= tol if ref == ref and tol == tol
                    else None,
                    "qaccel": _mean([v for v in sel.qaccel if v == v], kind),
                    "note": h.get("note", "")})
    return out


def point_summary(rep: Reproduction) -> list[dict[str, Any]]:
    """Per metric: points compared, points within the paper's band, the worst error."""
    out = []
    frame = rep.metrics.dropna(subset=["paper_value"])
    kinds = {m["name"]: m["kind"] for m in rep.paper.metrics}
    for metric, grp in frame.groupby("metric", sort=False):
        tol = float(rep.paper.tolerance.get(kinds[metric], math.nan))
        errs = grp.rel_err.abs()
        out.append({"metric": metric, "points": len(grp), "band": tol,
                    "within": int((errs <= tol).sum()) if tol == tol else None,
                    "worst_rel_err": float(grp.rel_err[errs.idxmax()]) if len(grp) else math.nan})
    return out
