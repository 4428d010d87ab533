"""``qaccel size``: the largest array of a PE family that fits an area or power budget.

    qaccel size --family bitmod --area-mm2 1.0
    qaccel size --family fp16 --area-mm2 1.5 --rows 32
    qaccel size --family olive --phase decode --area-mm2 4 --aspect 4.5
    qaccel size --family ant --power-mw 300 --workload llama-2-7b --phase decode

Area: the calibrated array logic area (``qaccel.arch.cost.array_area_um2``, SRAM not
included). Power: on-chip power (PE, decoder and SRAM energy; DRAM left out) at the
workload's activity = energy / latency of one run of ``--workload`` on the fast engine.
Rule (``qaccel.arch.sizing``): with ``--rows`` or ``--cols`` the other side is the largest
that fits; otherwise candidates keep ``--aspect`` (rows / cols; default: the family preset's
own aspect) and the largest that fits is chosen.
"""

from __future__ import annotations

import argparse
import dataclasses

import pandas as pd

from qaccel.arch.cost import array_area_um2
from qaccel.arch.sizing import Sized, size_accelerator, size_array
from qaccel.cli.common import accelerator_from_args
from qaccel.errors import ConfigError
from qaccel.tables import add_out_argument, check_out_path, format_table, write_table

__all__ = ["register", "size_frame", "onchip_power_mw"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("size", help="largest array of a family within an area or power budget",
                       description=__doc__.split("\n\n")[2].replace("\n", " "),
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="examples:\n" + "\n".join(
                           line for line in __doc__.split("\n\n")[1].splitlines()))
    p.add_argument("--family", "--arch", dest="arch", required=True, metavar="FAMILY|PRESET",
                   help="PE family (its --phase paper preset), preset name or YAML file")
    p.add_argument("--phase", default="prefill", help="prefill|decode: which paper preset "
                   "a family name picks (default prefill)")
    budget = p.add_mutually_exclusive_group(required=True)
    budget.add_argument("--area-mm2", type=float, metavar="A", help="array logic area budget "
                        "(unit: mm^2)")
    budget.add_argument("--power-mw", type=float, metavar="P", help="on-chip power budget at "
                        "--workload's activity (unit: mW)")
    p.add_argument("--rows", type=int, help="fix the rows; the columns are sized")
    p.add_argument("--cols", type=int, help="fix the columns; the rows are sized")
    p.add_argument("--aspect", type=float, help="rows / cols of the candidates (default: the "
                   "preset's)")
    p.add_argument("--lanes", type=int, help="lanes per PE (families with dot-product PEs)")
    p.add_argument("--workload", metavar="ID", help="workload preset: reports its cycles and "
                   "power on the sized array (required with --power-mw)")
    p.add_argument("--tokens", type=int, default=256, help="prompt tokens (default 256)")
    add_out_argument(p)
    p.set_defaults(func=main)


def _layers(args: argparse.Namespace):
    from qaccel.cli.workloads import build_from_flags

    return build_from_flags("--workload", id=args.workload, phase=args.phase,
                            tokens=args.tokens, kv_len=None, steps=1, batch=1)


def onchip_power_mw(accel, layers) -> tuple[float, dict]:
    """On-chip power (unit: mW) of one run of ``layers`` on ``accel``: (PE + decoder + SRAM
    energy) / latency; and the run's totals."""
    from qaccel.sim import run

    tot = run(layers, accel, engine="fast", values=False).totals()
    onchip_pj = tot["energy_pj_total"] - tot["energy_pj_dram"]
    latency_us = tot["total_cycles"] / accel.clock_mhz
    return onchip_pj / latency_us / 1e3, tot


def _base(args: argparse.Namespace):
    ns = argparse.Namespace(arch=args.arch, phase=args.phase, dataflow=None, mapping=None,
                            objective="cycles", preload=None)
    accel = accelerator_from_args(ns)
    if args.lanes is not None:
        if "lanes" not in {f.name for f in dataclasses.fields(accel.pe_array)}:
            raise ConfigError.single("--lanes", f"must not be given for the {accel.family} "
                                     f"array (its PEs have no lanes field), not {args.lanes}")
        accel = accel.replace_array(lanes=args.lanes)
    return accel


def size_frame(args: argparse.Namespace) -> pd.DataFrame:
    """One row: the sized array, its area, and with ``--workload`` its cycles and power."""
    if args.power_mw is not None and args.workload is None:
        raise ConfigError.single("--workload", "must be given with --power-mw (the power is "
                                 "taken at that workload's activity), not omitted")
    accel = _base(args)
    layers = _layers(args) if args.workload is not None else None
    aspect = args.aspect
    if args.rows is None and args.cols is None and aspect is None:
        aspect = accel.pe_array.rows / accel.pe_array.cols
    if args.area_mm2 is not None:
        sized_accel, sized = size_accelerator(accel, args.area_mm2, rows=args.rows,
                                              cols=args.cols, aspect=aspect)
    else:
        def power(rows: int, cols: int) -> float:
            # a shape the loader refuses raises ConfigError (a ValueError): skipped
            return onchip_power_mw(accel.replace_array(rows=rows, cols=cols), layers)[0]

        sized = size_array(power, args.power_mw, rows=args.rows, cols=args.cols,
                           aspect=aspect, field="--power-mw", unit="mW",
                           what=f"{accel.family} array")
        sized_accel = accel.replace_array(rows=sized.rows, cols=sized.cols)
    return _row(sized_accel, sized, args, layers)


def _row(accel, sized: Sized, args: argparse.Namespace, layers) -> pd.DataFrame:
    pe = accel.pe_array
    area = array_area_um2(pe, accel.tech.node_nm)
    row = {"family": accel.family, "preset": accel.name, "rows": pe.rows, "cols": pe.cols,
           "lanes": pe.lanes, "pes": pe.rows * pe.cols, "area_mm2": area / 1e6,
           "budget": f"{args.area_mm2:g} mm^2" if args.area_mm2 is not None
           else f"{args.power_mw:g} mW"}
    if layers is not None:
        power, tot = onchip_power_mw(accel, layers)
        row.update({"workload": args.workload, "phase": args.phase,
                    "total_cycles": int(tot["total_cycles"]),
                    "utilization": tot["utilization"], "power_mw": power})
    return pd.DataFrame([row])


def main(args: argparse.Namespace) -> int:
    check_out_path(args.out)
    df = size_frame(args)
    print(format_table(df))
    if args.out is not None:
        write_table(df, args.out)
        print(f"wrote {args.out}")
    return 0
