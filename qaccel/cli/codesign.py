"""``qaccel codesign``: weight format per layer x array shape under an accuracy budget.

    qaccel codesign --model minilm --budget-cosine 0.97 --area-mm2 0.5 --objective edp
    qaccel codesign --model minilm --formats int8_pc_sym,int4_pc_sym,int2_pc_sym --trials 400
    qaccel codesign --model my.py:build --arch my-array.yaml --area-mm2 1 --study s.db
    qaccel codesign --model minilm --trials 400 --study s.db --dask tcp://scheduler-host:8786

Searches one weight format per nn.Linear of the model (from ``--formats``, registry names)
together with the array's aspect and share of ``--area-mm2`` (sized by the calibrated area
model), with optuna's NSGA-II sampler on (mean cosine to float32, cost, area); accuracy is
measured end to end on the real model, cost by simulating its captured trace. ``--arch``:
an accelerator (preset, YAML or family) whose PE runs every format; by default the first
registered family that does. ``--study FILE.db`` keeps the study: rerun to resume.
``--dask ADDRESS`` evaluates the points on a running Dask scheduler's workers (as ``qaccel
sweep run --dask``), ``--batch`` trials in flight at a time; the trials are the same as in
this process for the same seed, trial count and batch. Prints the Pareto front and, per
uniform-format point, the mixed point that dominates it; writes a scatter plot and
(``--out``) every point.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from qaccel.errors import ConfigError
from qaccel.tables import add_out_argument, check_out_path, format_table, write_table

__all__ = ["register", "main", "pick_accelerator"]

DEFAULT_FORMATS = "int8_pc_sym,int4_pc_sym"


def register(sub: argparse._SubParsersAction) -> None:
    doc = __doc__.split("\n\n")
    p = sub.add_parser("codesign", help="per-layer weight format x array shape search",
                       description=doc[2].replace("\n", " "),
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="examples:\n" + doc[1])
    p.add_argument("--model", default="minilm", metavar="minilm|FILE.py:FUNCTION",
                   help="the model (default minilm: all-MiniLM-L6-v2 on the demo sentences)")
    p.add_argument("--formats", default=DEFAULT_FORMATS, metavar="F,F,...",
                   help=f"weight formats a layer may take (default {DEFAULT_FORMATS})")
    p.add_argument("--arch", metavar="PRESET|FILE|FAMILY", help="the accelerator (default: "
                   "the first family whose PE runs every format)")
    p.add_argument("--area-mm2", type=float, default=1.0, help="array logic area budget "
                   "(unit: mm^2, default 1)")
    p.add_argument("--budget-cosine", type=float, default=0.97,
                   help="least mean cosine to float32 (default 0.97)")
    p.add_argument("--objective", default="edp", metavar="edp|cycles|energy",
                   help="the cost objective (default edp)")
    p.add_argument("--trials", type=int, default=200, help="NSGA-II trials (default 200)")
    p.add_argument("--seed", type=int, default=0, help="sampler seed (default 0)")
    p.add_argument("--study", type=Path, metavar="FILE.db", help="SQLite file of the study "
                   "(resumed when it exists)")
    p.add_argument("--dask", metavar="ADDRESS", help="evaluate on an existing Dask "
                   "scheduler, e.g. tcp://scheduler-host:8786 (default: in this process)")
    p.add_argument("--batch", type=int, default=8, metavar="N",
                   help="trials asked and evaluated at a time (default 8; part of what "
                   "decides the trials, with --seed and --trials)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--plot", type=Path, default=Path("qaccel-codesign.png"), metavar="PNG")
    add_out_argument(p)
    p.set_defaults(func=main)


def _accel_for_family(family: str) -> Any:
    """``family``'s prefill preset, or its PE (16x16, defaults) on the default family's
    memory system when it has no preset."""
    from qaccel.arch import PE_FAMILIES, load_accelerator

    cls = PE_FAMILIES[family]
    if cls.phase_presets:
        return load_accelerator(next(iter(cls.phase_presets.values())))
    default = next(c for c in PE_FAMILIES.values() if c.default_family)
    base = load_accelerator(next(iter(default.phase_presets.values()), None)
                            or _first_preset_of(default.family))
    data = base.to_dict()
    data["name"] = f"{family}-16x16"
    data["pe_array"] = {"family": family, "rows": 16, "cols": 16,
                        "dataflow": cls.dataflows[0].value}
    return load_accelerator(data)


def _first_preset_of(family: str) -> str:
    from qaccel.arch import load_accelerator, preset_names

    return next(n for n in preset_names() if load_accelerator(n).family == family)


def pick_accelerator(arch: str | None, formats: list[str]) -> tuple[Any, tuple[str, ...]]:
    """(accelerator, checked formats): ``arch`` or the first family running every format."""
    from qaccel.arch import PE_FAMILIES
    from qaccel.sweeps.codesign import check_formats

    if arch is not None:
        from qaccel.cli.common import accelerator_from_args

        ns = argparse.Namespace(arch=arch, phase="prefill", dataflow=None, mapping=None,
                                objective="cycles", preload=None)
        accel = accelerator_from_args(ns)
        return accel, check_formats(formats, accel)
    first_error = None
    for family in PE_FAMILIES:
        try:
            accel = _accel_for_family(family)
            return accel, check_formats(formats, accel)
        except (ConfigError, StopIteration) as exc:
            if first_error is None and isinstance(exc, ConfigError):
                first_error = exc
    unknown = [p for p in (first_error.problems if first_error else ())
               if "registry" in p.message]
    if unknown:
        raise ConfigError(unknown)
    raise ConfigError.single("--formats", f"must be formats one PE family runs together "
                             f"(e.g. {DEFAULT_FORMATS}), not {','.join(formats)!r}")


def _act_format(accel: Any) -> str:
    bits = accel.pe_array.a_bits
    if bits not in (8, 16):
        raise ConfigError.single("--arch", f"must have 8-bit (int8) or 16-bit (fp16) "
                                 f"activations for the accuracy run, not {bits}-bit")
    from qaccel.models import fp16 as half
    from qaccel.models import int8

    return int8.NAME if bits == 8 else half.NAME


def _check(args: argparse.Namespace) -> None:
    from qaccel.sweeps.codesign import OBJECTIVES

    problems = []
    if args.objective not in OBJECTIVES:
        problems.append(("--objective", f"must be one of {', '.join(OBJECTIVES)}, not "
                         f"{args.objective!r}"))
    if not 0 < args.budget_cosine <= 1:
        problems.append(("--budget-cosine", f"must be in (0, 1], not {args.budget_cosine}"))
    if not 1 <= args.trials <= 100_000:
        problems.append(("--trials", f"must be an int in 1..100000, not {args.trials}"))
    if not 1 <= args.batch <= 10_000:
        problems.append(("--batch", f"must be an int in 1..10000, not {args.batch}"))
    if not args.area_mm2 > 0:
        problems.append(("--area-mm2", f"must be a number > 0, not {args.area_mm2}"))
    if args.plot.suffix.lower() != ".png":
        problems.append(("--plot", f"must end in .png, not {str(args.plot)!r}"))
    if problems:
        from qaccel.errors import Problem

        raise ConfigError([Problem(p, m) for p, m in problems])


def main(args: argparse.Namespace) -> int:
    from qaccel.cli.capture import model_builder
    from qaccel.sweeps.codesign import (
        OBJECTIVES,
        Evaluator,
        SearchSpace,
        best_feasible,
        dominance_table,
        pareto_front,
        run_search,
    )
    from qaccel.sweeps.codesign_plot import plot_codesign

    check_out_path(args.out)
    _check(args)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    accel, formats_t = pick_accelerator(args.arch, formats)
    build = model_builder(args.model)
    module, inputs = build(argparse.Namespace(sentences=None, seed=args.seed))
    start = time.perf_counter()
    from torch import nn

    from qaccel.models.capture import capture

    layers = tuple(p for p, m in module.named_modules() if isinstance(m, nn.Linear))
    trace = capture(module, inputs, name=args.model)
    space = SearchSpace(layers, formats_t, args.area_mm2)
    ev = Evaluator(module.eval(), _runner(args.model, inputs), trace, accel, space,
                   _act_format(accel))
    ev.shape(1.0, 1.0)   # a budget too small for the array fails here, before searching
    print(f"{accel.name}: {len(layers)} weight layers x {len(formats_t)} formats, "
          f"{len(space.aspects) * len(space.area_fractions)} shapes within "
          f"{args.area_mm2:g} mm^2")
    executor = None
    if args.dask is not None:
        from qaccel.sweeps.executors import DaskExecutor

        executor = DaskExecutor(args.dask)
    df = run_search(ev, trials=args.trials, objective=args.objective,
                    budget_cosine=args.budget_cosine,
                    storage=f"sqlite:///{args.study}" if args.study else None, seed=args.seed,
                    executor=executor, batch=args.batch, progress=not args.no_progress)
    if df.attrs.get("stale_trials"):
        print(f"{df.attrs['stale_trials']} trials an interrupted run left unfinished in "
              f"{args.study} marked failed")
    column = OBJECTIVES[args.objective]
    seconds = time.perf_counter() - start
    shown = ["source", "uniform", "rows", "cols", "area_mm2", "cos_mean", "cos_min",
             "total_cycles", "energy_uj", "edp_uj_us", *[f"layers_{f}" for f in formats_t]]
    front = pareto_front(df[df["cos_mean"] >= args.budget_cosine], column)
    print(f"\nPareto front (cos_mean >= {args.budget_cosine}; cos_mean, {column}, area):")
    print(format_table(front[shown].head(25)))
    dom = dominance_table(df, column, args.budget_cosine)
    print(f"\nuniform points meeting the budget, and a mixed point at the same array that "
          f"dominates each on (cos_mean, {column}):")
    print(format_table(dom) if len(dom) else "(no uniform point meets the budget)")
    best = best_feasible(df, column, args.budget_cosine)
    print(f"\nlowest {column} meeting the budget, uniform vs mixed:")
    print(format_table(best[["kind", *shown]]) if len(best) else "(none meets the budget)")
    print(f"\n{ev.evaluations} evaluations ({len(df)} points incl. resumed trials) in "
          f"{seconds:.1f} s")
    plot_codesign(df, args.plot, column, args.budget_cosine)
    print(f"wrote {args.plot}")
    if args.out is not None:
        write_table(df, args.out)
        print(f"wrote {args.out}")
    return 0


def _runner(model: str, inputs: Any):
    """model -> output tensor: MiniLM's sentence embeddings, else the module's output (its
    ``last_hidden_state`` or first element when it returns a structure)."""
    if model == "minilm":
        from qaccel.models.accuracy import minilm_run

        return minilm_run(inputs)

    def run(m: Any) -> Any:
        out = m(**inputs) if isinstance(inputs, dict) else (
            m(*inputs) if isinstance(inputs, tuple) else m(inputs))
        if hasattr(out, "last_hidden_state"):
            return out.last_hidden_state
        return out[0] if isinstance(out, tuple | list) else out

    return run
