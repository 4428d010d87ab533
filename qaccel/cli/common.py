"""Options and output shared by the CLI commands that simulate."""

from __future__ import annotations

import argparse

import pandas as pd

from qaccel.arch import PE_FAMILIES, Accelerator, Dataflow, load_accelerator, preset_names
from qaccel.arch.fields import OneOf, check_value
from qaccel.errors import ConfigError
from qaccel.sim import SimResult
from qaccel.tables import format_table

__all__ = ["add_arch_arguments", "accelerator_from_args", "print_result", "TABLE_COLUMNS"]

#: the columns printed on the terminal (``--out`` writes all of them)
TABLE_COLUMNS = ("layer", "op", "M", "K", "N", "gemms", "folds", "compute_cycles",
                 "stall_cycles", "total_cycles", "utilization", "dram_bytes")


def add_arch_arguments(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    parser.add_argument("--arch", default=default, required=default is None,
                        metavar="PRESET|FILE",
                        help="accelerator preset name (see `qaccel presets`) or YAML file"
                        + (f" (default: {default})" if default else ""))
    parser.add_argument("--dataflow", metavar="ws|os|is",
                        help="override the preset's dataflow (weight/output/input stationary)")


def accelerator_from_args(args: argparse.Namespace) -> Accelerator:
    """``--arch``: a preset, a YAML file, or a PE family name, which picks that family's
    paper preset ``<family>-<phase>`` for ``--phase`` (prefill when not given)."""
    arch = args.arch
    if arch in PE_FAMILIES:
        phase = getattr(args, "phase", None) or "prefill"
        arch = f"{arch}-{phase}"
        if arch not in preset_names():
            raise ConfigError.single("--arch", f"names PE family {args.arch!r}, which has no "
                                     f"preset {arch!r} (presets: {', '.join(preset_names())})")
    accel = load_accelerator(arch)
    if args.dataflow is not None:
        flow = check_value(OneOf(Dataflow), args.dataflow, "--dataflow")
        accel = accel.replace_array(dataflow=flow)
    return accel


def describe(accel: Accelerator) -> str:
    pe = accel.pe_array
    return (f"{accel.name}: {pe.rows}x{pe.cols} {pe.family} ({pe.dataflow}), "
            f"{accel.clock_mhz:g} MHz, buffers W/I/O {accel.weight_buffer.size_kib:g}/"
            f"{accel.input_buffer.size_kib:g}/{accel.output_buffer.size_kib:g} KiB, "
            f"DRAM {accel.dram.bits_per_cycle} bits/cycle")


def print_result(result: SimResult, accel: Accelerator) -> None:
    print(describe(accel))
    table: pd.DataFrame = result.with_totals()[list(TABLE_COLUMNS)]
    print(format_table(table))
    tot = result.totals()
    us = tot["total_cycles"] / accel.clock_mhz
    print(f"total: {tot['total_cycles']:,} cycles = {us:,.1f} us at {accel.clock_mhz:g} MHz, "
          f"utilization {tot['utilization']:.1%}, DRAM {tot['dram_bytes'] / 2**20:,.2f} MiB "
          f"({result.engine} engine; cycle counts, SCALE-Sim prints count - 1)")
