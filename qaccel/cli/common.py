"""Options and output shared by the CLI commands that simulate."""

from __future__ import annotations

import argparse
import dataclasses

import pandas as pd

from qaccel.arch import PE_FAMILIES, Accelerator, Dataflow, load_accelerator, preset_names
from qaccel.arch.fields import OneOf, check_value
from qaccel.arch.spec import MappingMode, Preload
from qaccel.errors import ConfigError
from qaccel.sim import SimResult
from qaccel.tables import format_table

__all__ = ["add_arch_arguments", "accelerator_from_args", "print_result", "TABLE_COLUMNS"]

#: the columns printed on the terminal (``--out`` writes all of them)
TABLE_COLUMNS = ("layer", "op", "M", "K", "N", "gemms", "mapping", "folds", "compute_cycles",
                 "stall_cycles", "total_cycles", "utilization", "dram_bytes", "energy_mj")
OBJECTIVES = ("cycles", "energy", "edp")


def add_arch_arguments(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    parser.add_argument("--arch", default=default, required=default is None,
                        metavar="PRESET|FILE",
                        help="accelerator preset name (see `qaccel presets`) or YAML file"
                        + (f" (default: {default})" if default else ""))
    parser.add_argument("--dataflow", metavar="ws|os|is",
                        help="pin the dataflow (weight/output/input stationary); the mapper "
                        "then searches loop orders and stream tiles only")
    parser.add_argument("--mapping", metavar="auto|dataflow|fixed",
                        help="auto: the mapper picks each layer's mapping; dataflow: the same "
                        "with the spec's dataflow kept; fixed: the preset's dataflow, column "
                        "blocks outer, no stream tiling (SCALE-Sim's schedule) (default: the "
                        "spec's `mapping:`, else auto)")
    parser.add_argument("--objective", default="cycles", metavar="|".join(OBJECTIVES),
                        help="what the mapper minimizes per layer (default: cycles)")
    parser.add_argument("--kv-format", metavar="FORMAT",
                        help="the KV cache's format, separate from the weights': fp16, int8, "
                        "int4 or a registered format the PEs compute on (default: the spec's "
                        "`kv_format:`, else K and V in the PE's own B format)")
    parser.add_argument("--preload", metavar="serial|overlapped",
                        help="stationary preload: serial, or overlapped with the previous "
                        "fold (shadow registers; families that have them)")


def accelerator_from_args(args: argparse.Namespace) -> Accelerator:
    """``--arch``: a preset, a YAML file, or a PE family name, which picks that family's
    paper preset ``<family>-<phase>`` for ``--phase`` (prefill when not given)."""
    arch = args.arch
    if arch in PE_FAMILIES:
        phase = getattr(args, "phase", None) or "prefill"
        presets = PE_FAMILIES[arch].phase_presets
        if phase not in presets:
            have = ", ".join(f"{k} ({v})" for k, v in presets.items()) or "none"
            raise ConfigError.single("--arch", f"names PE family {args.arch!r}, which has no "
                                     f"preset for phase {phase!r} (its phases: {have}; "
                                     f"presets: {', '.join(preset_names())})")
        arch = presets[phase]
    accel = load_accelerator(arch)
    changes = {}
    if getattr(args, "dataflow", None) is not None:
        changes["dataflow"] = check_value(OneOf(Dataflow), args.dataflow, "--dataflow")
    if getattr(args, "preload", None) is not None:
        changes["preload"] = check_value(OneOf(Preload), args.preload, "--preload")
    if changes:
        try:
            accel = accel.replace_array(**changes)
        except ConfigError as exc:   # name the flag, not the spec's path
            flags = {f"pe_array.{k}": f"--{k}" for k in changes}
            raise ConfigError.single(", ".join(flags[p.path] if p.path in flags else p.path
                                               for p in exc.problems),
                                     "; ".join(p.message for p in exc.problems)) from None
    if getattr(args, "kv_format", None) is not None:
        try:
            accel = accel.with_kv_format(args.kv_format)
        except ConfigError as exc:   # name the flag, not the spec's path
            raise ConfigError([dataclasses.replace(p, path="--kv-format", line=None)
                               if p.path == "kv_format" else p
                               for p in exc.problems]) from None
    if getattr(args, "mapping", None) is not None:
        mode = check_value(OneOf(MappingMode), args.mapping, "--mapping")
        accel = dataclasses.replace(accel, mapping=mode)
    if getattr(args, "objective", "cycles") not in OBJECTIVES:
        raise ConfigError.single("--objective", f"must be one of {', '.join(OBJECTIVES)}, "
                                 f"not {args.objective!r}")
    return accel


def run_options(args: argparse.Namespace) -> dict:
    """The ``sim.run`` keywords the mapping flags set."""
    return {"objective": getattr(args, "objective", "cycles"),
            "pin_dataflow": getattr(args, "dataflow", None) is not None}


def describe(accel: Accelerator) -> str:
    pe = accel.pe_array
    return (f"{accel.name}: {pe.rows}x{pe.cols} {pe.family} ({pe.dataflow}, preload "
            f"{pe.preload}), "
            f"{accel.clock_mhz:g} MHz, buffers W/I/O {accel.weight_buffer.size_kib:g}/"
            f"{accel.input_buffer.size_kib:g}/{accel.output_buffer.size_kib:g} KiB, "
            f"DRAM {accel.dram.bits_per_cycle} bits/cycle")


def mapping_label(row) -> str:
    """A result row's mapping, short: ``ws cols T=256`` (dataflow, outer loop, stream tile)."""
    return f"{row.dataflow} {str(row.loop_order).split('_')[0]} T={row.stream_tile}"


def _millijoules(pj: float) -> str:
    """``pj`` (unit: pJ) in mJ: three decimals from 1 mJ up, three significant digits below."""
    mj = pj / 1e9
    return f"{mj:,.3f}" if abs(mj) >= 1 else f"{mj:.3g}"


def print_result(result: SimResult, accel: Accelerator) -> None:
    print(describe(accel))
    table: pd.DataFrame = result.with_totals()
    table["mapping"] = [mapping_label(r) if r.layer != "TOTAL" else ""
                        for r in table.itertuples()]
    table["energy_mj"] = table["energy_pj_total"].astype(float) / 1e9
    table = table[list(TABLE_COLUMNS)]
    print(format_table(table))
    tot = result.totals()
    us = tot["total_cycles"] / accel.clock_mhz
    print(f"total: {tot['total_cycles']:,} cycles = {us:,.1f} us at {accel.clock_mhz:g} MHz, "
          f"utilization {tot['utilization']:.1%}, DRAM {tot['dram_bytes'] / 2**20:,.2f} MiB, "
          f"energy {_millijoules(tot['energy_pj_total'])} mJ, "
          f"mapping {accel.mapping.value} "
          f"({result.engine} engine; cycle counts, SCALE-Sim prints count - 1)")
