"""``qaccel sweep``: run a design-space sweep, show its progress and front, plot it.

    qaccel sweep run SPEC [--out DIR] [--workers N | --dask tcp://HOST:PORT] [--batch N]
    qaccel sweep status DIR [--all] [--out FILE]
    qaccel sweep plot DIR [--x COL --y COL] [--color COL] [--png FILE]
    qaccel sweep plot DIR --kind heatmap --x AXIS --y AXIS --value COL [--goal max]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from qaccel.errors import ConfigError
from qaccel.tables import add_out_argument, check_out_path, format_table, write_table

#: rows printed on the terminal (``--out`` writes them all)
MAX_PRINTED_ROWS = 40


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="design-space sweeps: run a spec, status, plots",
                       description="Sweep accelerator parameters over workloads; results go "
                       "to a parquet dataset keyed by content hash, so reruns resume.",
                       epilog="example: qaccel sweep run "
                       "sweeps/examples/resnet50-int8-systolic.yaml --out sweep-resnet50")
    p.set_defaults(func=lambda args: p.print_help() or 0)
    actions = p.add_subparsers(dest="action", metavar="ACTION")

    run = actions.add_parser("run", help="run every point of SPEC not yet in DIR",
                             description="Validate SPEC, plan its points, run those not yet in "
                             "the output folder, and write the plots the spec lists.")
    run.add_argument("spec", type=Path, metavar="SPEC", help="sweep spec (YAML)")
    run.add_argument("--out", type=Path, metavar="DIR",
                     help="output folder (default: sweep-<spec name>)")
    where = run.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="N",
                       help="local worker processes (default: all cores)")
    where.add_argument("--dask", metavar="ADDRESS",
                       help="run on an existing Dask scheduler, e.g. tcp://scheduler-host:8786")
    run.add_argument("--batch", type=int, metavar="N",
                     help="at most N points per task, one part file per task (default: "
                     "automatic, one PE array's points together, finished rows gathered "
                     "into a part file for up to 2 s)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--no-plots", action="store_true", help="skip the spec's plots")
    run.add_argument("--force", action="store_true",
                     help="run into a folder that holds a sweep of another spec, replacing "
                     "its spec (stored rows of shared points are reused)")
    run.set_defaults(func=main_run)

    status = actions.add_parser("status", help="progress and Pareto front of a sweep folder",
                                description="Print how many points are done and the Pareto "
                                "front of the spec's objectives per workload (feasible rows).")
    status.add_argument("dir", type=Path, metavar="DIR", help="sweep output folder")
    status.add_argument("--all", action="store_true",
                        help="table of every row instead of the front")
    add_out_argument(status)
    status.set_defaults(func=main_status)

    plot = actions.add_parser("plot", help="Pareto scatter or heatmap of a sweep folder",
                              description="Pareto scatter of two columns (default: the first "
                              "two objectives) coloured by PE family, or a heatmap of a "
                              "column over two axes.")
    plot.add_argument("dir", type=Path, metavar="DIR", help="sweep output folder")
    plot.add_argument("--kind", choices=("pareto", "heatmap"), default="pareto")
    plot.add_argument("--x", metavar="COL", help="x column (heatmap: an axis)")
    plot.add_argument("--y", metavar="COL", help="y column (heatmap: an axis)")
    plot.add_argument("--color", metavar="COL", help="colour points by (default: PE family)")
    plot.add_argument("--value", metavar="COL", help="heatmap: the column in the cells")
    plot.add_argument("--goal", choices=("min", "max"),
                      help="heatmap: best value per cell (default: the objective's, else min)")
    plot.add_argument("--png", type=Path, metavar="FILE",
                      help="output file (default: in DIR, named after the plot)")
    plot.set_defaults(func=main_plot)


def main_run(args: argparse.Namespace) -> int:
    from qaccel.sweeps import load_spec, run_sweep

    spec = load_spec(args.spec)
    out = args.out if args.out is not None else Path(f"sweep-{spec.name}")
    summary = run_sweep(spec, out, workers=args.workers, dask=args.dask,
                        batch_size=args.batch, progress=not args.no_progress,
                        plots=not args.no_plots, force=args.force)
    print(summary)
    for path in summary.plots:
        print(f"wrote {path}")
    print(f"next: qaccel sweep status {out}")
    return 0


def _table_columns(spec, df: pd.DataFrame) -> list[str]:
    cols = ["workload"] + [a.name for a in spec.arch_axes]
    cols += [o.column for o in spec.objectives] + [c.column for c in spec.constraints]
    return [c for c in dict.fromkeys(cols) if c in df.columns]


def main_status(args: argparse.Namespace) -> int:
    from qaccel.sweeps import fronts, load_sweep, sweep_status

    check_out_path(args.out)
    status = sweep_status(args.dir)
    print(status)
    spec, df = load_sweep(args.dir)
    goals = ", ".join(f"{o.goal} {o.column}" for o in spec.objectives)
    limits = ", ".join(_constraint_text(c) for c in spec.constraints) or "none"
    print(f"objectives: {goals}; constraints: {limits}; "
          f"{int(df['feasible'].sum())} of {len(df)} rows feasible")
    table = df if args.all else fronts(df, spec.objectives)
    title = "all rows" if args.all else "Pareto front per workload (feasible rows)"
    print(f"{title}: {len(table)} rows")
    if len(table):
        shown = _tidy(table[_table_columns(spec, table)].head(MAX_PRINTED_ROWS))
        print(format_table(shown, float_format="{:,.4g}"))
        if len(table) > MAX_PRINTED_ROWS:
            print(f"... {len(table) - MAX_PRINTED_ROWS} more rows (--out FILE writes all)")
    if args.out is not None:
        write_table(table.reset_index(drop=True), args.out)
        print(f"wrote {args.out}")
    return 0


def _tidy(df: pd.DataFrame) -> pd.DataFrame:
    """Whole-number float columns (clock_mhz, size_kib) shown as ints on the terminal."""
    out = df.copy()
    for col in out.columns:
        values = out[col]
        if pd.api.types.is_float_dtype(values) and values.notna().all() \
                and (values == values.round()).all() and values.abs().max() < 2**53:
            out[col] = values.astype("int64")
    return out


def _constraint_text(c) -> str:
    lo = f"{c.min:g} <= " if c.min is not None else ""
    hi = f" <= {c.max:g}" if c.max is not None else ""
    return f"{lo}{c.column}{hi}"


def _need(column: str | None, flag: str, columns: list[str], numeric: bool = True) -> str:
    if column is None:
        raise ConfigError.single(flag, "is missing")
    if column not in columns:
        raise ConfigError.single(flag, f"must name a {'numeric ' if numeric else ''}column "
                                 f"of the sweep ({', '.join(columns)}), not {column!r}")
    return column


def main_plot(args: argparse.Namespace) -> int:
    from qaccel.sweeps import load_sweep
    from qaccel.sweeps.columns import DEFAULT_COLOR
    from qaccel.sweeps.plots import goal_for, plot_heatmap, plot_pareto

    if args.png is not None and args.png.suffix.lower() != ".png":
        raise ConfigError.single("--png", f"must end in .png, not {str(args.png)!r}")
    spec, df = load_sweep(args.dir)
    if df.empty:
        raise ConfigError.single("DIR", f"must hold finished points to plot, not none in "
                                 f"{str(args.dir)!r} (run `qaccel sweep run` first)")
    numeric = [c for c, kind in spec.columns.items() if kind == "number"]
    if args.kind == "pareto":
        objs = [o.column for o in spec.objectives]
        x = _need(args.x or (objs[0] if objs else None), "--x", numeric)
        y = _need(args.y or (objs[1] if len(objs) > 1 else None), "--y", numeric)
        color = _need(args.color or DEFAULT_COLOR, "--color", list(spec.columns), False)
        path = args.png or args.dir / f"pareto-{x}-{y}.png".replace("*", "all")
        plot_pareto(df, x, y, path, goals=(goal_for(spec, x), goal_for(spec, y)),
                    color=color, annotate=[a.name for a in spec.arch_axes],
                    title=f"{spec.name}: Pareto front")
    else:
        axes = [a.name for a in spec.arch_axes]
        x = _need(args.x, "--x", axes, numeric=False)
        y = _need(args.y, "--y", axes, numeric=False)
        value = _need(args.value, "--value", numeric)
        goal = args.goal or goal_for(spec, value)
        path = args.png or args.dir / f"heatmap-{value}-{x}-{y}.png".replace("*", "all")
        plot_heatmap(df, x, y, value, path, goal=goal, title=f"{spec.name}: {value}")
    print(f"wrote {path}")
    return 0
