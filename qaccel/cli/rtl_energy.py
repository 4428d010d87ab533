"""``qaccel rtl energy``: PE energy per busy cycle from the RTL's switching activity.

::

    qaccel rtl energy --family bitmod --family fp16 --rows 4 --cols 4 [--tiles 32]
    qaccel rtl energy --family systolic_int8 --data random [--unpriced] [--out FILE]

Runs real-layer tiles (MiniLM's first query projection, or ``--data random``) through each
family's array top on Verilator with toggle coverage and prices the core's toggles with the
component library (:mod:`qaccel.rtl.activity_energy`); prints pJ per PE per busy cycle at 28
nm by component kind, beside the analytic model and the published figure.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import pandas as pd

from qaccel.errors import ConfigError, Problem
from qaccel.tables import add_out_argument, check_out_path, format_table, write_table

__all__ = ["add_energy_parser", "ENERGY_COLUMNS"]

#: columns printed (``--out`` writes all)
ENERGY_COLUMNS = ("family", "config", "data", "busy_cycles", "pj_activity", "pj_activity_pe",
                  "pj_activity_gated_lo", "pj_activity_gated_hi", "pj_model", "pj_published")
MAX_TILES = 4096


def add_energy_parser(rtl: argparse._SubParsersAction) -> None:
    """Register ``energy`` under ``qaccel rtl``."""
    from qaccel.rtl.activity_report import DATA_SOURCES

    e = rtl.add_parser(
        "energy", help="PE energy per busy cycle from the RTL's toggle counts (Verilator)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run real-layer tiles through each family's array on Verilator with "
        "toggle coverage and price every component of the array core by its toggles "
        "(28 nm, pJ per PE per busy cycle; see docs/energy.md).",
        epilog="examples:\n  qaccel rtl energy --family bitmod --family fp16\n"
        "  qaccel rtl energy --family systolic_int8 --rows 2 --cols 2 --tiles 8 --unpriced\n"
        "  qaccel rtl energy --family bitmod --data random --out energy.csv")
    e.add_argument("--family", action="append", metavar="FAMILY",
                   help="PE family with RTL, repeatable (default: the default family)")
    e.add_argument("--rows", type=int, default=4, help="array rows (default: 4)")
    e.add_argument("--cols", type=int, default=4, help="array columns (default: 4)")
    e.add_argument("--tiles", type=int, default=32, help="fold tiles to run (default: 32)")
    e.add_argument("--data", default="minilm", metavar="|".join(DATA_SOURCES),
                   help="MiniLM layer tiles (default) or uniform random tiles")
    e.add_argument("--seed", type=int, default=0, help="seed of --data random (default: 0)")
    e.add_argument("--build-dir", type=Path, default=None, metavar="DIR",
                   help="Verilator builds (default: build/rtl under the cache folder)")
    e.add_argument("--unpriced", action="store_true",
                   help="also list every unpriced signal with its bits")
    e.add_argument("--markdown", type=Path, metavar="FILE",
                   help="also write the table as Markdown to FILE")
    add_out_argument(e)
    e.set_defaults(func=_energy)


def _checked(args: argparse.Namespace) -> list:
    from qaccel.arch.pe.registry import default_family
    from qaccel.cli.rtl import rtl_params
    from qaccel.rtl.activity_report import DATA_SOURCES

    problems = []
    if not 1 <= args.tiles <= MAX_TILES:
        problems.append(Problem("--tiles", f"must be an int in 1..{MAX_TILES}, not "
                                f"{args.tiles!r}"))
    if args.data not in DATA_SOURCES:
        problems.append(Problem("--data", f"must be one of {', '.join(DATA_SOURCES)}, not "
                                f"{args.data!r}"))
    params = []
    for family in args.family or [default_family()]:
        try:
            params.append(rtl_params(family, args.rows, args.cols, None))
        except ConfigError as exc:
            problems += [p for p in exc.problems if p not in problems]
    try:
        check_out_path(args.out)
    except ConfigError as exc:
        problems += exc.problems
    if args.markdown is not None and not (args.markdown.parent or Path(".")).is_dir():
        problems.append(Problem("--markdown", f"must be in an existing folder, not "
                                f"{str(args.markdown)!r}"))
    if problems:
        raise ConfigError(problems)
    return params


def _energy(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from qaccel.rtl.activity_report import KINDS, activity_markdown, activity_row
    from qaccel.rtl.verify import default_build_root

    params = _checked(args)
    build_root = args.build_dir or default_build_root()
    rows, failed = [], False
    for p in tqdm(params, unit="family", desc="rtl energy", file=sys.stderr,
                  dynamic_ncols=True):
        row, energy = activity_row(p, tiles=args.tiles, data=args.data, seed=args.seed,
                                   build_root=build_root)
        rows.append(row)
        failed |= not row["passed"]
        kinds = {k: round(row[f"pj_{k}"], 4) for k in KINDS if row[f"pj_{k}"]}
        print(f"{row['family']} {row['config']}: {row['tiles']} tiles, {row['busy_cycles']:,} "
              f"busy cycles, {row['values_compared']:,} values checked "
              f"({'PASS' if row['passed'] else 'FAIL'})")
        print(f"  by kind (pJ/PE/cycle): {kinds}")
        print(f"  by instance group: { {k: round(v, 4) for k, v in energy.by_group().items()} }")
        print(f"  unpriced bits: {energy.unpriced_bits()}")
        if args.unpriced:
            for u in energy.unpriced:
                print(f"    {u.instance} {u.signal} {u.bits} bits: {u.reason}")
    df = pd.DataFrame(rows)
    print(format_table(df[list(ENERGY_COLUMNS)], float_format="{:,.3f}"))
    if args.out is not None:
        write_table(df, args.out)
        print(f"wrote {args.out}")
    if args.markdown is not None:
        command = "qaccel rtl " + shlex.join(sys.argv[sys.argv.index("energy"):]) \
            if "energy" in sys.argv else "qaccel rtl energy"
        args.markdown.write_text(activity_markdown(rows, command))
        print(f"wrote {args.markdown}")
    return 1 if failed else 0
