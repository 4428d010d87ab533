"""``qaccel compare``: the same workload on several accelerators, normalized to a baseline.

    qaccel compare --arch fp16,ant,olive,bitmod --workload llama-2-7b --phase prefill

Each ``--arch`` item is a preset, a YAML file or a PE family name (which picks the family's
``<family>-<phase>`` paper preset). Prints total cycles, latency, energy, speedup and energy
ratio against the baseline (the first item unless ``--baseline``), and writes a bar plot.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from qaccel.cli.common import accelerator_from_args
from qaccel.errors import ConfigError
from qaccel.sim import ENGINES, run
from qaccel.tables import add_out_argument, check_out_path, format_table, write_table

__all__ = ["register", "compare_frame", "plot_compare"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="one workload on several accelerators, vs a baseline",
                       description=__doc__.split("\n\n")[2].replace("\n", " "),
                       epilog="example: qaccel compare --arch systolic-int8-32x32,"
                       "systolic-int8-128x128 --workload resnet-50")
    p.add_argument("--arch", required=True, metavar="A,B,...",
                   help="comma-separated presets, YAML files or PE family names")
    p.add_argument("--baseline", metavar="ARCH", help="the item results are normalized to "
                   "(default: the first)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--workload", metavar="ID", help="a workload preset (qaccel workloads)")
    src.add_argument("--gemm", metavar="MxKxN", help="one GEMM")
    p.add_argument("--phase", default="prefill", help="prefill or decode (default prefill)")
    p.add_argument("--tokens", type=int, default=256, help="prompt tokens (default 256)")
    p.add_argument("--kv-len", type=int, help="decode: keys attended (default: --tokens)")
    p.add_argument("--steps", type=int, default=1, help="decode steps (default 1)")
    p.add_argument("--batch", type=int, default=1, help="sequences or images (default 1)")
    p.add_argument("--engine", default="fast", help=f"one of {', '.join(ENGINES)}")
    p.add_argument("--plot", type=Path, default=Path("qaccel-compare.png"), metavar="PNG",
                   help="bar plot of speedup and energy ratio (default: qaccel-compare.png)")
    add_out_argument(p)
    p.set_defaults(func=main)


def _layers(args: argparse.Namespace):
    if args.gemm is not None:
        from qaccel.sim.gemm import parse_gemm

        return [parse_gemm(args.gemm)]
    from qaccel.cli.workloads import build_from_flags

    return build_from_flags("--workload", id=args.workload, phase=args.phase,
                            tokens=args.tokens, kv_len=args.kv_len, steps=args.steps,
                            batch=args.batch)


def compare_frame(args: argparse.Namespace) -> pd.DataFrame:
    """One row per ``--arch`` item: totals plus speedup / energy ratio vs the baseline."""
    items = [a.strip() for a in args.arch.split(",") if a.strip()]
    if len(items) < 2 or len(set(items)) != len(items):
        raise ConfigError.single("--arch", f"must list at least two different accelerators, "
                                 f"not {args.arch!r}")
    baseline = args.baseline or items[0]
    if baseline not in items:
        raise ConfigError.single("--baseline", f"must be one of {', '.join(items)}, "
                                 f"not {baseline!r}")
    accels = {}
    for item in items:  # validate every item before the first simulation
        ns = argparse.Namespace(arch=item, dataflow=None, phase=args.phase)
        accels[item] = accelerator_from_args(ns)
    layers = _layers(args)
    rows = []
    for item, accel in accels.items():
        tot = run(layers, accel, engine=args.engine, values=False).totals()
        rows.append({"arch": item, "preset": accel.name, "family": accel.family,
                     "rows": accel.pe_array.rows, "cols": accel.pe_array.cols,
                     "total_cycles": tot["total_cycles"],
                     "latency_us": tot["total_cycles"] / accel.clock_mhz,
                     "utilization": tot["utilization"],
                     "energy_uj": tot["energy_pj_total"] / 1e6})
    df = pd.DataFrame(rows)
    base = df.set_index("arch").loc[baseline]
    df["speedup"] = base["latency_us"] / df["latency_us"]
    df["energy_ratio"] = df["energy_uj"] / base["energy_uj"]
    return df


def plot_compare(df: pd.DataFrame, path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(max(7.0, 1.2 * len(df) + 4), 4.0), dpi=110)
    for ax, col, label in ((axes[0], "speedup", "speedup vs baseline (x, higher is better)"),
                           (axes[1], "energy_ratio", "energy vs baseline (x, lower is better)")):
        bars = ax.bar(df["arch"], df[col], color="#4c72b0")
        ax.axhline(1.0, color="grey", lw=0.8, ls="--")
        ax.bar_label(bars, fmt="%.2f", fontsize=8)
        ax.set_ylabel(label)
        ax.tick_params(axis="x", rotation=30, labelsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def main(args: argparse.Namespace) -> int:
    check_out_path(args.out)
    if args.plot.suffix.lower() != ".png":
        raise ConfigError.single("--plot", f"must end in .png, not {str(args.plot)!r}")
    df = compare_frame(args)
    print(format_table(df))
    what = args.workload or args.gemm
    plot_compare(df, args.plot, f"{what}: normalized to {args.baseline or df['arch'][0]}")
    print(f"wrote {args.plot}")
    if args.out is not None:
        write_table(df, args.out)
        print(f"wrote {args.out}")
    return 0
