"""``qaccel compare``: the same workloads on several accelerators, normalized to a baseline.

    qaccel compare --arch fp16,ant,olive,bitmod --workload llama-2-7b --phase prefill
    qaccel compare --arch ant,olive,bitmod --workload opt-1.3b,phi-2,yi-6b,llama-2-7b,\
        llama-2-13b,llama-3-8b --phase prefill,generative --steps 20

Each ``--arch`` item is a preset, a YAML file or a PE family name (which picks the family's
``<family>-<phase>`` paper preset). ``--workload`` and ``--phase`` take comma-separated lists;
every (workload, phase) pair is one case. Phase ``generative`` is the BitMoD paper's task: the
``--tokens`` prefill on the ``<family>-prefill`` preset plus ``--steps`` decode steps (one token
each, ``--kv-len`` context) on ``<family>-decode``, cycles and energy summed. Prints total
cycles, latency, energy, speedup and energy ratio against the baseline (the first item unless
``--baseline``) per case; with several cases, the mean speedup of every item over every other
(arithmetic mean over the cases, as the BitMoD paper averages; geometric beside it). With
``--plot PNG`` (or ``--out FILE``: beside it) writes a bar plot.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from qaccel.cli.common import accelerator_from_args
from qaccel.cli.workloads import add_cache_argument
from qaccel.errors import ConfigError
from qaccel.sim import ENGINES, run
from qaccel.tables import add_out_argument, check_out_path, format_table, write_table

__all__ = ["register", "compare_frame", "mean_speedups", "plot_compare", "PHASES"]

#: phases a case can run; ``generative`` = prefill + ``--steps`` decode steps
PHASES = ("prefill", "decode", "generative")


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
    src.add_argument("--workload", metavar="ID,...",
                     help="workload presets, comma-separated (qaccel workloads)")
    src.add_argument("--gemm", metavar="MxKxN", help="one GEMM")
    p.add_argument("--phase", default="prefill", metavar="PHASE,...",
                   help=f"comma-separated, each one of {', '.join(PHASES)} (default prefill)")
    p.add_argument("--tokens", type=int, default=256, help="prompt tokens (default 256)")
    p.add_argument("--kv-len", type=int, help="decode: keys attended (default: --tokens)")
    p.add_argument("--steps", type=int, default=1, help="decode steps (default 1)")
    p.add_argument("--batch", type=int, default=1, help="sequences or images (default 1)")
    add_cache_argument(p)
    p.add_argument("--engine", default="fast", help=f"one of {', '.join(ENGINES)}")
    p.add_argument("--mapping", metavar="auto|fixed",
                   help="auto: the mapper picks each layer's mapping on every item; fixed: "
                   "each preset's own dataflow and loop order (default: each spec's)")
    p.add_argument("--objective", default="cycles", metavar="cycles|energy|edp",
                   help="what the mapper minimizes per layer (default: cycles)")
    p.add_argument("--preload", metavar="serial|overlapped",
                   help="stationary preload for every item (families that have it)")
    p.add_argument("--plot", type=Path, metavar="PNG",
                   help="bar plot of speedup and energy ratio (default: none; with --out "
                   "FILE, FILE's name with .png beside it)")
    add_out_argument(p)
    p.set_defaults(func=main)


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _layers(args: argparse.Namespace, workload: str | None, phase: str):
    if workload is None:
        from qaccel.sim.gemm import parse_gemm

        return [parse_gemm(args.gemm)]
    from qaccel.cli.workloads import build_from_flags

    return build_from_flags("--workload", id=workload, phase=phase, tokens=args.tokens,
                            kv_len=args.kv_len, steps=args.steps if phase == "decode" else 1,
                            batch=args.batch, use_cache=getattr(args, "cache", True))


def _cases(args: argparse.Namespace) -> list[tuple[str | None, str]]:
    phases = _split(args.phase)
    bad = [ph for ph in phases if ph not in PHASES]
    if not phases or bad:
        raise ConfigError.single("--phase", f"must be a comma-separated list of "
                                 f"{', '.join(PHASES)}, not {args.phase!r}")
    if args.gemm is not None:
        return [(None, phases[0])]
    workloads = _split(args.workload)
    if not workloads or len(set(workloads)) != len(workloads):
        raise ConfigError.single("--workload", f"must list different workload ids, "
                                 f"not {args.workload!r}")
    return [(w, ph) for w in workloads for ph in phases]


def _accelerators(items: list[str], phases: set[str],
                  args: argparse.Namespace) -> dict[tuple[str, str], object]:
    """(item, run phase) -> accelerator, for every run phase the cases need; all validated
    before the first simulation."""
    runs = {"prefill"} if "generative" in phases else set()
    runs |= {"decode"} if phases & {"decode", "generative"} else set()
    runs |= {"prefill"} if "prefill" in phases else set()
    out = {}
    for item in items:
        for phase in sorted(runs):
            ns = argparse.Namespace(arch=item, dataflow=None, phase=phase,
                                    mapping=args.mapping, objective=args.objective,
                                    preload=args.preload)
            out[(item, phase)] = accelerator_from_args(ns)
    return out


def compare_frame(args: argparse.Namespace) -> pd.DataFrame:
    """One row per (case, ``--arch`` item): totals plus speedup / energy ratio vs the
    baseline of that case."""
    items = _split(args.arch)
    if len(items) < 2 or len(set(items)) != len(items):
        raise ConfigError.single("--arch", f"must list at least two different accelerators, "
                                 f"not {args.arch!r}")
    baseline = args.baseline or items[0]
    if baseline not in items:
        raise ConfigError.single("--baseline", f"must be one of {', '.join(items)}, "
                                 f"not {baseline!r}")
    cases = _cases(args)
    accels = _accelerators(items, {ph for _, ph in cases}, args)
    traces: dict[tuple[str | None, str], object] = {}
    rows = []
    for workload, phase in cases:
        parts = [("prefill", "prefill"), ("decode", "decode")] if phase == "generative" \
            else [(phase, phase)]
        case_rows = []
        for item in items:
            cycles = latency = energy = macs_time = 0.0
            for run_phase, trace_phase in parts:
                key = (workload, trace_phase)
                if key not in traces:
                    traces[key] = _layers(args, workload, trace_phase)
                accel = accels[(item, run_phase)]
                tot = run(traces[key], accel, engine=args.engine, values=False,
                          objective=args.objective).totals()
                cycles += tot["total_cycles"]
                latency += tot["total_cycles"] / accel.clock_mhz
                energy += tot["energy_pj_total"] / 1e6
                macs_time += tot["utilization"] * tot["total_cycles"]
            accel = accels[(item, parts[0][0])]
            case_rows.append({"workload": workload or args.gemm, "phase": phase, "arch": item,
                              "preset": accel.name, "family": accel.family,
                              "rows": accel.pe_array.rows, "cols": accel.pe_array.cols,
                              "total_cycles": int(cycles), "latency_us": latency,
                              "utilization": macs_time / cycles if cycles else 0.0,
                              "energy_uj": energy})
        base = next(r for r in case_rows if r["arch"] == baseline)
        for r in case_rows:
            r["speedup"] = base["latency_us"] / r["latency_us"]
            r["energy_ratio"] = r["energy_uj"] / base["energy_uj"]
        rows += case_rows
    return pd.DataFrame(rows)


def mean_speedups(df: pd.DataFrame) -> pd.DataFrame:
    """Mean over the cases of ``latency(column) / latency(row)``: how much faster each row
    item is than each column item; arithmetic means (the BitMoD paper's) and geometric."""
    lat = df.pivot_table(index=["workload", "phase"], columns="arch", values="latency_us",
                         sort=False)
    items = list(dict.fromkeys(df["arch"]))
    out = []
    for row in items:
        for col in items:
            if row == col:
                continue
            ratio = (lat[col] / lat[row]).to_numpy(dtype=float)
            out.append({"arch": row, "over": col, "cases": len(ratio),
                        "mean_speedup": float(np.mean(ratio)),
                        "geomean_speedup": float(np.exp(np.mean(np.log(ratio))))})
    return pd.DataFrame(out)


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
    plot = args.plot if args.plot is not None or args.out is None \
        else args.out.with_suffix(".png")  # never into the working folder unasked
    if plot is not None and plot.suffix.lower() != ".png":
        raise ConfigError.single("--plot", f"must end in .png, not {str(plot)!r}")
    df = compare_frame(args)
    print(format_table(df))
    baseline = args.baseline or df["arch"][0]
    if len(df.groupby(["workload", "phase"], sort=False)) > 1:
        means = mean_speedups(df)
        print(f"\nmean speedup over {means['cases'][0]} cases (row item over column item; "
              f"arithmetic mean, geometric beside it):")
        print(format_table(means))
        shown = df.groupby("arch", sort=False)[["speedup", "energy_ratio"]].mean() \
            .reset_index()
        what = f"mean of {means['cases'][0]} cases"
    else:
        shown = df
        what = f"{df['workload'][0]} {df['phase'][0]}"
    if plot is not None:
        plot_compare(shown, plot, f"{what}: normalized to {baseline}")
        print(f"wrote {plot}")
    if args.out is not None:
        write_table(df, args.out)
        print(f"wrote {args.out}")
    return 0
