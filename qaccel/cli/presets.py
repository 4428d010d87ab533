"""``qaccel presets``: list the shipped accelerator presets."""

from __future__ import annotations

import argparse

import pandas as pd

from qaccel.arch import load_accelerator, preset_names
from qaccel.tables import add_out_argument, check_out_path, format_table, write_table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("presets", help="list accelerator presets",
                       description="List the accelerator presets shipped in arch/presets/.")
    add_out_argument(p)
    p.set_defaults(func=main)


def presets_frame() -> pd.DataFrame:
    rows = []
    for name in preset_names():
        a = load_accelerator(name)
        pe = a.pe_array
        rows.append({"preset": name, "family": pe.family, "rows": pe.rows, "cols": pe.cols,
                     "dataflow": str(pe.dataflow), "clock_mhz": a.clock_mhz,
                     "weight_kib": a.weight_buffer.size_kib, "input_kib": a.input_buffer.size_kib,
                     "output_kib": a.output_buffer.size_kib,
                     "dram_bits_per_cycle": a.dram.bits_per_cycle, "node_nm": a.tech.node_nm})
    return pd.DataFrame(rows)


def main(args: argparse.Namespace) -> int:
    check_out_path(args.out)
    df = presets_frame()
    print(format_table(df, float_format="{:g}"))
    if args.out is not None:
        write_table(df, args.out)
        print(f"wrote {args.out}")
    return 0
