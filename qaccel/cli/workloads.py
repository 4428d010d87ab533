"""``qaccel workloads``: the workload presets, and the GEMM layers of one of them.

    qaccel workloads [--out FILE]
    qaccel workloads show llama-2-7b --phase decode --kv-len 512 --steps 4 [--out FILE]
        [--out-dir DIR]

``show`` builds the preset on the meta device (:func:`qaccel.models.workloads.build_workload`),
prints one row per layer with its MACs and the totals, and with ``--out-dir`` saves the trace
folder that ``qaccel sim --trace`` reads.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from qaccel.errors import ConfigError, Problem
from qaccel.fileio import check_new_dir
from qaccel.tables import add_out_argument, check_out_path, format_table, write_table

__all__ = ["register", "run_list", "run_show", "build_from_flags", "add_cache_argument",
           "FLAGS"]

#: build_workload argument -> the flag that sets it (for error messages)
FLAGS = {"id": "ID", "phase": "--phase", "tokens": "--tokens", "batch": "--batch",
         "kv_len": "--kv-len", "steps": "--steps", "image_size": "--image-size",
         "seed": "--seed", "blocks": "--blocks", "chunk": "--chunk",
         "mixed": "--mixed"}


def add_cache_argument(parser: argparse.ArgumentParser) -> None:
    """``--no-cache``: build the workload trace afresh, neither reading nor writing the
    trace cache (:mod:`qaccel.cache`)."""
    parser.add_argument("--no-cache", dest="cache", action="store_false",
                        help="build the workload trace afresh instead of reading it from "
                             "the cache ($QACCEL_CACHE or ~/.cache/qaccel)")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "workloads", help="list the workload presets, or show one's GEMM layers",
        description="List the workload presets (models built on the meta device from their "
                    "published hyper-parameters), or show the GEMM layers of one.")
    add_out_argument(parser)
    parser.set_defaults(func=run_list)
    sub = parser.add_subparsers(dest="workloads_command", title="subcommands",
                                metavar="show")
    show = sub.add_parser(
        "show", help="print the GEMM layers of one preset",
        description="Build one preset on the meta device and print one row per GEMM layer "
                    "(M x K x N, batched GEMMs, MACs) with the totals.")
    show.add_argument("id", metavar="ID", help="preset id (see `qaccel workloads`)")
    show.add_argument("--phase", default="prefill", metavar="prefill|decode",
                      help="language models: prefill of --tokens tokens, or --steps decode "
                           "steps attending to --kv-len keys (default: prefill)")
    show.add_argument("--tokens", type=int, default=256, metavar="N",
                      help="prompt length (unit: tokens; default 256)")
    show.add_argument("--kv-len", type=int, metavar="N",
                      help="decode: keys the first step attends to, its own included "
                           "(default: --tokens)")
    show.add_argument("--steps", type=int, default=1, metavar="N",
                      help="decode steps, the KV length growing by one per step (default 1)")
    show.add_argument("--batch", type=int, default=1, metavar="N",
                      help="sequences or images (default 1)")
    show.add_argument("--image-size", type=int, metavar="PIXELS",
                      help="vision models: input side (default: the model's, 224)")
    show.add_argument("--blocks", type=int, metavar="N",
                      help="keep only the first N transformer blocks (default: all)")
    show.add_argument("--seed", type=int, default=0,
                      help="seed of the per-layer value generators (default 0)")
    show.add_argument("--out-dir", type=Path, metavar="DIR",
                      help="also save the trace folder (manifest.json + tensors.safetensors)")
    show.add_argument("--force", action="store_true",
                      help="with --out-dir: replace an existing trace folder")
    add_cache_argument(show)
    add_out_argument(show)
    show.set_defaults(func=run_show)


def run_list(args: argparse.Namespace) -> int:
    from qaccel.models.workloads import list_workloads

    check_out_path(args.out)
    table = list_workloads()
    shown = table.drop(columns=["source"])
    print(format_table(shown, float_format="{:,.3f}"))
    print(f"{len(table)} presets; sources: `qaccel workloads show ID`, docs/workloads.md")
    if args.out is not None:
        write_table(table, args.out)
    return 0


def build_from_flags(id_flag: str, use_cache: bool = True, **kwargs: Any) -> Any:
    """``build_workload(**kwargs)`` through the trace cache (:func:`qaccel.cache.
    cached_workload`; ``use_cache=False`` skips it), with errors naming the command-line
    flags."""
    from qaccel.cache import cached_workload

    try:
        return cached_workload(use_cache, **kwargs)
    except ConfigError as exc:  # name the flags, not the Python arguments
        flags = dict(FLAGS, id=id_flag)
        raise ConfigError([Problem(flags.get(p.path, p.path), p.message)
                           for p in exc.problems]) from None


def run_show(args: argparse.Namespace) -> int:
    from qaccel.models.workloads import WORKLOADS

    check_out_path(args.out)
    if args.out_dir is not None:
        check_new_dir(args.out_dir, "--out-dir", args.force)
    trace = build_from_flags("ID", id=args.id, phase=args.phase, tokens=args.tokens,
                             batch=args.batch, kv_len=args.kv_len, steps=args.steps,
                             image_size=args.image_size, seed=args.seed, blocks=args.blocks,
                             use_cache=args.cache)
    table = trace.to_frame()
    table["macs"] = [layer.macs for layer in trace]
    print(format_table(table.drop(columns=["has_values"])))
    request = trace.meta["workload"]
    what = ", ".join(f"{k} {v}" for k, v in request.items() if k not in ("id", "kind", "seed"))
    macs = int(table["macs"].sum())
    print(f"{args.id} ({what}): {len(trace)} layers, {macs:,} MACs "
          f"({2 * macs / 1e9:,.2f} GFLOP)")
    print(f"source: {WORKLOADS[args.id].source}")
    if args.out_dir is not None:
        trace.save(args.out_dir)
        print(f"trace -> {args.out_dir}")
    if args.out is not None:
        write_table(table, args.out)
    return 0
